"""tend with very few descriptors (`ulimit -n 64`) and clients taking them all: it must not
spin, /livez must answer, and control works again once the clients are gone."""
import os
import re
import signal
import socket
import subprocess
import time

from conftest import REPO, TEND, wait_until
from test_hostile_clients import probe

APP = str(REPO / "examples/hello/app.js")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_200_control_connections_under_ulimit_64(start_tend, tmp_path):
    socket_path = str(tmp_path / "control.sock")
    tend = start_tend(["--http", "127.0.0.1:0", "--control", f"unix:{socket_path}", "-i", "1", APP],
                      env=dict(os.environ, PORT="0"),
                      exec_from=["prlimit", "--nofile=64:64", "--"])
    line = wait_until(lambda: next((l for l in tend.stderr if "/metrics on http://" in l), None),
                      what="the HTTP port")
    port = int(re.search(r":(\d+)$", line).group(1))
    wait_until(lambda: probe(port, "/readyz") == 200, what="ready")
    clients = []
    try:
        for _ in range(200):
            client = socket.socket(socket.AF_UNIX)
            client.setblocking(False)  # once tend stops accepting, the backlog fills
            try:
                client.connect(socket_path)
            except (BlockingIOError, ConnectionRefusedError):
                pass
            clients.append(client)
        time.sleep(1)
        before, started = cpu_seconds(tend.pid), time.monotonic()
        time.sleep(3)
        cpu = (cpu_seconds(tend.pid) - before) / (time.monotonic() - started)
        assert cpu < 0.2, f"tend used {cpu:.0%} of a core with no descriptor left"
        assert [probe(port, "/livez") for _ in range(5)] == [200] * 5
    finally:
        for client in clients:
            client.close()
    listed = wait_until(lambda: subprocess.run(
        [TEND, "ctl", "--control", f"unix:{socket_path}", "list"], capture_output=True,
        text=True, timeout=20).returncode == 0, timeout=30, what="tend ctl list to work again")
    assert listed
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0
