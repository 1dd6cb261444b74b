#!/usr/bin/env python3
"""Memory of container loggers, measured as containerd's shim runs them.

Usage: scripts/logger-memory.py LOGGER ARG [ARG...]   ("{k}" in an ARG is
replaced by the logger's number). Starts three loggers as the runc shim does
(fd 3: the container's stdout pipe, fd 4: stderr, fd 5: the ready pipe),
feeds each 1,000 lines on each stream, and prints RSS and PSS from
/proc/PID/smaps_rollup. Example, for the logger the agent installs:

  scripts/logger-memory.py $ECS_DATADIR/bin/ecs-agent-logger --json-file '0:1:/tmp/l{k}-json.log'
"""
import os
import subprocess
import sys
import time

LOGGERS = 3


def start(argv):
    o_r, o_w = os.pipe()
    e_r, e_w = os.pipe()
    r_r, r_w = os.pipe()
    # Out of the way of 3, 4 and 5 before the child's dup2s.
    high = [os.dup2(f, 100 + j) for j, f in enumerate((o_r, e_r, r_w))]
    for f in (o_r, e_r, r_w):
        os.close(f)

    def child():
        for j, f in enumerate(high):
            os.dup2(f, 3 + j)
        for f in high:
            os.close(f)

    p = subprocess.Popen(argv, preexec_fn=child, close_fds=False,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    for f in high:
        os.close(f)
    os.read(r_r, 1)  # the logger closes it once its file is open
    os.close(r_r)
    for i in range(1000):
        os.write(o_w, b"hello stdout line %d\n" % i)
        os.write(e_w, b"hello stderr line %d\n" % i)
    return p, o_w, e_w


def rollup(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return {l.split(":")[0]: int(l.split()[1]) for l in f.read().splitlines()[1:]}


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    procs = [start([a.replace("{k}", str(k)) for a in sys.argv[1:]]) for k in range(LOGGERS)]
    time.sleep(0.5)
    for p, _, _ in procs:
        r = rollup(p.pid)
        print(f"logger {p.pid}: RSS {r['Rss']} KiB, PSS {r['Pss']} KiB, anonymous {r['Anonymous']} KiB")
    for p, o, e in procs:
        os.close(o)
        os.close(e)
        p.wait()


if __name__ == "__main__":
    main()
