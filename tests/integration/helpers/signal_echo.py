"""A command that prints the name of every signal it receives, one line each.

SIGTERM, SIGINT and SIGQUIT also end it, with exit code 42. With --fork it starts a copy of
itself in its own process group, and each line names its role ("parent SIGUSR1").
"""
import os
import signal
import sys

STOPS = {signal.SIGTERM, signal.SIGINT, signal.SIGQUIT}
ECHOED = [signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
          signal.SIGTERM, signal.SIGWINCH, signal.SIGCONT]

role = ""
if "--fork" in sys.argv:
    role = "child " if os.fork() == 0 else "parent "


def echo(signo, _frame):
    print(f"{role}{signal.Signals(signo).name}", flush=True)
    if signo in STOPS:
        os._exit(42)


for signo in ECHOED:
    signal.signal(signo, echo)
print(f"{role}ready", flush=True)
while True:
    signal.pause()
