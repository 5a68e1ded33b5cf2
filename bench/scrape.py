#!/usr/bin/env python3
"""How tend's cost grows with its work: /metrics scrape latency, exposition size and tend's
own RSS with 2, 16 and 64 workers. The workers are `sleep` processes sharing a --listen
socket: the cost measured is tend's (one /proc read per worker per scrape), not the app's.

Then the apps' own metrics: the same numbers of Node workers with 200 prom-client series
each, aggregated by tend on its /metrics, side by side with what a user would write instead:
a Node cluster primary serving prom-client's AggregatorRegistry (bench/metrics_app.js).

    make bench      (or: TEND=... NODE_PATH=... python3 bench/scrape.py; SCRAPES to tune)
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


def scrape_times(url, count):
    """Latencies of `count` scrapes one at a time, sorted, and the last answer's body."""
    times, body = [], b""
    for _ in range(count):
        began = time.perf_counter()
        with urllib.request.urlopen(url) as response:
            body = response.read()
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return times, body


def summary(times, body, rss_before, rss_after):
    return {"median_ms": statistics.median(times), "p99_ms": times[int(len(times) * 0.99) - 1],
            "bytes": len(body), "rss_idle": rss_before, "rss_after": rss_after}


def port_from(stream, marker):
    for line in stream:
        if marker in line:
            return int(line.rstrip().rsplit(":" if ":" in line.split(marker)[-1] else " ", 1)[1])
    raise RuntimeError(f"no line with {marker!r}")


def measure(workers):
    tend = subprocess.Popen(
        [TEND, "--http", "127.0.0.1:0", "--control", "off", "--listen", "127.0.0.1:0",
         "-i", str(workers), "--", "sleep", "100000"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port_from(tend.stderr, '/metrics on http://')}/metrics"
        while urllib.request.urlopen(url).read().count(b"tend_worker_up{") < workers:
            time.sleep(0.05)
        idle_rss = rss_kib(tend.pid)
        times, body = scrape_times(url, SCRAPES)
        return summary(times, body, idle_rss, rss_kib(tend.pid))
    finally:
        tend.terminate()
        tend.wait(30)


APP_SCRAPES = int(os.environ.get("APP_SCRAPES", "50"))
METRICS_APP = str(Path(__file__).resolve().parent / "metrics_app.js")
SERIES = b"bench_requests_total{"


def measure_tend_app_metrics(workers):
    tend = subprocess.Popen(
        [TEND, "--http", "127.0.0.1:0", "--control", "off", "-i", str(workers), METRICS_APP],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, PORT="0"))
    try:
        url = f"http://127.0.0.1:{port_from(tend.stderr, '/metrics on http://')}/metrics"
        ready = f'tend_app_ready_workers{{app="metrics_app"}} {workers}'.encode()
        while ready not in urllib.request.urlopen(url).read():
            time.sleep(0.2)
        rss = rss_kib(tend.pid)
        times, body = scrape_times(url, APP_SCRAPES)
        assert body.count(SERIES) == 200, body.count(SERIES)
        return summary(times, body, rss, rss_kib(tend.pid))
    finally:
        tend.terminate()
        tend.wait(60)


def measure_aggregator_registry(workers):
    primary = subprocess.Popen(
        ["node", METRICS_APP], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True, start_new_session=True,
        env=dict(os.environ, PORT="0", WORKERS=str(workers)))
    try:
        url = f"http://127.0.0.1:{port_from(primary.stdout, 'metrics on port')}/metrics"
        rss = rss_kib(primary.pid)
        times, body = scrape_times(url, APP_SCRAPES)
        assert body.count(SERIES) == 200, body.count(SERIES)
        return summary(times, body, rss, rss_kib(primary.pid))
    finally:
        os.killpg(primary.pid, 15)
        primary.wait(60)


def main():
    print(f"{SCRAPES} scrapes each, one at a time, over loopback.\n")
    print("| workers | scrape median ms | scrape p99 ms | exposition KiB | tend RSS KiB before | "
          "after scrapes |\n|---:|---:|---:|---:|---:|---:|")
    for workers in (2, 16, 64):
        r = measure(workers)
        print(f"| {workers} | {r['median_ms']:.2f} | {r['p99_ms']:.2f} | {r['bytes'] / 1024:.1f} | "
              f"{r['rss_idle']} | {r['rss_after']} |")
    print(f"\nThe apps' own metrics: Node workers with 200 prom-client series each, {APP_SCRAPES} "
          "scrapes each.\nRSS is the aggregating process's: tend, or the Node primary.\n")
    print("| workers | aggregator | scrape median ms | scrape p99 ms | exposition KiB | "
          "RSS KiB before | after scrapes |\n|---:|---|---:|---:|---:|---:|---:|")
    for workers in (2, 16, 64):
        for name, run in (("tend", measure_tend_app_metrics),
                          ("AggregatorRegistry", measure_aggregator_registry)):
            r = run(workers)
            print(f"| {workers} | {name} | {r['median_ms']:.2f} | {r['p99_ms']:.2f} | "
                  f"{r['bytes'] / 1024:.1f} | {r['rss_idle']} | {r['rss_after']} |", flush=True)


if __name__ == "__main__":
    main()
