"""The app's own prom-client metrics on tend's /metrics: a real prom-client app under -i 2,
aggregated by prom-client's rules, within the scrape's budget whatever the workers do."""
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from conftest import REPO, children_of, high_water_kib, wait_until
from test_cluster import get, ready_count
from test_http import fetch, metric

APP = str(REPO / "examples/metrics/app.js")
NODE_MODULES = REPO / ".deps/npm/node_modules"


def start(start_tend, args, app=APP):
    """tend with HTTP on a free port, its app's workers ready: (tend, app port, http port)."""
    tend = start_tend(["--http", "127.0.0.1:0", "-i", "2", *args, app],
                      env=dict(os.environ, PORT="0"))
    wait_until(lambda: ready_count(tend) == 2, what="two ready workers")
    http_line = next(l for l in tend.stderr if "/metrics on http://" in l)
    app_line = next(l for l in tend.lines if l.startswith("listening on port"))
    return tend, int(app_line.split()[-1]), int(http_line.rsplit(":", 1)[1])


def serve(port, count, path="/"):
    """`count` requests on fresh connections (round-robin spreads them); the pids that
    answered."""
    pids = set()
    for _ in range(count):
        pids.add(get(port, path).split()[-1])
    return pids


def promtool_accepts(text, tmp_path):
    """promtool parses the whole exposition (exit 1 is an error). Its lint findings (exit 3)
    may only be about the app's own names, which tend serves as the app chose them:
    prom-client's default metrics include gauges named *_total."""
    exposition = tmp_path / "metrics.txt"
    exposition.write_text(text)
    done = subprocess.run(["promtool", "check", "metrics"], stdin=exposition.open(),
                          capture_output=True, text=True)
    assert done.returncode in (0, 3), done.stdout + done.stderr
    findings = (done.stdout + done.stderr).splitlines()
    assert not [f for f in findings if f.startswith(("tend_", "process_", "error"))], findings


def test_an_unchanged_prom_client_app_is_aggregated_over_its_workers(start_tend, tmp_path):
    tend, port, http_port = start(start_tend, [])
    assert len(serve(port, 40)) == 2  # both workers counted some
    status, text = fetch(http_port, "/metrics")
    assert status == 200
    assert metric(text, 'app_requests_total{app="app",route="/"}') == 40
    assert metric(text, 'app_request_duration_seconds_count{app="app"}') == 40
    assert metric(text, 'app_request_duration_seconds_bucket{app="app",le="+Inf"}') == 40
    assert metric(text, 'app_highest_instance{app="app"}') == 2  # max, not sum
    # collectDefaultMetrics(): its own families, and those that share tend's names join them.
    assert text.count("# TYPE nodejs_heap_size_total_bytes gauge") == 1
    assert 'nodejs_version_info{app="app",major="' in text
    assert 'process_cpu_seconds_total{app="app"}' in text
    assert text.count("# TYPE process_cpu_seconds_total") == 1
    assert metric(text, 'tend_app_metrics_missing_total{app="app"}') == 0
    promtool_accepts(text, tmp_path)


def test_per_worker_and_off(start_tend, tmp_path):
    tend, port, http_port = start(start_tend, ["--app-metrics", "per-worker"])
    serve(port, 40)
    text = fetch(http_port, "/metrics")[1]
    per_worker = [metric(text, f'app_requests_total{{app="app",app_instance="{i}",route="/"}}')
                  for i in (0, 1)]
    assert None not in per_worker and sum(per_worker) == 40
    promtool_accepts(text, tmp_path)
    tend.end()

    tend, port, http_port = start(start_tend, ["--app-metrics", "off"])
    serve(port, 4)
    text = fetch(http_port, "/metrics")[1]
    assert "app_requests_total" not in text and "tend_app_metrics_missing_total{" not in text


