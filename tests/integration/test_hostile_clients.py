"""The probe port under attack: slow and idle clients cannot make /livez or /readyz fail for
the kubelet (one address, a fresh connection each probe, a 1 s timeout)."""
import os
import re
import signal
import socket
import threading
import time
import urllib.request

from conftest import REPO, wait_until

APP = str(REPO / "examples/hello/app.js")


def start_with_http(start_tend):
    tend = start_tend(["--http", "127.0.0.1:0", "-i", "1", APP], env=dict(os.environ, PORT="0"))
    line = wait_until(lambda: next((l for l in tend.stderr if "/metrics on http://" in l), None),
                      what="the HTTP port")
    port = int(re.search(r":(\d+)$", line).group(1))
    wait_until(lambda: probe(port, "/readyz") == 200, what="ready")
    return tend, port


def probe(port, path):
    """As the kubelet probes: a new connection, a 1 s timeout; the status, or None."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def connect(port, source):
    connection = socket.socket()
    connection.bind((source, 0))
    connection.connect(("127.0.0.1", port))
    return connection


def test_slowloris_and_idle_clients_cannot_fail_the_kubelets_probes(start_tend):
    tend, port = start_with_http(start_tend)
    # 1,000 slowloris connections from ten addresses, and 200 idle ones from the prober's.
    slow = [connect(port, f"127.0.0.{2 + i % 10}") for i in range(1000)]
    idle = [connect(port, "127.0.0.1") for _ in range(200)]
    stop = threading.Event()

    def trickle():
        for connection in slow:
            try:
                connection.sendall(b"GET / HTTP/1.1\r\n")
            except OSError:
                pass
        while not stop.wait(2):
            for connection in slow:
                try:
                    connection.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    pass  # closed by tend: evicted or past the head deadline

    trickler = threading.Thread(target=trickle)
    trickler.start()
    try:
        failed = []
        deadline = time.monotonic() + 8  # past the 5 s head deadline
        while time.monotonic() < deadline:
            for path in ("/livez", "/readyz"):
                status = probe(port, path)
                if status != 200:
                    failed.append((path, status))
            time.sleep(0.2)
        assert not failed, failed
    finally:
        stop.set()
        trickler.join()
        for connection in slow + idle:
            connection.close()
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0


def test_pipelined_requests_and_many_query_arguments(start_tend):
    tend, port = start_with_http(start_tend)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n" * 2 +
                           b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        got = b""
        while chunk := connection.recv(65536):
            got += chunk
    assert got.count(b"HTTP/1.1 200 OK") == 3, got
    query = "&".join(f"a{i}=1" for i in range(500))
    started = time.monotonic()
    assert probe(port, f"/readyz?{query}") == 414
    assert time.monotonic() - started < 1
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0
