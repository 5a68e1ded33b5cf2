"""N Node workers on one shared port, restarts, rolling reloads with no failed request."""
import os
import re
import signal
import urllib.request

import pytest

from conftest import (HELPERS, REPO, children_of, proc_state, run_wrk_through_reloads,
                      wait_until)

APP = str(REPO / "examples/hello/app.js")


def start_app(start_tend, args, extra_env=None, pid1=False):
    env = dict(os.environ, PORT="0", **(extra_env or {}))
    tend = start_tend(args, pid1=pid1, env=env)
    line = wait_until(lambda: next((l for l in tend.lines if l.startswith("listening on port")),
                                   None), what="a worker listening")
    return tend, int(line.split()[-1])


def get(port, path="/"):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return response.read().decode()


def ready_count(tend):
    return sum(" ready" in line for line in tend.stderr)


def test_workers_share_one_port_and_get_pm2_variables(start_tend, mode):
    tend, port = start_app(start_tend, ["-i", "2", APP], pid1=mode)
    wait_until(lambda: ready_count(tend) == 2, what="two ready workers")
    assert len([l for l in tend.lines if l.startswith("listening on port")]) == 2
    instances = set()
    # Shared-socket accept is not round-robin: ask on new connections until both answered.
    for _ in range(300):
        instances.add(re.search(r"instance (\d+)", get(port)).group(1))
        if instances == {"0", "1"}:
            break
    assert instances == {"0", "1"}
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0


def test_crashed_worker_is_replaced_while_the_port_keeps_serving(start_tend):
    tend, port = start_app(start_tend, ["-i", "2", "--min-uptime", "0", APP])
    wait_until(lambda: ready_count(tend) == 2, what="two ready workers")
    victim = children_of(tend.pid)[0]
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: ready_count(tend) == 3, what="a replacement worker")
    assert proc_state(victim) is None
    assert len(children_of(tend.pid)) == 2
    assert get(port).startswith("hello from instance")
    assert any(f"pid {victim} exited (SIGKILL)" in line for line in tend.stderr)


def test_crash_loop_errors_the_app_and_tend_exits_non_zero(start_tend, tmp_path):
    crasher = tmp_path / "crash.js"
    crasher.write_text("process.exit(3)\n")
    tend = start_tend(["-i", "2", "--max-restarts", "3", str(crasher)])
    assert tend.wait() == 3
    assert sum("errored" in line for line in tend.stderr) == 2


def test_no_autorestart_exits_with_the_workers_code(start_tend, tmp_path):
    script = tmp_path / "once.js"
    script.write_text("process.exit(5)\n")
    assert start_tend(["--no-autorestart", str(script)]).wait() == 5


def test_stop_exit_codes_are_not_restarted(start_tend, tmp_path):
    script = tmp_path / "done.js"
    script.write_text("process.exit(4)\n")
    assert start_tend(["--stop-exit-codes", "0,4", str(script)]).wait() == 4


def test_wait_ready_waits_for_the_ready_message(start_tend, tmp_path):
    script = tmp_path / "slow.js"
    script.write_text(
        "const s = require('http').createServer((q, r) => r.end('ok'));\n"
        "s.listen(0, () => { console.log('listening'); setTimeout(() => process.send('ready'), 300); });\n")
    tend = start_tend(["-i", "1", "--wait-ready", str(script)])
    tend.expect_line("listening")
    wait_until(lambda: ready_count(tend) == 1, what="ready after process.send('ready')")
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0


def test_worker_never_ready_is_a_failed_start(start_tend, tmp_path):
    script = tmp_path / "mute.js"
    script.write_text("setInterval(() => {}, 1000);\n")
    tend = start_tend(["-i", "1", "--listen-timeout", "200", "--max-restarts", "2",
                       "--min-uptime", "5000", str(script)])
    assert tend.wait() != 0
    assert any("not ready after 200 ms" in line for line in tend.stderr)


@pytest.mark.parametrize("balance", ["rr", "shared"])
@pytest.mark.parametrize("connection", ["keep-alive", "close"])
def test_three_rolling_reloads_under_load_fail_no_request(start_tend, connection, balance):
    tend, port = start_app(start_tend, ["-i", "2", "--balance", balance, APP])
    wait_until(lambda: ready_count(tend) == 2, what="two ready workers")
    first_pids = set(children_of(tend.pid))
    headers = ["-H", "Connection: close"] if connection == "close" else []
    counts = run_wrk_through_reloads(tend, port, headers)
    assert counts["requests"] > 100
    assert {k: v for k, v in counts.items() if k != "requests"} == {
        "connect": 0, "read": 0, "write": 0, "timeout": 0, "status": 0}
    assert not first_pids & set(children_of(tend.pid)), "every worker was replaced"
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0


def test_failed_reload_keeps_the_old_workers_serving(start_tend, tmp_path):
    script = tmp_path / "app.js"
    script.write_text(open(APP).read())
    tend, port = start_app(start_tend, ["-i", "2", str(script)])
    wait_until(lambda: ready_count(tend) == 2, what="two ready workers")
    serving = set(children_of(tend.pid))
    script.write_text("throw new Error('broken release')\n")
    tend.signal(signal.SIGHUP)
    wait_until(lambda: any("reload of app failed" in l for l in tend.stderr), what="the failure")
    assert set(children_of(tend.pid)) == serving
    assert get(port).startswith("hello from instance")


def test_garbage_on_the_ipc_channel_does_not_harm_tend(start_tend):
    tend, port = start_app(start_tend, ["-i", "2", str(HELPERS / "ipc_garbage.js")],
                           extra_env={"HUGE": "1"})
    wait_until(lambda: any("over 65536 bytes" in l for l in tend.stderr), what="the huge line")
    assert any("not JSON" in line for line in tend.stderr)
    assert any("did not ask for" in line for line in tend.stderr)
    assert get(port).startswith("survivor")
    assert proc_state(tend.pid) not in (None, "Z")
