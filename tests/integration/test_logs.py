"""Worker output reaches tend's stdout line by line: whole, attributed, never interleaved."""
import json
import os
import signal
import subprocess

from conftest import TEND, children_of, wait_until

LINES = 1000  # 2 x 1000 x 100 bytes: well inside tend's 1 MiB buffer, so none is dropped


def test_lines_of_concurrent_workers_never_interleave(start_tend, tmp_path):
    script = tmp_path / "chatter.js"
    script.write_text(
        "const letter = 'ab'[Number(process.env.NODE_APP_INSTANCE)];\n"
        f"for (let i = 0; i < {LINES}; i++) console.log(letter.repeat(100));\n"
        "process.exit(0);\n")
    tend = start_tend(["-i", "2", "--no-autorestart", "--listen-timeout", "60000", str(script)])
    assert tend.wait() == 0
    assert sorted(set(tend.lines)) == ["a" * 100, "b" * 100]
    assert tend.lines.count("a" * 100) == LINES and tend.lines.count("b" * 100) == LINES


def test_json_lines_name_app_instance_pid_and_stream(start_tend, tmp_path):
    script = tmp_path / "speaker.js"
    script.write_text("console.log('to out'); console.error('to err'); process.exit(0);\n")
    tend = start_tend(["--json", "--no-autorestart", "-n", "api", str(script)])
    assert tend.wait() == 0
    out = [json.loads(line) for line in tend.lines]
    assert [(l["app"], l["instance"], l["stream"], l["message"]) for l in out] == [
        ("api", 0, "stdout", "to out")]
    err = [json.loads(line) for line in tend.stderr if line.startswith("{")]
    assert [(l["stream"], l["message"]) for l in err] == [("stderr", "to err")]
    assert out[0]["pid"] > 0 and out[0]["timestamp"].endswith("Z")


def test_prefix_names_app_and_instance(start_tend, tmp_path):
    script = tmp_path / "hello.js"
    script.write_text("console.log('hi'); process.exit(0);\n")
    tend = start_tend(["--prefix", "--no-autorestart", "-n", "web", str(script)])
    assert tend.wait() == 0
    assert tend.lines == ["web:0| hi"]


def test_an_overlong_line_is_split_with_a_marker_and_nothing_lost(start_tend, tmp_path):
    script = tmp_path / "long.js"
    script.write_text("console.log('x'.repeat(40000)); process.exit(0);\n")
    tend = start_tend(["--no-autorestart", str(script)])
    assert tend.wait() == 0
    marker = " [tend: line continues]"
    assert len(tend.lines) == 3
    assert all(line.endswith(marker) for line in tend.lines[:2])
    assert "".join(line.removesuffix(marker) for line in tend.lines) == "x" * 40000


def test_a_reader_that_never_reads_does_not_stop_tend(start_tend, tmp_path):
    """tend's stdout is a pipe nobody reads: lines are dropped, workers and signals go on."""
    script = tmp_path / "flood.js"
    script.write_text("setInterval(() => console.log('y'.repeat(1000)), 1);\n")
    read_end, write_end = os.pipe()
    try:
        proc = subprocess.Popen([TEND, str(script)], stdout=write_end, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL)
        try:
            # Far more than a pipe holds (64 KiB) plus tend's buffer (1 MiB) is written.
            wait_until(lambda: _rss_kib(proc.pid) and _cpu_ticks_of_children(proc.pid) > 50,
                       timeout=60, what="the worker to write for a while")
            assert _rss_kib(proc.pid) < 64 * 1024, "tend's memory grew without bound"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=20) in (0, 1)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    finally:
        os.close(read_end)
        os.close(write_end)


def _rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _cpu_ticks_of_children(pid):
    total = 0
    for child in children_of(pid):
        fields = open(f"/proc/{child}/stat").read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total
