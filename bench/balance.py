#!/usr/bin/env python3
"""How evenly connections reach the workers, side by side in one run: tend (round-robin, its
default, and shared), pm2-runtime (Node's round-robin) and Node's own cluster primary (rr and
none). Per-worker counts, the busiest worker's share, req/s and p99 under wrk; the heavy plus
light mix; what tend's handoff costs; and how soon the first and the last worker serve at
-i 2, 16 and 64. Prints Markdown tables.

    make bench      (or: TEND=... PM2_RUNTIME=... python3 bench/balance.py)
"""
import json
import os
import re
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from cluster import PM2_RUNTIME, REPO, TEND, cpu_seconds, free_port, stop

APP = str(REPO / "bench/counting_app.js")
PRIMARY = str(REPO / "bench/node_primary.js")
SECONDS = int(os.environ.get("LOAD_SECONDS", "4"))
REPS = int(os.environ.get("REPS", "3"))
KINDS = ["tend rr", "tend shared", "pm2-runtime", "node rr", "node none"]


class Run:
    """One manager with `instances` workers of the counting app on a free port."""

    def __init__(self, kind, instances, app=APP):
        self.kind, self.instances = kind, instances
        self.port = free_port()
        self.dir = tempfile.TemporaryDirectory(prefix="bench-balance-")
        self.stats = Path(self.dir.name, "stats")
        self.stats.mkdir()
        env = dict(os.environ, PORT=str(self.port), STATS_DIR=str(self.stats),
                   PM2_HOME=f"{self.dir.name}/pm2", SCRIPT=app, INSTANCES=str(instances))
        env.pop("NODE_CLUSTER_SCHED_POLICY", None)
        if kind.startswith("node"):
            env["NODE_CLUSTER_SCHED_POLICY"] = kind.split()[1]
        argv = {
            "tend rr": [TEND, "--http", "off", "--control", "off", "-i", str(instances), app],
            "tend shared": [TEND, "--http", "off", "--control", "off", "--balance", "shared",
                            "-i", str(instances), app],
            "pm2-runtime": [PM2_RUNTIME, app, "-i", str(instances)],
            "node rr": ["node", PRIMARY],
            "node none": ["node", PRIMARY],
        }[kind]
        self.started = time.perf_counter()
        self.process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def serving(self, timeout=120):
        """(seconds to the first 200, seconds until every worker has answered one)."""
        seen, first, deadline = set(), None, time.monotonic() + timeout
        while len(seen) < self.instances and time.monotonic() < deadline:
            pid = probe(self.port)
            if pid:
                first = first or time.perf_counter() - self.started
                seen.add(pid)
        return first, time.perf_counter() - self.started

    def stop(self):
        """Each worker's counts."""
        stop(self.process, 30)
        stats = [json.loads(p.read_text()) for p in self.stats.glob("*.json")]
        self.dir.cleanup()
        return stats


