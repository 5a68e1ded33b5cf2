"""Workers are untrusted: what one asks of tend, or leaves behind, cannot hurt tend or others."""
import json
import os
import shutil
import signal
import socket
import tempfile
import time
from pathlib import Path

import pytest

from conftest import HELPERS, children_of, proc_state, wait_until


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def ready_count(tend):
    return sum(line.endswith(" ready") for line in tend.stderr)


@pytest.fixture
def world_readable_dir():
    """A folder workers running as another user can read (pytest's tmp_path is 0700)."""
    folder = tempfile.mkdtemp(prefix="tend-test-")
    os.chmod(folder, 0o755)
    yield Path(folder)
    shutil.rmtree(folder)


# Through queryServer, a worker running as nobody must not get a socket that tend, as root,
# binds for it on a port nobody could not bind itself.
@pytest.mark.parametrize("allowed", [False, True])
def test_a_worker_gets_no_privileged_port_it_could_not_bind_itself(start_tend, world_readable_dir,
                                                                   allowed):
    script = world_readable_dir / "binds_port.js"
    shutil.copy(HELPERS / "binds_port.js", script)
    os.chmod(script, 0o644)
    app = {"name": "api", "script": str(script), "instances": 1, "exec_mode": "cluster",
           "uid": "nobody", "env": {"PORT": "707"}}
    if allowed:
        app["allow_privileged_ports"] = True
    config = world_readable_dir / "ecosystem.json"
    config.write_text(json.dumps({"apps": [app]}))
    tend = start_tend([str(config)])
    wait_until(lambda: ready_count(tend) == 1, what="the worker ready")
    expected = "bound" if allowed else "error EACCES"
    wait_until(lambda: expected in tend.lines, what=expected)
    with socket.socket() as probe:
        reached = probe.connect_ex(("127.0.0.1", 707)) == 0
    assert reached == allowed
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0


def test_port_zero_flood_is_capped_and_leaves_no_descriptor_once_the_worker_is_gone(start_tend):
    tend = start_tend(["-i", "1", "--min-uptime", "0", str(HELPERS / "port_flood.js")])
    wait_until(lambda: ready_count(tend) == 1, what="the worker ready")
    before = fd_count(tend.pid)
    worker = children_of(tend.pid)[0]
    os.kill(worker, signal.SIGUSR2)
    tend.expect_line("flooded")
    peak = 0
    # Sampled until the worker has crashed and its replacement serves.
    deadline = time.monotonic() + 20
    while ready_count(tend) < 2 and time.monotonic() < deadline:
        peak = max(peak, fd_count(tend.pid))
        time.sleep(0.05)
    assert ready_count(tend) == 2, "the crashed worker was replaced"
    # At most 64 listening sockets an app, and 8 duplicates queued for a worker to take.
    assert peak <= before + 64 + 8 + 4, peak
    assert any("more than 64 listening sockets" in line for line in tend.stderr)
    # Released sockets close after a grace of 5 s that covers restarts.
    wait_until(lambda: fd_count(tend.pid) <= before, timeout=20,
               what=f"tend's descriptors back to {before}")
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0


def test_what_a_crashing_worker_leaves_behind_is_ended(start_tend):
    tend = start_tend(["-i", "1", "--min-uptime", "0", "-t", "1000",
                       str(HELPERS / "leaves_helper.js")])
    helpers = lambda: [int(l.split()[1]) for l in tend.lines if l.startswith("helper ")]
    siblings = lambda: [int(l.split()[1]) for l in tend.lines if l.startswith("sibling ")]
    wait_until(lambda: len(helpers()) >= 10, timeout=60, what="ten crashes")
    first_ten = helpers()[:10] + siblings()[:10]
    # Each ignores SIGTERM or sleeps on: SIGKILL one kill timeout (1 s) after its worker died.
    wait_until(lambda: all(proc_state(pid) in (None, "Z") for pid in first_ten), timeout=20,
               what="every helper of the first ten workers gone")
    count = len(helpers())
    wait_until(lambda: len(helpers()) > count, what="workers still being restarted")
    tend.signal(signal.SIGTERM)
    tend.wait()
    assert proc_state(tend.pid) is None
