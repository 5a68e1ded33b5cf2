"""`tend ctl top` (pm2 monit) in a real terminal: tmux runs it against a running tend; the
screen shows both workers, follows a restart and a resize, and q or Ctrl-C give the terminal
back as it was."""
import os
import signal
import subprocess
import uuid

import pytest

from conftest import REPO, TEND, wait_until
from test_cluster import ready_count
from test_ctl_logs import ctl


@pytest.fixture
def tmux(tmp_path):
    """A private tmux server with one 100x30 shell; yields run(*args) -> stdout."""
    server = f"tend-test-{uuid.uuid4().hex[:8]}"

    def run(*args):
        return subprocess.run(["tmux", "-L", server, "-f", "/dev/null", *args],
                              capture_output=True, text=True, timeout=10).stdout
    run("new-session", "-d", "-x", "100", "-y", "30", "env", "PS1=$ ", "bash", "--norc",
        "--noprofile")
    yield run
    run("kill-server")


def screen(tmux):
    return tmux("capture-pane", "-p")


def test_top_shows_the_workers_live_and_gives_the_terminal_back(start_tend, tmp_path, tmux):
    socket = tmp_path / "control.sock"
    tend = start_tend(["--control", f"unix:{socket}", "-i", "2",
                       str(REPO / "examples/hello/app.js")], env=dict(os.environ, PORT="0"))
    wait_until(lambda: ready_count(tend) == 2, what="two ready workers")
    pids = [int(line.split()[2]) for line in ctl(socket, "list")[1].splitlines()[1:]]
    settings = tmp_path / "stty"
    tmux("send-keys", f"stty -g > {settings}.before", "Enter")
    tmux("send-keys", f"{TEND} ctl --control unix:{socket} top", "Enter")

    def rows():
        return [l.split() for l in screen(tmux).splitlines() if l.startswith("app ")]
    wait_until(lambda: {int(r[2]) for r in rows() if len(r) > 5} == set(pids),
               what="both workers' pids on screen")
    assert [r[5] for r in rows()[:2]] == ["0", "0"]  # restarts

    os.kill(pids[0], signal.SIGKILL)  # the restart count changes on screen
    wait_until(lambda: any(len(r) > 5 and r[1] == "0" and r[5] == "1" for r in rows()),
               what="instance 0's restart on screen")
    wait_until(lambda: "WORKER_EXITED app[0]" in screen(tmux), what="the exit in the events")

    tmux("resize-window", "-x", "50", "-y", "12")
    wait_until(lambda: screen(tmux).splitlines()[1] ==
               "APP              INST      PID STATE      UPTIME R", what="the frame cut to 50")

    tmux("send-keys", "q")
    wait_until(lambda: "$ " in screen(tmux) and "INST" not in screen(tmux),
               what="the shell's screen back")
    tmux("send-keys", f"stty -g > {settings}.after", "Enter")
    wait_until(lambda: os.path.exists(f"{settings}.after") and
               open(f"{settings}.after").read(), what="stty")
    assert open(f"{settings}.after").read() == open(f"{settings}.before").read()

    # Ctrl-C quits too.
    tmux("send-keys", f"{TEND} ctl --control unix:{socket} top", "Enter")
    wait_until(lambda: "INST" in screen(tmux), what="top again")
    tmux("send-keys", "C-c")
    wait_until(lambda: "INST" not in screen(tmux), what="top gone on Ctrl-C")


def test_top_without_a_terminal_prints_one_snapshot(start_tend, tmp_path):
    socket = tmp_path / "control.sock"
    tend = start_tend(["--control", f"unix:{socket}", "-i", "2",
                       str(REPO / "examples/hello/app.js")], env=dict(os.environ, PORT="0"))
    wait_until(lambda: ready_count(tend) == 2, what="two ready workers")
    code, out, _ = ctl(socket, "top")
    assert code == 0 and "\x1b" not in out
    assert len([l for l in out.splitlines() if l.startswith("app ")]) == 3  # 2 workers, 1 app
