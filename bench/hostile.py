#!/usr/bin/env python3
"""/livez and /readyz as the kubelet sees them (a new connection per probe, 1 s timeout), and
`tend probe ready` as a Docker HEALTHCHECK runs it, while clients attack tend's HTTP port or
its gRPC listeners, beside the same with no attack, in one run: latency (median, p99, max),
failed probes, and tend's CPU. Prints Markdown tables; TEND_BEFORE=... adds the same run of
another build.

    make bench      (or: TEND=... [TEND_BEFORE=...] PROBES=200 python3 bench/hostile.py)
"""
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from cluster import APP, REPO, TEND, cpu_seconds

sys.path.insert(0, str(REPO / "tests/integration"))
from grpc_stubs import EVENT_STREAMS, REFLECTION_STREAMS, Attacker, Stubs, generate  # noqa: E402

TOKEN = "bench-token"

PROBES = int(os.environ.get("PROBES", "200"))


def probe(port, path):
    started = time.monotonic()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as response:
            ok = response.status == 200
    except OSError:
        ok = False
    return ok, (time.monotonic() - started) * 1000


def connect(port, source):
    connection = socket.socket()
    connection.bind((source, 0))
    connection.connect(("127.0.0.1", port))
    return connection


class Slowloris:
    """1,000 connections from ten addresses sending a header line every 2 s, and 200 idle
    connections from the prober's own address."""

    def __init__(self, port):
        self.slow = [connect(port, f"127.0.0.{2 + i % 10}") for i in range(1000)]
        self.idle = [connect(port, "127.0.0.1") for _ in range(200)]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.trickle)
        self.thread.start()

    def trickle(self):
        first = True
        while first or not self.stop.wait(2):
            for connection in self.slow:
                try:
                    connection.sendall(b"GET / HTTP/1.1\r\n" if first else b"X-Slow: 1\r\n")
                except OSError:
                    pass
            first = False

    def end(self):
        self.stop.set()
        self.thread.join()
        for connection in self.slow + self.idle:
            connection.close()


class Reconnecting(Slowloris):
    """The same, but every connection tend closes is opened again at once."""

    def trickle(self):
        while not self.stop.wait(0.5):
            for i, connection in enumerate(self.slow):
                try:
                    connection.sendall(b"GET / HTTP/1.1\r\nX-Slow: 1\r\n")
                except OSError:
                    try:
                        self.slow[i] = connect(self.port, f"127.0.0.{2 + i % 10}")
                    except OSError:
                        pass

    def __init__(self, port):
        self.port = port
        super().__init__(port)