def probe(port):
    """The pid that answered GET /probe (not counted by the app), or None."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/probe", timeout=1) as response:
            return int(response.read().split()[-1])
    except OSError:
        return None


def wrk(port, connections, seconds, path="/", headers=()):
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", *headers,
         f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    return rate, float(p99.group(1)) * scale


def share(stats, key):
    counts = [s[key] for s in stats]
    total = sum(counts)
    spread = max(counts) / min(counts) if min(counts) else float("inf")
    return (max(counts) / total if total else 0, spread, counts)


def spread(kind, instances, connections, close):
    """Medians over REPS: busiest share of requests and of connections, max/min, req/s, p99."""
    rows = []
    for _ in range(REPS):
        run = Run(kind, instances)
        run.serving()
        headers = ("-H", "Connection: close") if close else ()
        rate, p99 = wrk(run.port, connections, SECONDS, headers=headers)
        stats = run.stop()
        rows.append((share(stats, "requests"), share(stats, "connections"), rate, p99,
                     sum(1 for s in stats if s["connections"] == 0)))
    rows.sort(key=lambda r: r[0][0])
    return rows[len(rows) // 2], max(r[4] for r in rows)


def heavy_and_light(kind):
    """2 heavy keep-alive clients (50 ms of CPU a request) beside 20 light connections, -i 2:
    the heavy clients' req/s and p99, and in how many reps both landed on one worker."""
    together, rates, p99s = 0, [], []
    for _ in range(REPS):
        run = Run(kind, 2)
        run.serving()
        light = threading.Thread(target=wrk, args=(run.port, 20, SECONDS))
        light.start()
        rate, p99 = wrk(run.port, 2, SECONDS, path="/heavy")
        light.join()
        stats = run.stop()
        together += max(s["heavy_connections"] for s in stats) == 2
        rates.append(rate)
        p99s.append(p99)
    return sorted(rates)[len(rates) // 2], sorted(p99s)[len(p99s) // 2], together


def handoff_cpu():
    """tend's CPU per 1,000 new connections in round-robin (Connection: close, -i 2), and the
    same run's throughput against shared mode."""
    figures = {}
    for kind in ("tend rr", "tend shared"):
        run = Run(kind, 2)
        run.serving()
        before = cpu_seconds(run.process.pid)
        rate, _ = wrk(run.port, 50, SECONDS, headers=("-H", "Connection: close"))
        cpu = cpu_seconds(run.process.pid) - before
        run.stop()
        figures[kind] = (rate, 1000 * cpu / (rate * SECONDS) * 1000)  # ms per 1,000
    return figures


def main():
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    pm2 = json.loads((Path(PM2_RUNTIME).resolve().parents[1] / "package.json").read_text())
    print(f"Node {node}, pm2 {pm2['version']}; {SECONDS} s of wrk a run, medians of {REPS} "
          f"runs (by the busiest share); {os.cpu_count()} CPUs.\n")
    for instances in (2, 4):
        print(f"### -i {instances}: the busiest worker's share of requests (and of connections), "
              f"max/min requests, req/s, p99\n")
        print("| connections | " + " | ".join(KINDS) + " |")
        print("|---|" + "---:|" * len(KINDS))
        for connections, close in ((2, False), (8, False), (50, False), (200, False),
                                   (50, True)):
            cells = []
            for kind in KINDS:
                (req, conn, rate, p99, _), idle = spread(kind, instances, connections, close)
                cells.append(f"{req[0]:.2f} ({conn[0]:.2f}), {req[1]:.2f}, {rate:.0f}/s, "
                             f"{p99:.1f} ms" + (f", {idle} idle" if idle else ""))
            label = f"{connections} close" if close else f"{connections} keep-alive"
            print(f"| {label} | " + " | ".join(cells) + " |")
        print()
    print("### Heavy plus light, -i 2: heavy req/s, heavy p99, reps with both heavy clients on "
          "one worker\n")
    print("| " + " | ".join(KINDS) + " |\n|" + "---:|" * len(KINDS))
    print("| " + " | ".join("{:.1f}/s, {:.0f} ms, {} of {}".format(*heavy_and_light(k), REPS)
                            for k in KINDS) + " |\n")
    figures = handoff_cpu()
    print("### tend's handoff, Connection: close, 50 connections, -i 2\n")
    print("| mode | req/s | tend CPU ms per 1,000 connections |\n|---|---:|---:|")
    for kind, (rate, cpu) in figures.items():
        print(f"| {kind} | {rate:.0f} | {cpu:.1f} |")
    print("\n### Start: seconds to the first 200, and until every worker has answered\n")
    print("| -i | tend (paced) | pm2-runtime | node rr |\n|---:|---:|---:|---:|")
    for instances in (1, 2, 16, 64):
        cells = []
        for kind in ("tend rr", "pm2-runtime", "node rr"):
            run = Run(kind, instances)
            first, every = run.serving()
            run.stop()
            cells.append(f"{first:.2f} / {every:.2f}")
        print(f"| {instances} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
