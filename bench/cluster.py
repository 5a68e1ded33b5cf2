#!/usr/bin/env python3
"""tend beside pm2-runtime (and a bare `node app.js` where it is the yardstick), in one run,
on the same app (examples/hello/app.js): what the manager costs, how fast workers start and
come back, whether reloads fail requests, and throughput. Prints Markdown tables.

    make bench      (or: TEND=... PM2_RUNTIME=... python3 bench/cluster.py)
"""
import json
import os
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEND = os.environ.get("TEND", str(REPO / "bazel-bin/runtime/tend"))
PM2_RUNTIME = os.environ.get("PM2_RUNTIME", str(REPO / ".deps/npm/node_modules/.bin/pm2-runtime"))
PM2 = str(Path(PM2_RUNTIME).with_name("pm2"))
APP = str(REPO / "examples/hello/app.js")
WRK_COUNTS = str(REPO / "tests/integration/helpers/wrk_errors.lua")
IDLE_SECONDS = float(os.environ.get("IDLE_SECONDS", "10"))
RUNS = int(os.environ.get("RUNS", "5"))
LOAD_SECONDS = int(os.environ.get("LOAD_SECONDS", "10"))


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answering_pid(port):
    """The pid of the worker that answered with a 200, or None."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
            return int(response.read().split()[-1]) if response.status == 200 else None
    except OSError:
        return None


def tree(pid):
    found, queue = [], [pid]
    while queue:
        parent = queue.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found += children
            queue += children
    return found


def stop(process, timeout):
    """SIGTERM to a manager; SIGKILL to it and everything under it if it outlives `timeout`."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        for pid in [*tree(process.pid), process.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        process.wait()


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Manager:
    """tend, pm2-runtime or bare node, serving the app on a free port."""

    def __init__(self, kind, instances):
        self.kind, self.instances = kind, instances
        self.port = free_port()
        self.home = tempfile.TemporaryDirectory(prefix="bench-pm2-")
        self.env = dict(os.environ, PORT=str(self.port), PM2_HOME=self.home.name)
        cluster = ["-i", str(instances)] if instances > 1 else []
        # tend as users run it: /livez, /readyz, /metrics and the control socket on.
        endpoints = ["--http", "127.0.0.1:0", "--control", f"unix:{self.home.name}/control.sock"]
        argv = {
            "tend": [TEND, *endpoints, *cluster, APP],
            "pm2-runtime": [PM2_RUNTIME, APP, *cluster],
            "node": ["node", APP],
        }[kind]
        self.started = time.perf_counter()
        self.process = subprocess.Popen(argv, env=self.env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait_for_workers(self, timeout=30):
        """Seconds from start until every worker has answered a 200."""
        seen, deadline = set(), time.monotonic() + timeout
        while len(seen) < self.instances and time.monotonic() < deadline:
            pid = answering_pid(self.port)
            if pid:
                seen.add(pid)
            else:
                time.sleep(0.002)
        if len(seen) < self.instances:
            raise RuntimeError(f"{self.kind}: {len(seen)} of {self.instances} workers answered")
        self.workers = seen
        return time.perf_counter() - self.started

    def manager_pids(self):
        return [self.process.pid] + [p for p in tree(self.process.pid) if p not in self.workers]

    def reload(self):
        if self.kind == "tend":
            self.process.send_signal(signal.SIGHUP)
        else:
            subprocess.run([PM2, "reload", "all"], env=self.env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        stop(self.process, 15)
        self.home.cleanup()


def run(kind, instances, measure):
    manager = Manager(kind, instances)
    try:
        start = manager.wait_for_workers()
        return measure(manager, start)
    finally:
        manager.stop()


def start_time(manager, start):
    return start


def idle_cost(manager, start):
    time.sleep(2)
    pids = manager.manager_pids()
    before = sum(cpu_seconds(p) for p in pids)
    time.sleep(IDLE_SECONDS)
    cpu = sum(cpu_seconds(p) for p in pids) - before
    return {"rss_kib": sum(rss_kib(p) for p in manager.manager_pids()),
            "cpu_pct": 100 * cpu / IDLE_SECONDS}


def recovery_time(manager, start):
    """Seconds from SIGKILL of the only worker to a 200 from its successor."""
    [worker] = manager.workers
    killed = time.perf_counter()
    os.kill(worker, signal.SIGKILL)
    while True:
        pid = answering_pid(manager.port)
        if pid and pid != worker:
            return time.perf_counter() - killed
        time.sleep(0.002)


def wrk(port, seconds, headers=()):
    return subprocess.Popen(
        ["wrk", "-t", "2", "-c", "50", "-d", f"{seconds}s", "-s", WRK_COUNTS, *headers,
         f"http://127.0.0.1:{port}/"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def wrk_counts(load):
    out, _ = load.communicate(timeout=120)
    return json.loads(out.strip().splitlines()[-1])


def reload_failures(headers):
    def measure(manager, start):
        time.sleep(1)
        load = wrk(manager.port, 3 * 4 + 2, headers)
        for _ in range(3):
            time.sleep(3)
            manager.reload()
            time.sleep(1)
        counts = wrk_counts(load)
        return counts["requests"], sum(v for k, v in counts.items() if k != "requests")
    return measure


def throughput(manager, start):
    time.sleep(1)
    counts = wrk_counts(wrk(manager.port, LOAD_SECONDS))
    return counts["requests"] / LOAD_SECONDS


def median(kind, instances, measure):
    return statistics.median(run(kind, instances, measure) for _ in range(RUNS))


def main():
    managers = ["tend", "pm2-runtime"]
    node_start = median("node", 1, start_time)
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    pm2 = json.loads((Path(PM2_RUNTIME).resolve().parents[1] / "package.json").read_text())
    print(f"Node {node}, pm2 {pm2['version']}; medians of {RUNS} runs.\n")

    idle = {m: run(m, 2, idle_cost) for m in managers}
    print(f"### Manager cost, 2 cluster workers, idle {IDLE_SECONDS:g} s\n")
    print("| manager | manager RSS KiB | idle CPU % |\n|---|---:|---:|")
    for m in managers:
        print(f"| {m} | {idle[m]['rss_kib']} | {idle[m]['cpu_pct']:.3f} |")
    tend_cpu, pm2_cpu = idle["tend"]["cpu_pct"], idle["pm2-runtime"]["cpu_pct"]
    cpu_ratio = f"{pm2_cpu / tend_cpu:.0f}x" if tend_cpu else "tend used no tick"
    print(f"| ratio pm2-runtime / tend | {idle['pm2-runtime']['rss_kib'] / idle['tend']['rss_kib']:.1f}x"
          f" | {cpu_ratio} |\n")

    print("### Start and recovery (ms; bare `node app.js` start is the yardstick)\n")
    print("| manager | start, fork, to first 200 | vs node | start, 2 workers, to a 200 "
          "from each | SIGKILL to next 200, fork | vs node start |\n|---|---:|---:|---:|---:|---:|")
    print(f"| node | {node_start * 1000:.0f} | 1.00 | | | |")
    for m in managers:
        fork = median(m, 1, start_time)
        both = median(m, 2, start_time)
        recover = median(m, 1, recovery_time)
        print(f"| {m} | {fork * 1000:.0f} | {fork / node_start:.2f} | {both * 1000:.0f} | "
              f"{recover * 1000:.0f} | {recover / node_start:.2f} |")

    print("\n### 3 reloads under wrk (50 connections, 14 s), and throughput with 2 workers\n")
    print("| manager | failed, keep-alive | failed, Connection: close | req/s keep-alive |"
          "\n|---|---:|---:|---:|")
    rates = {}
    for m in managers:
        kept = run(m, 2, reload_failures(()))
        closed = run(m, 2, reload_failures(("-H", "Connection: close")))
        rates[m] = median(m, 2, throughput)
        print(f"| {m} | {kept[1]} of {kept[0]} | {closed[1]} of {closed[0]} | {rates[m]:.0f} |")
    print(f"| ratio tend / pm2-runtime | | | {rates['tend'] / rates['pm2-runtime']:.2f} |")


if __name__ == "__main__":
    main()
