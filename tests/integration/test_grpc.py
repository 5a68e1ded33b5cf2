"""The gRPC port, called by an independent client (Debian's python3-grpcio): health,
reflection and Control over the Unix socket and over TCP with a bearer token."""
import os
import signal
import socket
import ssl
import stat

import pytest

from conftest import HELPERS, REPO, children_of, proc_state, run_tend, wait_until
from test_cluster import ready_count

APP = str(REPO / "examples/hello/app.js")
TOKEN = "s3cret-token"


class Tend:
    """tend with its control socket and a TCP gRPC port; channels to both."""

    def __init__(self, start_tend, stubs, tmp_path, args, env=None):
        self.socket = tmp_path / "control.sock"
        token_file = tmp_path / "token"
        token_file.write_text(TOKEN + "\n")
        self.process = start_tend(["--control", f"unix:{self.socket}", "--grpc", "127.0.0.1:0",
                                   "--control-token-file", str(token_file), *args],
                                  env=env or dict(os.environ, PORT="0"))
        line = wait_until(lambda: next((l for l in self.process.stderr if "serving gRPC on" in l),
                                       None), what="the gRPC port")
        port = self.port = int(line.rsplit(":", 1)[1])
        grpc = stubs.grpc
        self.unix = stubs.control_grpc.ControlStub(grpc.insecure_channel(f"unix:{self.socket}"))
        tcp_channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.tcp = stubs.control_grpc.ControlStub(tcp_channel)
        self.health = stubs.health_grpc.HealthStub(tcp_channel)
        self.tcp_reflection = stubs.reflection_grpc.ServerReflectionStub(tcp_channel)
        self.unix_reflection = stubs.reflection_grpc.ServerReflectionStub(
            grpc.insecure_channel(f"unix:{self.socket}"))


# HTTP/2's connection preface and an empty SETTINGS frame: all a client must send first.
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes.fromhex("000000040000000000")


def closed_by_peer(connection, within=0):
    """Whether tend has closed `connection`, or does within `within` seconds (what it sent
    before is read and dropped)."""
    connection.settimeout(within)
    try:
        while connection.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except (BlockingIOError, socket.timeout, ssl.SSLWantReadError):
        return False


def probe_serving(stubs, port):
    """A health check on a connection of its own, as the kubelet's probe makes."""
    health = stubs.health_grpc.HealthStub(stubs.grpc.insecure_channel(
        f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)]))
    return health.Check(stubs.health.HealthCheckRequest(service=""), timeout=5).status == \
        stubs.health.HealthCheckResponse.SERVING


def serving(stubs, tend):
    return tend.health.Check(stubs.health.HealthCheckRequest(service=""), timeout=5).status


def workers(stubs, tend):
    [app] = tend.unix.ListWorkers(stubs.control.ListWorkersRequest(), timeout=5).apps
    return app


def test_health_follows_readiness_and_shutdown(start_tend, stubs, tmp_path):
    gate = tmp_path / "gate"
    tend = Tend(start_tend, stubs, tmp_path,
                ["-i", "1", "--wait-ready", "--shutdown-delay", "2000",
                 str(HELPERS / "gated_ready.js")], env=dict(os.environ, GATE=str(gate)))
    SERVING, NOT_SERVING = (stubs.health.HealthCheckResponse.SERVING,
                            stubs.health.HealthCheckResponse.NOT_SERVING)
    assert serving(stubs, tend) == NOT_SERVING
    gate.touch()
    wait_until(lambda: serving(stubs, tend) == SERVING, what="SERVING once ready")
    tend.process.signal(signal.SIGTERM)
    wait_until(lambda: serving(stubs, tend) == NOT_SERVING, what="NOT_SERVING on SIGTERM")
    assert tend.process.wait() == 0


def reflect(stub, stubs, **request):
    return list(stub.ServerReflectionInfo(
        iter([stubs.reflection.ServerReflectionRequest(**request)]), timeout=5))


