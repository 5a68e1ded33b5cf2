"""`tend ctl` and `tend probe`: the clients in the same binary, against a running tend."""
import json
import os
import select
import signal
import subprocess
import time

from conftest import HELPERS, REPO, TEND, children_of, wait_until
from test_cluster import ready_count

APP = str(REPO / "examples/hello/app.js")


def client(*args):
    done = subprocess.run([TEND, *args], capture_output=True, text=True, timeout=30)
    return done.returncode, done.stdout, done.stderr


def start(start_tend, tmp_path, args, env=None):
    socket = tmp_path / "control.sock"
    tend = start_tend(["--control", f"unix:{socket}", *args],
                      env=env or dict(os.environ, PORT="0"))
    wait_until(socket.exists, what="the control socket")
    return tend, f"unix:{socket}"


def test_ctl_lists_scales_and_reloads(start_tend, tmp_path):
    tend, control = start(start_tend, tmp_path, ["-i", "2", APP])
    wait_until(lambda: ready_count(tend) == 2, what="two ready workers")
    code, out, _ = client("ctl", "--control", control, "list")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["APP", "INSTANCE", "PID", "STATE", "RESTARTS", "UPTIME", "MEMORY",
                              "CPU"]
    assert sorted(int(row.split()[2]) for row in rows) == sorted(children_of(tend.pid))
    assert all(row.split()[3] == "ready" for row in rows)

    code, out, _ = client("ctl", "--control", control, "--json", "list")
    assert code == 0 and json.loads(out)["apps"][0]["desired"] == 2

    assert client("ctl", "--control", control, "scale", "app", "+1") == (0, "app: 3 instances\n", "")
    code, out, _ = client("ctl", "--control", control, "reload")
    assert code == 0
    assert out.splitlines()[0] == "RELOAD_STARTED app: reload of app"
    assert out.splitlines()[-1] == "RELOAD_FINISHED app ok: reload of app"
    assert sum(line.startswith("RELOAD_PROGRESS app[") for line in out.splitlines()) == 3


def test_ctl_bad_input(start_tend, tmp_path):
    tend, control = start(start_tend, tmp_path, ["-i", "1", APP])
    assert client("ctl", "--control", control, "scale", "nope", "2")[:2] == (1, "")
    assert client("ctl", "--control", control, "scale", "nope", "2")[2] == \
        "tend ctl: no app named 'nope'\n"
    code, _, err = client("ctl", "--control", control, "scale", "app", "lots")
    assert code == 2 and err.startswith("tend ctl: 'lots' is not N, +N or -N\n")
    code, _, err = client("ctl", "--control", control, "frobnicate")
    assert code == 2 and err.startswith("tend ctl: bad command 'frobnicate'")
    code, _, err = client("ctl", "--control", f"unix:{tmp_path}/absent.sock", "--wait", "1",
                          "list")
    assert (code, err) == (1, f"tend ctl: no tend answers on unix:{tmp_path}/absent.sock "
                              "(waited 1 s)\n")


def test_a_sidecar_started_before_tend_waits_for_its_socket(start_tend, tmp_path):
    socket = tmp_path / "control.sock"
    sidecar = subprocess.Popen([TEND, "ctl", "--control", f"unix:{socket}", "--json", "events"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: sidecar.poll() is None, what="the sidecar to be waiting")
        tend = start_tend(["--control", f"unix:{socket}", "-i", "1", APP],
                          env=dict(os.environ, PORT="0"))
        # Events come once the sidecar is subscribed: reloads make more until one arrives.
        while not select.select([sidecar.stdout], [], [], 2)[0]:
            assert sidecar.poll() is None, sidecar.stderr.read()
            tend.signal(signal.SIGHUP)
        event = json.loads(sidecar.stdout.readline())
        assert event["app"] == "app"
        tend.signal(signal.SIGTERM)
        assert tend.wait() == 0
    finally:
        sidecar.kill()
        sidecar.communicate()


def test_probe_exits_0_when_ready_and_1_with_the_reason_when_not(start_tend, tmp_path):
    gate = tmp_path / "gate"
    tend, control = start(start_tend, tmp_path, ["-i", "1", "--wait-ready",
                                                 str(HELPERS / "gated_ready.js")],
                          env=dict(os.environ, GATE=str(gate)))
    assert client("probe", "--control", control, "live") == (0, "live\n", "")
    assert client("probe", "--control", control, "ready") == (
        1, "not ready: gated_ready: 0 ready workers, 1 needed\n", "")
    gate.touch()
    wait_until(lambda: client("probe", "--control", control, "ready")[0] == 0, what="ready")
    code, out, _ = client("probe", "--control", f"unix:{tmp_path}/absent.sock", "ready")
    assert code == 1 and out.startswith("not ready: cannot ask tend at unix:")
    assert client("probe", "sideways")[0] == 2
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0


def threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def test_probes_never_start_grpc(start_tend, tmp_path):
    """A HEALTHCHECK runs `tend probe` every 10 s: it speaks HTTP on the control socket and
    leaves tend single-threaded; the first gRPC call starts gRPC's threads."""
    tend, control = start(start_tend, tmp_path, ["-i", "1", APP])
    wait_until(lambda: client("probe", "--control", control, "ready")[0] == 0, what="ready")
    for which in ("live", "ready") * 5:
        assert client("probe", "--control", control, which)[0] == 0
    assert threads(tend.pid) == 1
    assert client("ctl", "--control", control, "list")[0] == 0
    assert threads(tend.pid) > 1  # so the count above could have seen gRPC


def wakeups(pid):
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/status") as status:
            total += sum(int(l.split()[1]) for l in status if "ctxt_switches" in l)
    return total


def test_grpc_stops_once_its_last_client_has_gone(start_tend, tmp_path):
    """gRPC's own threads wake several times a second: once no client is left tend shuts
    gRPC down (checked every 10 s), back to one thread and no wakeups, and the next call
    starts it again. That a held stream keeps gRPC past a check is idle_check_test's."""
    tend, control = start(start_tend, tmp_path, ["-i", "1", APP])
    wait_until(lambda: client("probe", "--control", control, "ready")[0] == 0, what="ready")
    events = subprocess.Popen([TEND, "ctl", "--control", control, "events"],
                              stdout=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: threads(tend.pid) > 1, what="gRPC started")
        tend.signal(signal.SIGHUP)
        assert events.stdout.readline().startswith("RELOAD_STARTED")
    finally:
        events.kill()
        events.wait()
    wait_until(lambda: threads(tend.pid) == 1, timeout=30, what="gRPC gone with its clients")
    time.sleep(1)  # the shutdown's own last steps
    before = wakeups(tend.pid)
    time.sleep(3)
    assert wakeups(tend.pid) - before == 0
    assert client("ctl", "--control", control, "list")[0] == 0


def test_an_unusable_control_path_is_a_clear_start_up_error(start_tend, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    tend = start_tend(["--control", f"unix:{blocker}/control.sock", APP])
    assert tend.wait() == 1
    assert any(f"--control: cannot create {blocker}" in line for line in tend.stderr)
    assert not any(line.startswith("listening") for line in tend.lines), "nothing started"
    not_a_socket = tmp_path / "plain"
    not_a_socket.write_text("")
    tend = start_tend(["--control", f"unix:{not_a_socket}", APP])
    assert tend.wait() == 1
    assert any(f"{not_a_socket} exists and is not a socket" in line for line in tend.stderr)
    assert not_a_socket.read_text() == "", "left alone"