def test_a_blocked_worker_is_left_out_and_counted_without_holding_the_scrape(start_tend):
    tend, port, http_port = start(start_tend, [])
    serve(port, 10)
    blocked = threading.Thread(target=get, args=(port, "/block?ms=3000"))
    blocked.start()
    try:
        time.sleep(0.3)  # the request has reached one worker, whose loop is now blocked
        status, text = fetch(http_port, "/metrics")
        # Answered while the worker is still blocked: the scrape did not wait for it.
        assert blocked.is_alive()
        assert status == 200
        assert metric(text, 'tend_app_metrics_missing_total{app="app"}') == 1
        # The other worker's share is there; tend's own families are whole.
        assert 0 < metric(text, 'app_requests_total{app="app",route="/"}') < 10
        assert metric(text, 'tend_app_ready_workers{app="app"}') == 2
    finally:
        blocked.join()
    text = fetch(http_port, "/metrics")[1]
    assert metric(text, 'app_requests_total{app="app",route="/"}') == 10
    assert metric(text, 'app_requests_total{app="app",route="/block"}') == 1


def test_an_esm_app_that_imports_prom_client(start_tend, tmp_path):
    shutil.copy(REPO / "tests/integration/helpers/metrics_app.mjs", tmp_path / "app.mjs")
    (tmp_path / "node_modules").symlink_to(NODE_MODULES)
    tend, port, http_port = start(start_tend, [], app=str(tmp_path / "app.mjs"))
    serve(port, 12)
    assert metric(fetch(http_port, "/metrics")[1], 'esm_served_total{app="app"}') == 12


def main_thread_wakeups(pid):
    """Voluntary context switches: each is a wake from waiting. (Preemptions of a worker
    that is still busy would count in the involuntary ones.)"""
    with open(f"/proc/{pid}/status") as status:
        return sum(int(l.split()[1]) for l in status if l.startswith("voluntary_ctxt_switches"))


def test_an_app_without_prom_client_adds_nothing(start_tend):
    """No app family, and after the first scrape (which finds no registry) its workers are
    not woken by scrapes: they are asked again a minute later, in case prom-client comes."""
    tend, port, http_port = start(start_tend, [], app=str(REPO / "examples/hello/app.js"))
    serve(port, 4)
    fetch(http_port, "/metrics")
    time.sleep(0.5)  # the workers finish with the requests' connections
    workers = children_of(tend.pid)
    before = [main_thread_wakeups(pid) for pid in workers]
    for _ in range(5):
        fetch(http_port, "/metrics")
    assert [main_thread_wakeups(pid) for pid in workers] == before
    text = fetch(http_port, "/metrics")[1]
    assert metric(text, 'tend_app_metrics_missing_total{app="app"}') == 0
    families = {l.split()[2] for l in text.splitlines() if l.startswith("# TYPE")}
    assert all(f.startswith(("tend_", "process_")) for f in families), families
    assert not any('{app="app"}' in l for l in text.splitlines() if l.startswith("process_"))


def test_scrapes_at_once_share_one_collection(start_tend):
    """Eight scrapers at the same moment: every one answered with the whole count."""
    tend, port, http_port = start(start_tend, [])
    serve(port, 6)
    answers = []
    scrapers = [threading.Thread(target=lambda: answers.append(fetch(http_port, "/metrics")[1]))
                for _ in range(8)]
    for scraper in scrapers:
        scraper.start()
    for scraper in scrapers:
        scraper.join()
    assert [metric(a, 'app_requests_total{app="app",route="/"}') for a in answers] == [6] * 8


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith("VmRSS:"))


def test_an_answer_over_the_bound_is_dropped_and_counted(start_tend):
    """Each worker's registry is ~6 MiB of JSON, ~12 MiB once read, over the 8 MiB a worker's
    answer may hold: tend drops it, counts it, serves the rest, and does not keep what it dropped. (On a loaded machine a
    worker may also miss the budget while it serializes: then it counts as missing.)"""
    tend, port, http_port = start(start_tend, ["--name", "app"],
                                  app=str(REPO / "tests/integration/helpers/huge_metrics.js"))
    text = fetch(http_port, "/metrics")[1]
    before = rss_kib(tend.pid)
    for _ in range(5):
        assert fetch(http_port, "/metrics")[0] == 200
    assert rss_kib(tend.pid) - before < 16 * 1024
    text = fetch(http_port, "/metrics")[1]
    assert "huge_series" not in text
    too_large = metric(text, 'tend_app_metrics_dropped_total{app="app",reason="too_large"}')
    missing = metric(text, 'tend_app_metrics_missing_total{app="app"}')
    assert too_large >= 1 and too_large + missing == 2 * 7


