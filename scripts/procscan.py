"""The host's processes by command line, for the benchmark scripts: one
/proc scan serving each "which processes are ..." question (shims of a
namespace, a task's logger, what a task still holds)."""

import os


def processes(match):
    """(pid, argv) of each process whose argv (its /proc cmdline split at
    NUL, as bytes; b"\\0".join(argv) gives the raw line back) `match`
    accepts. Processes that go while they are read are skipped."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if match(argv):
            found.append((int(d), argv))
    return found
