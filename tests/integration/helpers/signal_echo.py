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


def say(text):
    # One write(2) a line: parent and child share the pipe, and lines must not interleave.
    os.write(1, f"{text}\n".encode())


def echo(signo, _frame):
    say(f"{role}{signal.Signals(signo).name}")
    if signo in STOPS:
        os._exit(42)


for signo in ECHOED:
    signal.signal(signo, echo)
say(f"{role}ready")
while True:
    signal.pause()
