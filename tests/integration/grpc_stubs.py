"""Python stubs for tend's protos and gRPC's health and reflection services, generated with
Debian's grpc_tools from the sources at test time (the client shares no code with tend), and
an attacker that holds idle streams open (for the tests and bench/hostile.py)."""
import importlib
import subprocess
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

GRPC_PROTO = Path("/usr/share/grpc-proto")
PROTOS = {
    REPO / "proto": ["tend/v1/config.proto", "tend/v1/control.proto"],
    GRPC_PROTO: ["grpc/health/v1/health.proto", "grpc/reflection/v1alpha/reflection.proto"],
}


def generate(out):
    for root, files in PROTOS.items():
        subprocess.run(["/usr/bin/python3", "-m", "grpc_tools.protoc", f"-I{root}",
                        f"--python_out={out}", f"--grpc_python_out={out}", *files], check=True)
    # No grpc/__init__.py: the generated modules join grpcio's own 'grpc' package.
    for package in ("tend", "tend/v1", "grpc/health", "grpc/health/v1", "grpc/reflection",
                    "grpc/reflection/v1alpha"):
        (Path(out) / package / "__init__.py").touch()


class Stubs:
    def __init__(self, out):
        import grpc
        grpc.__path__.append(str(Path(out) / "grpc"))
        sys.path.insert(0, str(out))
        self.grpc = grpc
        self.control = importlib.import_module("tend.v1.control_pb2")
        self.control_grpc = importlib.import_module("tend.v1.control_pb2_grpc")
        self.health = importlib.import_module("grpc.health.v1.health_pb2")
        self.health_grpc = importlib.import_module("grpc.health.v1.health_pb2_grpc")
        self.reflection = importlib.import_module("grpc.reflection.v1alpha.reflection_pb2")
        self.reflection_grpc = importlib.import_module("grpc.reflection.v1alpha.reflection_pb2_grpc")


EVENT_STREAMS = 256       # runtime/control/control_service.h (StreamLimits)
LOG_STREAMS = 64          # the same
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

    def logs(self, count):
        stub_for = self.stubs.control_grpc.ControlStub
        for _ in range(count):
            call = stub_for(self.channel()).Logs(
                self.stubs.control.LogsRequest(follow=True), metadata=self.metadata)
            call.initial_metadata()  # following
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
