"""Python stubs for tend's protos and gRPC's health and reflection services, generated with
Debian's grpc_tools from the sources at test time: the client shares no code with tend."""
import importlib
import subprocess
import sys
from pathlib import Path

from conftest import REPO

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
