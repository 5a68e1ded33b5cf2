"""A hardened or broken environment: nowhere to write, a Node that never loads the preload."""
import json
import os
import signal
import subprocess
import time

from conftest import HELPERS, REPO, children_of, wait_until

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
    wrk = subprocess.Popen(
        ["wrk", "-t", "2", "-c", "50", "-d", "6s", "-s", str(HELPERS / "wrk_errors.lua"),
         f"http://127.0.0.1:{port}/"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for reload in (1, 2):
            tend.signal(signal.SIGHUP)
            wait_until(lambda: sum("reload of app: done" in l for l in tend.stderr) == reload,
                       timeout=30, what=f"reload {reload}")
        out, _ = wrk.communicate(timeout=60)
    finally:
        if wrk.poll() is None:
            wrk.kill()
            wrk.wait()
    counts = json.loads(out.strip().splitlines()[-1])
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
