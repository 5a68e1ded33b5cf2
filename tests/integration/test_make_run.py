"""`make run`, a newcomer's first command: it prints where to look, serves the example from
two workers with the endpoints on, and Ctrl-C in its terminal stops everything."""
import os
import re
import shutil
import subprocess

from conftest import REPO, children_of, fetch, free_port, proc_state, wait_until
from test_terminal import Terminal


PORT_TAKEN = ("EADDRINUSE", "Address already in use")


def start_make_run(control):
    """`make run` on two ports picked free. make must be told them before it starts, so
    another program can take one in between; then, and only then, it is tried again."""
    make = shutil.which("make")
    for _ in range(3):
        app_port, http_port = free_port(), free_port()
        terminal = Terminal([make, "-s", "-C", str(REPO), "run", f"PORT={app_port}",
                             f"RUN_HTTP=127.0.0.1:{http_port}", f"RUN_CONTROL={control}"],
                            dict(os.environ))
        try:
            terminal.wait_for(lambda s: s.count(" ready") == 2 or any(t in s for t in PORT_TAKEN),
                              "two ready workers", timeout=300)
        except AssertionError:
            terminal.close()
            raise
        if not any(t in terminal.screen.decode(errors="replace") for t in PORT_TAKEN):
            return terminal, app_port, http_port
        terminal.close()
    raise AssertionError(f"a port was taken three times: {terminal.screen!r}")


def test_make_run_shows_the_product_and_ctrl_c_stops_it(tmp_path):
    control = tmp_path / "control.sock"
    terminal, app_port, http_port = start_make_run(control)
    try:
        screen = terminal.screen.decode(errors="replace")
        for shown in (f"curl http://127.0.0.1:{app_port}/", f"curl http://127.0.0.1:{http_port}/readyz",
                      f"curl http://127.0.0.1:{http_port}/metrics",
                      f"ctl --control unix:{control} list", f"ctl --control unix:{control} top",
                      f"ctl --control unix:{control} logs -f", "Ctrl-C here stops everything."):
            assert shown in screen, screen
        answers = {fetch(f"http://127.0.0.1:{app_port}/") for _ in range(20)}
        assert all(re.fullmatch(r"hello from instance [01] pid \d+\n", a or "") for a in answers)
        assert fetch(f"http://127.0.0.1:{http_port}/readyz") == "ok\n"
        assert "tend_worker_up" in fetch(f"http://127.0.0.1:{http_port}/metrics")
        listed = subprocess.run([str(REPO / "bazel-bin/runtime/tend"), "ctl", "--control",
                                 f"unix:{control}", "list"], capture_output=True, text=True,
                                timeout=30)
        assert len(listed.stdout.splitlines()) == 3, listed
        everything = children_of(terminal.pid)
        tend = everything[0]
        workers = children_of(tend)
        assert len(workers) == 2
        terminal.type(b"\x03")
        terminal.exit_status(timeout=30)
        for pid in [tend, *workers]:
            wait_until(lambda: proc_state(pid) is None, what=f"{pid} to exit")
    finally:
        terminal.close()
