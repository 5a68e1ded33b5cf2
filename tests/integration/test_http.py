"""/livez, /readyz and /metrics: what Kubernetes and Prometheus read."""
import os
import re
import signal
import socket
import subprocess
import urllib.error
import urllib.request

from conftest import HELPERS, REPO, children_of, wait_until
from test_cluster import get as get_app, ready_count

APP = str(REPO / "examples/hello/app.js")


def start_with_http(start_tend, args, env=None):
    tend = start_tend(["--http", "127.0.0.1:0", *args],
                      env=env or dict(os.environ, PORT="0"))
    line = wait_until(lambda: next((l for l in tend.stderr if "/metrics on http://" in l), None),
                      what="the HTTP endpoint")
    return tend, int(line.rsplit(":", 1)[1])


def fetch(port, path, method="GET"):
    """(status, body) of an HTTP request to tend."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def metric(text, series):
    """The value of one series, e.g. 'tend_worker_up{app="app",instance="0"}', or None."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return None


def test_probes_follow_readiness(start_tend, tmp_path):
    gate = tmp_path / "gate"
    tend, port = start_with_http(start_tend, ["-i", "2", "--wait-ready",
                                              str(HELPERS / "gated_ready.js")],
                                 env=dict(os.environ, GATE=str(gate)))
    assert fetch(port, "/livez") == (200, "ok\n")
    wait_until(lambda: len(children_of(tend.pid)) == 2, what="two workers")
    assert fetch(port, "/readyz") == (503, "gated_ready: 0 ready workers, 1 needed\n")
    status, body = fetch(port, "/readyz?verbose")
    assert status == 503
    assert body.splitlines() == ["[+]shutdown ok",
                                 "[-]app:gated_ready failed: gated_ready: 0 ready workers, 1 needed",
                                 "readyz check failed"]
    gate.touch()
    wait_until(lambda: fetch(port, "/readyz") == (200, "ok\n"), what="ready")
    assert fetch(port, "/livez?verbose") == (200, "[+]event-loop ok\nlivez check passed\n")
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0


def test_metrics_pass_promtool_and_count_restarts(start_tend):
    tend, port = start_with_http(start_tend, ["-i", "2", "--min-uptime", "0", APP])
    wait_until(lambda: ready_count(tend) == 2, what="two ready workers")
    status, text = fetch(port, "/metrics")
    assert status == 200
    lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                          text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    for instance in ("0", "1"):
        labels = f'{{app="app",app_instance="{instance}"}}'
        assert metric(text, f"tend_worker_up{labels}") == 1
        assert metric(text, f"tend_worker_ready{labels}") == 1
        assert metric(text, f"tend_worker_resident_memory_bytes{labels}") > 10e6
    assert metric(text, 'tend_app_ready_workers{app="app"}') == 2
    assert metric(text, "process_resident_memory_bytes") > 0

    exited = 'tend_worker_restarts_total{app="app",app_instance="0",reason="exited"}'
    assert metric(text, exited) == 0
    victim = next(int(line.split()[3]) for line in tend.stderr if "app[0] pid" in line)
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: metric(fetch(port, "/metrics")[1], exited) == 1, what="the restart counted")
    assert metric(fetch(port, "/metrics")[1], "tend_zombies_reaped_total") >= 1


def test_shutdown_delay_turns_readiness_off_before_draining(start_tend):
    tend, port = start_with_http(start_tend, ["-i", "1", "--shutdown-delay", "1500", APP])
    wait_until(lambda: fetch(port, "/readyz")[0] == 200, what="ready")
    app_port = int(next(l for l in tend.lines if l.startswith("listening")).split()[-1])
    tend.signal(signal.SIGTERM)
    wait_until(lambda: fetch(port, "/readyz") == (503, "tend is shutting down\n"),
               what="readiness off")
    # Still serving during the delay, so requests routed before endpoints update succeed.
    assert get_app(app_port).startswith("hello from instance 0")
    assert fetch(port, "/livez")[0] == 200
    assert tend.wait() == 0


def raw(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(data)
        return connection.recv(4096).decode(errors="replace")


def test_bad_requests_get_4xx_and_tend_is_unaffected(start_tend):
    tend, port = start_with_http(start_tend, ["-i", "1", APP])
    assert fetch(port, "/nope")[0] == 404
    assert fetch(port, "/metrics", method="POST")[0] == 405
    assert re.match(r"HTTP/1\.1 400", raw(port, b"GARBAGE\r\n\r\n")), "no HTTP at all"
    assert re.match(r"HTTP/1\.1 400", raw(port, b"GET /livez HTTP/1.1\r\nNo colon\r\n\r\n"))
    assert re.match(r"HTTP/1\.1 505", raw(port, b"GET /livez HTTP/9.9\r\nHost: x\r\n\r\n"))
    huge = b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n"
    assert re.match(r"HTTP/1\.1 431", raw(port, huge))
    # A client that connects and says nothing holds no one else up.
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
    try:
        assert fetch(port, "/livez") == (200, "ok\n")
    finally:
        for connection in idle:
            connection.close()
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0


def test_a_taken_http_port_is_a_clear_start_up_error(start_tend):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        tend = start_tend(["--http", f"127.0.0.1:{port}", APP])
        assert tend.wait() == 1
    assert any(f"--http: cannot listen on 127.0.0.1:{port}" in line for line in tend.stderr)
