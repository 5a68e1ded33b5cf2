"""What a team moving off pm2-runtime runs: a framework app from npm in cluster mode with a
reload, and `pm2 start npm -- start`'s equivalent."""
import json
import os
import signal
import urllib.request

from conftest import HELPERS, descendants_of, wait_until
from test_cluster import ready_count, run_wrk_through_reloads


def listening_port(tend):
    line = wait_until(lambda: next((l for l in tend.lines if "listening on port" in l), None),
                      what="the app listening")
    return int(line.split()[-1])


def test_an_express_app_in_cluster_mode_reloads_without_failing_a_request(start_tend):
    tend = start_tend(["-i", "2", str(HELPERS / "express/app.js")],
                      env=dict(os.environ, PORT="0"))
    port = listening_port(tend)
    wait_until(lambda: ready_count(tend) == 2, what="two ready workers")
    instances = set()
    for _ in range(300):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            answer = json.loads(response.read())
        assert answer["framework"] == "express"
        instances.add(answer["instance"])
        if instances == {"0", "1"}:
            break
    assert instances == {"0", "1"}
    counts = run_wrk_through_reloads(tend, port, [])
    assert counts["requests"] > 100
    assert {k: v for k, v in counts.items() if k != "requests"} == {
        "connect": 0, "read": 0, "write": 0, "timeout": 0, "status": 0}
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0


def test_npm_start_runs_under_tend(start_tend, tmp_path):
    (tmp_path / "package.json").write_text(json.dumps(
        {"name": "svc", "version": "1.0.0", "scripts": {"start": "node server.js"}}))
    (tmp_path / "server.js").write_text((HELPERS / "env_app.js").read_text())
    tend = start_tend(["--", "npm", "--prefix", str(tmp_path), "start"],
                      env=dict(os.environ, PORT="0"))
    port = listening_port(tend)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
        assert json.loads(response.read())["pid"] in descendants_of(tend.pid)
    tend.signal(signal.SIGTERM)
    # npm passes SIGTERM on to the app and then dies of it itself: 143, npm's own status.
    assert tend.wait() == 128 + signal.SIGTERM
