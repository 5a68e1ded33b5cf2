#!/usr/bin/env python3
"""/livez and /readyz as the kubelet sees them (a new connection per probe, 1 s timeout)
while clients attack tend's HTTP port, beside the same with no attack, in one run: latency
(median, p99, max), failed probes, and tend's CPU. Prints a Markdown table.

    make bench      (or: TEND=... PROBES=200 python3 bench/hostile.py)
"""
import os
import re
import signal
import socket
import statistics
import subprocess
import threading
import time
import urllib.request

from cluster import APP, TEND, cpu_seconds

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


def measure(port, pid):
    cpu = cpu_seconds(pid)
    started = time.monotonic()
    results = [probe(port, path) for _ in range(PROBES // 2) for path in ("/livez", "/readyz")]
    wall = time.monotonic() - started
    latencies = sorted(ms for ok, ms in results)
    return {
        "failed": sum(not ok for ok, _ in results),
        "median": statistics.median(latencies),
        "p99": latencies[int(len(latencies) * 0.99) - 1],
        "max": latencies[-1],
        "cpu": (cpu_seconds(pid) - cpu) / wall * 100,
    }


def main():
    tend = subprocess.Popen([TEND, "--http", "127.0.0.1:0", "--control", "off", "-i", "2", APP],
                            env=dict(os.environ, PORT="0"), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        port = None
        for line in tend.stderr:
            if "/metrics on http://" in line:
                port = int(re.search(r":(\d+)$", line.strip()).group(1))
                break
        while not probe(port, "/readyz")[0]:
            time.sleep(0.1)
        rows = [("no attack", measure(port, tend.pid))]
        for name, attack in (("slowloris: 1,000 from 10 addresses + 200 idle from the prober's",
                              Slowloris),
                             ("the same, reconnecting at once when closed", Reconnecting)):
            running = attack(port)
            try:
                time.sleep(1)
                rows.append((name, measure(port, tend.pid)))
            finally:
                running.end()
        print(f"## Probes under attack: {PROBES} probes of /livez and /readyz each run\n")
        print("| attack | failed probes | median ms | p99 ms | max ms | tend CPU % |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, r in rows:
            print(f"| {name} | {r['failed']} | {r['median']:.2f} | {r['p99']:.2f} | "
                  f"{r['max']:.2f} | {r['cpu']:.1f} |")
    finally:
        tend.send_signal(signal.SIGTERM)
        try:
            tend.wait(30)
        except subprocess.TimeoutExpired:
            tend.kill()
            tend.wait()


if __name__ == "__main__":
    main()
