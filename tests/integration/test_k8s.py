"""k8s/: the manifests users copy, validated offline against the Kubernetes API's own
schemas (npm kubernetes-models), with probe ports and shutdown timings checked."""
import os
import subprocess

from conftest import HELPERS, REPO

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
