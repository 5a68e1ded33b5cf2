"""`tend ctl logs` (pm2 logs): the last lines of each app, kept in a bounded buffer, and
--follow, which never lets a slow reader hold tend's memory."""
import json
import os
import select
import subprocess
import time

from conftest import REPO, TEND, wait_until
from test_app_metrics import rss_kib
from test_cluster import get, ready_count

APP = str(REPO / "tests/integration/helpers/chatty.js")


def start(start_tend, tmp_path, args=(), startup_lines=50):
    socket = tmp_path / "control.sock"
    tend = start_tend(["--control", f"unix:{socket}", "--name", "chatty", "-i", "2", *args, APP],
                      env=dict(os.environ, PORT="0", STARTUP_LINES=str(startup_lines)))
    wait_until(lambda: ready_count(tend) == 2, what="two ready workers")
    port = int(next(l for l in tend.lines if l.startswith("listening on port")).split()[-1])
    return tend, port, socket


def ctl(socket, *args):
    done = subprocess.run([TEND, "ctl", "--control", f"unix:{socket}", *args],
                          capture_output=True, text=True, timeout=30)
    return done.returncode, done.stdout, done.stderr


def test_the_last_lines_exactly(start_tend, tmp_path):
    tend, port, socket = start(start_tend, tmp_path)
    code, out, _ = ctl(socket, "logs", "chatty:1", "--lines", "1000")
    assert code == 0
    every = out.splitlines()
    # stdout and stderr are two pipes: only the order within each is certain.
    assert [l for l in every if "|out|" in l] == [
        *(f"chatty:1|out| line {n} of instance 1" for n in range(1, 51)),
        f"chatty:1|out| listening on port {port}"]
    assert [l for l in every if "|err|" in l] == ["chatty:1|err| instance 1 says this on stderr"]
    assert ctl(socket, "logs", "chatty:1", "--lines", "5")[1].splitlines() == every[-5:]
    both = ctl(socket, "logs", "--lines", "1000")[1].splitlines()
    assert len(both) == 2 * 52 and set(every) < set(both)
    line = json.loads(ctl(socket, "--json", "logs", "chatty:0", "--lines", "1")[1])
    assert (line["app"], line["instance"], line["message"]) == (
        "chatty", 0, f"listening on port {port}")
    assert ctl(socket, "logs", "nope")[2].strip() == "tend ctl: no app named 'nope'"


def test_the_buffer_keeps_its_bound(start_tend, tmp_path):
    tend, port, socket = start(start_tend, tmp_path, ["--log-buffer", "100"], startup_lines=400)
    lines = ctl(socket, "logs", "--lines", "1000")[1].splitlines()
    assert len(lines) == 100
    assert lines[-1].endswith(f"listening on port {port}")


def test_follow_sees_a_line_printed_after_it_started(start_tend, tmp_path):
    tend, port, socket = start(start_tend, tmp_path)
    follower = subprocess.Popen([TEND, "ctl", "--control", f"unix:{socket}", "logs", "chatty",
                                 "--lines", "0", "--follow"],
                                stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)  # subscribed (the call's headers come once it is)
        get(port, "/say/hello-from-the-app")
        assert follower.stdout.readline().endswith("| hello-from-the-app\n")
    finally:
        follower.kill()
        follower.wait()


def test_a_stalled_follower_costs_tend_no_memory(start_tend, tmp_path):
    """A follower that never reads while the app prints 100 MiB: tend keeps at most its
    bound of lines for it, drops the rest, and the follower is told how many."""
    tend, port, socket = start(start_tend, tmp_path)
    follower = subprocess.Popen([TEND, "ctl", "--control", f"unix:{socket}", "logs",
                                 "--lines", "0", "--follow"], stdout=subprocess.PIPE)
    try:
        time.sleep(0.5)
        before = rss_kib(tend.pid)
        for _ in range(4):
            assert get(port, "/flood/25000").strip() == "flooded"
        grown = rss_kib(tend.pid) - before
        assert grown < 24 * 1024, f"tend grew by {grown} KiB"
        # Others are served all the same. A worker may still be writing its flood (Node
        # buffers what the pipe does not take), and the app's buffer is shared by its
        # instances, so a line can be pushed out at once: a fresh one is said until one stays.
        def a_fresh_line_is_kept():
            marker = f"still-flowing-{time.monotonic_ns()}"
            instance = get(port, f"/say/{marker}").strip()
            time.sleep(0.2)
            return ctl(socket, "logs", f"chatty:{instance}", "--lines", "1")[1] == \
                f"chatty:{instance}|out| {marker}\n"
        wait_until(a_fresh_line_is_kept, timeout=30, what="the newest line kept")
        # The stalled follower, read at last, says where lines were dropped: at the first
        # line that comes once it has caught up.
        data = b""
        deadline = time.monotonic() + 20
        while b"lines dropped here" not in data and time.monotonic() < deadline:
            if select.select([follower.stdout], [], [], 0.2)[0]:
                data += os.read(follower.stdout.fileno(), 1 << 20)
            else:
                get(port, "/say/caught-up")
        assert b"lines dropped here: this reader fell behind]" in data
    finally:
        follower.kill()
        follower.wait()


def test_what_a_worker_prints_cannot_drive_the_operators_terminal(start_tend, tmp_path):
    # OSC 52 (write the clipboard), then C1's CSI: shown, not obeyed, by `tend ctl logs`.
    tend, port, socket = start(start_tend, tmp_path, startup_lines=0)
    assert get(port, "/say/%1B%5D52%3Bc%3BaGk%3D%07%C2%9B2J") is not None
    wait_until(lambda: "aGk=" in ctl(socket, "logs", "--lines", "1000")[1], what="the line")
    out = ctl(socket, "logs", "--lines", "1000")[1]
    assert "|out| \\x1b]52;c;aGk=\\x07\\u009b2J" in out
    assert "\x1b" not in out and "\x07" not in out and "\u009b" not in out
