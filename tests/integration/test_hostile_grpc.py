"""The gRPC listeners under attack: idle streams by the thousand cannot deny a Control call,
`tend probe` or /livez; a stream over a stated bound is refused alone, naming the bound."""
import subprocess
import threading
import time

import pytest

from conftest import TEND, wait_until
from test_grpc import APP, TOKEN, Tend

EVENT_STREAMS = 256       # runtime/control/plane.h
REFLECTION_STREAMS = 256  # runtime/control/server.h
STREAMS_PER_CONNECTION = 100


class Attacker:
    """Idle streams of each kind, spread over enough connections to one listener."""

    def __init__(self, stubs, target, metadata=()):
        self.stubs, self.target, self.metadata = stubs, target, metadata
        self.calls, self.gates, self.channels = [], [], []

    def channel(self):
        # Each channel its own connection: a connection carries at most 100 streams.
        if not self.channels or len(self.calls) % (STREAMS_PER_CONNECTION // 2) == 0:
            self.channels.append(self.stubs.grpc.insecure_channel(
                self.target, options=[("grpc.use_local_subchannel_pool", 1)]))
        return self.channels[-1]

    def events(self, count):
        stub_for = self.stubs.control_grpc.ControlStub
        for _ in range(count):
            call = stub_for(self.channel()).StreamEvents(
                self.stubs.control.StreamEventsRequest(), metadata=self.metadata)
            call.initial_metadata()  # subscribed
            self.calls.append(call)

    def watches(self, count):
        health = self.stubs.health
        for _ in range(count):
            call = self.stubs.health_grpc.HealthStub(self.channel()).Watch(
                health.HealthCheckRequest(service=""))
            next(call)  # the current status comes at once
            self.calls.append(call)

    def reflections(self, count):
        request = self.stubs.reflection.ServerReflectionRequest(list_services="")
        for _ in range(count):
            gate = threading.Event()

            def requests(gate=gate):
                yield request
                gate.wait()  # then idle, the stream open
            call = self.stubs.reflection_grpc.ServerReflectionStub(
                self.channel()).ServerReflectionInfo(requests())
            next(call)
            self.calls.append(call)
            self.gates.append(gate)

    def close(self):
        for gate in self.gates:
            gate.set()
        for call in self.calls:
            call.cancel()
        for channel in self.channels:
            channel.close()


def refusal(call_next):
    with pytest.raises(Exception) as refused:
        call_next()
    return refused.value.code(), refused.value.details()


def test_1000_idle_streams_deny_no_control_call_nor_probe(start_tend, stubs, tmp_path):
    tend = Tend(start_tend, stubs, tmp_path, ["-i", "1", "--grpc-reflection", APP])
    bearer = (("authorization", f"Bearer {TOKEN}"),)
    unix = Attacker(stubs, f"unix:{tend.socket}")
    tcp = Attacker(stubs, f"127.0.0.1:{tend.port}", metadata=bearer)
    try:
        # 500 a listener: each stream kind up to its bound, shared by the two listeners.
        for attacker in (unix, tcp):
            attacker.events(EVENT_STREAMS // 2)
            attacker.reflections(REFLECTION_STREAMS // 2)
            attacker.watches(500 - EVENT_STREAMS // 2 - REFLECTION_STREAMS // 2)
        assert len(unix.calls) + len(tcp.calls) == 1000

        # A valid client's unary call, over each listener, answered promptly.
        request = stubs.control.ListWorkersRequest()
        for stub, metadata in ((tend.unix, ()), (tend.tcp, bearer)):
            started = time.monotonic()
            [app] = stub.ListWorkers(request, metadata=metadata, timeout=2).apps
            assert app.ready == 1 and time.monotonic() - started < 2
        probed = subprocess.run([TEND, "probe", "ready", "--control", f"unix:{tend.socket}"],
                                capture_output=True, text=True, timeout=10)
        assert probed.returncode == 0, probed.stderr

        # One stream over a bound is refused, naming it; the others stay open.
        over = tend.unix.StreamEvents(stubs.control.StreamEventsRequest(), timeout=5)
        code, details = refusal(lambda: next(over))
        assert code == stubs.grpc.StatusCode.RESOURCE_EXHAUSTED
        assert details == "tend serves at most 256 event streams (StreamEvents and Reload) at once"
        over = tend.unix_reflection.ServerReflectionInfo(
            iter([stubs.reflection.ServerReflectionRequest(list_services="")]), timeout=5)
        code, details = refusal(lambda: next(over))
        assert (code, details) == (stubs.grpc.StatusCode.RESOURCE_EXHAUSTED,
                                   "tend serves at most 256 reflection streams at once")
        assert all(call.running() or not call.done() for call in unix.calls + tcp.calls)
    finally:
        unix.close()
        tcp.close()

    # The slots come back once the streams are gone.
    def subscribed():
        call = tend.unix.StreamEvents(stubs.control.StreamEventsRequest(), timeout=5)
        try:
            call.initial_metadata()
            return not call.done()
        finally:
            call.cancel()
    wait_until(subscribed, what="an event stream to be taken again")
