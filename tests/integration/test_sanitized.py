"""A smoke run of tend built with ASan and UBSan (`make test` builds it): the paths every
deployment takes, with any sanitizer report failing the test."""
import os
import re
import signal
import subprocess
import urllib.request

import pytest

from conftest import REPO

TEND_ASAN = os.environ.get("TEND_ASAN", "")
APP = str(REPO / "examples/metrics/app.js")  # its /metrics scrape aggregates prom-client


@pytest.mark.skipif(not TEND_ASAN, reason="TEND_ASAN names no sanitizer build")
def test_serve_reload_scrape_and_stop_with_no_sanitizer_report(tmp_path):
    env = dict(os.environ, PORT="0", ASAN_OPTIONS="detect_leaks=0:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1")
    control = ["--control", f"unix:{tmp_path / 'control.sock'}"]
    tend = subprocess.Popen(
        [TEND_ASAN, "--http", "127.0.0.1:0", *control, "-i", "2", APP],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True)
    lines = []
    try:
        def line(pattern):
            for text in iter(tend.stderr.readline, ""):
                lines.append(text)
                if re.search(pattern, text):
                    return text
            raise AssertionError("".join(lines))
        http_port = int(re.search(r":(\d+)$", line(r"/metrics on http://").strip()).group(1))
        line(r"\[1\] pid \d+ ready")
        for path in ("/livez", "/readyz", "/metrics"):
            with urllib.request.urlopen(f"http://127.0.0.1:{http_port}{path}", timeout=10) as got:
                assert got.status == 200
        tend.send_signal(signal.SIGHUP)
        line(r"reload of app: done")
        # Control: unary calls, Reload and Logs streams, and event and log streams cut short.
        for args in (["ctl", "list"], ["probe", "ready"], ["ctl", "reload"],
                     ["ctl", "logs", "--lines", "5"], ["ctl", "top", "--once"]):
            done = subprocess.run([TEND_ASAN, *args, *control], env=env, capture_output=True,
                                  text=True, timeout=60)
            lines.append(done.stderr)
            assert done.returncode == 0, done.stderr
        for stream in (["events"], ["logs", "--follow"]):
            client = subprocess.Popen([TEND_ASAN, "ctl", *control, *stream], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      text=True)
            try:
                client.wait(timeout=1)
            except subprocess.TimeoutExpired:
                client.terminate()
            lines.append(client.communicate(timeout=10)[1])
        tend.send_signal(signal.SIGTERM)
        out, err = tend.communicate(timeout=60)
        lines.append(err)
        assert tend.returncode == 0, "".join(lines)
    finally:
        if tend.poll() is None:
            tend.kill()
            tend.communicate()
    report = "".join(lines)
    assert "ERROR: AddressSanitizer" not in report and "runtime error:" not in report, report