def test_a_series_no_message_can_carry_spoils_only_its_answer(start_tend, tmp_path):
    """A label value of 20,000 characters fits no IPC message the preload may send: the
    worker's answer is counted as invalid, and the worker and the other series of the app's
    other workers are served as before."""
    app = tmp_path / "long_label.js"
    app.write_text((REPO / APP).read_text().replace(
        "const client = require('prom-client');",
        "const client = require('prom-client');\n"
        "if (process.env.NODE_APP_INSTANCE === '1') new client.Gauge({ name: 'long_label', "
        "help: 'h', labelNames: ['v'] }).set({ v: 'x'.repeat(20000) }, 1);"))
    tend, port, http_port = start(start_tend, ["--name", "app"], app=str(app))
    assert len(serve(port, 20)) == 2
    text = fetch(http_port, "/metrics")[1]
    assert "long_label" not in text
    assert metric(text, 'tend_app_metrics_dropped_total{app="app",reason="invalid"}') == 1
    assert 0 < metric(text, 'app_requests_total{app="app",route="/"}') < 20  # worker 0's part


def app_with(tmp_path, name, code):
    """The example app with `code` run in worker 1 once prom-client is loaded."""
    app = tmp_path / f"{name}.js"
    app.write_text((REPO / APP).read_text().replace(
        "const client = require('prom-client');",
        "const client = require('prom-client');\n"
        f"if (process.env.NODE_APP_INSTANCE === '1') {{ {code} }}"))
    return str(app)


def test_texts_no_message_can_carry_are_cut_and_made_well_formed(start_tend, tmp_path):
    """Worker 1's registry has lone surrogates in labels, help texts of 100,000 characters
    (one of a family with no series), and two families of its own making: one too large for a
    message whose values are no list (counted as invalid) and one of 3,000 series with a hole
    (`undefined`, which JSON writes as null). All else is served, help cut to 2,000
    characters and each lone surrogate as U+FFFD, and no message of the answer is over the
    IPC bound, which would end the worker."""
    tend, port, http_port = start(start_tend, ["--name", "app"], app=app_with(tmp_path, "texts", (
        "const g = new client.Gauge({ name: 'lone', help: 'a\\ud800', labelNames: ['v'] });"
        "g.set({ v: 'a\\ud800' }, 1); g.set({ v: '\\udc00b' }, 2);"
        "new client.Gauge({ name: 'long_help', help: 'h'.repeat(100000) }).set(3);"
        "new client.Gauge({ name: 'no_series', help: 'n'.repeat(100000), labelNames: ['v'] });"
        "const json = client.register.getMetricsAsJSON.bind(client.register);"
        "client.register.getMetricsAsJSON = async () => "
        "[...(await json()), { name: 'odd', type: 'gauge', values: { v: 'x'.repeat(20000) } },"
        " { name: 'holes', help: 'h', type: 'gauge', values: [undefined, ...Array.from("
        "{ length: 3000 }, (_, i) => ({ value: i, labels: { i: String(i) } }))] }];")))
    workers = serve(port, 20)
    assert len(workers) == 2
    text = fetch(http_port, "/metrics")[1]
    assert metric(text, 'lone{app="app",v="a\ufffd"}') == 1
    assert metric(text, 'lone{app="app",v="\ufffdb"}') == 2
    assert "# HELP lone a\ufffd\n" in text
    assert metric(text, 'long_help{app="app"}') == 3
    assert f"# HELP long_help {'h' * 2000}\n" in text
    assert metric(text, 'holes{app="app",i="2999"}') == 2999
    assert metric(text, 'tend_app_metrics_dropped_total{app="app",reason="invalid"}') == 1
    assert metric(text, 'tend_app_metrics_dropped_total{app="app",reason="too_large"}') == 0
    assert serve(port, 20) == workers  # worker 1 was not ended
    promtool_accepts(text, tmp_path)


