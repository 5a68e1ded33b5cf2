"""Debian's libraries and code generators as a Bazel repository.

Each library becomes a cc_library whose linkopts are what `pkg-config --static --libs` says,
so the same targets link statically into //runtime:tend (fully_static_link) and dynamically
into tests. Headers come from /usr/include, which the compiler searches already.
"""

def _pkg_config_libs(ctx, modules):
    result = ctx.execute(["pkg-config", "--static", "--libs"] + modules)
    if result.return_code != 0:
        fail("pkg-config %s failed (run `make deps`): %s" % (" ".join(modules), result.stderr))
    return [opt for opt in result.stdout.strip().replace("\n", " ").split(" ") if opt]

def _system_libs_impl(ctx):
    ctx.symlink("/usr/bin/protoc", "protoc")
    ctx.symlink("/usr/bin/grpc_cpp_plugin", "grpc_cpp_plugin")
    ctx.symlink("/usr/share/grpc-proto", "grpc-proto")
    build = [
        'package(default_visibility = ["//visibility:public"])',
        # reflection.proto: tend serves reflection itself, with gRPC's callback API.
        'exports_files(["protoc", "grpc_cpp_plugin", "grpc-proto/grpc/reflection/v1alpha/reflection.proto"])',
    ]
    for name, modules in ctx.attr.pkg_config.items():
        extra = ctx.attr.append.get(name, "")
        build.append("cc_library(name = %r, linkopts = %r)" % (
            name,
            _pkg_config_libs(ctx, modules.split(" ")) + [opt for opt in extra.split(" ") if opt],
        ))
    for name, linkopts in ctx.attr.plain.items():
        build.append("cc_library(name = %r, linkopts = %r)" % (name, linkopts.split(" ")))
    ctx.file("BUILD.bazel", "\n\n".join(build) + "\n")

system_libs = repository_rule(
    implementation = _system_libs_impl,
    attrs = {
        # target name -> space-separated pkg-config modules
        "pkg_config": attr.string_dict(),
        # target name -> space-separated linkopts, for libraries without a .pc file
        "plain": attr.string_dict(),
        # pkg_config target name -> linkopts its .pc file forgot, appended after its own
        "append": attr.string_dict(),
    },
    local = True,
)
