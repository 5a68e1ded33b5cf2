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
     "tend: --kill-timeout: 'soon' is not a duration (ms, or 500ms, 10s, 2m, 1h; at most 24h) "
     "(see tend --help)"),
    (["-e", "300", "--", "true"],
     "tend: --remap-exit: '300' is not N or N:M with exit codes from 0 to 255 (see tend --help)"),
    (["--max-memory-restart", "lots", "app.js"],
     "tend: --max-memory-restart: 'lots' is not a size such as 200M, 1G or 512K (see tend --help)"),
    (["--cron-restart", "* * *", "app.js"],
     "tend: --cron-restart: cron expression '* * *' has 3 fields; expected 5 (m h dom mon dow) "
     "or 6 (see tend --help)"),
    (["--cron-restart", "0 25 * * *", "app.js"],
     "tend: --cron-restart: cron hour field '25': expected 0 to 23 (see tend --help)"),
    (["--reload-surge", "0", "app.js"],
     "tend: --reload-surge: '0' is not a whole number from 1 to 4096 (see tend --help)"),
    (["--listen", "host:http", "--", "true"],
     "tend: --listen: 'host:http' is not [ADDR:]PORT with a port from 0 to 65535 "
     "(IPv6: [ADDR]:PORT) (see tend --help)"),
    (["-i", "2", "--", "python3", "server.py"],
     "tend: -i runs Node cluster workers, and 'python3' is not node: give --listen "
     "[ADDR:]PORT to share a socket with other programs (see tend --help)"),
])
def test_bad_command_line_is_one_line_and_exit_2(args, message):
    code, out, err = run_tend(args)
    assert (code, out, err) == (2, "", message + "\n")
