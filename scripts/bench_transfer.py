"""The Transfer item of scripts/bench (issue 17): the agent's pull against
containerd's Transfer service on the same containerd. It decided that 2.x
pulls go through Transfer (it was 1.5x faster than the agent's own
client-side pull on 2.1); since then it measures what the agent adds around
Transfer (its streams, lease, attempts and reading the image back), held to
the 1.1x the start rows allow over `ctr`.

One image (the pull item's shape: busybox plus N layers of random data) is
pushed once to the test registry and pulled again and again on the same
containerd, each side in turn (the order rotates every round):

- agent: a task of that image through ecs-local; its pullStartedAt ->
  pullStoppedAt (the agent's manifest, content and unpack steps over
  containerd's Content, Leases, Snapshots and Diff services);
- transfer: `ctr images pull --local=false` of that containerd's own
  version: through the Transfer service (1.7's ctr pulls client-side unless
  told, 2.x's goes through Transfer unless --local), which fetches, writes
  and unpacks inside containerd. 2.x only: 1.7's Transfer service reaches
  registries over HTTPS only, and the test registry is plain HTTP;
- local: `ctr images pull --local`, containerd's Go client-side pull, for
  reference.

Between two pulls the image is removed (`ctr images rm --sync`: containerd's
garbage collection runs before it returns) after the agent's task was cleaned
up (its container holds the snapshots), and the next pull starts only when
none of the image's blobs is left in the content store on disk and none of
its layer snapshots in any namespace: every pull fetches and unpacks it all.

CPU: the client (the agent over its whole run of the task, minus a start
with the image cached; ctr's rusage) and containerd, in the same windows.
Imported by bench-driver.py.
"""

import hashlib
import os
import re
import resource
import statistics
import subprocess
import time

XFER_NS = "bench-transfer"
FAMILY = "bench-transfer"
CLEANUP_WAIT = "1s"


class Unavailable(Exception):
    """The containerd under test has no Transfer service."""


def server_version(run):
    """(major, minor, full string) of the containerd the bench runs."""
    out = subprocess.run(
        ["ctr", "-a", run.sock, "version"], capture_output=True, text=True, timeout=30
    ).stdout
    m = re.search(r"Server:\s*\n\s*Version:\s*v?((\d+)\.(\d+)\S*)", out)
    if not m:
        raise Unavailable(f"cannot read containerd's version from `ctr version`: {out!r}")
    return int(m.group(2)), int(m.group(3)), m.group(1)


def chain_ids(diff_ids):
    """The layer snapshots' names an unpack commits (OCI image spec's ChainID)."""
    out = []
    for d in diff_ids:
        if not out:
            out.append(d)
        else:
            out.append("sha256:" + hashlib.sha256(f"{out[-1]} {d}".encode()).hexdigest())
    return out


def leftovers(run, info):
    """What of the image containerd still holds: blob files, snapshots by name."""
    blobs = os.path.join(run.dir, "containerd", "root", "io.containerd.content.v1.content", "blobs")
    left = [d for d in info["blobs"] if os.path.exists(os.path.join(blobs, *d.split(":", 1)))]
    chains = set(chain_ids(info["diff_ids"]))
    for ns in run.ctr("default", "namespaces", "ls", "-q").stdout.split():
        out = run.ctr(ns, "snapshots", "--snapshotter", "overlayfs", "ls", check=False).stdout
        left += [f"{ns}/{line.split()[0]}" for line in out.splitlines()[1:] if line.split() and line.split()[0] in chains]
    return left


def wait_cold(run, h, info):
    def cold():
        return not leftovers(run, info) or None

    try:
        h.wait_for("the image's blobs and snapshots to be gone", 30, 0.2, cold)
    except Exception as e:  # noqa: BLE001 - reported with what is left
        raise RuntimeError(f"not cold after removal ({e}): {leftovers(run, info)}") from e


def ctr_pull(run, h, ref, local):
    """Wall time, ctr's CPU (its rusage) and containerd's CPU of one pull."""
    # --local=false: 1.7's ctr pulls client-side unless told, 2.x's uses
    # the Transfer service unless told.
    argv = ["ctr", "-a", run.sock, "-n", XFER_NS, "images", "pull", "--plain-http", f"--local={str(local).lower()}", ref]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    c0 = h.cpu(run.containerd_pid)
    t0 = time.perf_counter()
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=600)
    wall = time.perf_counter() - t0
    c1 = h.cpu(run.containerd_pid)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()}")
    client = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    run.ctr(XFER_NS, "images", "rm", "--sync", ref, timeout=300)
    return {"s": wall, "client_cpu_s": client, "containerd_cpu_s": c1 - c0}


def agent_task(run, h):
    """One task of the image to RUNNING, stopped and cleaned up: its pull
    time and the agent's and containerd's CPU until RUNNING."""
    a0, c0 = h.cpu(run.agent_pid), h.cpu(run.containerd_pid)
    arn = run.run_tasks(FAMILY, 1)[0]
    t = run.wait_status([arn], "RUNNING", 600, 0.05)[arn]
    a1, c1 = h.cpu(run.agent_pid), h.cpu(run.containerd_pid)
    run.client.stop_task(cluster=h.cluster, task=arn, reason="scripts/bench")
    run.wait_status([arn], "STOPPED", 120, 0.2)
    run.wait_cleaned([arn], 120)
    if not (t.get("pullStartedAt") and t.get("pullStoppedAt")):
        raise RuntimeError(f"task {arn} has no pullStartedAt/pullStoppedAt")
    return {
        "s": h.ts(t["pullStoppedAt"]) - h.ts(t["pullStartedAt"]),
        "client_cpu_s": a1 - a0,
        "containerd_cpu_s": c1 - c0,
    }


