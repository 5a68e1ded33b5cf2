"""The gRPC listeners under attack: idle streams by the thousand cannot deny a Control call,
`tend probe` or /livez; a stream over a stated bound is refused alone, naming the bound."""
import subprocess
import time

import pytest

from conftest import TEND, wait_until
from grpc_stubs import EVENT_STREAMS, LOG_STREAMS, REFLECTION_STREAMS, Attacker
from test_grpc import APP, TOKEN, Tend

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
        assert not any(call.done() for call in unix.calls + tcp.calls)  # all still open
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


def test_log_streams_past_their_bound_are_refused_alone(start_tend, stubs, tmp_path):
    """64 followers of `tend ctl logs --follow` at once: the 65th is refused naming the bound,
    the others stay open, and the slot comes back when one goes."""
    tend = Tend(start_tend, stubs, tmp_path, ["-i", "1", APP])
    followers = Attacker(stubs, f"unix:{tend.socket}")
    try:
        followers.logs(LOG_STREAMS)
        over = tend.unix.Logs(stubs.control.LogsRequest(follow=True), timeout=5)
        assert refusal(lambda: next(over)) == (
            stubs.grpc.StatusCode.RESOURCE_EXHAUSTED, "tend serves at most 64 log streams (Logs) at once")
        assert not any(call.done() for call in followers.calls)
        followers.calls.pop().cancel()

        def followed():
            call = tend.unix.Logs(stubs.control.LogsRequest(follow=True), timeout=5)
            try:
                call.initial_metadata()
                return not call.done()
            finally:
                call.cancel()
        wait_until(followed, what="a log stream to be taken again")
    finally:
        followers.close()