class IdleStreams:
    """1,000 idle gRPC streams, half on each listener: event streams and reflection streams
    up to their bounds, the rest health Watch."""

    def __init__(self, stubs, socket_path, grpc_port):
        bearer = (("authorization", f"Bearer {TOKEN}"),)
        self.attackers = [Attacker(stubs, f"unix:{socket_path}"),
                          Attacker(stubs, f"127.0.0.1:{grpc_port}", metadata=bearer)]
        for attacker in self.attackers:
            for open_streams, count in ((attacker.events, EVENT_STREAMS // 2),
                                        (attacker.reflections, REFLECTION_STREAMS // 2),
                                        (attacker.watches, 500 - EVENT_STREAMS // 2
                                         - REFLECTION_STREAMS // 2)):
                try:
                    open_streams(count)
                except stubs.grpc.RpcError:
                    pass  # refused past a bound (or a full thread pool): the rest stay open

    def end(self):
        for attacker in self.attackers:
            attacker.close()


def exec_probe(binary, socket_path):
    started = time.monotonic()
    try:
        ok = subprocess.run([binary, "probe", "ready", "--control", f"unix:{socket_path}"],
                            capture_output=True, timeout=5).returncode == 0
    except subprocess.TimeoutExpired:
        ok = False
    return ok, (time.monotonic() - started) * 1000


def summary(results):
    latencies = sorted(ms for ok, ms in results)
    return {"failed": sum(not ok for ok, _ in results),
            "median": statistics.median(latencies),
            "p99": latencies[max(0, int(len(latencies) * 0.99) - 1)],
            "max": latencies[-1]}


def measure(binary, port, pid, socket_path):
    cpu = cpu_seconds(pid)
    started = time.monotonic()
    http = [probe(port, path) for _ in range(PROBES // 2) for path in ("/livez", "/readyz")]
    execs = [exec_probe(binary, socket_path) for _ in range(PROBES // 4)]
    wall = time.monotonic() - started
    return {"http": summary(http), "exec": summary(execs),
            "cpu": (cpu_seconds(pid) - cpu) / wall * 100}


def run(binary, stubs):
    """The rows for one build of tend."""
    folder = tempfile.mkdtemp(prefix="tend-hostile-")
    socket_path = f"{folder}/control.sock"
    Path(folder, "token").write_text(TOKEN)
    reflection = (["--grpc-reflection"] if "--grpc-reflection" in subprocess.run(
        [binary, "--help"], capture_output=True, text=True).stdout else [])
    tend = subprocess.Popen([binary, "--http", "127.0.0.1:0", "--control", f"unix:{socket_path}",
                             "--grpc", "127.0.0.1:0", "--control-token-file", f"{folder}/token",
                             *reflection, "-i", "2", APP],
                            env=dict(os.environ, PORT="0"), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        port = grpc_port = None
        for line in tend.stderr:
            if "/metrics on http://" in line:
                port = int(re.search(r":(\d+)$", line.strip()).group(1))
            if "serving gRPC on" in line:
                grpc_port = int(line.rsplit(":", 1)[1])
            if port and grpc_port:
                break
        while not probe(port, "/readyz")[0]:
            time.sleep(0.1)
        rows = [("no attack", measure(binary, port, tend.pid, socket_path))]
        for name, attack in (
                ("HTTP slowloris: 1,000 from 10 addresses + 200 idle from the prober's",
                 lambda: Slowloris(port)),
                ("the same, reconnecting at once when closed", lambda: Reconnecting(port)),
                ("gRPC: 1,000 idle streams (events, reflection, health Watch), Unix + TCP",
                 lambda: IdleStreams(stubs, socket_path, grpc_port))):
            running = attack()
            try:
                time.sleep(1)
                rows.append((name, measure(binary, port, tend.pid, socket_path)))
            finally:
                running.end()
        return rows
    finally:
        tend.send_signal(signal.SIGTERM)
        try:
            tend.wait(30)
        except subprocess.TimeoutExpired:
            tend.kill()
            tend.wait()
        shutil.rmtree(folder)


def print_table(title, rows):
    print(f"{title}\n")
    print("| attack | /livez+/readyz failed | median ms | p99 ms | max ms "
          "| `tend probe ready` failed | median ms | p99 ms | max ms | tend CPU % |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in rows:
        h, e = r["http"], r["exec"]
        print(f"| {name} | {h['failed']} | {h['median']:.2f} | {h['p99']:.2f} | {h['max']:.2f} "
              f"| {e['failed']} | {e['median']:.2f} | {e['p99']:.2f} | {e['max']:.2f} "
              f"| {r['cpu']:.1f} |")
    print()


def main():
    stubs_folder = tempfile.mkdtemp(prefix="tend-stubs-")
    generate(stubs_folder)
    stubs = Stubs(stubs_folder)  # imported now: the folder may go
    print(f"## Probes under attack: {PROBES} HTTP probes and {PROBES // 4} exec probes a row\n")
    print_table(f"tend ({TEND}):", run(TEND, stubs))
    if os.environ.get("TEND_BEFORE"):
        print_table(f"tend before ({os.environ['TEND_BEFORE']}):", run(os.environ["TEND_BEFORE"], stubs))


if __name__ == "__main__":
    main()
