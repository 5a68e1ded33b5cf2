"""--listen: any program shares one port through systemd's socket activation."""
import re
import signal
import socket
import sys
import threading
import urllib.request

from conftest import HELPERS, children_of, wait_until

SERVER = [sys.executable, str(HELPERS / "activated_server.py")]


def start_activated(start_tend, args):
    tend = start_tend(["--listen", "127.0.0.1:0", "-n", "web", *args, "--", *SERVER])
    line = wait_until(lambda: next((l for l in tend.stderr if "(LISTEN_FDS)" in l), None),
                      what="tend's socket")
    port = int(re.search(r"listening on 127\.0\.0\.1:(\d+) ", line).group(1))
    return tend, port


def get(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
        return response.read().decode()


def test_workers_serve_on_the_socket_tend_hands_them(start_tend, mode):
    tend, port = start_activated(start_tend, ["-i", "3"])
    wait_until(lambda: sum(l.startswith("serving as") for l in tend.lines) == 3,
               what="three activated workers")
    workers = set(children_of(tend.pid))
    answered = set()
    for _ in range(300):
        answered.add(int(get(port).split()[-1]))
        if len(answered) >= 2:
            break
    assert len(answered) >= 2 and answered <= workers
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0


def test_reloads_never_refuse_a_connection(start_tend):
    tend, port = start_activated(start_tend, ["-i", "2"])
    wait_until(lambda: sum(l.startswith("serving as") for l in tend.lines) == 2,
               what="two activated workers")
    first = set(children_of(tend.pid))
    failures, served, done = [], [], threading.Event()

    def load():
        while not done.is_set():
            try:
                served.append(get(port))
            except OSError as error:
                failures.append(error)

    client = threading.Thread(target=load)
    client.start()
    try:
        for reload in range(1, 4):
            tend.signal(signal.SIGHUP)
            wait_until(lambda: sum("reload of web: done" in l for l in tend.stderr) == reload,
                       what=f"reload {reload}")
            served_before = len(served)
            wait_until(lambda: len(served) >= served_before + 5, what="requests to the new workers")
    finally:
        done.set()
        client.join()
    assert failures == []
    assert not first & set(children_of(tend.pid))
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0


def test_a_taken_port_is_a_clear_start_up_error(start_tend):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        tend = start_tend(["--listen", f"127.0.0.1:{port}", "--", *SERVER])
        assert tend.wait() == 1
    assert any(f"--listen: cannot listen on 127.0.0.1:{port}: Address already in use" in l
               for l in tend.stderr)
    assert not any(l.startswith("serving") for l in tend.lines)
