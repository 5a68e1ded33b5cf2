#!/usr/bin/env python3
"""A chaos soak of tend: `tend -i 4` serving under wrk for DURATION seconds while random
workers are SIGKILLed every 0.5 s and SIGHUP reloads and `tend ctl scale` up and down arrive
at random. Reports whether /livez stayed 200, whether every instance came back, tend's
descriptors and RSS before and after, and the failed requests (which can only be those in
flight on the killed workers). Prints a Markdown table.

    make bench      (or: TEND=... DURATION=60 SEED=1 python3 bench/chaos.py)
"""
import json
import os
import random
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from cluster import APP, TEND, WRK_COUNTS, free_port, rss_kib

DURATION = float(os.environ.get("DURATION", "60"))
SEED = int(os.environ.get("SEED", "1"))
INSTANCES = 4


def children(pid):
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""
    except OSError:
        return None, ""


def ready_workers(http_port):
    _, text = get(f"http://127.0.0.1:{http_port}/metrics")
    for line in text.splitlines():
        if line.startswith("tend_app_ready_workers{"):
            return int(float(line.split()[-1]))
    return 0


def main():
    rng = random.Random(SEED)
    port, http_port = free_port(), free_port()
    runtime = tempfile.TemporaryDirectory(prefix="bench-chaos-")
    socket_path = f"{runtime.name}/control.sock"
    tend = subprocess.Popen(
        [TEND, "--http", f"127.0.0.1:{http_port}", "--control", f"unix:{socket_path}",
         "--min-uptime", "0", "-i", str(INSTANCES), APP],
        env=dict(os.environ, PORT=str(port)), stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    ctl = lambda *args: subprocess.run([TEND, "ctl", "--control", f"unix:{socket_path}", *args],
                                       capture_output=True, timeout=30)
    try:
        deadline = time.monotonic() + 30
        while ready_workers(http_port) < INSTANCES and time.monotonic() < deadline:
            time.sleep(0.1)
        ctl("list")  # gRPC starts on the first control call: count it in "before"
        time.sleep(1)
        fds_before, rss_before = fd_count(tend.pid), rss_kib(tend.pid)

        livez = {"probes": 0, "failed": 0}
        stop = threading.Event()

        def probe_livez():
            while not stop.is_set():
                status, _ = get(f"http://127.0.0.1:{http_port}/livez")
                livez["probes"] += 1
                livez["failed"] += status != 200
                time.sleep(0.2)

        prober = threading.Thread(target=probe_livez)
        prober.start()
        wrk = subprocess.Popen(
            ["wrk", "-t", "2", "-c", "50", "-d", f"{int(DURATION)}s", "-s", WRK_COUNTS,
             f"http://127.0.0.1:{port}/"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        actions = {"kills": 0, "reloads": 0, "scale_up": 0, "scale_down": 0}
        instances = INSTANCES
        end = time.monotonic() + DURATION
        while time.monotonic() < end:
            time.sleep(0.5)
            workers = children(tend.pid)
            if workers:
                os.kill(rng.choice(workers), signal.SIGKILL)
                actions["kills"] += 1
            roll = rng.random()
            if roll < 0.1:
                tend.send_signal(signal.SIGHUP)
                actions["reloads"] += 1
            elif roll < 0.2:
                up = instances <= INSTANCES or rng.random() < 0.5
                if ctl("scale", "app", "+1" if up else "-1").returncode == 0:
                    instances += 1 if up else -1
                    actions["scale_up" if up else "scale_down"] += 1
        out, _ = wrk.communicate(timeout=DURATION + 60)
        counts = json.loads(out.strip().splitlines()[-1])
        stop.set()
        prober.join()

        # Back to the starting size, then every instance must serve again.
        while ctl("scale", "app", str(INSTANCES)).returncode != 0:
            time.sleep(0.5)
        deadline = time.monotonic() + 60
        while ready_workers(http_port) < INSTANCES and time.monotonic() < deadline:
            time.sleep(0.2)
        all_back = ready_workers(http_port) == INSTANCES
        time.sleep(6)  # sockets released by killed workers close after a 5 s grace
        fds_after, rss_after = fd_count(tend.pid), rss_kib(tend.pid)
        tend.send_signal(signal.SIGTERM)
        code = tend.wait(30)

        failed = sum(v for k, v in counts.items() if k != "requests")
        print(f"## Chaos soak: tend -i {INSTANCES}, {DURATION:.0f} s under wrk (seed {SEED})\n")
        print("| measure | value |")
        print("|---|---:|")
        print(f"| SIGKILLed workers, SIGHUP reloads, scale up, scale down | {actions['kills']}, "
              f"{actions['reloads']}, {actions['scale_up']}, {actions['scale_down']} |")
        print(f"| /livez probes (every 0.2 s), not 200 | {livez['probes']}, {livez['failed']} |")
        print(f"| every instance back at the end | {'yes' if all_back else 'NO'} |")
        print(f"| tend's descriptors before, after | {fds_before}, {fds_after} |")
        print(f"| tend's RSS KiB before, after | {rss_before}, {rss_after} |")
        print(f"| requests, failed (connect/read/write/timeout/status) | {counts['requests']}, "
              f"{failed} ({counts['connect']}/{counts['read']}/{counts['write']}/"
              f"{counts['timeout']}/{counts['status']}) |")
        print(f"| failed per SIGKILLed worker | {failed / max(1, actions['kills']):.1f} |")
        print(f"| tend's exit code after SIGTERM | {code} |")
    finally:
        if tend.poll() is None:
            for pid in children(tend.pid):
                os.kill(pid, signal.SIGKILL)
            tend.kill()
            tend.wait()
        runtime.cleanup()


if __name__ == "__main__":
    main()
