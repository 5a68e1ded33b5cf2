"""docker/Dockerfile, built and run with podman from a Node base image made here (no
registry can be reached): tend is PID 1, the app serves, the health check passes, -i max
follows --cpus, and a stop drains and exits 0 within the timeout."""
import os
import shutil
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

from conftest import HELPERS, REPO, TEND, free_port, wait_until


def node_base_image(podman, tmp_path):
    """The machine's own node with the libraries it links, as a local image."""
    root = tmp_path / "rootfs"
    for folder in ("usr/bin", "tmp", "run", "etc"):
        (root / folder).mkdir(parents=True)
    node = os.path.realpath(shutil.which("node"))
    shutil.copy(node, root / "usr/bin/node")
    ldd = subprocess.run(["ldd", node], capture_output=True, text=True, check=True).stdout
    for library in {word for word in ldd.split() if word.startswith("/")}:
        target = root / library.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(library, target)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "tmp").chmod(0o1777)
    tar = tmp_path / "node.tar"
    subprocess.run(["tar", "-C", root, "-cf", tar, "."], check=True)
    name = f"localhost/tend-test-node:{uuid.uuid4().hex[:8]}"
    podman("import", str(tar), name)
    return name


def build_image(podman, tmp_path):
    """docker/Dockerfile built on the local Node base image, with the tend under test."""
    base = node_base_image(podman, tmp_path)
    context = tmp_path / "context"
    (context / "examples/hello").mkdir(parents=True)
    shutil.copy(REPO / "docker/Dockerfile", context / "Dockerfile")
    shutil.copy(REPO / "examples/hello/app.js", context / "examples/hello/app.js")
    shutil.copy(TEND, context / "tend")
    image = f"localhost/tend-test:{uuid.uuid4().hex[:8]}"
    podman("build", "--format", "docker", "--build-arg", f"NODE_IMAGE={base}",
           "--build-arg", "TEND_FROM=prebuilt", "-t", image, "-f", str(context / "Dockerfile"),
           str(context))
    return image


def get(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
            return response.read().decode()
    except OSError:
        return None


def test_the_dockerfile_runs_tend_as_pid_1(podman, tmp_path):
    image = build_image(podman, tmp_path)

    app_port, http_port = free_port(), free_port()
    name = f"tend-test-{uuid.uuid4().hex[:8]}"
    # The image's CMD with the HTTP port moved off 9615 (the host's network is shared here).
    podman("run", "--detach", "--name", name, "--cpus", "1.5", "--health-interval", "disable",
           "--env", f"PORT={app_port}", image,
           "--http", f"127.0.0.1:{http_port}", "-i", "max", "/app/app.js")

    assert wait_until(lambda: get(app_port), timeout=30,
                      what="the app in the container").startswith("hello")

    host_pid = podman("inspect", "--format", "{{.State.Pid}}", name).stdout.strip()
    status = Path(f"/proc/{host_pid}/status").read_text()
    namespaced_pids = status.split("NSpid:")[1].splitlines()[0].split()
    assert namespaced_pids[-1] == "1", "tend is PID 1 in the container"
    assert Path(f"/proc/{host_pid}/cmdline").read_bytes().split(b"\0")[0] == b"tend"

    assert podman("healthcheck", "run", name, check=False).returncode == 0
    listed = podman("exec", name, "tend", "ctl", "list").stdout.splitlines()
    assert len(listed) == 2, f"--cpus 1.5 gives -i max one worker: {listed}"

    began = time.monotonic()
    podman("stop", "--time", "10", name)
    assert time.monotonic() - began < 10
    assert podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip() == "0"
    logs = podman("logs", name).stderr
    assert "SIGTERM received: stopping" in logs


def test_a_pm2_ecosystem_file_runs_in_the_container(podman, tmp_path):
    """A pm2 user's CMD with pm2-runtime changed to tend: the container's node evaluates it."""
    image = build_image(podman, tmp_path)
    app_port, http_port = free_port(), free_port()
    config = tmp_path / "eco"
    config.mkdir()
    shutil.copy(HELPERS / "env_app.js", config / "server.js")
    (config / "ecosystem.config.js").write_text(f"""
module.exports = {{
  apps: [{{
    name: "api", script: "./server.js", instances: 2, max_memory_restart: "1G",
    env: {{NODE_ENV: "development", PORT: {app_port}}},
    env_production: {{NODE_ENV: "production"}},
  }}],
}};
""")
    name = f"tend-test-{uuid.uuid4().hex[:8]}"
    podman("run", "--detach", "--name", name, "--health-interval", "disable",
           "--volume", f"{config}:/eco:ro", image,
           "--http", f"127.0.0.1:{http_port}", "/eco/ecosystem.config.js", "--env", "production")
    try:
        answer = wait_until(lambda: get(app_port), timeout=30, what="the app in the container")
    except AssertionError:
        logs = podman("logs", name)
        raise AssertionError(logs.stdout + logs.stderr)
    assert '"NODE_ENV":"production"' in answer
    assert podman("healthcheck", "run", name, check=False).returncode == 0
    podman("stop", "--time", "10", name)
    assert podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip() == "0"
