"""tend reaps every zombie and leaves no process behind."""
import signal
import time
from pathlib import Path

from conftest import children_of, descendants_of, proc_state, wait_until

ORPHANS = 1000


def test_reaps_a_thousand_orphans(start_tend, mode):
    # Each subshell exits at once, so its sleep is orphaned to tend, then exits as a zombie.
    tend = start_tend(["--", "sh", "-c",
                       f"i=0; while [ $i -lt {ORPHANS} ]; do (sleep 0.2 &); i=$((i+1)); done;"
                       " echo spawned; exec sleep 1000"], pid1=mode)
    tend.expect_line("spawned", timeout=60)
    # Every orphan has exited and been reaped: tend's only child is its command.
    def only_the_command_left():
        children = children_of(tend.pid)
        return (len(children) == 1 and
                open(f"/proc/{children[0]}/cmdline").read() == "sleep\x001000\x00")
    wait_until(only_the_command_left, timeout=30,
               what=f"tend to reap {ORPHANS} orphans; children left: {children_of(tend.pid)[:5]}")
    zombies = [p for p in descendants_of(tend.pid) if proc_state(p) == "Z"]
    assert zombies == []
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 128 + signal.SIGTERM


def command_line(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""  # gone


def test_leftover_descendants_get_sigterm_when_the_command_exits(start_tend, mode, tmp_path):
    # A kill timeout longer than the wait: only SIGTERM can end the leftover in time. The
    # command exits only once the leftover is seen (else tend may be gone before it is).
    go = tmp_path / "go"
    tend = start_tend(["--kill-timeout", "600000", "--", "sh", "-c",
                       f"sleep 1000 & echo started; until [ -e {go} ]; do sleep 0.05; done"],
                      pid1=mode)
    tend.expect_line("started")
    leftovers = wait_until(lambda: [pid for pid in descendants_of(tend.pid)
                                    if command_line(pid) == b"sleep\x001000\x00"],
                           what="the leftover sleep")
    go.touch()
    assert tend.wait(timeout=20) == 0
    assert all(proc_state(pid) is None for pid in leftovers)


def test_leftovers_that_ignore_sigterm_get_sigkill(start_tend, mode):
    tend = start_tend(["--kill-timeout", "300", "--", "sh", "-c",
                       "trap '' TERM; sleep 1000 & sleep 1000 & echo started"], pid1=mode)
    tend.expect_line("started")
    leftovers = wait_until(lambda: len(descendants_of(tend.pid)) >= 2 and descendants_of(tend.pid),
                           what="the two sleepers")
    assert tend.wait(timeout=20) == 0, "the command's own exit code"
    assert all(proc_state(pid) is None for pid in leftovers)
    assert any("sending SIGKILL" in line for line in tend.stderr)


def test_idle_tend_never_wakes_up(start_tend, mode):
    tend = start_tend(["--", "sleep", "1000"], pid1=mode)
    wait_until(lambda: children_of(tend.pid), what="the command")
    time.sleep(1.3)  # past the one timer init mode sets: giving back its start-up pages at 1 s

    def wakeups():
        status = open(f"/proc/{tend.pid}/status").read()
        return int(status.split("voluntary_ctxt_switches:")[1].split()[0])

    before = wakeups()
    time.sleep(1.5)
    assert wakeups() == before