class Helpers:
    """What the driver lends this item: its clock parser, poller, CPU reader,
    log, cluster and the agent's namespace."""

    def __init__(self, ts, wait_for, cpu, log, cluster, agent_ns):
        self.ts, self.wait_for, self.cpu, self.log = ts, wait_for, cpu, log
        self.cluster, self.agent_ns = cluster, agent_ns


def require_transfer(run):
    """The containerd's version; Unavailable unless its Transfer service can
    pull from the test registry."""
    major, minor, version = server_version(run)
    if (major, minor) < (1, 7):
        raise Unavailable(
            f"containerd {version} has no Transfer service (1.7+): "
            "run scripts/bench --containerd 2.1 --only pull-transfer"
        )
    if major < 2:
        # Tried on 1.7.24: `ctr images pull --local=false` with --plain-http
        # or --hosts-dir, and the transfer plugin's config_path with a
        # hosts.toml for http (which `ctr images pull --local --hosts-dir`
        # honours), all end in "http: server gave HTTP response to HTTPS client".
        raise Unavailable(
            f"containerd {version}'s Transfer service reaches registries over HTTPS only "
            "(no plain-HTTP or hosts-dir setting reaches it in 1.7) and the test registry is plain HTTP: "
            "run scripts/bench --containerd 2.1 --only pull-transfer"
        )
    return version


def phase(run, h, rounds, ref, info):
    """Measures every side `rounds` times; returns the results."""
    version = require_transfer(run)
    run.register_taskdef(FAMILY, ref)
    # The agent removes a stopped task's container after this wait (default
    # 3 h): until then its snapshot keeps the image's layers unpacked.
    run.restart_agent_with({"ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION": CLEANUP_WAIT})

    def agent():
        r = agent_task(run, h)
        run.ctr(h.agent_ns, "images", "rm", "--sync", ref, timeout=300)
        return r

    sides = {
        "agent": agent,
        "transfer": lambda: ctr_pull(run, h, ref, local=False),
        "local": lambda: ctr_pull(run, h, ref, local=True),
    }
    order = list(sides)
    samples = {k: [] for k in sides}
    wait_cold(run, h, info)
    for rnd in range(rounds):
        # Rotated, so that the registry's page cache and the neighbours'
        # load favour no side.
        for side in order[rnd % 3 :] + order[: rnd % 3]:
            samples[side].append(sides[side]())
            wait_cold(run, h, info)
        h.log(
            f"transfer round {rnd}: "
            + ", ".join(f"{k} {v[-1]['s']:.2f} s" for k, v in samples.items())
        )
    # The agent's CPU for a task of a cached image (the start without the
    # pull), subtracted from its samples above.
    cached = []
    run.ctr(h.agent_ns, "images", "pull", "--plain-http", "--local=true", ref, timeout=600)
    for _ in range(3):
        cached.append(agent_task(run, h))
    run.ctr(h.agent_ns, "images", "rm", "--sync", ref, timeout=300)
    run.restart_agent_with({})

    # What a ctr process costs before it pulls anything (start, connect, one
    # call): part of ctr's wall times, none of the agent's.
    startup = []
    for _ in range(5):
        t0 = time.perf_counter()
        run.ctr(XFER_NS, "version")
        startup.append(time.perf_counter() - t0)

    def med(side, key):
        return statistics.median(s[key] for s in samples[side])

    res = {
        "containerd": version,
        "rounds": rounds,
        "layers": len(info["diff_ids"]),
        "compressed_mib": info["compressed_bytes"] / 1048576,
        "samples": samples,
        "cached_start": cached,
        "ctr_startup_s": statistics.median(startup),
        "cached_agent_cpu_s": statistics.median(c["client_cpu_s"] for c in cached),
        "cached_containerd_cpu_s": statistics.median(c["containerd_cpu_s"] for c in cached),
    }
    for side in sides:
        res[side] = {k: med(side, k) for k in ("s", "client_cpu_s", "containerd_cpu_s")}
    res["agent"]["client_cpu_s"] -= res["cached_agent_cpu_s"]
    res["agent"]["containerd_cpu_s"] -= res["cached_containerd_cpu_s"]
    return res


def row(res, target, verdict):
    """The table row: the agent's pull against the Transfer service's."""
    a, t, lo = res["agent"], res["transfer"], res["local"]

    def cpu(s, client):
        return f"CPU {client} {s['client_cpu_s']:.2f} s + containerd {s['containerd_cpu_s']:.2f} s"

    return (
        "pull-transfer",
        f"cold pull on containerd {res['containerd']}, {res['layers']} layers, {res['compressed_mib']:.0f} MiB, "
        f"the same image removed and pruned between pulls, median of {res['rounds']}: "
        "the agent's pull vs the Transfer service (ctr images pull; ctr's times include "
        f"its own start, {1000 * res['ctr_startup_s']:.0f} ms for `ctr version`)",
        f"{a['s']:.2f} s; {cpu(a, 'agent')}",
        f"{t['s']:.2f} s; {cpu(t, 'ctr')} (ctr --local {lo['s']:.2f} s; {cpu(lo, 'ctr')})",
        f"{a['s'] / t['s']:.2f}x time",
        target,
        verdict(a["s"] <= 1.1 * t["s"]),
    )
