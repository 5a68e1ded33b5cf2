"""What replaces workers besides SIGHUP (memory, cron), how many at once (surge), and a
fork-mode reload, where the app binds its own port."""
import os
import signal
import time

from conftest import HELPERS, REPO, children_of, free_port, proc_state, wait_until
from test_cluster import get, ready_count, start_app


def reloads_done(tend, app):
    return sum(f"reload of {app}: done" in line for line in tend.stderr)


def test_a_worker_over_max_memory_is_replaced_gracefully(start_tend):
    tend, port = start_app(start_tend, ["-i", "1", "--max-memory-restart", "120M",
                                        str(HELPERS / "memory_hog.js")])
    wait_until(lambda: ready_count(tend) == 1, what="a ready worker")
    [hog] = children_of(tend.pid)
    assert get(port, "/grow") == f"pid {hog}\n"
    wait_until(lambda: any(f"memory restart of memory_hog[0] (pid {hog} uses" in line
                           for line in tend.stderr), what="the memory restart")
    wait_until(lambda: any("memory restart of memory_hog[0]" in l and l.endswith(": done")
                           for l in tend.stderr), what="the replacement")
    # Replaced by a reload, not killed: the old worker was drained and stopped by SIGTERM.
    wait_until(lambda: proc_state(hog) is None, what="the old worker to exit")
    assert not any(f"pid {hog} exited" in line for line in tend.stderr), "not a crash"
    assert get(port) != f"pid {hog}\n"
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0


def test_cron_restart_reloads_on_schedule(start_tend):
    tend, port = start_app(start_tend, ["-i", "1", "--cron-restart", "*/2 * * * * *",
                                        str(REPO / "examples/hello/app.js")])
    wait_until(lambda: ready_count(tend) >= 1, what="a ready worker")
    # From its ready line, not from tend's children: a cron reload every 2 s may already have
    # started its replacement (this raced before).
    first = int(next(l for l in tend.stderr if l.endswith(" ready")).split(" pid ")[1].split()[0])
    wait_until(lambda: reloads_done(tend, "app") >= 1, timeout=10, what="a cron reload")
    assert any("cron '*/2 * * * * *'" in line for line in tend.stderr)
    wait_until(lambda: proc_state(first) is None, what="the first worker to be drained")
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0, tend.stderr


def test_reload_surge_starts_that_many_replacements_at_once(start_tend, tmp_path):
    gate = tmp_path / "gate"
    gate.touch()
    tend = start_tend(["-i", "4", "--wait-ready", "--reload-surge", "2",
                       str(HELPERS / "gated_ready.js")], env=dict(os.environ, GATE=str(gate)))
    wait_until(lambda: ready_count(tend) == 4, what="four ready workers")
    old = set(children_of(tend.pid))
    gate.unlink()
    tend.signal(signal.SIGHUP)
    wait_until(lambda: len(children_of(tend.pid)) == 6, what="two replacements")
    # Held unready, the two replacements are all the reload starts.
    for _ in range(20):
        assert len(children_of(tend.pid)) == 6
        time.sleep(0.05)
    gate.touch()
    wait_until(lambda: reloads_done(tend, "gated_ready") == 1, what="the reload")
    wait_until(lambda: len(children_of(tend.pid)) == 4, what="the old workers to exit")
    assert not old & set(children_of(tend.pid))
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0


def test_fork_mode_reload_frees_the_port_before_the_new_worker_binds_it(start_tend):
    port = free_port()
    tend = start_tend([str(REPO / "examples/hello/app.js")], env=dict(os.environ, PORT=str(port)))
    tend.expect_line(f"listening on port {port}")
    [first] = children_of(tend.pid)
    tend.signal(signal.SIGHUP)
    wait_until(lambda: reloads_done(tend, "app") == 1, what="the reload")
    # A fork-mode Node worker is ready once started; it serves once it has listened.
    wait_until(lambda: sum(l == f"listening on port {port}" for l in tend.lines) == 2,
               what="the new worker to listen")
    [second] = children_of(tend.pid)
    assert second != first
    assert get(port).endswith(f"pid {second}\n")
    assert not any("failed" in line for line in tend.stderr)
    tend.signal(signal.SIGTERM)
    assert tend.wait() == 0
