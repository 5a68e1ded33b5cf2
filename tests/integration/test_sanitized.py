"""A smoke run of tend built with ASan and UBSan (`make test` builds it): the paths every
deployment takes, with any sanitizer report failing the test. (gRPC is left out: Debian's
static gRPC, linked into a sanitized binary, spins in its poller and answers nothing, client
or server; that is not tend's code, and the unit tests cover the bridge it uses.)"""
import os
import re
import signal
import subprocess
import urllib.request

import pytest

from conftest import REPO

TEND_ASAN = os.environ.get("TEND_ASAN", "")
APP = str(REPO / "examples/hello/app.js")


@pytest.mark.skipif(not TEND_ASAN, reason="TEND_ASAN names no sanitizer build")
def test_serve_reload_scrape_and_stop_with_no_sanitizer_report():
    env = dict(os.environ, PORT="0", ASAN_OPTIONS="detect_leaks=0:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1")
    tend = subprocess.Popen(
        [TEND_ASAN, "--http", "127.0.0.1:0", "--control", "off", "-i", "2", APP],
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
