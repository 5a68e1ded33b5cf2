"""k8s/: the manifests users copy, validated offline against the Kubernetes API's own
schemas (npm kubernetes-models), with probe ports and shutdown timings checked, and the
Deployment run for real as a pod by `podman kube play`."""
import json
import os
import subprocess
import time
from pathlib import Path

import yaml

from conftest import HELPERS, REPO, fetch, wait_until
from test_docker import build_image

MANIFESTS = sorted((REPO / "k8s").glob("*.yaml"))
VALIDATE = str(HELPERS / "validate_k8s.js")


def validate(*files):
    done = subprocess.run(["node", VALIDATE, *map(str, files)], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ))
    return done.returncode, done.stdout


def test_the_manifests_are_valid():
    assert MANIFESTS, "k8s/ has manifests"
    assert validate(*MANIFESTS) == (0, "")


def broken(tmp_path, old, new):
    text = (REPO / "k8s/deployment.yaml").read_text()
    assert old in text
    path = tmp_path / "broken.yaml"
    path.write_text(text.replace(old, new))
    return path


def test_the_validation_catches_what_users_get_wrong(tmp_path):
    code, out = validate(broken(tmp_path, "grpc: {port: 9616}", "grpc: {port: tend-grpc}"))
    assert code == 1 and "readinessProbe/grpc/port must be integer" in out
    code, out = validate(broken(tmp_path, "path: /livez, port: tend-http", "path: /livez, port: 9999"))
    assert code == 1 and "app.livenessProbe port 9999 is not a port of app" in out
    code, out = validate(broken(tmp_path, "terminationGracePeriodSeconds: 30",
                                "terminationGracePeriodSeconds: 20"))
    assert code == 1 and "terminationGracePeriodSeconds 20 s does not cover" in out
    code, out = validate(broken(tmp_path, "targetPort: tend-http", "targetPort: metrics"))
    assert code == 1 and "targetPort metrics is not a container port" in out


def as_podman_runs_it(image):
    """k8s/deployment.yaml with only what podman needs changed, each for its reason."""
    documents = list(yaml.safe_load_all((REPO / "k8s/deployment.yaml").read_text()))
    [deployment] = [d for d in documents if d["kind"] == "Deployment"]
    spec = deployment["spec"]
    # podman runs one pod of a Deployment.
    spec["replicas"] = 1
    for container in spec["template"]["spec"]["containers"]:
        # The image built here, from docker/Dockerfile; no registry to pull from.
        container["image"] = image
        container["imagePullPolicy"] = "Never"
        # podman publishes every containerPort on the host, where these fixed ports would
        # collide with whatever else runs there; the probes then name their ports by number.
        named = {port["name"]: port["containerPort"] for port in container.pop("ports", [])}
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            check = container.get(probe, {}).get("httpGet")
            if check:
                check["port"] = named.get(check["port"], check["port"])
    # The Service is the cluster's to route; podman has no Services.
    return yaml.safe_dump(deployment)


def test_the_deployment_runs_as_a_real_pod(podman, tmp_path):
    image = build_image(podman, tmp_path)
    manifest = tmp_path / "deployment.yaml"
    manifest.write_text(as_podman_runs_it(image))
    # podman logs that it cannot add the probes as systemd healthchecks: there is no systemd
    # here. The probes are sent below as the kubelet sends them.
    podman("kube", "play", str(manifest))
    pod = "my-app-pod-0"
    app, sidecar = f"{pod}-app", f"{pod}-tend-events"
    try:
        running = lambda name: podman("inspect", "--format", "{{.State.Status}}", name,
                                      check=False).stdout.strip() == "running"
        wait_until(lambda: running(app) and running(sidecar), timeout=60,
                   what="both containers running")
        host_pid = podman("inspect", "--format", "{{.State.Pid}}", app).stdout.strip()
        status = Path(f"/proc/{host_pid}/status").read_text()
        namespaced_pids = status.split("NSpid:")[1].splitlines()[0].split()
        assert namespaced_pids[-1] == "1", "tend is PID 1 of the app container"

        # The kubelet's liveness and startup probes, sent as it sends them: to the pod's IP.
        infra = podman("pod", "inspect", "--format", "{{.InfraContainerID}}", pod).stdout
        pod_ip = podman("inspect", "--format",
                        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                        infra.strip()).stdout.strip()
        wait_until(lambda: fetch(f"http://{pod_ip}:9615/readyz") == "ok\n", timeout=60,
                   what="/readyz on the pod's IP")
        assert fetch(f"http://{pod_ip}:9615/livez") == "ok\n"
        assert fetch(f"http://{pod_ip}:3000/").startswith("hello from instance")

        # The sidecar hears the app container's tend over the shared emptyDir socket. It may
        # subscribe after a first reload (it waits for the socket, retrying up to 1 s apart):
        # reloads go on until one reaches its log.
        def heard():
            podman("exec", app, "tend", "ctl", "reload")
            return '"kind":"RELOAD_FINISHED"' in podman("logs", sidecar).stdout
        wait_until(heard, timeout=90, what="a reload's events in the sidecar's log")
        events = [json.loads(line) for line in podman("logs", sidecar).stdout.splitlines()]
        assert {e["app"] for e in events} == {"app"}

        # Stopping as the kubelet does: SIGTERM, then the grace period. podman 4.3's `kube down`
        # alone SIGKILLs at once (podman issue #22397, fixed in 5.1), so the pod is stopped
        # with the manifest's grace period first, the workaround podman's maintainers give.
        grace = str(spec_of(manifest)["terminationGracePeriodSeconds"])
        began = time.monotonic()
        podman("pod", "stop", "--time", grace, pod)
        assert time.monotonic() - began < int(grace)
        assert podman("inspect", "--format", "{{.State.ExitCode}}", app).stdout.strip() == "0"
        stopped = podman("logs", app).stderr
        assert "SIGTERM received: stopping" in stopped and "SIGKILL" not in stopped.split(
            "SIGTERM received")[1].split("\n", 1)[1]
        podman("kube", "down", str(manifest))
        assert podman("pod", "exists", pod, check=False).returncode == 1
    finally:
        podman("kube", "down", str(manifest), check=False)


def spec_of(manifest):
    return yaml.safe_load(manifest.read_text())["spec"]["template"]["spec"]

