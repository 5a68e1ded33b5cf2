"""pm2 ecosystem files: every format, pm2's options and their errors, several apps."""
import json
import os
import shutil
import socket
import tempfile
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import (HELPERS, TEND, children_of, descendants_of, free_port, proc_state, run_tend,
                      wait_until)

ENV_APP = str(HELPERS / "env_app.js")


def write(folder, name, text):
    path = folder / name
    path.write_text(text)
    return str(path)


def ask(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
        return json.loads(response.read())


def ports(tend):
    return sorted({int(l.split()[-1]) for l in tend.lines if l.startswith("listening on port")})


def ready(tend, app):
    return sum(f"{app}[" in line and line.endswith(" ready") for line in tend.stderr)


CJS = """
module.exports = {
  apps: [{
    name: "api",
    script: "%(app)s",
    args: ["--flag", "value"],
    node_args: "--max-old-space-size=128",
    instances: 2,
    exec_mode: "cluster",
    instance_var: "INSTANCE_ID",
    max_memory_restart: "1G",
    kill_timeout: 3000,
    env: {NODE_ENV: "development", PORT: 0, FROM_FILE: "yes"},
    env_production: {NODE_ENV: "production"},
    watch: false,
    error_file: "/var/log/api.err",
  }, {
    name: "ticker",
    script: "sleep",
    args: "100000",
    interpreter: "none",
  }],
  deploy: {production: {user: "node"}},
};
"""


def test_a_commonjs_file_runs_several_apps_with_env_production(start_tend, tmp_path):
    config = write(tmp_path, "ecosystem.config.js", CJS % {"app": ENV_APP})
    # The file's env replaces what tend's own environment says (as a Dockerfile's ENV would).
    tend = start_tend([config, "--env", "production"],
                      env=dict(os.environ, FROM_FILE="from tend", NODE_ENV="from tend"))
    wait_until(lambda: ready(tend, "api") == 2 and ready(tend, "ticker") == 1, what="three workers")
    [port] = ports(tend)
    seen = {}
    for _ in range(200):
        answer = ask(port)
        seen[answer["env"]["INSTANCE_ID"]] = answer
        if len(seen) == 2:
            break
    assert sorted(seen) == ["0", "1"]
    answer = seen["0"]
    assert answer["env"]["NODE_ENV"] == "production", "env_production over env"
    assert answer["env"]["FROM_FILE"] == "yes" and answer["env"]["name"] == "api"
    assert answer["argv"] == ["--flag", "value"]
    assert answer["execArgv"] == ["--max-old-space-size=128"]
    assert len(children_of(tend.pid)) == 3
    warnings = [l for l in tend.stderr if "warning" in l]
    assert any("app 'api': error_file ignored" in l for l in warnings)
    assert any("deploy ignored: no pm2 deploy in a container" in l for l in warnings)
    assert not any("watch" in l for l in warnings), "watch: false is no option to warn about"
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0


def test_only_selects_apps(start_tend, tmp_path):
    config = write(tmp_path, "ecosystem.config.js", CJS % {"app": ENV_APP})
    tend = start_tend([config, "--only", "ticker"])
    wait_until(lambda: ready(tend, "ticker") == 1, what="the ticker")
    assert len(children_of(tend.pid)) == 1 and ready(tend, "api") == 0
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0


@pytest.mark.parametrize("name, text", [
    ("app.config.mjs",
     'export default {apps: [{name: "esm", script: "%(app)s", env: {PORT: "0"}}]};'),
    ("app.config.cjs",
     'module.exports = [{name: "cjs", script: "%(app)s", env: {PORT: "0"}}];'),
    ("process.json",
     '{"apps": [{"name": "json", "script": "%(app)s", "env": {"PORT": 0}}]}'),
    ("ecosystem.yaml",
     "apps:\n  - name: yaml\n    script: %(app)s\n    env:\n      PORT: 0\n"),
])
def test_every_format(start_tend, tmp_path, name, text):
    tend = start_tend([write(tmp_path, name, text % {"app": ENV_APP})])
    wait_until(lambda: ports(tend), what="the app listening")
    assert ask(ports(tend)[0])["env"]["NODE_APP_INSTANCE"] == "0"
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0


def test_pm2s_documented_example_works_unchanged(start_tend, tmp_path):
    # pm2's docs, "Ecosystem File", with the app's script.
    config = write(tmp_path, "ecosystem.config.js", """
module.exports = {
  apps : [{
    name   : "app1",
    script : "%s",
    instances: "max",
    autorestart: true,
    watch: false,
    max_memory_restart: '1G',
    env: {
      NODE_ENV: "development",
      PORT: 0
    },
    env_production: {
      NODE_ENV: "production"
    }
  }]
}
""" % ENV_APP)
    tend = start_tend([config, "--env", "production"])
    cpus = len(os.sched_getaffinity(0))
    wait_until(lambda: ready(tend, "app1") == cpus, what="one worker per CPU")
    assert ask(ports(tend)[0])["env"]["NODE_ENV"] == "production"
    assert not any("warning" in line for line in tend.stderr)
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0


@pytest.mark.parametrize("name, text, message", [
    ("bad.json", '{"apps": [{"name": "a",, }]}',
     "bad.json:1:24: syntax error while parsing object key"),
    ("bad.yaml", "apps:\n  - name: a\n    script: [\n",
     "bad.yaml:4:1: end of sequence flow not found"),
    ("throws.config.js", 'throw new Error("no config for you")',
     "throws.config.js: no config for you"),
    ("mode.json", '{"apps": [{"name": "a", "script": "%(app)s", "exec_mode": "swarm"}]}',
     "mode.json: app 'a': exec_mode: 'swarm' is not fork or cluster"),
    ("count.json", '{"apps": [{"name": "a", "script": "%(app)s", "instances": -3}]}',
     "count.json: app 'a': instances: -3 is not a number from 1 to 4096, \"max\", 0 or -1"),
    ("memory.json", '{"apps": [{"name": "a", "script": "%(app)s", "max_memory_restart": "lots"}]}',
     "memory.json: app 'a': max_memory_restart: \"lots\" is not a size such as 200M, 1G or 512K"),
    ("missing.json", '{"apps": [{"name": "a", "script": "./nope.js"}]}',
     "missing.json: app 'a': script: "),
    ("cron.json", '{"apps": [{"name": "a", "script": "%(app)s", "cron_restart": "0 25 * * *"}]}',
     "cron.json: app 'a': cron_restart: cron hour field '25': expected 0 to 23"),
    ("twice.json", '[{"name": "a", "script": "%(app)s"}, {"name": "a", "script": "%(app)s"}]',
     "twice.json: two apps are named 'a'"),
    # YAML 1.2 reads `yes` as a string: these aborted tend (std::terminate, exit 134).
    ("time.yaml", "apps:\n  - name: a\n    script: %(app)s\n    time: yes\n",
     "time.yaml: app 'a': time: expected true or false"),
    ("log_type.yaml", "apps:\n  - name: a\n    script: %(app)s\n    log_type: [1, 2]\n",
     "log_type.yaml: app 'a': log_type: expected a string (\"json\")"),
])
def test_bad_files_name_the_file_app_and_field(tmp_path, name, text, message):
    path = write(tmp_path, name, text % {"app": ENV_APP} if "%(app)s" in text else text)
    code, out, err = run_tend([path])
    assert code == 2 and out == ""
    assert err.startswith(f"tend: error: {tmp_path}/{message}"), err
    assert err.count("\n") == 1, "one line"


def test_a_config_whose_timers_keep_node_alive_is_read_once_it_exports(start_tend, tmp_path):
    path = write(tmp_path, "timer.config.js",
                 "setInterval(() => {}, 1000);\n"
                 f"module.exports = {{apps: [{{name: 'api', script: {json.dumps(ENV_APP)}}}]}};\n")
    tend = start_tend([path], env=dict(os.environ, PORT="0"))
    wait_until(lambda: ready(tend, "api") == 1, what="the app")
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0


# A real ecosystem file logs while it is evaluated: its output is relayed, not parsed.
def test_what_a_js_config_prints_goes_to_stderr_and_does_not_break_parsing(start_tend, tmp_path):
    path = write(tmp_path, "noisy.config.js",
                 "console.log('loading config for', process.env.NODE_ENV || 'dev');\n"
                 "process.stdout.write('{\"not\": \"the config\"}\\n');\n"
                 "console.error('a warning from the config');\n"
                 f"module.exports = {{apps: [{{name: 'api', script: {json.dumps(ENV_APP)}}}]}};\n")
    tend = start_tend([path], env=dict(os.environ, PORT="0"))
    wait_until(lambda: ready(tend, "api") == 1, what="the app")
    assert "loading config for dev" in tend.stderr
    assert '{"not": "the config"}' in tend.stderr
    assert "a warning from the config" in tend.stderr
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0


# 393 bytes that expand to 9^9 (387 million) values if aliases are followed blindly.
YAML_BOMB = "apps:\n" + "".join(
    f"  - &{name} [{', '.join([('x' if i == 0 else '*' + chr(ord('a') + i - 1))] * 9)}]\n"
    for i, name in enumerate("abcdefghi"))


def test_a_yaml_alias_bomb_is_refused_without_bloating_tend(tmp_path):
    path = write(tmp_path, "bomb.yml", YAML_BOMB)
    started = time.monotonic()
    done = subprocess.run(["prlimit", "--as=1073741824", "--", TEND, path], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"tend: error: {path}: more than 100000 values once its aliases are "
                           "expanded\n")
    assert time.monotonic() - started < 30


# Found by the ecosystem fuzz target: nlohmann-json throws out_of_range, not parse_error, on
# a number too large for a double, and tend aborted (exit 134).
def test_a_number_out_of_range_is_an_error_not_a_crash(tmp_path):
    path = write(tmp_path, "big.json", '{"apps": [{"script": "x", "instances": 1e400}]}')
    code, _, err = run_tend([path])
    assert (code, err) == (2, f"tend: error: {path}: number overflow parsing '1e400'\n")


# Also found by it: YAML strings may hold bytes that are not UTF-8, and nlohmann-json's
# dump() threw on them while tend wrote the error message (exit 134).
def test_bytes_that_are_not_utf8_are_an_error_not_a_crash(tmp_path):
    path = tmp_path / "bytes.yml"
    path.write_bytes(b"apps:\n  - script: /bin/true\n    instances: \xbf\xbf\n")
    code, _, err = run_tend([str(path)])
    assert code == 2
    assert err.startswith(f"tend: error: {path}: app #1: instances: "), err


def test_deep_nesting_is_refused(tmp_path):
    path = write(tmp_path, "deep.json", '{"apps": ' + "[" * 5000 + "]" * 5000 + "}")
    code, _, err = run_tend([path])
    assert (code, err) == (2, f"tend: error: {path}: nested deeper than 64 levels\n")
    path = write(tmp_path, "deep.yml", "apps: " + "[" * 5000 + "]" * 5000 + "\n")
    code, _, err = run_tend([path])
    assert code == 2 and err.startswith(f"tend: error: {path}:") and err.count("\n") == 1, err


@pytest.mark.parametrize("name", ["A=B", "", "A\u0000B"])
def test_bad_environment_names_are_refused_naming_app_and_variable(tmp_path, name):
    path = write(tmp_path, "env.json", json.dumps(
        {"apps": [{"name": "api", "script": ENV_APP, "env": {name: "1"}}]}))
    code, out, err = run_tend([path])
    assert code == 2 and out == ""
    assert err.startswith(f"tend: error: {path}: app 'api': env: "), err
    assert err.count("\n") == 1


def test_watch_reloads_on_changes_but_not_ignored_ones(start_tend, tmp_path):
    app = tmp_path / "app.js"
    app.write_text((HELPERS / "env_app.js").read_text())
    config = write(tmp_path, "watch.json", json.dumps({"apps": [{
        "name": "dev", "script": "./app.js", "env": {"PORT": 0}, "watch": True,
        "ignore_watch": ["*.log", "tmp"], "watch_delay": 200}]}))
    (tmp_path / "tmp").mkdir()
    tend = start_tend([config])
    wait_until(lambda: ready(tend, "dev") == 1, what="the app")
    [first] = children_of(tend.pid)
    (tmp_path / "debug.log").write_text("noise\n")
    (tmp_path / "tmp" / "cache").write_text("noise\n")
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "dep.js").write_text("noise\n")
    time.sleep(1)
    assert children_of(tend.pid) == [first], "ignored changes reload nothing"
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "new.js").write_text("// a new file in a new folder\n")
    wait_until(lambda: any("dev: lib" in l and l.endswith(" changed") for l in tend.stderr),
               what="the change seen")
    wait_until(lambda: any("reload of dev: done" in l for l in tend.stderr), what="the reload")
    wait_until(lambda: first not in children_of(tend.pid), what="the old worker gone")
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0


