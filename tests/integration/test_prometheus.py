"""A real Prometheus server scrapes tend: the target is up, with per-worker series."""
import json
import signal
import subprocess
import urllib.parse
import urllib.request

import pytest

from conftest import REPO, free_port, wait_until
from test_cluster import ready_count
from test_http import start_with_http


@pytest.fixture
def prometheus(tmp_path):
    """Starts Prometheus with `targets` to scrape every second; yields its API's query()."""
    started = []

    def start(target):
        port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            f"  - job_name: tend\n    static_configs: [{{targets: ['{target}']}}]\n")
        server = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(server)

        def api(path, **query):
            url = f"http://127.0.0.1:{port}/api/v1/{path}?{urllib.parse.urlencode(query)}"
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    return json.load(response)["data"]
            except OSError:
                return None
        return api

    yield start
    for server in started:
        server.terminate()
        server.wait(10)


def test_prometheus_scrapes_every_worker(start_tend, prometheus):
    tend, port = start_with_http(start_tend, ["-i", "2", str(REPO / "examples/hello/app.js")])
    wait_until(lambda: ready_count(tend) == 2, what="two ready workers")
    api = prometheus(f"127.0.0.1:{port}")

    def target_up():
        targets = api("targets")
        return targets and any(t["health"] == "up" for t in targets["activeTargets"])
    wait_until(target_up, timeout=60, what="Prometheus to see the target up")

    def ready_series():
        result = api("query", query="tend_worker_ready == 1")
        return result and sorted(r["metric"]["app_instance"] for r in result["result"])
    assert wait_until(ready_series, timeout=30, what="per-worker series") == ["0", "1"]
    [app] = api("query", query="tend_app_desired_workers")["result"]
    assert (app["metric"]["app"], app["value"][1]) == ("app", "2")
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0


def test_prometheus_scrapes_the_apps_own_metrics(start_tend, prometheus):
    """prom-client's counters, summed over both workers, as Prometheus stores them."""
    from test_app_metrics import start, serve
    tend, port, http_port = start(start_tend, [])
    serve(port, 30)
    api = prometheus(f"127.0.0.1:{http_port}")

    def requests():
        result = api("query", query='app_requests_total{route="/"}')
        return result and result["result"] and result["result"][0]
    series = wait_until(requests, timeout=60, what="the app's counter in Prometheus")
    assert series["metric"]["app"] == "app" and series["value"][1] == "30"
    [up] = wait_until(lambda: (api("query", query="up") or {}).get("result"), what="up")
    assert up["value"][1] == "1"
