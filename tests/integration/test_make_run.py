"""`make run`, a newcomer's first command: it prints where to look, serves the example from
two workers with the endpoints on, and Ctrl-C in its terminal stops everything."""
import os
import re
import shutil
import subprocess

from conftest import REPO, children_of, fetch, free_port, proc_state, wait_until
from test_terminal import Terminal


def test_make_run_shows_the_product_and_ctrl_c_stops_it(tmp_path):
    app_port, http_port = free_port(), free_port()
    control = tmp_path / "control.sock"
    make = shutil.which("make")
    terminal = Terminal([make, "-s", "-C", str(REPO), "run", f"PORT={app_port}",
                         f"RUN_HTTP=127.0.0.1:{http_port}", f"RUN_CONTROL={control}"],
                        dict(os.environ))
    try:
        terminal.wait_for(lambda s: s.count(" ready") == 2, "two ready workers", timeout=300)
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