def test_reflection_lists_the_services_and_describes_them(start_tend, stubs, tmp_path):
    tend = Tend(start_tend, stubs, tmp_path, ["-i", "1", APP])
    [listed] = reflect(tend.unix_reflection, stubs, list_services="")
    names = {service.name for service in listed.list_services_response.service}
    assert names == {"tend.v1.Control", "grpc.health.v1.Health",
                     "grpc.reflection.v1alpha.ServerReflection"}
    # What grpcurl asks next: the file that defines a service, with what it imports.
    [described] = reflect(tend.unix_reflection, stubs, file_containing_symbol="tend.v1.Control")
    files = described.file_descriptor_response.file_descriptor_proto
    descriptor_pb2 = __import__("google.protobuf.descriptor_pb2", fromlist=["x"])
    parsed = [descriptor_pb2.FileDescriptorProto.FromString(f) for f in files]
    assert {f.name for f in parsed} == {"tend/v1/control.proto", "tend/v1/config.proto"}
    [control] = [f for f in parsed if f.name == "tend/v1/control.proto"]
    assert "ListWorkers" in {m.name for m in control.service[0].method}
    [missing] = reflect(tend.unix_reflection, stubs, file_containing_symbol="no.Such")
    assert missing.error_response.error_code == stubs.grpc.StatusCode.NOT_FOUND.value[0]


def test_reflection_is_off_on_tcp_unless_asked_for(start_tend, stubs, tmp_path):
    tend = Tend(start_tend, stubs, tmp_path, ["-i", "1", APP])
    with pytest.raises(stubs.grpc.RpcError) as refused:
        reflect(tend.tcp_reflection, stubs, list_services="")
    assert refused.value.code() == stubs.grpc.StatusCode.UNIMPLEMENTED
    tend.process.signal(signal.SIGTERM)
    assert tend.process.wait() == 0
    asked = Tend(start_tend, stubs, tmp_path, ["-i", "1", "--grpc-reflection", APP])
    [listed] = reflect(asked.tcp_reflection, stubs, list_services="")
    assert "tend.v1.Control" in {s.name for s in listed.list_services_response.service}


def test_control_over_tcp_needs_the_token_and_a_refusal_changes_nothing(start_tend, stubs,
                                                                        tmp_path):
    tend = Tend(start_tend, stubs, tmp_path, ["-i", "2", APP])
    wait_until(lambda: ready_count(tend.process) == 2, what="two ready workers")
    before = [w.pid for w in workers(stubs, tend).workers]
    grpc = stubs.grpc
    scale = stubs.control.ScaleRequest(app="app", instances=5)
    for metadata in ((), (("authorization", "Bearer wrong"),), (("authorization", TOKEN),)):
        with pytest.raises(grpc.RpcError) as refused:
            tend.tcp.Scale(scale, metadata=metadata, timeout=5)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert [w.pid for w in workers(stubs, tend).workers] == before
    assert workers(stubs, tend).desired == 2
    listed = tend.tcp.ListWorkers(stubs.control.ListWorkersRequest(),
                                  metadata=(("authorization", f"Bearer {TOKEN}"),), timeout=5)
    assert [w.pid for w in listed.apps[0].workers] == before


def test_control_lists_scales_restarts_and_signals(start_tend, stubs, tmp_path):
    tend = Tend(start_tend, stubs, tmp_path, ["-i", "2", APP])
    wait_until(lambda: ready_count(tend.process) == 2, what="two ready workers")
    app = workers(stubs, tend)
    assert (app.name, app.desired, app.ready) == ("app", 2, 2)
    assert sorted(w.pid for w in app.workers) == sorted(children_of(tend.process.pid))
    assert all(w.state == "ready" and w.memory_bytes > 10e6 for w in app.workers)

    control = stubs.control
    assert tend.unix.Scale(control.ScaleRequest(app="app", delta=1), timeout=5).instances == 3
    wait_until(lambda: workers(stubs, tend).ready == 3, what="a third ready worker")
    assert tend.unix.Scale(control.ScaleRequest(app="app", instances=1), timeout=5).instances == 1

    [first] = workers(stubs, tend).workers
    tend.unix.Restart(control.RestartRequest(app="app", instance=0), timeout=5)
    wait_until(lambda: workers(stubs, tend).workers[0].pid not in (0, first.pid),
               what="a new worker for instance 0")
    wait_until(lambda: proc_state(first.pid) is None, what="the old worker to exit")
    assert workers(stubs, tend).workers[0].restarts == 1

    tend.unix.Signal(control.SignalRequest(app="app", signal="SIGUSR2"), timeout=5)
    config = tend.unix.GetConfig(control.GetConfigRequest(), timeout=5)
    assert config.apps[0].name == "app" and config.apps[0].exec_mode == 1  # CLUSTER


