"""tend's command line: help, version, and one clear line for every mistake."""
import pytest

from conftest import run_tend


def test_help_shows_usage_and_flags():
    code, out, _ = run_tend(["--help"])
    assert code == 0
    assert out.startswith("Usage: tend [FLAGS] -- CMD [ARGS...]")
    for flag in ["--pgroup", "--rewrite", "--kill-timeout", "--remap-exit", "--version"]:
        assert flag in out


def test_version():
    code, out, _ = run_tend(["--version"])
    assert code == 0 and out.startswith("tend ")


@pytest.mark.parametrize("args, message", [
    (["--bogus", "--", "true"], "tend: unknown flag '--bogus' (see tend --help)"),
    ([], "tend: missing command: tend [FLAGS] -- CMD [ARGS...] (see tend --help)"),
    (["--"], "tend: missing command: tend [FLAGS] -- CMD [ARGS...] (see tend --help)"),
    (["-r", "TERM:NOPE", "--", "true"], "tend: --rewrite: 'NOPE' names no signal (see tend --help)"),
    (["--kill-timeout", "soon", "--", "true"],
     "tend: --kill-timeout: 'soon' is not a number of milliseconds from 0 to 86400000 "
     "(see tend --help)"),
    (["-e", "300", "--", "true"],
     "tend: --remap-exit: '300' is not N or N:M with exit codes from 0 to 255 (see tend --help)"),
])
def test_bad_command_line_is_one_line_and_exit_2(args, message):
    code, out, err = run_tend(args)
    assert (code, out, err) == (2, "", message + "\n")
