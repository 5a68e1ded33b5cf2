"""Signals sent to tend reach the command: forwarded, rewritten, dropped, to its group."""
import signal

import pytest

from conftest import SIGNAL_ECHO, children_of, proc_state, wait_until

FORWARDED = ["SIGHUP", "SIGUSR1", "SIGUSR2", "SIGWINCH", "SIGCONT"]
STOPS = ["SIGTERM", "SIGINT", "SIGQUIT"]


@pytest.mark.parametrize("name", FORWARDED)
def test_signal_reaches_the_command(start_tend, mode, name):
    tend = start_tend(["--", *SIGNAL_ECHO], pid1=mode)
    tend.expect_line("ready")
    tend.signal(signal.Signals[name])
    tend.expect_line(name)
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 42


@pytest.mark.parametrize("name", STOPS)
def test_stop_signal_reaches_the_command_and_its_exit_code_is_tends(start_tend, mode, name):
    tend = start_tend(["--", *SIGNAL_ECHO], pid1=mode)
    tend.expect_line("ready")
    tend.signal(signal.Signals[name])
    tend.expect_line(name)
    assert tend.wait() == 42


def test_rewritten_signal_arrives_as_its_replacement(start_tend, mode):
    tend = start_tend(["--rewrite", "TERM:INT", "-r", "USR1:HUP", "--", *SIGNAL_ECHO], pid1=mode)
    tend.expect_line("ready")
    tend.signal(signal.SIGUSR1)
    tend.expect_line("SIGHUP")
    tend.signal(signal.SIGTERM)
    tend.expect_line("SIGINT")
    assert tend.wait() == 42
    assert "SIGUSR1" not in tend.lines and "SIGTERM" not in tend.lines


def test_signal_rewritten_to_zero_is_dropped(start_tend, mode):
    tend = start_tend(["-r", "USR1:0", "--", *SIGNAL_ECHO], pid1=mode)
    tend.expect_line("ready")
    tend.signal(signal.SIGUSR1)
    tend.signal(signal.SIGUSR2)  # signals from one sender arrive in order
    tend.expect_line("SIGUSR2")
    assert "SIGUSR1" not in tend.lines


def test_without_pgroup_only_the_command_gets_the_signal(start_tend, mode):
    tend = start_tend(["--", *SIGNAL_ECHO, "--fork"], pid1=mode)
    tend.expect_line("parent ready")
    tend.expect_line("child ready")
    tend.signal(signal.SIGUSR1)
    tend.expect_line("parent SIGUSR1")
    tend.signal(signal.SIGUSR2)
    tend.expect_line("parent SIGUSR2")
    assert "child SIGUSR1" not in tend.lines


def test_pgroup_signals_the_whole_process_group(start_tend, mode):
    tend = start_tend(["--pgroup", "--", *SIGNAL_ECHO, "--fork"], pid1=mode)
    tend.expect_line("parent ready")
    tend.expect_line("child ready")
    tend.signal(signal.SIGUSR1)
    tend.expect_line("parent SIGUSR1")
    tend.expect_line("child SIGUSR1")
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 42


def test_sigkill_follows_when_the_command_ignores_sigterm(start_tend, mode):
    tend = start_tend(["--kill-timeout", "300", "--", "sh", "-c",
                       "trap '' TERM; sleep 1000 & echo started; wait"], pid1=mode)
    tend.expect_line("started")
    shell = children_of(tend.pid)[0]
    sleeper = children_of(shell)[0]
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 128 + signal.SIGKILL
    assert proc_state(sleeper) is None, "the command's child outlived tend"
    assert any("sending SIGKILL" in line for line in tend.stderr)


def test_a_stop_signal_while_the_configuration_loads_starts_nothing(start_tend, tmp_path):
    # As PID 1, a signal that comes before tend has blocked it is discarded by the kernel:
    # tend blocks its signals first thing, so this SIGTERM waits and nothing starts.
    evaluating, started = tmp_path / "evaluating", tmp_path / "started"
    (tmp_path / "app.js").write_text(
        f"require('fs').writeFileSync({str(started)!r}, 'x'); setInterval(() => {{}}, 1000);\n")
    (tmp_path / "ecosystem.config.js").write_text(
        f"require('fs').writeFileSync({str(evaluating)!r}, 'x');\n"
        "const until = Date.now() + 2000; while (Date.now() < until) {}\n"
        "module.exports = { apps: [{ name: 'app', script: 'app.js' }] };\n")
    tend = start_tend([str(tmp_path / "ecosystem.config.js")], pid1=True)
    wait_until(evaluating.exists, 10, "the ecosystem file's evaluation")
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 143
    assert not started.exists()
    assert any("SIGTERM received before the start" in line for line in tend.stderr)