def test_bad_arguments_are_refused_with_the_reason(start_tend, stubs, tmp_path):
    tend = Tend(start_tend, stubs, tmp_path, ["-i", "1", APP])
    control, grpc = stubs.control, stubs.grpc
    cases = [
        (tend.unix.Scale, control.ScaleRequest(app="nope", instances=2),
         grpc.StatusCode.NOT_FOUND, "no app named 'nope'"),
        (tend.unix.Scale, control.ScaleRequest(app="app", instances=-3),
         grpc.StatusCode.INVALID_ARGUMENT, "-3 instances: expected 0 to 4096"),
        (tend.unix.Scale, control.ScaleRequest(app="app"),
         grpc.StatusCode.INVALID_ARGUMENT, "give instances or delta"),
        (tend.unix.Signal, control.SignalRequest(app="app", signal="SIGNOPE"),
         grpc.StatusCode.INVALID_ARGUMENT, "'SIGNOPE' names no signal"),
        (tend.unix.Restart, control.RestartRequest(app="app", instance=7),
         grpc.StatusCode.NOT_FOUND, "app has no instance 7 (it has 1)"),
    ]
    for call, request, code, message in cases:
        with pytest.raises(grpc.RpcError) as refused:
            call(request, timeout=5)
        assert (refused.value.code(), refused.value.details()) == (code, message)
    assert workers(stubs, tend).desired == 1


def test_reload_streams_progress_and_events_stream_what_happens(start_tend, stubs, tmp_path):
    tend = Tend(start_tend, stubs, tmp_path, ["-i", "2", "--min-uptime", "0", APP])
    wait_until(lambda: ready_count(tend.process) == 2, what="two ready workers")
    Event = stubs.control.Event
    progress = list(tend.unix.Reload(stubs.control.ReloadRequest(app="app"), timeout=60))
    assert [e.kind for e in progress] == [Event.RELOAD_STARTED, Event.RELOAD_PROGRESS,
                                          Event.RELOAD_PROGRESS, Event.RELOAD_FINISHED]
    assert progress[-1].ok
    assert {e.reason for e in progress} == {"reload"}
    wait_until(lambda: len(children_of(tend.process.pid)) == 2, what="the old workers to exit")

    events = tend.unix.StreamEvents(stubs.control.StreamEventsRequest(), timeout=30)
    events.initial_metadata()  # subscribed: tend sends headers once it listens for events
    victim = workers(stubs, tend).workers[1].pid
    os.kill(victim, signal.SIGKILL)
    seen = []
    for event in events:
        if event.pid == victim or seen:
            seen.append(event)
        if seen and event.kind == Event.WORKER_READY and event.instance == 1:
            break
    events.cancel()
    exited = seen[0]
    assert (exited.kind, exited.app, exited.instance, exited.detail) == (
        Event.WORKER_EXITED, "app", 1, "SIGKILL")
    assert [(e.kind, e.instance) for e in seen[1:]] == [
        (Event.RESTART_SCHEDULED, 1), (Event.WORKER_STARTED, 1), (Event.WORKER_READY, 1)]


def test_the_control_socket_is_private_and_cannot_be_taken_twice(start_tend, stubs, tmp_path):
    tend = Tend(start_tend, stubs, tmp_path, ["-i", "1", APP])
    mode = stat.S_IMODE(os.stat(tend.socket).st_mode)
    assert mode & 0o077 == 0, oct(mode)
    second = start_tend(["--control", f"unix:{tend.socket}", APP])
    assert second.wait() == 1
    assert any(f"{tend.socket} is in use by another process" in l for l in second.stderr)
    tend.process.signal(signal.SIGTERM)
    assert tend.process.wait() == 0
    assert not tend.socket.exists(), "removed at exit"


def test_a_token_file_that_is_not_a_token_is_refused_at_once(tmp_path):
    for path, problem in (("/dev/zero", "/dev/zero holds more than 4096 bytes: not a token"),
                          (tmp_path / "absent", f"cannot read {tmp_path / 'absent'}")):
        code, _, err = run_tend(["--control", f"unix:{tmp_path}/c.sock", "--grpc", "127.0.0.1:0",
                                 "--control-token-file", str(path), APP], timeout=10)
        assert code == 1
        assert err.splitlines() == [f"tend: error: --control-token-file: {problem}"]
