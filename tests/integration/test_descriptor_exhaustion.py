"""tend with very few descriptors (`ulimit -n 64`) and clients taking them all: it must not
spin, /livez must answer, and control works again once the clients are gone."""
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import REPO, TEND, wait_until
from test_grpc import TOKEN
from test_hostile_clients import probe

APP = str(REPO / "examples/hello/app.js")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# gRPC's own TCP listener (1.51) stops accepting for good after one EMFILE: tend accepts
# on both listeners itself.
@pytest.mark.parametrize("listener", ["unix", "tcp"])
def test_200_control_connections_under_ulimit_64(start_tend, stubs, tmp_path, listener):
    socket_path = str(tmp_path / "control.sock")
    token = tmp_path / "token"
    token.write_text(TOKEN)
    tend = start_tend(["--http", "127.0.0.1:0", "--control", f"unix:{socket_path}",
                       "--grpc", "127.0.0.1:0", "--control-token-file", str(token),
                       "-i", "1", APP],
                      env=dict(os.environ, PORT="0"),
                      exec_from=["prlimit", "--nofile=64:64", "--"])
    line = wait_until(lambda: next((l for l in tend.stderr if "/metrics on http://" in l), None),
                      what="the HTTP port")
    port = int(re.search(r":(\d+)$", line).group(1))
    line = wait_until(lambda: next((l for l in tend.stderr if "serving gRPC on" in l), None),
                      what="the gRPC port")
    grpc_port = int(line.rsplit(":", 1)[1])
    wait_until(lambda: probe(port, "/readyz") == 200, what="ready")
    target = ("127.0.0.1", grpc_port) if listener == "tcp" else socket_path
    clients = []
    try:
        for _ in range(200):
            client = socket.socket(socket.AF_INET if listener == "tcp" else socket.AF_UNIX)
            client.setblocking(False)  # once tend stops accepting, the backlog fills
            try:
                client.connect(target)
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
    if listener == "unix":
        wait_until(lambda: subprocess.run(
            [TEND, "ctl", "--control", f"unix:{socket_path}", "list"], capture_output=True,
            text=True, timeout=20).returncode == 0, timeout=30, what="tend ctl list to work again")
    else:
        stub = stubs.control_grpc.ControlStub(stubs.grpc.insecure_channel(f"127.0.0.1:{grpc_port}"))

        def listed():
            try:
                return stub.ListWorkers(stubs.control.ListWorkersRequest(), timeout=5,
                                        metadata=(("authorization", f"Bearer {TOKEN}"),)).apps
            except stubs.grpc.RpcError:
                return None
        wait_until(listed, timeout=30, what="Control over TCP to work again")
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0
