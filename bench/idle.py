#!/usr/bin/env python3
"""tend beside tini and dumb-init, in one run, each as PID 1 of its own PID namespace running
`sleep`: binary size, start-up cost, and what an idle init costs (memory, threads, CPU,
wakeups). Prints a Markdown table; ratios are peer / tend.

    make bench            (or: TEND=bazel-bin/runtime/tend python3 bench/idle.py)
"""
import os
import statistics
import subprocess
import time
from pathlib import Path

TEND = os.environ.get("TEND", str(Path(__file__).resolve().parents[1] / "bazel-bin/runtime/tend"))
IDLE_SECONDS = float(os.environ.get("IDLE_SECONDS", "10"))
STARTS = int(os.environ.get("STARTS", "200"))

INITS = {
    "tend": [TEND, "--"],
    "tini (static)": ["/usr/bin/tini-static", "-s", "--"],
    "dumb-init": ["/usr/bin/dumb-init"],
}
# Another build of tend to compare in the same run (e.g. the one before a change).
if os.environ.get("TEND_BEFORE"):
    INITS["tend before"] = [os.environ["TEND_BEFORE"], "--"]
# tend's init mode gives back its start-up pages once its command has run 1 s (one timer,
# never again); idle figures are taken after that.
SETTLE_SECONDS = 2


def status_field(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def cpu_ticks(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def evict_from_page_cache(path):
    """How a binary is laid out in the page cache decides how many pages each fault maps
    (a freshly written file sits in large folios): each init is dropped from it and read
    back by the kernel's readahead at its first start, as from an image layer on disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def start_costs():
    """Median wall time of `INIT true` for each init, in ms, over STARTS runs each (no
    namespace), interleaved so that every init meets the same noise."""
    times = {name: [] for name in INITS}
    for argv in INITS.values():
        evict_from_page_cache(argv[0])
    for _ in range(STARTS):
        for name, argv in INITS.items():
            begin = time.perf_counter()
            subprocess.run([*argv, "true"], check=True)
            times[name].append((time.perf_counter() - begin) * 1000)
    return {name: statistics.median(runs) for name, runs in times.items()}


def idle_cost(argv):
    """RSS, threads, CPU ticks and wakeups of the init idling as PID 1 over IDLE_SECONDS."""
    unshare = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc",
                                "--kill-child=SIGKILL", *argv, "sleep", "100000"])
    try:
        children = Path(f"/proc/{unshare.pid}/task/{unshare.pid}/children")
        while not children.read_text().split():
            time.sleep(0.01)
        pid = int(children.read_text().split()[0])
        time.sleep(SETTLE_SECONDS)
        switches = lambda: (status_field(pid, "voluntary_ctxt_switches") +
                            status_field(pid, "nonvoluntary_ctxt_switches"))
        ticks, woken = cpu_ticks(pid), switches()
        time.sleep(IDLE_SECONDS)
        return {
            "rss_kib": status_field(pid, "VmRSS"),
            "anon_kib": status_field(pid, "RssAnon"),
            "threads": status_field(pid, "Threads"),
            "cpu_ms": (cpu_ticks(pid) - ticks) * 1000 / os.sysconf("SC_CLK_TCK"),
            "wakeups": switches() - woken,
        }
    finally:
        unshare.kill()
        unshare.wait()


def main():
    starts = start_costs()
    rows = {}
    for name, argv in INITS.items():
        rows[name] = {"size_kib": os.path.getsize(argv[0]) // 1024,
                      "start_ms": starts[name], **idle_cost(argv)}
    base = rows["tend"]
    print(f"Idle as PID 1 for {IDLE_SECONDS:g} s; start-up is the median of {STARTS} runs of "
          "`INIT true`, interleaved. Ratio columns: this init / tend.\n")
    print("| init | binary KiB | start-up ms | start-up ratio | idle RSS KiB | of it anonymous "
          "KiB | RSS ratio | threads | idle CPU ms | wakeups |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, row in rows.items():
        print(f"| {name} | {row['size_kib']} | {row['start_ms']:.2f} | "
              f"{row['start_ms'] / base['start_ms']:.2f} | {row['rss_kib']} | {row['anon_kib']} | "
              f"{row['rss_kib'] / base['rss_kib']:.2f} | {row['threads']} | "
              f"{row['cpu_ms']:.0f} | {row['wakeups']} |")


if __name__ == "__main__":
    main()
