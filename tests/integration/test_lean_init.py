"""Init mode (`tend -- CMD`) pays only for what it uses: it runs without the static
initializers of gRPC, protobuf and prometheus-cpp, from code placed together at the start of
the binary, and once its command has run a second it gives back the pages of its binary that
start-up mapped (runtime/startup). What a
user relies on: an idle init costs little memory, and it still does every job of an init
afterwards."""
import os
import re
import signal
import subprocess
import time

from conftest import TEND, children_of, descendants_of, proc_state, wait_until

RELEASED_AFTER = 1.0  # startup::kReleaseStartupPagesAfter


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def test_an_idle_init_maps_little_of_its_binary(start_tend, mode):
    tend = start_tend(["--", "sleep", "1000"], pid1=mode)
    wait_until(lambda: children_of(tend.pid), what="the command")
    time.sleep(RELEASED_AFTER + 0.5)
    # Before the release it mapped 3 to 4 MiB of its binary (the kernel maps 64 KiB or a
    # whole folio around each page touched); tini-static's whole binary is 0.8 MiB.
    assert status_kib(tend.pid, "RssFile") < 1536
    assert status_kib(tend.pid, "RssAnon") < 512
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 128 + signal.SIGTERM


def test_after_giving_back_its_pages_the_init_still_forwards_reaps_and_exits(start_tend, mode):
    tend = start_tend(["--", "sh", "-c",
                       "trap 'echo got USR1' USR1; echo ready;"
                       " while :; do (sleep 0.1 &); sleep 0.2; done"], pid1=mode)
    tend.expect_line("ready")
    time.sleep(RELEASED_AFTER + 0.5)
    tend.signal(signal.SIGUSR1)
    tend.expect_line("got USR1")
    # The orphaned sleeps keep coming; none is left a zombie.
    time.sleep(0.5)
    zombies = lambda: [p for p in descendants_of(tend.pid) if proc_state(p) == "Z"]
    wait_until(lambda: not zombies(), what="no zombie under tend")
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 128 + signal.SIGTERM


def test_the_libraries_initializers_are_set_aside_in_the_binary():
    """The link script matched: gRPC's and protobuf's initializers sit in their own section,
    and glibc runs few before main. (If a library's archive were renamed, its initializers
    would silently go back to running at every start.)"""
    sections = subprocess.run(["readelf", "-SW", TEND], capture_output=True, text=True,
                              check=True).stdout
    sizes = {name: int(size, 16) for name, size in
             re.findall(r"\s(\.tend_deferred_init|\.init_array)\s+INIT_ARRAY\s+\S+\s+\S+\s+(\S+)",
                        sections)}
    assert sizes[".tend_deferred_init"] // 8 > 250, sizes
    assert sizes[".init_array"] // 8 < 100, sizes


def test_the_code_init_mode_runs_is_placed_together():
    """init_mode_layout.ld matched: Debian's library members init mode runs sit in one
    section of about a megabyte. (Regenerate it with runtime/startup/generate_layout.py
    when this fails after a library or init-mode change.)"""
    sections = subprocess.run(["readelf", "-SW", TEND], capture_output=True, text=True,
                              check=True).stdout
    size = re.search(r"\s\.text\.tend_init_mode\s+PROGBITS\s+\S+\s+\S+\s+(\S+)", sections)
    assert size, "no .text.tend_init_mode section"
    assert 512 * 1024 < int(size.group(1), 16) < 2 * 1024 * 1024, size.group(1)
