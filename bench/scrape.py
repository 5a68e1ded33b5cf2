#!/usr/bin/env python3
"""How tend's cost grows with its work: /metrics scrape latency, exposition size and tend's
own RSS with 2, 16 and 64 workers. The workers are `sleep` processes sharing a --listen
socket: the cost measured is tend's (one /proc read per worker per scrape), not the app's.

    make bench      (or: TEND=... python3 bench/scrape.py; SCRAPES to tune)
"""
import os
import statistics
import subprocess
import time
import urllib.request
from pathlib import Path

TEND = os.environ.get("TEND", str(Path(__file__).resolve().parents[1] / "bazel-bin/runtime/tend"))
SCRAPES = int(os.environ.get("SCRAPES", "200"))


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def measure(workers):
    tend = subprocess.Popen(
        [TEND, "--http", "127.0.0.1:0", "--control", "off", "--listen", "127.0.0.1:0",
         "-i", str(workers), "--", "sleep", "100000"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        for line in tend.stderr:
            if "/metrics on http://" in line:
                port = int(line.rsplit(":", 1)[1])
                break
        url = f"http://127.0.0.1:{port}/metrics"
        while urllib.request.urlopen(url).read().count(b"tend_worker_up{") < workers:
            time.sleep(0.05)
        idle_rss = rss_kib(tend.pid)
        times, size = [], 0
        for _ in range(SCRAPES):
            began = time.perf_counter()
            with urllib.request.urlopen(url) as response:
                size = len(response.read())
            times.append((time.perf_counter() - began) * 1000)
        times.sort()
        return {"median_ms": statistics.median(times), "p99_ms": times[int(len(times) * 0.99) - 1],
                "bytes": size, "rss_idle": idle_rss, "rss_after": rss_kib(tend.pid)}
    finally:
        tend.terminate()
        tend.wait(30)


def main():
    print(f"{SCRAPES} scrapes each, one at a time, over loopback.\n")
    print("| workers | scrape median ms | scrape p99 ms | exposition KiB | tend RSS KiB before | "
          "after scrapes |\n|---:|---:|---:|---:|---:|---:|")
    for workers in (2, 16, 64):
        r = measure(workers)
        print(f"| {workers} | {r['median_ms']:.2f} | {r['p99_ms']:.2f} | {r['bytes'] / 1024:.1f} | "
              f"{r['rss_idle']} | {r['rss_after']} |")


if __name__ == "__main__":
    main()
