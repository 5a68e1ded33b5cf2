#!/usr/bin/env python3
"""What a Docker HEALTHCHECK costs an idle tend: `tend probe ready` every 10 s for a minute
against `tend -i 2` on the example app, counting tend's wakeups (context switches, every
thread) and threads over that minute, beside the same minute with no health check.
TEND_BEFORE=... adds the same run of another build. Prints a Markdown table.

    make bench      (or: TEND=... [TEND_BEFORE=...] python3 bench/healthcheck.py)
"""
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from cluster import APP, TEND

MINUTE = float(os.environ.get("HEALTHCHECK_SECONDS", "60"))
INTERVAL = 10


def wakeups(pid):
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                total += int(line.split()[1])
    return total


def minute(binary, probed):
    """(tend's wakeups over the minute, its threads at the end)."""
    folder = tempfile.TemporaryDirectory(prefix="bench-healthcheck-")
    control = f"unix:{folder.name}/control.sock"
    tend = subprocess.Popen([binary, "--http", "127.0.0.1:0", "--control", control, "-i", "2",
                             APP], env=dict(os.environ, PORT="0"), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(3)  # the workers are up
        before, began = wakeups(tend.pid), time.monotonic()
        while time.monotonic() - began < MINUTE:
            if probed:
                subprocess.run([binary, "probe", "ready", "--control", control],
                               capture_output=True, timeout=5)
            time.sleep(INTERVAL)
        return wakeups(tend.pid) - before, len(os.listdir(f"/proc/{tend.pid}/task"))
    finally:
        tend.send_signal(signal.SIGTERM)
        tend.wait(timeout=30)
        folder.cleanup()


def main():
    builds = {"tend": TEND}
    if os.environ.get("TEND_BEFORE"):
        builds["tend before"] = os.environ["TEND_BEFORE"]
    print(f"`tend -i 2`, idle, over {MINUTE:g} s: tend's wakeups (all threads) and threads\n")
    print("| build | no health check | `tend probe ready` every 10 s | threads after |")
    print("|---|---:|---:|---:|")
    for name, binary in builds.items():
        quiet, _ = minute(binary, False)
        probed, threads = minute(binary, True)
        print(f"| {name} | {quiet} | {probed} | {threads} |")


if __name__ == "__main__":
    main()
