"""A hardened or broken environment: nowhere to write, a Node that never loads the preload."""
import os
import signal
import subprocess
import time

from conftest import (HELPERS, REPO, TEND, descendants_of, fetch, free_port,
                      run_wrk_through_reloads, wait_until)

APP = str(REPO / "examples/hello/app.js")

# tend in a mount namespace of its own where /tmp is read-only and /dev/shm is an empty
# read-only tmpfs: a pod with readOnlyRootFilesystem and no emptyDir.
READ_ONLY_TMP = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                 "mount -o bind,ro /tmp /tmp && mount -t tmpfs -o ro tmpfs /dev/shm && "
                 'exec "$@"', "sh"]


def ready_count(tend):
    return sum(line.endswith(" ready") for line in tend.stderr)


def listening_port(tend):
    line = wait_until(lambda: next((l for l in tend.lines if l.startswith("listening on port")),
                                   None), what="a worker listening")
    return int(line.split()[-1])


def test_reloads_and_stops_drain_with_nowhere_to_write(start_tend):
    env = {k: v for k, v in os.environ.items() if k not in ("TMPDIR", "TEND_RUNTIME_DIR")}
    env["PORT"] = "0"
    tend = start_tend(["-i", "2", APP], env=env, exec_from=READ_ONLY_TMP)
    port = listening_port(tend)
    wait_until(lambda: ready_count(tend) == 2, what="two ready workers")
    counts = run_wrk_through_reloads(tend, port, reloads=2, seconds=6)
    assert counts["requests"] > 100
    assert {k: v for k, v in counts.items() if k != "requests"} == {
        "connect": 0, "read": 0, "write": 0, "timeout": 0, "status": 0}
    stopped = time.monotonic()
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0
    assert time.monotonic() - stopped < 4, "drained, not waited out to the 8 s kill timeout"
    assert not any("sending SIGKILL" in line for line in tend.stderr), tend.stderr


# A Node that ignores the preload (an old version, NODE_OPTIONS dropped by a wrapper) never
# answers a drain request: tend must not wait the kill timeout for one.
def test_a_worker_without_the_preload_is_stopped_at_once(start_tend, tmp_path):
    wrapper = tmp_path / "node"
    wrapper.write_text('#!/bin/sh\nunset NODE_OPTIONS\nexec /usr/bin/node "$@"\n')
    wrapper.chmod(0o755)
    env = dict(os.environ, PORT="0", PATH=f"{tmp_path}:{os.environ['PATH']}")
    tend = start_tend(["-i", "2", "-t", "6000", APP], env=env)
    wait_until(lambda: ready_count(tend) == 2, what="two ready workers")
    stopped = time.monotonic()
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0
    assert time.monotonic() - stopped < 3
    assert not any("sending SIGKILL" in line for line in tend.stderr), tend.stderr


def soft_nofile(pid):
    for line in open(f"/proc/{pid}/limits"):
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no limit line")


# As Go's runtime does: tend takes the hard limit for itself, and its children get the soft
# limit tend was started with (programs that use select() break above 1024). (Node raises
# its own at start-up, so a shell shows it.)
def test_tend_raises_its_descriptor_limit_and_children_get_the_one_it_was_given(start_tend):
    tend = start_tend(["--", "/bin/sh", "-c", "echo limit $(ulimit -Sn); exec sleep 600"],
                      exec_from=["prlimit", "--nofile=64:4096", "--"])
    tend.expect_line("limit 64")
    assert soft_nofile(tend.pid) == 4096
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 143


def test_a_stalled_log_reader_never_stalls_tend(tmp_path):
    # stdout and stderr a pipe nobody reads (a stalled log collector): once the workers'
    # lines have filled it, tend's own lines must not block PID 1 in write(2).
    read_end, write_end = os.pipe()
    http, app = free_port(), free_port()
    tend = subprocess.Popen(
        [TEND, "--http", f"127.0.0.1:{http}", "--control", "off", "-i", "2",
         str(HELPERS / "chatty.js")], stdin=subprocess.DEVNULL, stdout=write_end,
        stderr=write_end, start_new_session=True,
        env=dict(os.environ, PORT=str(app), STARTUP_LINES="2000"))
    os.close(write_end)
    try:
        wait_until(lambda: fetch(f"http://127.0.0.1:{app}/") is not None, what="the app")
        assert fetch(f"http://127.0.0.1:{app}/flood/3000") == "flooded\n"  # 3 MiB of lines
        for _ in range(3):  # every reload makes tend say what it does, a line at a time
            tend.send_signal(signal.SIGHUP)
            time.sleep(0.5)
        answered = sum(fetch(f"http://127.0.0.1:{http}/livez") is not None for _ in range(8))
        assert answered == 8, f"/livez answered {answered} of 8"
        metrics = fetch(f"http://127.0.0.1:{http}/metrics")
        dropped = next(float(l.split()[-1]) for l in metrics.splitlines()
                       if l.startswith("tend_log_lines_dropped_total"))
        assert dropped > 0
        tend.send_signal(signal.SIGTERM)
        assert tend.wait(10) in (0, 1)
    finally:
        if tend.poll() is None:
            leftovers = descendants_of(tend.pid)
            tend.kill()
            for pid in leftovers:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            tend.wait(10)
        os.close(read_end)
