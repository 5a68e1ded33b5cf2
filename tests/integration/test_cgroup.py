"""-i max under a real CPU quota: the cgroup's CPUs count, not the host's."""
import contextlib
import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from conftest import REPO, children_of, wait_until

APP = str(REPO / "examples/hello/app.js")


def cpu_cgroup_root():
    """Where a CPU cgroup can be made here: cgroup v2's root or v1's cpu hierarchy."""
    v2 = Path("/sys/fs/cgroup")
    controllers = v2 / "cgroup.controllers"
    if controllers.exists() and "cpu" in controllers.read_text().split():
        return v2, "v2"
    for name in ("cpu", "cpu,cpuacct"):
        if (v2 / name / "cpu.cfs_quota_us").exists():
            return v2 / name, "v1"
    return None, None


@contextlib.contextmanager
def cpu_quota(cpus):
    root, version = cpu_cgroup_root()
    if root is None or not os.access(root, os.W_OK):
        pytest.skip("no writable CPU cgroup on this machine")
    group = root / f"tend-test-{uuid.uuid4().hex[:12]}"
    group.mkdir()
    period = 100000
    if version == "v2":
        (group / "cpu.max").write_text(f"{int(cpus * period)} {period}\n")
    else:
        (group / "cpu.cfs_period_us").write_text(f"{period}\n")
        (group / "cpu.cfs_quota_us").write_text(f"{int(cpus * period)}\n")
    try:
        yield group / "cgroup.procs"
    finally:
        remove_when_empty(group)


def remove_when_empty(group):
    """The tests end their processes first; a group is removed once it is empty."""
    deadline = time.monotonic() + 10
    while True:
        try:
            group.rmdir()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_max_instances_follow_the_cpu_quota(start_tend):
    if os.cpu_count() < 2:
        pytest.skip("needs 2 CPUs to tell a 1.5-CPU quota from the machine")
    with cpu_quota(1.5) as procs:
        tend = start_tend(["-i", "max", APP], env=dict(os.environ, PORT="0"),
                          exec_from=["sh", "-c", f'echo $$ > {procs} && exec "$0" "$@"'])
        wait_until(lambda: any(" ready" in line for line in tend.stderr), what="a ready worker")
        # Every instance is spawned at start: one child means one instance.
        assert len(children_of(tend.pid)) == 1
        tend.signal(signal.SIGTERM)
        assert tend.wait() == 0


@contextlib.contextmanager
def pids_limit(limit):
    root = Path("/sys/fs/cgroup/pids")
    if not (root / "cgroup.procs").exists() or not os.access(root, os.W_OK):
        pytest.skip("no writable pids cgroup on this machine")
    group = root / f"tend-test-{uuid.uuid4().hex[:12]}"
    group.mkdir()
    (group / "pids.max").write_text(f"{limit}\n")
    try:
        yield group
    finally:
        remove_when_empty(group)


def test_a_spawn_short_of_pids_is_tried_again_not_given_up(start_tend, tmp_path):
    # tend and one worker fit under pids.max=2; the second worker's clone gets EAGAIN, which
    # once marked it errored for good. It must start once pids are free again.
    config = tmp_path / "sleepers.json"
    config.write_text('{"apps": [{"name": "sleeper", "script": "/bin/sleep", "args": "1000", '
                      '"interpreter": "none", "exec_mode": "fork", "instances": 2}]}')
    with pids_limit(2) as group:
        tend = start_tend([str(config)],
                          exec_from=["sh", "-c", f'echo $$ > {group}/cgroup.procs && exec "$0" "$@"'])
        wait_until(lambda: any("Resource temporarily unavailable" in line and "trying again" in line
                               for line in tend.stderr), what="the failed spawn")
        assert len(children_of(tend.pid)) == 1
        (group / "pids.max").write_text("max\n")
        wait_until(lambda: len(children_of(tend.pid)) == 2, what="the second worker")
        assert not any("errored" in line for line in tend.stderr)
        tend.signal(signal.SIGTERM)
        assert tend.wait() == 0
