"""tend in a terminal: Ctrl-C stops everything, as a developer trying it on a laptop expects."""
import os
import pty
import select
import signal
import time

from conftest import REPO, TEND, children_of, proc_state

APP = str(REPO / "examples/hello/app.js")


class Terminal:
    """A program on a new pseudo-terminal, as the session leader a shell would make it."""

    def __init__(self, argv, env):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execve(argv[0], argv, env)
        self.screen = b""
        self.closed = False

    def read(self, timeout=0.1):
        while select.select([self.fd], [], [], timeout)[0]:
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:  # the terminal closed: everything on it has exited
                chunk = b""
            if not chunk:
                self.closed = True
                return
            self.screen += chunk

    def wait_for(self, predicate, what, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.read()
            if predicate(self.screen.decode(errors="replace")):
                return
            if self.closed:
                break
        raise AssertionError(f"no {what} on the terminal: {self.screen!r}")

    def type(self, keys):
        os.write(self.fd, keys)

    def exit_status(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.read()
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
        raise AssertionError(f"still running: {self.screen!r}")

    def close(self):
        try:
            for pid in [self.pid, *children_of(self.pid)]:
                os.kill(pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(self.fd)


def test_ctrl_c_stops_tend_and_every_worker():
    env = dict(os.environ, PORT="0")
    terminal = Terminal([TEND, "--http", "off", "--control", "off", "-i", "2", APP], env)
    try:
        terminal.wait_for(lambda screen: screen.count(" ready") == 2, "two ready workers")
        workers = children_of(terminal.pid)
        assert len(workers) == 2
        terminal.type(b"\x03")
        # As after SIGINT: every worker drained and stopped, and so exit 0.
        assert terminal.exit_status() == 0
        assert "SIGINT received: stopping" in terminal.screen.decode()
        assert all(proc_state(pid) is None for pid in workers)
    finally:
        terminal.close()


def test_ctrl_c_in_init_mode_reaches_the_command():
    terminal = Terminal([TEND, "--", "/bin/sh", "-c", "echo started; exec sleep 600"],
                        dict(os.environ))
    try:
        terminal.wait_for(lambda screen: "started" in screen, "the command")
        terminal.type(b"\x03")
        # The command had the foreground: it died of SIGINT, and tend reports 128 + 2.
        assert terminal.exit_status() == 130
    finally:
        terminal.close()
