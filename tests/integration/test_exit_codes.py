"""tend exits with its command's exit code, as the shell reports it."""
import os
import signal
import stat

import pytest

from conftest import run_tend


@pytest.mark.parametrize("code", range(256))
def test_exit_code_passes_through(code):
    assert run_tend(["--", "sh", "-c", f"exit {code}"])[0] == code


@pytest.mark.parametrize("code", [0, 1, 2, 126, 127, 128, 255])
def test_exit_code_passes_through_as_pid1(start_tend, code):
    assert start_tend(["--", "sh", "-c", f"exit {code}"], pid1=True).wait() == code


@pytest.mark.parametrize("name", ["SIGHUP", "SIGINT", "SIGQUIT", "SIGABRT", "SIGKILL", "SIGUSR1",
                                  "SIGSEGV", "SIGPIPE", "SIGTERM"])
def test_death_by_signal_is_128_plus_the_signal(start_tend, mode, name):
    signo = signal.Signals[name]
    tend = start_tend(["--", "sh", "-c", f"kill -{signo} $$"], pid1=mode)
    assert tend.wait() == 128 + signo


def test_remap_exit_maps_codes_like_tinis_e():
    assert run_tend(["-e", "143", "--", "sh", "-c", "kill -TERM $$"])[0] == 0
    assert run_tend(["--remap-exit", "3:4", "--", "sh", "-c", "exit 3"])[0] == 4
    assert run_tend(["--remap-exit", "3:4", "--", "sh", "-c", "exit 5"])[0] == 5


def test_missing_command_is_127_with_a_reason(start_tend, mode):
    tend = start_tend(["--", "/no/such/command"], pid1=mode)
    assert tend.wait() == 127
    assert tend.stderr == [
        "tend: error: cannot execute '/no/such/command': No such file or directory"]


def test_command_not_in_path_is_127():
    code, _, err = run_tend(["--", "no-such-command-anywhere"])
    assert code == 127 and "No such file or directory" in err


def test_non_executable_file_is_126(start_tend, mode, tmp_path):
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(stat.S_IRUSR | stat.S_IWUSR)
    tend = start_tend(["--", str(script)], pid1=mode)
    assert tend.wait() == 126
    assert tend.stderr == [f"tend: error: cannot execute '{script}': Permission denied"]


def test_directory_is_126(tmp_path):
    code, _, err = run_tend(["--", str(tmp_path)])
    assert code == 126 and "Permission denied" in err


def test_command_gets_tends_environment_and_arguments():
    env_code, out, _ = run_tend(["--", "sh", "-c", 'printf "%s|%s|%s" "$0" "$1" "$TEND_TEST"',
                                 "zero", "one two"], )
    assert env_code == 0 and out.startswith("zero|one two|")
    assert os.environ.get("TEND_TEST") is None