def test_shutdown_with_message_stops_a_worker_by_message(start_tend, tmp_path):
    app = tmp_path / "app.js"
    app.write_text("""
process.on('SIGTERM', () => console.log('SIGTERM ignored'));
process.on('SIGINT', () => console.log('SIGINT ignored'));
process.on('message', (message) => {
  if (message === 'shutdown') { console.log('got shutdown'); process.exit(0); }
});
console.log('started');
setInterval(() => {}, 1000);
""")
    config = write(tmp_path, "msg.json", json.dumps({"apps": [{
        "name": "quiet", "script": "./app.js", "shutdown_with_message": True,
        "kill_timeout": 20000}]}))
    tend = start_tend([config])
    tend.expect_line("started")
    began = time.monotonic()
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0
    assert time.monotonic() - began < 10, "stopped by the message, not by the kill timeout"
    assert "got shutdown" in tend.lines and "SIGTERM ignored" not in tend.lines


@pytest.fixture
def world_readable_dir():
    """A folder another user can read (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="tend-test-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def test_uid_and_gid_run_workers_as_that_user(start_tend, tmp_path, world_readable_dir):
    app = world_readable_dir / "who.js"
    app.write_text("console.log(`uid ${process.getuid()} gid ${process.getgid()} "
                   "groups ${process.getgroups()}`); setInterval(() => {}, 1000);\n")
    config = write(world_readable_dir, "who.json", json.dumps({"apps": [
        {"name": "who", "script": "./who.js", "uid": "nobody", "gid": "nogroup"}]}))
    tend = start_tend([config])
    nobody = next(l for l in open("/etc/passwd") if l.startswith("nobody:")).split(":")[2]
    nogroup = next(l for l in open("/etc/group") if l.startswith("nogroup:")).split(":")[2]
    tend.expect_line(f"uid {nobody} gid {nogroup} groups {nogroup}")
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0
    code, _, err = run_tend([write(world_readable_dir, "ghost.json", json.dumps(
        {"apps": [{"name": "g", "script": "./who.js", "uid": "ghost"}]}))])
    assert (code, err) == (2, f"tend: error: {world_readable_dir}/ghost.json: app 'g': uid: "
                              "\"ghost\" is no user in /etc/passwd\n")


def test_a_numeric_uid_runs_with_its_own_group_and_none_of_roots(start_tend,
                                                                   world_readable_dir):
    app = world_readable_dir / "who.js"
    app.write_text("console.log(`uid ${process.getuid()} gid ${process.getgid()} "
                   "groups ${process.getgroups()}`); setInterval(() => {}, 1000);\n")
    nobody = next(l for l in open("/etc/passwd") if l.startswith("nobody:")).split(":")
    config = write(world_readable_dir, "who.json", json.dumps({"apps": [
        {"name": "who", "script": "./who.js", "uid": int(nobody[2])}]}))
    tend = start_tend([config])
    tend.expect_line(f"uid {nobody[2]} gid {nobody[3]} groups {nobody[3]}")
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0


@pytest.mark.parametrize("field, value, message", [
    # Truncated to 32 bits, 4294967296 was 0; 4294967295 is the kernel's "unchanged": both
    # ran the worker as root.
    ("uid", 4294967296, "uid: 4294967296 is no user id: expected 0 to 4294967294"),
    ("uid", 4294967295, "uid: 4294967295 is no user id: expected 0 to 4294967294"),
    ("uid", "4294967295", "uid: \"4294967295\" is no user id: expected 0 to 4294967294"),
    ("gid", 4294967295, "gid: 4294967295 is no group id: expected 0 to 4294967294"),
    ("uid", -1, "uid: -1 is no user: expected a name or a number"),
    ("uid", 1.5, "uid: 1.5 is no user: expected a name or a number"),
    ("uid", [0], "uid: [0] is no user: expected a name or a number"),
    ("uid", 54321, "uid: user 54321 is not in /etc/passwd, so it has no group: give gid too"),
])
def test_a_bad_uid_or_gid_is_refused_never_root(tmp_path, field, value, message):
    (tmp_path / "who.js").write_text("setInterval(() => {}, 1000);\n")
    config = write(tmp_path, "who.json", json.dumps({"apps": [
        {"name": "who", "script": "./who.js", field: value}]}))
    code, _, err = run_tend([config])
    assert (code, err) == (2, f"tend: error: {config}: app 'who': {message}\n")


def test_several_apps_have_their_own_readiness_metrics_and_control(start_tend, tmp_path):
    consumer = tmp_path / "consumer.js"
    consumer.write_text("console.log('consuming'); setInterval(() => {}, 1000);\n")
    config = write(tmp_path, "ecosystem.json", json.dumps({"apps": [
        {"name": "api", "script": ENV_APP, "instances": 2, "env": {"PORT": 0}},
        {"name": "consumer", "script": "./consumer.js", "exec_mode": "fork"},
        {"name": "clock", "script": "sleep", "args": "100000", "interpreter": "none"}]}))
    control = f"unix:{tmp_path}/control.sock"
    tend = start_tend(["--http", "127.0.0.1:0", "--control", control, config])
    line = wait_until(lambda: next((l for l in tend.stderr if "/metrics on http://" in l), None),
                      what="the HTTP endpoint")
    http = int(line.rsplit(":", 1)[1])
    wait_until(lambda: ready(tend, "api") == 2 and ready(tend, "consumer") == 1 and
               ready(tend, "clock") == 1, what="every app ready")

    def get(path):
        with urllib.request.urlopen(f"http://127.0.0.1:{http}{path}", timeout=5) as response:
            return response.read().decode()
    assert get("/readyz?verbose").splitlines() == [
        "[+]shutdown ok", "[+]app:api ok", "[+]app:consumer ok", "[+]app:clock ok",
        "readyz check passed"]
    metrics = get("/metrics")
    for app, count in (("api", 2), ("consumer", 1), ("clock", 1)):
        assert f'tend_app_ready_workers{{app="{app}"}} {count}' in metrics

    code, out, _ = run_tend(["ctl", "--control", control, "scale", "consumer", "+1"])
    assert (code, out) == (0, "consumer: 2 instances\n")
    wait_until(lambda: ready(tend, "consumer") == 2, what="a second consumer")
    code, out, _ = run_tend(["ctl", "--control", control, "list"])
    assert sorted(row.split()[0] for row in out.splitlines()[1:]) == [
        "api", "api", "clock", "consumer", "consumer"]
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0


def test_increment_var_gives_each_fork_instance_its_own_port(start_tend, tmp_path):
    base = free_port()
    while True:  # two free ports in a row
        try:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", base + 1))
            break
        except OSError:
            base = free_port()
    config = write(tmp_path, "ports.json", json.dumps({"apps": [{
        "name": "each", "script": ENV_APP, "exec_mode": "fork", "instances": 2,
        "port": base, "increment_var": "PORT"}]}))
    tend = start_tend([config])
    wait_until(lambda: len(ports(tend)) == 2, what="two instances listening")
    assert ports(tend) == [base, base + 1]
    assert {ask(base)["env"]["NODE_APP_INSTANCE"], ask(base + 1)["env"]["NODE_APP_INSTANCE"]} == {
        "0", "1"}
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0


def test_what_a_js_config_leaves_running_is_ended(start_tend, tmp_path, mode):
    # A config file's evaluation that starts a detached helper: tend, the reaper before it
    # reads the file, ends it once the file is read, before anything of its own starts. A
    # process tend inherited (started before it, in the same process) is not its to end.
    path = write(tmp_path, "spawns.config.js",
                 "const { spawn } = require('child_process');\n"
                 "spawn('sleep', ['1000'], { detached: true, stdio: 'ignore' }).unref();\n"
                 f"module.exports = {{apps: [{{name: 'api', script: {json.dumps(ENV_APP)}}}]}};\n")
    inherit = ["sh", "-c", 'sleep 1001 & exec "$0" "$@"']
    tend = start_tend([path], pid1=mode, env=dict(os.environ, PORT="0"), exec_from=inherit)
    wait_until(lambda: ready(tend, "api") == 1, what="the app")

    def sleeping(seconds):
        found = []
        for pid in descendants_of(tend.pid):
            try:
                if open(f"/proc/{pid}/cmdline").read() == f"sleep\0{seconds}\0":
                    found.append(pid)
            except OSError:
                pass
        return found
    assert not sleeping(1000), "the evaluation's helper was ended before the app started"
    assert sleeping(1001), "the inherited process runs on"
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0
