"""cc_proto: C++ (and optionally gRPC) code from .proto files with Debian's protoc.

Bazel 4's native proto rules want to build protoc from source; a genrule over the system's
protoc and grpc_cpp_plugin works offline. Imports resolve against the calling package's
folder, so `proto/tend/v1/x.proto` is included as "tend/v1/x.pb.h".
"""

def cc_proto(name, srcs, grpc = False, deps = [], imports = [], generated = False, visibility = None):
    """`imports`: the .proto files that `srcs` import (from `deps`), for protoc to read.

    `generated`: `srcs` are outputs of a rule in this package (copies of Debian's .proto).
    """
    package = native.package_name()
    stems = [src[:-len(".proto")] for src in srcs]
    outs = [stem + ext for stem in stems for ext in [".pb.h", ".pb.cc"]]
    root = "$(GENDIR)/" + package if generated else package
    cmd = "$(location @system//:protoc) --proto_path=%s --cpp_out=$(GENDIR)/%s" % (root, package)
    tools = ["@system//:protoc"]
    if grpc:
        outs += [stem + ext for stem in stems for ext in [".grpc.pb.h", ".grpc.pb.cc"]]
        cmd += " --plugin=protoc-gen-grpc=$(location @system//:grpc_cpp_plugin)"
        cmd += " --grpc_out=$(GENDIR)/%s" % package
        tools.append("@system//:grpc_cpp_plugin")
    native.genrule(
        name = name + "_generate",
        srcs = srcs + imports,
        outs = outs,
        cmd = cmd + " " + " ".join(["$(location %s)" % src for src in srcs]),
        tools = tools,
    )
    native.cc_library(
        name = name,
        srcs = [out for out in outs if out.endswith(".cc")],
        hdrs = [out for out in outs if out.endswith(".h")],
        includes = ["."],
        deps = deps + ["@system//:protobuf"] + (["@system//:grpcpp"] if grpc else []),
        visibility = visibility,
    )
