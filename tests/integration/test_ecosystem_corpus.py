"""Ecosystem files as pm2 users wrote them: tend starts each one pm2 starts, with the
interpreter, arguments, instances, exec mode and environment pm2 would compute, and rejects
each one pm2 rejects, for the same reason.

The files in ecosystem_corpus/ are written for this test, each modelled on a real file from a
public repository (cases.json names it, and what pm2 does with it): the same keys, value
types and script forms, with names and values of our own. Scripts they name are stubbed here
by a small Node server; programs they run from PATH (npm, pnpm, ts-node) by a JavaScript
launcher like the real ones."""
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import TEND, descendants_of, wait_until

CORPUS = Path(__file__).resolve().parent / "ecosystem_corpus"
CASES = json.loads((CORPUS / "cases.json").read_text())
STUB_SERVER = "require('http').createServer((q, r) => r.end('ok')).listen(0);\n"


def cpus():
    return len(os.sched_getaffinity(0))


def stub(folder, relative):
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name != ".keep":
        # Launchers without an extension start with a #! line, as express's bin/www does.
        path.write_text(("#!/usr/bin/env node\n" if "." not in path.name else "") + STUB_SERVER)


def launcher(bin_dir, program):
    path = bin_dir / program
    path.write_text("#!/usr/bin/env node\n" + STUB_SERVER)
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_the_corpus_starts_or_is_rejected_as_pm2_would(case, tmp_path):
    folder = tmp_path / "app"
    folder.mkdir()
    shutil.copy(CORPUS / case["file"], folder / case["file"])
    for relative in case["stubs"]:
        stub(folder, relative)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    programs = {p: launcher(bin_dir, p) for p in case["programs"]}
    path = f"{bin_dir}:/usr/local/bin:/usr/bin:/bin"
    programs["bash"] = shutil.which("bash", path=path)
    env = dict(os.environ, PATH=path, NODE_PATH=os.environ.get("NODE_PATH", ""))
    env.pop("PORT", None)
    socket_path = tmp_path / "control.sock"
    command = [TEND, "--http", "off", "--control", f"unix:{socket_path}", case["file"]]
    if "rejects" in case["expect"]:
        done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True,
                              timeout=30, stdin=subprocess.DEVNULL)
        assert done.returncode == 2, done.stderr
        assert case["expect"]["rejects"] in done.stderr, done.stderr
        assert done.stderr.count("\n") == 1, "one line"
        return

    tend = subprocess.Popen(command, cwd=folder, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        def effective():
            if tend.poll() is not None:
                raise AssertionError(f"tend exited {tend.returncode}: {tend.stderr.read()}")
            got = subprocess.run([TEND, "ctl", "--control", f"unix:{socket_path}", "--json",
                                  "config"], capture_output=True, text=True, timeout=10)
            return json.loads(got.stdout) if got.returncode == 0 else None
        config = wait_until(effective, timeout=20, what="tend ctl config")
        apps = {app["name"]: app for app in config["apps"]}
        expected = case["expect"]["starts"]
        assert set(apps) == set(expected)
        for name, want in expected.items():
            app = apps[name]
            # {dir}: the case's folder; {npm}, {bash}...: where that program was found.
            command_line = [word.replace("{dir}", str(folder)) if "{dir}" in word
                            else programs.get(word.strip("{}"), word) for word in want["command"]]
            assert app["command"] == command_line, name
            assert app.get("exec_mode", "FORK") == want["exec_mode"], name
            instances = {"cpus": cpus(), "cpus-1": max(1, cpus() - 1)}.get(
                want["instances"], want["instances"])
            assert app["instances"] == instances, name
            for variable, value in want.get("env", {}).items():
                assert app.get("env", {}).get(variable) == value, (name, variable)
            if "restart_delay_ms" in want:
                assert app.get("restart_delay_ms") == want["restart_delay_ms"], name
        time.sleep(0.5)
        assert tend.poll() is None, "the workers run"
        tend.send_signal(signal.SIGTERM)
        assert tend.wait(30) == 0
    finally:
        if tend.poll() is None:  # workers lead process groups of their own: each by pid
            for pid in [tend.pid, *descendants_of(tend.pid)]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            tend.wait()
