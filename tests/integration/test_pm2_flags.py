"""pm2-runtime's command line: its flags mean in tend what they mean there."""
import json
import os
import re
import signal
import time
import urllib.request

from conftest import HELPERS, children_of, wait_until

ENV_APP = str(HELPERS / "env_app.js")


def env_port(tend):
    line = wait_until(lambda: next((l for l in tend.lines if "listening on port" in l), None),
                      what="the app listening")
    return int(line.split()[-1])


def ask(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
        return json.loads(response.read())


def test_start_node_args_and_format(start_tend):
    tend = start_tend(["start", ENV_APP, "--node-args", "--max-old-space-size=100 --no-warnings",
                       "--format", "--name", "api"], env=dict(os.environ, PORT="0"))
    port = env_port(tend)
    assert ask(port)["execArgv"] == ["--max-old-space-size=100", "--no-warnings"]
    line = next(l for l in tend.lines if "listening on port" in l)
    assert re.fullmatch(r"timestamp=\S+Z app=api id=0 type=out message=listening on port \d+", line)
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0


def test_interpreter_runs_other_languages(start_tend, tmp_path):
    script = tmp_path / "job.sh"
    script.write_text('echo "bash $BASH_VERSION"; exec sleep 1000\n')
    tend = start_tend(["--interpreter", "bash", str(script)])
    wait_until(lambda: any(l.startswith("bash ") for l in tend.lines), what="bash running it")
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0


def test_cron_alias_delay_and_no_auto_exit(start_tend, tmp_path):
    once = tmp_path / "once.js"
    once.write_text("console.log('ran'); process.exit(3)\n")
    tend = start_tend(["--delay", "1", "--no-auto-exit", "--no-autorestart", str(once)])
    time.sleep(0.5)
    assert not tend.lines, "not started before the delay"
    tend.expect_line("ran")
    wait_until(lambda: not children_of(tend.pid), what="the app to exit")
    time.sleep(0.5)
    assert tend.proc.poll() is None, "--no-auto-exit: tend stays"
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0
    # With nothing left to stop, tend ends at once: it waited out the kill timeout before.
    assert not any("kill timeout" in l or "survived" in l for l in tend.stderr), tend.stderr

    tend = start_tend(["-i", "1", "-c", "*/2 * * * * *", ENV_APP], env=dict(os.environ, PORT="0"))
    wait_until(lambda: any("reload of env_app: done" in l for l in tend.stderr), timeout=10,
               what="a reload from -c")


def test_pm2_io_and_log_file_flags_are_accepted_with_a_warning(start_tend):
    tend = start_tend(["--secret", "k", "--public", "k", "--error", "/tmp/e.log",
                       "--web", "127.0.0.1:0", ENV_APP], env=dict(os.environ, PORT="0"))
    env_port(tend)
    for flag in ("--secret", "--public", "--error"):
        assert any(f"tend: warning: {flag} ignored:" in l for l in tend.stderr), flag
    assert any("/metrics on http://127.0.0.1:" in l for l in tend.stderr), "--web is --http"
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0


# The app is named after its script: never after a node flag or the interpreter's path.
def test_node_args_and_interpreter_never_name_the_app(start_tend, tmp_path):
    tend = start_tend(["-i", "1", "--node-args", "--max-old-space-size=100", ENV_APP],
                      env=dict(os.environ, PORT="0"))
    wait_until(lambda: any(re.fullmatch(r"tend: env_app\[0\] pid \d+ ready", l) for l in tend.stderr),
               what="env_app[0] ready")
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0

    script = tmp_path / "job.sh"
    script.write_text("echo started; exec sleep 1000\n")
    tend = start_tend(["--interpreter", "/bin/bash", str(script)])
    tend.expect_line("started")
    tend.signal(signal.SIGTERM)
    tend.wait()
    assert any(l.startswith("tend: job[0] pid ") for l in tend.stderr), tend.stderr
    assert not any("bash[" in l for l in tend.stderr)
