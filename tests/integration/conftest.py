"""Runs the built tend binary the way users do, as PID 1 of a fresh PID namespace or as a
child subreaper, and ends every process a test started."""
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TEND = os.environ.get("TEND", str(REPO / "bazel-bin/runtime/tend"))
HELPERS = Path(__file__).resolve().parent / "helpers"
SIGNAL_ECHO = ["/usr/bin/python3", str(HELPERS / "signal_echo.py")]


def children_of(pid):
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def free_port():
    """A port free now, for a program that must be told its port before it starts (the
    kernel picks it; the small window before the program binds it is accepted)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url):
    """The body of a 200 to GET `url`, or None."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().decode()
    except OSError:
        return None


def proc_state(pid):
    """'R', 'S', 'Z', ... or None once the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2]


def high_water_kib(pid):
    """The most memory `pid` has held at once (VmHWM), in KiB."""
    with open(f"/proc/{pid}/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith("VmHWM:"))


def descendants_of(pid):
    found, queue = [], [pid]
    while queue:
        for child in children_of(queue.pop()):
            found.append(child)
            queue.append(child)
    return found


def wait_until(predicate, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def quiet(args):
    """Endpoints off unless a test asks for them: tests never take fixed ports or paths."""
    if args and args[0] in ("ctl", "probe"):
        return list(args)  # the clients, which serve nothing
    defaults = []
    for flag in ("--http", "--control"):
        if not any(arg.startswith(flag) for arg in args):
            defaults += [flag, "off"]
    return [*defaults, *args]


class Tend:
    """One tend process; `pid` is tend itself (PID 1 inside its namespace when pid1)."""

    def __init__(self, args, pid1=False, env=None, exec_from=()):
        # exec_from: a command that sets something up, then execs tend in the same process.
        command = [*exec_from, TEND, *quiet(args)]
        if pid1:
            # unshare blocks INT and TERM and forwards nothing: tests signal tend directly.
            command = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child=SIGKILL",
                       *command]
        self.proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env, start_new_session=True, text=True)
        self._pid = None if pid1 else self.proc.pid
        self.lines = []
        self.stderr = []
        self._changed = threading.Condition()
        self._readers = [threading.Thread(target=self._read, args=(stream, sink), daemon=True)
                         for stream, sink in ((self.proc.stdout, self.lines),
                                              (self.proc.stderr, self.stderr))]
        for reader in self._readers:
            reader.start()

    @property
    def pid(self):
        """tend's pid as seen from here (found lazily: a short-lived tend may be gone)."""
        if self._pid is None:
            self._pid = wait_until(lambda: children_of(self.proc.pid), 10, "unshare's child")[0]
        return self._pid

    def _read(self, stream, sink):
        for line in stream:
            with self._changed:
                sink.append(line.rstrip("\n"))
                self._changed.notify_all()

    def expect_line(self, line, timeout=20.0):
        with self._changed:
            if not self._changed.wait_for(lambda: line in self.lines, timeout):
                raise AssertionError(f"no line {line!r} in {self.lines!r}")

    def signal(self, signo):
        os.kill(self.pid, signo)

    def wait(self, timeout=30.0):
        """tend's exit status, once its output is read to the end."""
        code = self.proc.wait(timeout)
        for reader in self._readers:
            reader.join(5)
        return code

    def end(self):
        """Kills what is left, tend and whatever it left, by PID."""
        if self.proc.poll() is None:
            leftovers = descendants_of(self.proc.pid)
            self.proc.kill()
            for pid in leftovers:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait(10)


@pytest.fixture
def start_tend():
    started = []

    def start(args, pid1=False, env=None, exec_from=()):
        tend = Tend(args, pid1=pid1, env=env, exec_from=exec_from)
        started.append(tend)
        return tend

    yield start
    for tend in started:
        tend.end()


@pytest.fixture(params=["pid1", "subreaper"])
def mode(request):
    """Each test runs with tend as PID 1 of a new namespace and as a subreaper."""
    return request.param == "pid1"


def run_tend(args, timeout=30):
    """tend run to completion outside any namespace: (exit code, stdout, stderr)."""
    done = subprocess.run([TEND, *quiet(args)], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)
    return done.returncode, done.stdout, done.stderr


def run_wrk_through_reloads(tend, port, headers=(), reloads=3, seconds=8):
    """wrk's counts (requests and each kind of failure) over `reloads` SIGHUP reloads of the
    app named "app", with 50 connections for `seconds`."""
    wrk = subprocess.Popen(
        ["wrk", "-t", "2", "-c", "50", "-d", f"{seconds}s", "-s", str(HELPERS / "wrk_errors.lua"),
         *headers, f"http://127.0.0.1:{port}/"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for reload in range(1, reloads + 1):
            tend.signal(signal.SIGHUP)
            wait_until(lambda: sum("reload of app: done" in l for l in tend.stderr) == reload,
                       timeout=30, what=f"reload {reload}")
        out, _ = wrk.communicate(timeout=60)
    finally:
        if wrk.poll() is None:
            wrk.kill()
            wrk.wait()
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def stubs(tmp_path_factory):
    """Python gRPC stubs for tend's services and gRPC's health and reflection."""
    from grpc_stubs import Stubs, generate
    out = tmp_path_factory.mktemp("stubs")
    generate(out)
    return Stubs(out)


CGROUPS = Path("/sys/fs/cgroup")


@pytest.fixture
def podman(tmp_path):
    """podman with storage and configuration of this test's own; removes all it made."""
    if not shutil.which("podman"):
        pytest.fail("podman is not installed (make test installs it)")
    (tmp_path / "containers.conf").write_text(
        '[containers]\nnetns = "host"\n'
        'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n'
        '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n')
    (tmp_path / "storage.conf").write_text(
        f'[storage]\ndriver = "overlay"\ngraphroot = "{tmp_path}/graph"\n'
        f'runroot = "{tmp_path}/run"\n')
    env = dict(os.environ, CONTAINERS_CONF=str(tmp_path / "containers.conf"),
               CONTAINERS_STORAGE_CONF=str(tmp_path / "storage.conf"))
    cgroups_before = set(CGROUPS.glob("*/libpod_parent"))

    def run(*args, check=True):
        return subprocess.run(["podman", *args], env=env, capture_output=True, text=True,
                              check=check, timeout=120)

    run.env = env
    yield run
    run("pod", "rm", "--all", "--force", "--time", "0", check=False)
    run("rm", "--all", "--force", "--time", "0", check=False)
    run("system", "reset", "--force", check=False)
    # podman's cgroupfs manager leaves its parent cgroup behind: remove what this test made.
    for made in set(CGROUPS.glob("*/libpod_parent")) - cgroups_before:
        for group in sorted(made.glob("**/"), key=lambda p: len(p.parts), reverse=True):
            try:
                group.rmdir()
            except OSError:
                pass