def test_an_error_of_any_length_spoils_only_its_answer(start_tend, tmp_path):
    """Worker 1's registry throws an error of 200,000 characters: its answer is counted as
    invalid, worker 0's is served, and worker 1 serves on."""
    tend, port, http_port = start(start_tend, ["--name", "app"], app=app_with(tmp_path, "error", (
        "client.register.getMetricsAsJSON = async () => { throw new Error('e'.repeat(200000)); };")))
    workers = serve(port, 20)
    text = fetch(http_port, "/metrics")[1]
    assert metric(text, 'tend_app_metrics_dropped_total{app="app",reason="invalid"}') == 1
    assert metric(text, 'app_highest_instance{app="app"}') == 1  # worker 0's alone
    assert serve(port, 20) == workers


def test_the_workers_of_a_scrape_share_one_bound(start_tend):
    """About 3 MiB of JSON from each worker, about 6 MiB once read, fits the 8 MiB of one of
    two workers, but not the 4 MiB each of eight get of the 32 MiB a scrape may hold in all."""
    helper = str(REPO / "tests/integration/helpers/huge_metrics.js")
    for workers, kept in ((2, True), (8, False)):
        tend = start_tend(["--http", "127.0.0.1:0", "-i", str(workers), "--name", "app", helper],
                          env=dict(os.environ, PORT="0", SERIES="25000"))
        wait_until(lambda: ready_count(tend) == workers, timeout=60, what="ready workers")
        http_port = int(next(l for l in tend.stderr if "/metrics on http://" in l).rsplit(":", 1)[1])
        text = fetch(http_port, "/metrics")[1]
        too_large = metric(text, 'tend_app_metrics_dropped_total{app="app",reason="too_large"}')
        missing = metric(text, 'tend_app_metrics_missing_total{app="app"}')
        if kept:  # (a worker that misses the budget on a loaded machine leaves its share out)
            # The family came in parts, hundreds of messages from each worker: all joined.
            assert too_large == 0 and (text.count("huge_series{") == 25000 or missing == workers)
        else:
            assert "huge_series{" not in text and too_large + missing == workers
        tend.end()


def test_scrapers_that_never_read_share_one_exposition(start_tend):
    """300 scrapes that never read their answer: each held its own copy of the exposition
    (about 2.5 MiB here), 750 MiB in all; they share one."""
    helper = str(REPO / "tests/integration/helpers/huge_metrics.js")
    tend = start_tend(["--http", "127.0.0.1:0", "-i", "1", "--name", "app", helper],
                      env=dict(os.environ, PORT="0", SERIES="20000"))
    wait_until(lambda: ready_count(tend) == 1, timeout=60, what="a ready worker")
    http_port = int(next(l for l in tend.stderr if "/metrics on http://" in l).rsplit(":", 1)[1])
    assert "huge_series{" in fetch(http_port, "/metrics")[1]
    before = high_water_kib(tend.pid)
    scrapers = []
    try:
        for i in range(300):
            scraper = socket.socket()
            scraper.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            scraper.bind((f"127.0.{i // 30 + 10}.{i % 30 + 1}", 0))
            scraper.connect(("127.0.0.1", http_port))
            scraper.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            scrapers.append(scraper)
        time.sleep(2)  # every answer made, none read
        grown_mib = (high_water_kib(tend.pid) - before) / 1024
        assert grown_mib < 100, f"tend grew by {grown_mib:.0f} MiB"
        status, text = fetch(http_port, "/metrics")
        assert status == 200 and "huge_series{" in text
    finally:
        for scraper in scrapers:
            scraper.close()
