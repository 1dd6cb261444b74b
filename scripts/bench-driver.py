#!/usr/bin/env python3
"""The measuring half of scripts/bench (read its header for usage).

scripts/bench installs, builds and brings up the shared test environment (the
registry on 127.0.0.1:5000 holding busybox:latest, the aws venv), then runs
this file with the venv's python. From there everything is private to one run
directory: a containerd of its own (so its CPU time is ours alone and cold
pulls are really cold), ecs-local on a free port, and ecs-agent. Each item of
issue 7 is measured against a `ctr` baseline on that same containerd, a table
is printed, and (unless --out is empty) BENCHMARKS.md is written.

Every process this file starts is recorded under RUN/pids, every image it
pushes under RUN/pushed, so that `--cleanup RUN` (called by scripts/bench's
exit trap) can remove whatever a crash left behind.
"""

import argparse
import datetime
import gzip
import hashlib
import io
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import time
import urllib.request

import bench_logs
import bench_transfer
import procscan

REGION = "us-east-1"
ACCESS_KEY_ID = "AKIDECSLOCALBENCH"
SECRET_ACCESS_KEY = "ecs-local-bench-secret"
CLUSTER = "bench"
# The agent's namespace; the ctr baseline runs next to it in CTR_NS.
AGENT_NS = "bench-agent"
CTR_NS = "bench-ctr"
# Exits at once on SIGTERM (sh as PID 1 would otherwise ignore it), and does
# not wake up while it runs, so 100 of them cost nothing but memory.
CMD = "trap 'exit 0' TERM; sleep 86400 & wait"
MEMORY_MIB = 32
# The agent's task network: a bridge, subnet and dynamic port range of the
# bench's own, clear of the demo's ecs-br0, the tests' bridges and port
# ranges, and the kernel's ephemeral ports.
BENCH_BRIDGE = "ecsbench0"
BENCH_SUBNET = "10.216.0.0/22"
BENCH_PORTS = "19000-19999"
# Task start is measured in each network mode; the family registered for each.
START_MODES = {"host": "bench", "bridge": "bench-bridge", "awsvpc": "bench-awsvpc"}
# Between one side's start and the other's (phase_start): twice the quiet
# spell after which the agent makes a spare namespace (src/network/spares.rs).
SETTLE_S = 0.2
CLK_TCK = os.sysconf("SC_CLK_TCK")

MODES = {
    "full": {
        # 60: on a shared 2-core machine one start varies by +-20 ms, and 30
        # left the median's ratio to ctr uncertain by about 0.04 (BENCHMARKS.md).
        "start_n": 60,
        "quiet_n": 3,
        "burst_calls": 10,
        "burst_count": 10,
        "settle_s": 5.0,
        "idle_window_s": 60.0,
        "cpu_window_s": 60.0,
        "pull_layers": 4,
        "pull_layer_mib": 24,
        "pull_rounds": 5,
        "transfer_rounds": 5,
        "profile": True,
        "stopped_n": 50,
        "large_n": 100,
        "log_lines": 200000,
        "local_cycles": 1000,
    },
    # For the test suite: every row, few tasks, tiny image, short windows.
    "smoke": {
        "start_n": 3,
        # A quiet spell is at least 30 s (src/agent/settle.rs): not here.
        "quiet_n": 0,
        "burst_calls": 2,
        "burst_count": 3,
        "settle_s": 1.0,
        "idle_window_s": 2.0,
        "cpu_window_s": 3.0,
        "pull_layers": 2,
        "pull_layer_mib": 1,
        "pull_rounds": 1,
        "transfer_rounds": 1,
        "profile": False,
        "stopped_n": 3,
        "large_n": 2,
        "log_lines": 2000,
        "local_cycles": 60,
    },
}

TARGETS = {
    "start-host": "<= 1.15x ctr",
    "start-bridge": "<= 1.1x ctr",
    "start-awsvpc": "<= 1.1x ctr",
    "start-quiet": "reported",
    "burst": "<= 1.0x ctr",
    "burst-awsvpc": "reported",
    "rss-idle": "<= 12 MiB",
    "rss-100": "<= 30 MiB",
    "stack-pss": "<= 1.1x ctr",
    "binary": "<= 20 MiB",
    "cpu-100": "<= 1% of a core",
    "pull": ">= 1.0x ctr speed",
    "pull-transfer": "agent <= 1.1x Transfer",
    "restart": "<= 2 s, 0 restarted",
    "stopped": "0 processes 1 s after the exit",
    "health-100": "agent <= 1% of a core",
    "rss-large": "flat: <= +8 MiB",
    "rss-local": "flat: <= +8 MiB",
    "logs": "every line delivered",
}
# "Flat" for the rows above: what tests/integration/churn.rs allows ecs-local
# (twice the noise measured there).
FLAT_KIB = 8 * 1024
# Row keys, in table order (what --only accepts).
ITEMS = tuple(TARGETS)
# What the short tasks of the stopped-task item run: exit at once.
SHORT_CMD = "exit 0"
# Amazon ECS's quotas, which the largest task definition fills: 10 containers,
# 64 KiB of compact JSON (as tests/integration/churn.rs's largest_definition).
MAX_CONTAINERS = 10
MAX_DEFINITION_BYTES = 64 * 1024
# The large-task item's agent cleans up a stopped task after this long
# (ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION's minimum), so that what it keeps
# afterwards is what it failed to forget.
LARGE_CLEANUP_WAIT = "1s"


def largest_definition(family, image, command):
    """10 containers whose environments fill the definition to exactly
    64 KiB; environment[0] of the first holds a 6-digit stamp."""
    containers = [
        {
            "name": f"c{i}", "image": image, "memory": 16, "essential": i == 0,
            "command": ["sh", "-c", command],
            "environment": [{"name": "STAMP", "value": "000000"}],
            "dockerLabels": {"churn.index": str(i)},
        }
        for i in range(MAX_CONTAINERS)
    ]

    def size():
        return len(json.dumps({"family": family, "containerDefinitions": containers}, separators=(",", ":")))

    value = "v" * 200
    k = 0
    total = size()
    while True:
        entry = {"name": f"VAR_{k}", "value": value}
        grows = len(json.dumps(entry, separators=(",", ":"))) + 1
        if total + grows > MAX_DEFINITION_BYTES:
            break
        containers[k % MAX_CONTAINERS]["environment"].append(entry)
        total += grows
        k += 1
    last = containers[(k + MAX_CONTAINERS - 1) % MAX_CONTAINERS]["environment"]
    last[-1]["value"] = value + "p" * (MAX_DEFINITION_BYTES - total)
    assert size() == MAX_DEFINITION_BYTES, size()
    return {"family": family, "containerDefinitions": containers}


def stamped(definition, n):
    d = json.loads(json.dumps(definition))
    d["containerDefinitions"][0]["environment"][0]["value"] = f"{n:06d}"
    return d

ANSI = re.compile(r"\x1b\[[0-9;]*m")
LOG_TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z")


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# ---------------------------------------------------------------- utilities


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_for(what, timeout, poll, fn):
    """Calls fn every `poll` seconds until it returns a true value."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(poll)


def proc_status(pid):
    """VmRSS and VmHWM of a process, in KiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                out[k] = int(v.split()[0])
            elif k == "Threads":
                out[k] = int(v.split()[0])
    return out


def pss_kib(pid):
    """Pss of a process (/proc/PID/smaps_rollup), in KiB; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def binary_rss_kib(pid):
    """Rss of the mappings of the process's own executable, in KiB."""
    exe = os.readlink(f"/proc/{pid}/exe")
    total, inside = 0, False
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if head and "-" in head[0] and len(head) >= 5 and ":" in head[3]:
                inside = len(head) >= 6 and head[5] == exe
            elif inside and line.startswith("Rss:"):
                total += int(line.split()[1])
    return total


def proc_cpu_s(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    # fields[0] is the state (field 3 of proc(5)): utime is field 14, stime 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_cpu_children_s(pid):
    """(own utime + stime, reaped children's cutime + cstime) in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    own = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return own, (int(fields[13]) + int(fields[14])) / CLK_TCK


def shim_pids(ns):
    """The runc shims serving namespace `ns` (from their command lines)."""

    def serves(argv):
        if b"containerd-shim" not in argv[0] or b"-namespace" not in argv:
            return False
        i = argv.index(b"-namespace")
        return i + 1 < len(argv) and argv[i + 1] == ns.encode()

    return [pid for pid, _ in procscan.processes(serves)]


def runner_pids():
    """The agent's health check runners in containers (src/runtime/containerd/
    runner.rs): its helper exec'd as `/dev/.ecs-agent-health-runner
    --health-runner ...`. The checks they fork are their children."""
    return [pid for pid, _ in procscan.processes(lambda argv: b"--health-runner" in argv)]


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rpartition(")")[2].split()[0]
        return state not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def log_time(line):
    """Epoch seconds of a tracing log line (ANSI already stripped), or None."""
    m = LOG_TS.match(line)
    if not m:
        return None
    base = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
    frac = float(m.group(2) or 0)
    return base.replace(tzinfo=datetime.timezone.utc).timestamp() + frac


def read_log(path):
    try:
        with open(path, "rb") as f:
            return ANSI.sub("", f.read().decode("utf-8", "replace")).splitlines()
    except FileNotFoundError:
        return []


def mib(kib):
    return kib / 1024.0


def thin(samples, most):
    """At most about `most` of `samples`, evenly spaced, first and last kept."""
    if len(samples) <= most:
        return samples
    step = -(-(len(samples) - 1) // (most - 1))
    picked = samples[::step]
    return picked if picked[-1] is samples[-1] else picked + [samples[-1]]


def large_sample_text(x):
    """One memory sample of the large-task item, for the log and the notes."""
    parts = [f"VmRSS {mib(x['rss_kib']):.1f} MiB"]
    if x.get("anon_kib") is not None:
        parts.append(f"anonymous {mib(x['anon_kib']):.1f}")
    if x.get("heap_in_use_kib") is not None:
        parts.append(f"heap in use {mib(x['heap_in_use_kib']):.1f}, free kept {mib(x['heap_free_kib']):.1f}")
    if x.get("threads") is not None:
        parts.append(f"{x['threads']} threads")
    return f"after {x['tasks']} tasks: " + ", ".join(parts)


def ts(v):
    """An ECS API timestamp (botocore datetime) as epoch seconds."""
    return v.timestamp() if v is not None else None


# ------------------------------------------------------------------ the run


class Run:
    def __init__(self, args):
        self.args = args
        self.mode = MODES[args.mode]
        self.dir = os.path.abspath(args.run_dir)
        self.sock = os.path.join(self.dir, "containerd", "containerd.sock")
        self.logs = os.path.join(self.dir, "logs")
        self.procs = {}
        self.results = {}
        self.notes = []
        self.agent_log_n = 0
        self.run_id = os.path.basename(self.dir)
        self.client = None
        # Settings of one item's agent (phase_large), under --agent-env's.
        self.extra_agent_env = {}

    # ---- bookkeeping for --cleanup

    def record(self, kind, key, content):
        d = os.path.join(self.dir, kind)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, key), "w") as f:
            f.write(content)

    def spawn(self, name, argv, env=None, logname=None):
        path = os.path.join(self.logs, logname or f"{name}.log")
        with open(path, "ab") as out:
            p = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        self.procs[name] = p
        os.makedirs(os.path.join(self.dir, "pids"), exist_ok=True)
        with open(os.path.join(self.dir, "pids", f"{name}.pid"), "w") as f:
            f.write(str(p.pid))
        return p

    def stop_proc(self, name, sig=signal.SIGTERM, grace=10.0):
        p = self.procs.pop(name, None)
        if p is None:
            return
        if p.poll() is None:
            try:
                p.send_signal(sig)
                p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
            except ProcessLookupError:
                pass
        try:
            os.remove(os.path.join(self.dir, "pids", f"{name}.pid"))
        except FileNotFoundError:
            pass

    # ---- containerd

    def ctr(self, ns, *args, check=True, timeout=120):
        argv = ["ctr", "-a", self.sock, "-n", ns, *args]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise BenchError(f"{shlex.join(argv)}: exit {r.returncode}: {r.stderr.strip()}")
        return r

    def start_containerd(self):
        d = os.path.join(self.dir, "containerd")
        for sub in ("root", "state", "opt"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        # Same shape as scripts/testenv's containerd, with its own root and
        # socket: config version 3 for 2.x (scripts/bench --containerd 2.1),
        # which would otherwise migrate version 2 at every start.
        out = subprocess.run(["containerd", "--version"], capture_output=True, text=True).stdout
        m = re.search(r" v?(\d+)\.(\d+)", out)
        version = (int(m.group(1)), int(m.group(2))) if m else (1, 6)
        cfg_version = 3 if version >= (2, 0) else 2
        cfg = f"""version = {cfg_version}
root = "{d}/root"
state = "{d}/state"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.cri.v1.images",
  "io.containerd.cri.v1.runtime",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]
[grpc]
  address = "{self.sock}"
[ttrpc]
  address = "{self.sock}.ttrpc"
[debug]
  address = ""
  level = "warn"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"
"""
        with open(os.path.join(d, "config.toml"), "w") as f:
            f.write(cfg)
        self.spawn("containerd", ["containerd", "--config", os.path.join(d, "config.toml")])

        def up():
            if self.procs["containerd"].poll() is not None:
                raise BenchError("containerd exited; see " + os.path.join(self.logs, "containerd.log"))
            return subprocess.run(
                ["ctr", "-a", self.sock, "version"], capture_output=True
            ).returncode == 0

        wait_for("containerd", 30, 0.1, up)

    # ---- ecs-local, ECS API client, agent

    def start_local(self):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.spawn(
            "ecs-local",
            [
                os.path.join(self.args.bin_dir, "ecs-local"),
                "--listen",
                f"127.0.0.1:{self.port}",
                "--data-dir",
                os.path.join(self.dir, "local"),
            ],
        )
        wait_for("ecs-local listening", 30, 0.05, lambda: port_open(self.port))
        # awscli 1.x vendors botocore and registers it under that name.
        import awscli  # noqa: F401
        import botocore.session
        from botocore.config import Config

        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(k, None)
        os.environ["AWS_CONFIG_FILE"] = "/dev/null"
        os.environ["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
        os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
        self.client = botocore.session.get_session().create_client(
            "ecs",
            region_name=REGION,
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
            config=Config(
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=60,
                max_pool_connections=4,
            ),
        )
        self.client.create_cluster(clusterName=CLUSTER)

    def agent_env(self):
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "ECS_BACKEND_HOST": self.endpoint,
            "ECS_CLUSTER": CLUSTER,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "ECS_DATADIR": os.path.join(self.dir, "agent"),
            "CONTAINERD_ADDRESS": self.sock,
            "CONTAINERD_NAMESPACE": AGENT_NS,
            # Hermetic: no /etc/ecs/ecs.config of the machine.
            "ECS_CONFIG_FILE": "/dev/null",
            # Ports of our own: another agent (tests, a demo) may hold 51678/51679.
            "ECS_AGENT_INTROSPECTION_PORT": str(self.agent_ports[0]),
            "ECS_AGENT_CREDENTIALS_PORT": str(self.agent_ports[1]),
            # The bench's tasks use no credentials; the host-wide
            # 169.254.170.2 rules (ECS-AGENT-*) stay with the host's own agent.
            "ECS_HOST_NETWORK_SETUP": "false",
            "ECS_ENABLE_TASK_ENI": "true",
            "ECS_TASK_BRIDGE_NAME": BENCH_BRIDGE,
            "ECS_TASK_BRIDGE_SUBNET": BENCH_SUBNET,
            "ECS_DYNAMIC_HOST_PORT_RANGE": BENCH_PORTS,
        }
        if os.environ.get("ECS_TEST_MOTO"):
            # The log item's awslogs containers ship to moto (the SDK's own setting).
            env["AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"] = os.environ["ECS_TEST_MOTO"]
            env["ECS_AVAILABLE_LOGGING_DRIVERS"] = '["json-file","none","awslogs"]'
        if "HOME" in os.environ:
            env["HOME"] = os.environ["HOME"]
        env.update(self.extra_agent_env)
        for kv in self.args.agent_env:
            k, _, v = kv.partition("=")
            env[k] = v
        return env

    def start_agent(self):
        if not hasattr(self, "agent_ports"):
            first = free_port()
            second = free_port()
            while second == first:
                second = free_port()
            self.agent_ports = (first, second)
        self.agent_log_n += 1
        self.agent_log = os.path.join(self.logs, f"ecs-agent-{self.agent_log_n}.log")
        os.makedirs(os.path.join(self.dir, "agent"), exist_ok=True)
        # As on a host, where the agent was installed long before it runs: a
        # binary copied just now has dirty page cache, which the agent's
        # MADV_PAGEOUT cannot drop (its idle RSS read 18 MiB instead of 14).
        os.sync()
        p = self.spawn(
            "ecs-agent",
            [os.path.join(self.args.bin_dir, "ecs-agent")],
            env=self.agent_env(),
            logname=os.path.basename(self.agent_log),
        )
        self.agent_pid = p.pid
        return p

    def instance_connected(self):
        arns = self.client.list_container_instances(cluster=CLUSTER)["containerInstanceArns"]
        if not arns:
            return None
        d = self.client.describe_container_instances(cluster=CLUSTER, containerInstances=arns[:1])
        ci = d["containerInstances"][0]
        return ci if ci.get("agentConnected") else None

    def check_agent_alive(self):
        p = self.procs.get("ecs-agent")
        if p is None or p.poll() is not None:
            tail = "\n".join(read_log(self.agent_log)[-30:])
            raise BenchError(f"ecs-agent is not running; log tail:\n{tail}")

    def wait_registered(self, timeout=60):
        def ok():
            self.check_agent_alive()
            return self.instance_connected()

        return wait_for("agent registration and ACS connection", timeout, 0.1, ok)

    # ---- tasks

    def register_taskdef(self, family, image, network_mode="host", command=CMD):
        container = {
            "name": "c",
            "image": image,
            "memory": MEMORY_MIB,
            "essential": True,
            "command": ["sh", "-c", command],
        }
        if network_mode == "bridge":
            # As bridge tasks are used: one dynamic host port (DNAT rules).
            container["portMappings"] = [{"containerPort": 80, "hostPort": 0, "protocol": "tcp"}]
        self.client.register_task_definition(
            family=family, networkMode=network_mode, containerDefinitions=[container]
        )
        return family

    def run_tasks(self, family, count):
        r = self.client.run_task(cluster=CLUSTER, taskDefinition=family, count=count)
        if r.get("failures"):
            raise BenchError(f"run-task failures: {r['failures']}")
        return [t["taskArn"] for t in r["tasks"]]

    def describe(self, arns):
        out = {}
        for i in range(0, len(arns), 100):
            r = self.client.describe_tasks(cluster=CLUSTER, tasks=arns[i : i + 100])
            for t in r["tasks"]:
                out[t["taskArn"]] = t
        return out

    def wait_status(self, arns, status, timeout, poll):
        """Waits until every task has lastStatus `status`; returns their descriptions."""
        arns = list(arns)

        def done():
            self.check_agent_alive()
            d = self.describe(arns)
            bad = [t for t in d.values() if t["lastStatus"] == "STOPPED" and status != "STOPPED"]
            if bad:
                t = bad[0]
                raise BenchError(
                    f"task {t['taskArn']} stopped instead of reaching {status}: "
                    f"{t.get('stoppedReason')} {t.get('containers')}"
                )
            if len(d) == len(arns) and all(t["lastStatus"] == status for t in d.values()):
                return d
            return None

        return wait_for(f"{len(arns)} task(s) {status}", timeout, poll, done)

    def stop_all_tasks(self, timeout=60):
        arns = []
        token = None
        while True:
            kw = {"cluster": CLUSTER, "desiredStatus": "RUNNING"}
            if token:
                kw["nextToken"] = token
            r = self.client.list_tasks(**kw)
            arns += r["taskArns"]
            token = r.get("nextToken")
            if not token:
                break
        for a in arns:
            self.client.stop_task(cluster=CLUSTER, task=a, reason="scripts/bench cleanup")
        if arns:
            self.wait_status(arns, "STOPPED", timeout, 0.5)
        return len(arns)

    # ---- the ctr baseline

    def ctr_run(self, cid, image, command=CMD):
        """`ctr run -d` of the task's container; returns its wall time in seconds."""
        logfile = os.path.join(self.dir, "ctr-logs", f"{cid}.log")
        argv = [
            "ctr", "-a", self.sock, "-n", CTR_NS, "run", "-d", "--net-host",
            "--memory-limit", str(MEMORY_MIB * 1024 * 1024),
            "--log-uri", f"file://{logfile}",
            image, cid, "sh", "-c", command,
        ]
        t0 = time.perf_counter()
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        dt = time.perf_counter() - t0
        if r.returncode != 0:
            raise BenchError(f"ctr run {cid}: exit {r.returncode}: {r.stderr.strip()}")
        return dt

    def ctr_remove(self, ids):
        if not ids:
            return
        for i in range(0, len(ids), 50):
            chunk = ids[i : i + 50]
            self.ctr(CTR_NS, "tasks", "delete", "-f", *chunk, check=False, timeout=300)
            self.ctr(CTR_NS, "containers", "delete", *chunk, check=False, timeout=300)

    # ---- phases

    def phase_world(self):
        log(f"run dir {self.dir}")
        os.makedirs(self.logs, exist_ok=True)
        os.makedirs(os.path.join(self.dir, "ctr-logs"), exist_ok=True)
        self.start_containerd()
        self.containerd_pid = self.procs["containerd"].pid
        self.start_local()
        self.start_agent()
        self.wait_registered()
        log(f"agent registered with ecs-local on {self.endpoint}")

    def phase_binary(self):
        """The agent's size, and whether any of ecs-local's code is in it,
        against the ctr binary. The release binary carries no symbol table
        (Cargo.toml strips it), so ecs-local's code is looked for by its log
        messages, which only src/local holds; ecs-local's own binary must
        have them, or the probe proves nothing."""
        exe = os.path.join(self.args.bin_dir, "ecs-agent")
        res = {"bytes": os.path.getsize(exe), "local_symbols": None, "ctr_bytes": None}
        ctr = shutil.which("ctr")
        if ctr:
            res["ctr_bytes"] = os.path.getsize(os.path.realpath(ctr))
        markers = [b"created the default cluster", b"stored task definition unreadable"]
        with open(os.path.join(self.args.bin_dir, "ecs-local"), "rb") as f:
            local = f.read()
        if all(m in local for m in markers):
            with open(exe, "rb") as f:
                agent = f.read()
            res["local_symbols"] = sum(agent.count(m) for m in markers)
        self.results["binary"] = res

    def phase_idle_memory(self):
        """The agent's RSS with no task, at its highest over a window that
        spans several TCS publishes and ACS heartbeats: the agent gives its
        start-up code pages back once connected (src/code_pages.rs), and
        what the idle loop uses comes back, so one early sample would flatter it."""
        self.phase_binary()
        time.sleep(self.mode["settle_s"])
        s = proc_status(self.agent_pid)
        deadline = time.time() + self.mode["idle_window_s"]
        while time.time() < deadline:
            time.sleep(min(5.0, max(0.0, deadline - time.time())))
            now = proc_status(self.agent_pid)
            if now["VmRSS"] > s["VmRSS"]:
                s = now
        self.results["rss_idle"] = {
            "rss_kib": s["VmRSS"],
            "hwm_kib": s["VmHWM"],
            "anon_kib": s.get("RssAnon"),
            "file_kib": s.get("RssFile"),
            "threads": s.get("Threads"),
            "binary_kib": binary_rss_kib(self.agent_pid),
        }
        log(f"idle: VmRSS {mib(s['VmRSS']):.1f} MiB, VmHWM {mib(s['VmHWM']):.1f} MiB")

    def phase_warmup(self):
        self.image = f"{self.args.registry}/busybox:latest"
        for mode, family in START_MODES.items():
            self.register_taskdef(family, self.image, mode)
        # The agent pulls busybox once; later starts find it cached.
        arns = self.run_tasks("bench", 1)
        self.wait_status(arns, "RUNNING", 120, 0.1)
        self.ctr(CTR_NS, "images", "pull", "--plain-http", self.image, timeout=300)
        self.ctr_run("warmup", self.image)
        self.ctr_remove(["warmup"])
        self.stop_all_tasks()
        log("warm-up done: busybox cached in both namespaces")

    def phase_start(self, network_mode="host"):
        family = START_MODES[network_mode]
        n = self.mode["start_n"]
        agent, ctr, pulls, observed = [], [], [], []
        arns = []
        records = {}
        ids = []
        # Interleaved so that a change in the machine's load (it may be
        # shared) hits both sides alike. Each start is timed once the other
        # side's has settled: what either leaves to do after its start (the
        # agent makes the next spare network namespace once its network has
        # been quiet 100 ms, containerd finishes its own bookkeeping) would
        # otherwise land on the other side's timing.
        for i in range(n):
            time.sleep(SETTLE_S)
            t0 = time.time()
            arn = self.run_tasks(family, 1)[0]
            t = self.wait_status([arn], "RUNNING", 60, 0.1)[arn]
            observed.append(time.time() - t0)
            arns.append(arn)
            records[arn] = t
            agent.append(ts(t["startedAt"]) - ts(t["createdAt"]))
            if t.get("pullStartedAt") and t.get("pullStoppedAt"):
                pulls.append(ts(t["pullStoppedAt"]) - ts(t["pullStartedAt"]))
            cid = f"start-{network_mode}-{i}"
            time.sleep(SETTLE_S)
            ctr.append(self.ctr_run(cid, self.image))
            ids.append(cid)
        self.results[start_key(network_mode)] = {
            "n": n,
            "agent_s": agent,
            "ctr_s": ctr,
            "agent_pull_s": pulls,
            "client_observed_s": observed,
            "placed_to_sent_s": self.placed_to_sent(arns),
            "stages_s": self.start_stages(records),
        }
        log(
            f"start ({network_mode}): agent median {statistics.median(agent) * 1000:.0f} ms, "
            f"ctr median {statistics.median(ctr) * 1000:.0f} ms"
        )
        self.stop_all_tasks()
        self.ctr_remove(ids)

    def phase_start_quiet(self):
        """The price of giving a burst's pages back (src/agent/settle.rs):
        a task start right after the agent paged out its executable, against
        the warm host-mode starts of this run."""
        def releases():
            return sum(1 for line in read_log(self.agent_log) if 'after="a burst of task changes"' in line)

        samples = []
        for _ in range(self.mode["quiet_n"]):
            seen = releases()
            # The last change (the previous start's stop) is followed by a
            # release within 30 to 60 s.
            wait_for("the agent's release after a quiet spell", 120, 1.0, lambda: releases() > seen)
            arn = self.run_tasks(START_MODES["host"], 1)[0]
            t = self.wait_status([arn], "RUNNING", 60, 0.1)[arn]
            samples.append(ts(t["startedAt"]) - ts(t["createdAt"]))
            self.stop_all_tasks()
        warm = self.results.get(start_key("host"), {}).get("agent_s")
        self.results["start_quiet"] = {"n": len(samples), "agent_s": samples, "warm_s": warm}
        log(f"start after a quiet spell: {', '.join(fmt_ms(x) for x in samples)}")

    def start_stages(self, records):
        """Where a start's time goes, from describe-tasks and the agent's log:
        median seconds per stage over the start-phase tasks."""
        marks = {}
        for line in read_log(self.agent_log):
            m = re.search(r"task=\"?([^\s\"]+)", line)
            if not m or m.group(1) not in records:
                continue
            key = None
            if "task accepted" in line:
                key = "accepted"
            elif "ecs::engine::exec: container created" in line:
                key = "created"
            elif "ecs::engine::exec: container started" in line:
                key = "started"
            if key:
                marks.setdefault(m.group(1), {}).setdefault(key, log_time(line))
        stages = {
            "ecs-local queued -> agent accepted the payload": [],
            "accepted -> pull started": [],
            "image step (pullStartedAt -> pullStoppedAt)": [],
            "pull stopped -> container created (snapshot, spec, container record, task create: shim + runc create)": [],
            "container created -> started (task start)": [],
            "container started -> RUNNING report arrived (ecs-local startedAt)": [],
        }
        for arn, t in records.items():
            mk = marks.get(arn, {})
            c, ps, pe, st = (ts(t.get(k)) for k in ("createdAt", "pullStartedAt", "pullStoppedAt", "startedAt"))
            if None in (c, ps, pe, st) or len(mk) < 3:
                continue
            vals = [mk["accepted"] - c, ps - mk["accepted"], pe - ps, mk["created"] - pe,
                    mk["started"] - mk["created"], st - mk["started"]]
            for k, v in zip(stages, vals):
                stages[k].append(v)
        return {k: statistics.median(v) for k, v in stages.items() if v}

    def placed_to_sent(self, arns):
        """ecs-local's log: from `task placed` (the createdAt transaction) to
        the next `payload sent` on the ACS socket, for tasks run one by one."""
        lines = read_log(os.path.join(self.logs, "ecs-local.log"))
        want = set(arns)
        gaps = []
        pending = None
        for line in lines:
            if "task placed" in line:
                m = re.search(r"task=(\S+)", line)
                pending = log_time(line) if m and m.group(1) in want else None
            elif "payload sent" in line and "resend=true" not in line and pending is not None:
                t = log_time(line)
                if t is not None:
                    gaps.append(t - pending)
                pending = None
        return gaps

    def phase_burst_awsvpc(self):
        """The same burst in awsvpc mode (a namespace, veth and address per
        task, set up in parallel), after every other item that needs the
        host-mode tasks (its heap would stay in the agent's RSS otherwise),
        from no running task as the host-mode burst was, and stopped again."""
        self.stop_all_tasks(timeout=300)
        calls, count = self.mode["burst_calls"], self.mode["burst_count"]
        t0 = time.time()
        arns = []
        for _ in range(calls):
            arns += self.run_tasks(START_MODES["awsvpc"], count)
        d = self.wait_status(arns, "RUNNING", 600, 0.25)
        last = max(ts(t["startedAt"]) for t in d.values())
        self.results["burst_awsvpc"] = {"n": len(arns), "agent_s": last - t0}
        log(f"burst (awsvpc): agent had all {len(arns)} RUNNING after {last - t0:.2f} s")
        self.stop_all_tasks(timeout=300)

    def phase_burst(self):
        calls, count = self.mode["burst_calls"], self.mode["burst_count"]
        total = calls * count
        # Baseline first, removed before the agent's tasks start, so that the
        # later memory, CPU and restart items see exactly the agent's tasks.
        ids = [f"burst-{i}" for i in range(total)]
        t0 = time.time()
        for cid in ids:
            self.ctr_run(cid, self.image)
        ctr_s = time.time() - t0
        log(f"burst: {total} sequential ctr run -d took {ctr_s:.2f} s")
        # The stack-pss baseline: what these running containers cost beside
        # containerd (a shim each; the shim writes the file:// log itself).
        # A Go shim grows as it runs (its heap and the runtime's own pages:
        # 2.60 -> 2.96 MiB over 70 s idle, measured by hand), so they are
        # read again beside the agent's tasks, at about their age, and kept
        # running until then when that item is measured.
        self.ctr_stack_young = ctr_processes(ids)
        self.ctr_burst_ids = ids
        if not self.wants_stack_pss:
            self.ctr_remove(ids)
            self.ctr_burst_ids = []

        t0 = time.time()
        arns = []
        for _ in range(calls):
            arns += self.run_tasks("bench", count)
        fired = time.time() - t0
        d = self.wait_status(arns, "RUNNING", 600, 0.25)
        last = max(ts(t["startedAt"]) for t in d.values())
        first_created = min(ts(t["createdAt"]) for t in d.values())
        self.burst_arns = arns
        self.results["burst"] = {
            "n": total,
            "calls": calls,
            "count_per_call": count,
            "agent_s": last - t0,
            "agent_created_to_last_running_s": last - first_created,
            "run_task_calls_s": fired,
            "ctr_s": ctr_s,
        }
        log(f"burst: agent had all {total} RUNNING after {last - t0:.2f} s")

    def phase_loaded(self):
        time.sleep(self.mode["settle_s"])
        s = proc_status(self.agent_pid)
        self.results["rss_loaded"] = {"rss_kib": s["VmRSS"], "hwm_kib": s["VmHWM"], "tasks": len(self.burst_arns)}
        window = self.mode["cpu_window_s"]
        a0, c0 = proc_cpu_s(self.agent_pid), proc_cpu_s(self.containerd_pid)
        t0 = time.monotonic()
        time.sleep(window)
        a1, c1 = proc_cpu_s(self.agent_pid), proc_cpu_s(self.containerd_pid)
        elapsed = time.monotonic() - t0
        s2 = proc_status(self.agent_pid)
        self.results["rss_loaded"].update({
            "rss_after_window_kib": s2["VmRSS"],
            "hwm_after_window_kib": s2["VmHWM"],
            "anon_kib": s2.get("RssAnon"),
            "file_kib": s2.get("RssFile"),
            "threads": s2.get("Threads"),
            "binary_kib": binary_rss_kib(self.agent_pid),
        })
        self.results["cpu"] = {
            "window_s": elapsed,
            "agent_s": a1 - a0,
            "containerd_s": c1 - c0,
            "tasks": len(self.burst_arns),
        }
        # The whole stack per running task: the agent's PSS shared among its
        # tasks, plus each task's shim and logger. PSS adds up: pages the
        # loggers share with the agent (one executable) are split among them.
        task_ids = [a.rsplit("/", 1)[1] for a in self.burst_arns]
        held = held_processes(task_ids)
        ctr_ids = getattr(self, "ctr_burst_ids", [])
        ctr_held = ctr_processes(ctr_ids) if ctr_ids else []
        ctr_young = getattr(self, "ctr_stack_young", [])
        if ctr_ids:
            self.ctr_remove(ctr_ids)
            self.ctr_burst_ids = []
        self.results["stack_pss"] = {
            "tasks": len(self.burst_arns),
            "agent_pss_kib": pss_kib(self.agent_pid),
            "shim_pss_kib": sum(p["pss_kib"] for p in held if p["kind"] == "shim"),
            "shims": sum(1 for p in held if p["kind"] == "shim"),
            "logger_pss_kib": sum(p["pss_kib"] for p in held if p["kind"] == "logger"),
            "loggers": sum(1 for p in held if p["kind"] == "logger"),
            "ctr_containers": self.mode["burst_calls"] * self.mode["burst_count"],
            "ctr_shims": len(ctr_held),
            "ctr_pss_kib": sum(p["pss_kib"] for p in ctr_held),
            "ctr_young_pss_kib": sum(p["pss_kib"] for p in ctr_young),
            "ctr_young_shims": len(ctr_young),
        }
        log(
            f"loaded: VmRSS {mib(s2['VmRSS']):.1f} MiB, VmHWM {mib(s2['VmHWM']):.1f} MiB; "
            f"CPU over {elapsed:.0f} s: agent {a1 - a0:.2f} s, containerd {c1 - c0:.2f} s"
        )

    def ctr_tasks(self, ns):
        rows = {}
        for line in self.ctr(ns, "tasks", "ls").stdout.splitlines()[1:]:
            f = line.split()
            if len(f) >= 3:
                rows[f[0]] = (f[1], f[2])
        return rows

    def phase_restart(self):
        n = len(self.burst_arns)
        before = self.ctr_tasks(AGENT_NS)
        running_before = {k: v for k, v in before.items() if v[1] == "RUNNING"}
        p = self.procs["ecs-agent"]
        p.kill()
        p.wait(timeout=10)
        self.procs.pop("ecs-agent")
        # So that the connected flag seen later belongs to the new session.
        wait_for("ecs-local to see the ACS session end", 15, 0.05, lambda: self.instance_connected() is None)
        t_spawn = time.time()
        self.start_agent()
        want = set(self.burst_arns)
        state = {}

        def done():
            self.check_agent_alive()
            lines = read_log(self.agent_log)
            rec = {}
            acs = None
            for line in lines:
                if "task reconciled with containerd" in line:
                    m = re.search(r"task=(\S+)", line)
                    if m and m.group(1) in want:
                        rec[m.group(1)] = log_time(line)
                elif acs is None and "ACS connected" in line:
                    acs = log_time(line)
            if len(rec) < n or acs is None:
                return False
            if not state.get("connected_seen"):
                if self.instance_connected() is None:
                    return False
                state["connected_seen"] = time.time()
            state["rec"], state["acs"] = rec, acs
            return True

        wait_for(f"restarted agent to reconcile {n} tasks and reconnect", 180, 0.05, done)
        reconciled = max(state["rec"].values()) - t_spawn
        acs = state["acs"] - t_spawn
        after = self.ctr_tasks(AGENT_NS)
        restarted = sum(1 for k, v in running_before.items() if after.get(k) != v)
        new = sum(1 for k in after if k not in before)
        d = self.describe(self.burst_arns)
        still = sum(1 for t in d.values() if t["lastStatus"] == "RUNNING")
        stats = {}
        try:
            with urllib.request.urlopen(f"{self.endpoint}/debug/stats", timeout=5) as r:
                stats = json.load(r)
        except (OSError, ValueError) as e:
            self.notes.append(f"/debug/stats unreadable: {e}")
        self.results["restart"] = {
            "tasks": n,
            "agent_s": max(reconciled, acs),
            "reconciled_s": reconciled,
            "acs_connected_s": acs,
            "agent_connected_observed_s": state["connected_seen"] - t_spawn,
            "containers_before": len(running_before),
            "restarted": restarted,
            "new_containers": new,
            "tasks_running_after": still,
            "duplicate_state_changes": stats.get("duplicateStateChanges"),
        }
        log(
            f"restart: reconciled {n} tasks in {reconciled:.2f} s, ACS connected at {acs:.2f} s, "
            f"{restarted} containers restarted"
        )

    def phase_stopped(self):
        """Processes and PSS that short tasks hold once they have exited (issue
        19): the agent's, 1 s after the last exit, against as many exited
        `ctr run -d` containers, which containerd keeps with their shims
        until someone deletes their tasks."""
        n = self.mode["stopped_n"]
        ids = [f"stopped-{i}" for i in range(n)]
        for cid in ids:
            self.ctr_run(cid, self.image, command=SHORT_CMD)
        wait_for(f"{n} ctr containers to exit", 60, 0.1,
                 lambda: all(self.ctr_tasks(CTR_NS).get(c, ("", ""))[1] == "STOPPED" for c in ids) or None)
        time.sleep(1.0)
        ctr_procs = ctr_processes(ids)
        self.ctr_remove(ids)

        self.register_taskdef("bench-short", self.image, command=SHORT_CMD)
        arns = []
        while len(arns) < n:
            arns += self.run_tasks("bench-short", min(10, n - len(arns)))
        d = self.wait_status(arns, "STOPPED", 120, 0.25)
        bad = [t for t in d.values() if t["containers"][0].get("exitCode") != 0]
        if bad:
            raise BenchError(f"short task did not exit 0: {bad[0]}")
        last_exit = max(ts(t["executionStoppedAt"]) for t in d.values())
        time.sleep(max(0.0, last_exit + 1.0 - time.time()))
        waited = time.time() - last_exit
        task_ids = [a.rsplit("/", 1)[1] for a in arns]
        agent_procs = held_processes(task_ids)
        records = self.ctr(AGENT_NS, "containers", "ls", "-q").stdout.split()
        kept = sum(1 for r in records if any(r.startswith(t) for t in task_ids))
        self.results["stopped"] = {
            "n": n,
            "agent_processes": len(agent_procs),
            "agent_pss_kib": sum(p["pss_kib"] for p in agent_procs),
            "agent_kinds": sorted({p["kind"] for p in agent_procs}),
            "agent_measured_after_exit_s": waited,
            "agent_records_kept": kept,
            "ctr_processes": len(ctr_procs),
            "ctr_pss_kib": sum(p["pss_kib"] for p in ctr_procs),
        }
        log(
            f"stopped: {n} exited tasks hold {len(agent_procs)} processes "
            f"({mib(self.results['stopped']['agent_pss_kib']):.1f} MiB PSS) {waited:.2f} s after the last exit; "
            f"{n} exited ctr containers hold {len(ctr_procs)} "
            f"({mib(self.results['stopped']['ctr_pss_kib']):.1f} MiB PSS)"
        )

    def phase_profile(self):
        """perf (software cpu-clock: this machine has no hardware counters) on
        the agent: once over a burst of 20 starts, once over 20 s at rest
        with every task running."""
        if shutil.which("perf") is None:
            self.notes.append("perf not installed: no profile taken")
            return
        out = self.results.setdefault("profile", {})
        for name, action, secs in (
            ("burst", lambda: self.wait_status(self.run_tasks("bench", 10) + self.run_tasks("bench", 10), "RUNNING", 300, 0.25), None),
            ("rest", None, 20),
        ):
            out[name] = self.perf(name, action, secs)

    def perf(self, name, action, secs):
        """perf record on the agent while `action` runs (or for `secs`)."""
        data = os.path.join(self.dir, f"perf-{name}.data")
        argv = ["perf", "record", "-q", "-F", "999", "-e", "cpu-clock", "-g", "-p", str(self.agent_pid), "-o", data]
        rec = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.procs[f"perf-{name}"] = rec
        time.sleep(0.5)
        t0 = time.time()
        if action:
            action()
        else:
            time.sleep(secs)
        dur = time.time() - t0
        self.stop_proc(f"perf-{name}", sig=signal.SIGINT, grace=30)
        rep = subprocess.run(
            ["perf", "report", "-i", data, "--stdio", "--no-children", "-g", "none",
             "--sort", "dso,symbol", "--percent-limit", "1.5"],
            capture_output=True, text=True, timeout=120,
        )
        lines = [
            re.sub(r"(\s+-)+\s*$", "", ln).rstrip()
            for ln in rep.stdout.splitlines()
            if ln.strip() and not ln.startswith("#")
        ]
        m = re.search(r"# Samples: (\S+)", rep.stdout)
        with open(os.path.join(self.logs, f"perf-{name}.txt"), "w") as f:
            f.write(rep.stdout)
        if os.path.exists(data):
            os.remove(data)
        return {"seconds": dur, "samples": m.group(1) if m else "0", "top": lines[:25]}

    def pull_images(self, rnd, sides=("agent", "ctr")):
        """Fresh images (same layer sizes, different random bytes), pushed."""
        layers, size = self.mode["pull_layers"], self.mode["pull_layer_mib"]
        refs = {}
        for side in sides:
            name = f"bench-pull-{side}-{rnd}-{self.run_id}".lower()
            layout = os.path.join(self.dir, f"oci-{side}")
            info = make_image(self.args.image_dir, layout, layers, size)
            ref = f"{self.args.registry}/{name}:latest"
            self.record("pushed", name, name + "\n" + "\n".join(info["blobs"]))
            r = subprocess.run(
                ["skopeo", "copy", "-q", "--dest-tls-verify=false", f"oci:{layout}:latest", f"docker://{ref}"],
                capture_output=True, text=True, timeout=600,
            )
            shutil.rmtree(layout, ignore_errors=True)
            if r.returncode != 0:
                raise BenchError(f"skopeo copy to {ref}: {r.stderr.strip()}")
            refs[side] = (ref, info)
        return refs

    def pull_ctr(self, ref, rnd):
        # A namespace that never saw any of these blobs.
        t0 = time.perf_counter()
        self.ctr(f"bench-pull-ctr-{rnd}", "images", "pull", "--plain-http", ref, timeout=600)
        return time.perf_counter() - t0

    def pull_agent(self, ref, rnd):
        family = f"bench-pull-{rnd}"
        self.register_taskdef(family, ref)
        arn = self.run_tasks(family, 1)[0]
        t = self.wait_status([arn], "RUNNING", 600, 0.1)[arn]
        self.client.stop_task(cluster=CLUSTER, task=arn, reason="scripts/bench")
        pull_s = None
        if t.get("pullStartedAt") and t.get("pullStoppedAt"):
            pull_s = ts(t["pullStoppedAt"]) - ts(t["pullStartedAt"])
        return pull_s, ts(t["startedAt"]) - ts(t["createdAt"])

    def phase_pull(self):
        layers, size = self.mode["pull_layers"], self.mode["pull_layer_mib"]
        agent, to_running, ctr = [], [], []
        total_mib = 0.0
        for rnd in range(self.mode["pull_rounds"]):
            refs = self.pull_images(rnd)
            total_mib = refs["agent"][1]["compressed_bytes"] / 1048576
            # Alternate who goes first: the registry's page cache, the disk
            # and the neighbours' load then favour neither side.
            if rnd % 2 == 0:
                ctr.append(self.pull_ctr(refs["ctr"][0], rnd))
                a, r = self.pull_agent(refs["agent"][0], rnd)
            else:
                a, r = self.pull_agent(refs["agent"][0], rnd)
                ctr.append(self.pull_ctr(refs["ctr"][0], rnd))
            agent.append(a)
            to_running.append(r)
            log(f"pull round {rnd}: agent {a} s (to RUNNING {r:.2f} s), ctr {ctr[-1]:.2f} s")
        cached = statistics.median(self.results["start"]["agent_s"])
        have = [a for a in agent if a is not None]
        self.results["pull"] = {
            "rounds": len(ctr),
            "layers": layers + 1,
            "random_layers": layers,
            "layer_mib": size,
            "compressed_mib": total_mib,
            "agent_s": statistics.median(have) if len(have) == len(agent) else None,
            "agent_samples_s": agent,
            "agent_to_running_samples_s": to_running,
            "agent_to_running_minus_cached_start_s": statistics.median(to_running) - cached,
            "agent_to_running_s": statistics.median(to_running),
            "ctr_s": statistics.median(ctr),
            "ctr_samples_s": ctr,
        }
        if self.mode["profile"] and shutil.which("perf"):
            ref = self.pull_images("profile", sides=("agent",))["agent"][0]
            self.results.setdefault("profile", {})["pull"] = self.perf(
                "pull", lambda: self.pull_agent(ref, "profile"), None
            )

    def phase_transfer(self):
        """The agent's pull against containerd's Transfer service (issue 17):
        see bench_transfer.py."""
        rounds = self.mode["transfer_rounds"]
        h = bench_transfer.Helpers(ts, wait_for, proc_cpu_s, log, CLUSTER, AGENT_NS)
        try:
            bench_transfer.require_transfer(self)
            ref, info = self.pull_images("transfer", sides=("transfer",))["transfer"]
            r = bench_transfer.phase(self, h, rounds, ref, info)
        except bench_transfer.Unavailable as e:
            if self.args.only:
                raise BenchError(str(e)) from e
            self.notes.append(f"pull-transfer not measured: {e}")
            return
        except RuntimeError as e:
            raise BenchError(f"pull-transfer: {e}") from e
        self.results["pull_transfer"] = r
        log(
            f"transfer: agent {r['agent']['s']:.2f} s, Transfer {r['transfer']['s']:.2f} s, "
            f"ctr --local {r['local']['s']:.2f} s (containerd {r['containerd']})"
        )

    # ---- logs (issue 16)

    def phase_logs(self):
        moto = os.environ.get("ECS_TEST_MOTO")
        if not moto:
            self.notes.append("ECS_TEST_MOTO unset (scripts/testenv up starts moto): no log item")
            return
        r = bench_logs.phase(self, self.mode["log_lines"], moto, REGION, proc_cpu_s, proc_status)
        self.results["logs"] = r
        for side in (r["json_file"], r["awslogs"]):
            log(
                f"logs: {side['driver']}: {side['arrived']} of {side['lines']} lines in {side['seconds']:.2f} s; "
                f"agent CPU {side['agent_cpu_s']:.2f} s, logger CPU {side['logger_cpu_s']}"
            )

    # ---- health checks (issue 15)

    def health_window(self, family, n):
        """Runs n tasks of `family`, waits until they run (and, with checks,
        are all HEALTHY), then measures CPU over the window: the agent,
        containerd, the shims themselves, and what the shims reaped (the runc
        processes of each exec and the probes: the exec path's cost), and the
        health check runners with the checks they ran (the runner path's)."""
        arns = []
        while len(arns) < n:
            arns += self.run_tasks(family, min(10, n - len(arns)))
        self.wait_status(arns, "RUNNING", 600, 0.25)
        if family == "bench-health":
            def healthy():
                d = self.describe(arns)
                return all(t.get("healthStatus") == "HEALTHY" for t in d.values()) or None
            wait_for(f"{n} tasks HEALTHY", 180, 0.5, healthy)
        time.sleep(self.mode["settle_s"])
        shims = shim_pids(AGENT_NS)
        runners = runner_pids()

        def summed(pids):
            """(own, reaped children's) CPU seconds of the pids still there."""
            own = children = 0.0
            for pid in pids:
                try:
                    o, c = proc_cpu_children_s(pid)
                except OSError:
                    continue
                own, children = own + o, children + c
            return own, children

        def sample():
            own, children = summed(shims)
            runs = sum(summed(runners))
            return proc_cpu_s(self.agent_pid), proc_cpu_s(self.containerd_pid), own, children, runs

        window = self.mode["cpu_window_s"]
        before, t0 = sample(), time.monotonic()
        time.sleep(window)
        after, elapsed = sample(), time.monotonic() - t0
        agent, containerd, shim_own, shim_children, runs = (a - b for a, b in zip(after, before))
        self.stop_all_tasks(timeout=300)
        return {
            "window_s": elapsed, "tasks": n, "shims": len(shims), "agent_s": agent,
            "containerd_s": containerd, "shim_s": shim_own, "shim_children_s": shim_children,
            "runners": len(runners), "runners_s": runs,
        }

    def phase_health(self):
        """100 running containers with a `CMD-SHELL true` check every 5 s,
        next to the same containers without a check, same window."""
        n = self.mode["burst_calls"] * self.mode["burst_count"]
        self.stop_all_tasks(timeout=300)
        self.register_taskdef("bench-plain", self.image)
        container = {
            "name": "c", "image": self.image, "memory": MEMORY_MIB, "essential": True,
            "command": ["sh", "-c", CMD],
            "healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 5, "timeout": 5, "retries": 3},
        }
        self.client.register_task_definition(
            family="bench-health", networkMode="host", containerDefinitions=[container]
        )
        plain = self.health_window("bench-plain", n)
        checked = self.health_window("bench-health", n)
        self.results["health"] = {"plain": plain, "checked": checked}
        for name, r in (("without checks", plain), ("with 5 s checks", checked)):
            log(
                f"health: {n} tasks {name}, CPU over {r['window_s']:.0f} s: agent {r['agent_s']:.2f} s, "
                f"containerd {r['containerd_s']:.2f} s, {r['shims']} shims {r['shim_s']:.2f} s, "
                f"reaped by the shims {r['shim_children_s']:.2f} s, "
                f"{r['runners']} check runners with their checks {r['runners_s']:.2f} s"
            )

    def restart_agent_with(self, extra_env):
        """A graceful stop (the tasks' containers stay) and a start with
        `extra_env` in the agent's environment."""
        self.stop_proc("ecs-agent")
        wait_for("ecs-local to see the ACS session end", 15, 0.05, lambda: self.instance_connected() is None)
        self.extra_agent_env = dict(extra_env)
        self.start_agent()
        self.wait_registered()

    def wait_cleaned(self, arns, timeout):
        """Until the agent's log says every task in `arns` is cleaned up
        (containers removed, and the agent forgot it). The log is read from
        where the last call stopped: a run of 1,000 tasks writes megabytes."""
        want = set(arns)
        if getattr(self, "cleaned_log", None) != self.agent_log:
            self.cleaned_log, self.cleaned_at, self.cleaned = self.agent_log, 0, set()

        def done():
            self.check_agent_alive()
            with open(self.agent_log, "rb") as f:
                f.seek(self.cleaned_at)
                chunk = f.read()
            # Only whole lines; a partial last line is read again next time.
            end = chunk.rfind(b"\n") + 1
            self.cleaned_at += end
            for line in ANSI.sub("", chunk[:end].decode("utf-8", "replace")).splitlines():
                if "task cleaned up" in line:
                    m = re.search(r"task=(\S+)", line)
                    if m:
                        self.cleaned.add(m.group(1))
            return want <= self.cleaned or None

        wait_for(f"{len(want)} task(s) cleaned up", timeout, 0.5, done)

    def agent_heap(self):
        """malloc's counts from the agent's /metrics (ecs_agent_heap_bytes),
        in KiB: {"heap_in_use_kib", "heap_free_kib"}; empty when the agent
        has no such metric (an older build)."""
        url = f"http://127.0.0.1:{self.agent_ports[0]}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                text = r.read().decode()
        except OSError:
            return {}
        out = {}
        for line in text.splitlines():
            m = re.fullmatch(r'ecs_agent_heap_bytes\{state="(in_use|held_free)"\} (\d+)', line)
            if m:
                key = "heap_in_use_kib" if m.group(1) == "in_use" else "heap_free_kib"
                out[key] = int(m.group(2)) // 1024
        return out

    def agent_memory(self):
        s = proc_status(self.agent_pid)
        return {
            "rss_kib": s["VmRSS"], "anon_kib": s.get("RssAnon"), "hwm_kib": s["VmHWM"],
            "threads": s.get("Threads"), **self.agent_heap(),
        }

    def phase_large(self):
        """Agent RSS after many of the largest tasks Amazon ECS allows (issue
        18 point 3), each run to STOPPED and cleaned up: what stays is what
        the agent did not give back. Its own agent, with the minimum cleanup
        wait; 10 tasks per RunTask; a sample after each batch is cleaned."""
        n = self.args.large_tasks or self.mode["large_n"]
        self.stop_all_tasks(timeout=300)
        self.restart_agent_with({"ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION": LARGE_CLEANUP_WAIT})
        self.client.register_task_definition(**largest_definition("bench-large", self.image, SHORT_CMD))
        settle = self.mode["settle_s"]
        samples = []
        done = 0
        t0 = time.time()
        while done < n:
            count = 1 if done == 0 else min(10, n - done)
            arns = self.run_tasks("bench-large", count)
            d = self.wait_status(arns, "STOPPED", 600, 0.5)
            bad = [t for t in d.values() if t["containers"][0].get("exitCode") != 0]
            if bad:
                raise BenchError(f"large task did not exit 0: {bad[0]}")
            self.wait_cleaned(arns, 120)
            done += count
            time.sleep(settle)
            sample = {"tasks": done, **self.agent_memory()}
            samples.append(sample)
            log(
                f"large tasks: {done} done, {time.time() - t0:.0f} s: {large_sample_text(sample)}"
            )
        self.results["rss_large"] = {
            "n": n,
            "containers": MAX_CONTAINERS,
            "definition_bytes": MAX_DEFINITION_BYTES,
            "samples": samples,
            "settle_s": settle,
            "seconds": time.time() - t0,
        }
        first, last = samples[0], samples[-1]
        log(
            f"large tasks: agent VmRSS {mib(first['rss_kib']):.1f} MiB after 1, "
            f"{mib(last['rss_kib']):.1f} MiB after {n} (anonymous {mib(first['anon_kib']):.1f} -> "
            f"{mib(last['anon_kib']):.1f} MiB), {time.time() - t0:.0f} s"
        )

    def phase_local_churn(self):
        """ecs-local's RSS over register/deregister cycles of the largest task
        definition (issue 18 point 11), from a sample after the first cycles
        (allocator arenas, redb's page cache) to the last."""
        cycles = self.mode["local_cycles"]
        warm = min(50, cycles // 2)
        base = largest_definition("bench-churn", self.image, SHORT_CMD)
        pid = self.procs["ecs-local"].pid
        samples = []
        t0 = time.time()
        for i in range(1, cycles + 1):
            r = self.client.register_task_definition(**stamped(base, i))
            self.client.deregister_task_definition(taskDefinition=r["taskDefinition"]["taskDefinitionArn"])
            if i == warm or i == cycles or i % 100 == 0:
                s = proc_status(pid)
                samples.append({"cycles": i, "rss_kib": s["VmRSS"], "anon_kib": s.get("RssAnon")})
        self.results["rss_local"] = {
            "cycles": cycles,
            "warm": warm,
            "samples": samples,
            "seconds": time.time() - t0,
        }
        log(
            f"ecs-local churn: VmRSS {mib(samples[0]['rss_kib']):.1f} MiB after {warm} cycles, "
            f"{mib(samples[-1]['rss_kib']):.1f} MiB after {cycles}, {time.time() - t0:.0f} s"
        )

    # ---- everything

    def measure(self):
        only = set(self.args.only) if self.args.only else None

        def wanted(*items):
            return only is None or not only.isdisjoint(items)

        self.phase_world()
        if wanted("rss-idle", "binary"):
            self.phase_idle_memory()
        self.phase_warmup()
        for network_mode in START_MODES:
            if wanted(f"start-{network_mode}"):
                self.phase_start(network_mode)
        if wanted("start-quiet") and self.mode["quiet_n"]:
            self.phase_start_quiet()
        # The host-mode burst's tasks are the load of the next three items
        # and the baseline of the awsvpc burst.
        self.wants_stack_pss = wanted("stack-pss")
        if wanted("burst", "rss-100", "stack-pss", "cpu-100", "restart", "burst-awsvpc"):
            self.phase_burst()
        if wanted("rss-100", "stack-pss", "cpu-100"):
            self.phase_loaded()
        if wanted("restart"):
            self.phase_restart()
        if wanted("stopped"):
            self.phase_stopped()
        if only is None and self.mode["profile"]:
            self.phase_profile()
        if wanted("burst-awsvpc"):
            self.phase_burst_awsvpc()
        if wanted("pull"):
            self.phase_pull()
        if wanted("pull-transfer"):
            self.phase_transfer()
        if wanted("health-100"):
            self.phase_health()
        if wanted("logs"):
            self.phase_logs()
        # Last: the agent is restarted with a short cleanup wait for it.
        if wanted("rss-local"):
            self.phase_local_churn()
        if wanted("rss-large"):
            self.phase_large()

    def teardown(self):
        """Graceful where possible, then forceful: nothing may outlive the run."""
        if self.client is not None and "ecs-agent" in self.procs and "ecs-local" in self.procs:
            try:
                n = self.stop_all_tasks(timeout=60)
                log(f"cleanup: {n} task(s) stopped through ECS")
            except Exception as e:  # noqa: BLE001 - cleanup continues regardless
                log(f"cleanup: stopping tasks through ECS failed ({e}); removing them directly")
        self.stop_proc("ecs-agent")
        self.stop_proc("ecs-local")
        for name in [k for k in self.procs if k.startswith("perf")]:
            self.stop_proc(name, sig=signal.SIGINT)
        cleanup(self.dir, self.args.registry_storage, procs=self.procs)
        self.procs.clear()


# ----------------------------------------------------------------- the image


def make_image(busybox_layout, out, layers, layer_mib):
    """An OCI layout: busybox (plus a random file, so that its digest is new)
    and `layers` layers of random data. Returns digests and sizes."""
    with open(os.path.join(busybox_layout, "index.json")) as f:
        index = json.load(f)

    def blob(d):
        return os.path.join(busybox_layout, "blobs", *d.split(":", 1))

    with open(blob(index["manifests"][0]["digest"])) as f:
        manifest = json.load(f)
    with open(blob(manifest["config"]["digest"])) as f:
        config = json.load(f)
    base_layer = blob(manifest["layers"][0]["digest"])

    os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)

    def put(data):
        d = hashlib.sha256(data).hexdigest()
        with open(os.path.join(out, "blobs", "sha256", d), "wb") as f:
            f.write(data)
        return "sha256:" + d

    def tar_of(members, base=None):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tw:
            if base:
                with tarfile.open(base, "r:gz") as tr:
                    for m in tr.getmembers():
                        tw.addfile(m, tr.extractfile(m) if m.isreg() else None)
            for name, data in members:
                ti = tarfile.TarInfo(name)
                ti.size = len(data)
                ti.mode = 0o644
                tw.addfile(ti, io.BytesIO(data))
        return buf.getvalue()

    tars = [tar_of([("bench-nonce", os.urandom(32))], base=base_layer)]
    for i in range(layers):
        tars.append(tar_of([(f"bench-data/layer{i}.bin", os.urandom(layer_mib * 1048576))]))
    descs, diff_ids, blobs, total = [], [], [], 0
    for t in tars:
        diff_ids.append("sha256:" + hashlib.sha256(t).hexdigest())
        gz = gzip.compress(t, compresslevel=1, mtime=0)
        d = put(gz)
        blobs.append(d)
        total += len(gz)
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": len(gz)})
    config["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
    config.pop("history", None)
    cfg = json.dumps(config).encode()
    cfg_d = put(cfg)
    man = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg_d, "size": len(cfg)},
        "layers": descs,
    }).encode()
    man_d = put(man)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": man_d, "size": len(man),
            "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}, f)
    return {"blobs": blobs + [cfg_d, man_d], "compressed_bytes": total, "diff_ids": diff_ids}


# ------------------------------------------------------------------ cleanup


def cleanup(run_dir, registry_storage, procs=None):
    """Removes everything a run made; safe to call twice and after a crash."""
    run_dir = os.path.abspath(run_dir)
    if not os.path.isdir(run_dir):
        return
    piddir = os.path.join(run_dir, "pids")
    pids = {}
    if os.path.isdir(piddir):
        for fn in os.listdir(piddir):
            try:
                with open(os.path.join(piddir, fn)) as f:
                    pids[fn[:-4]] = int(f.read().strip())
            except (OSError, ValueError):
                pass
    # Agent and ecs-local first, so nothing recreates containers while we reap.
    for name, pid in pids.items():
        if name != "containerd" and alive(pid) and cmdline_in(pid, run_dir, name):
            os.kill(pid, signal.SIGKILL)
    sock = os.path.join(run_dir, "containerd", "containerd.sock")
    cpid = pids.get("containerd")
    if cpid and alive(cpid) and cmdline_in(cpid, run_dir, "containerd"):
        reap(sock)
        os.kill(cpid, signal.SIGTERM)
        for _ in range(100):
            if not alive(cpid):
                break
            time.sleep(0.1)
        if alive(cpid):
            os.kill(cpid, signal.SIGKILL)
    # Shims of our containerd carry `-address SOCK`; normally gone by now.
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/cmdline", "rb") as f:
                    cmd = f.read().split(b"\0")
            except OSError:
                continue
            if b"-address" in cmd and sock.encode() in cmd:
                try:
                    os.kill(int(p), signal.SIGKILL)
                except ProcessLookupError:
                    pass
    for _ in range(50):
        if not any(alive(pid) for pid in pids.values()):
            break
        time.sleep(0.1)
    remove_task_network(os.path.join(run_dir, "agent"))
    with open("/proc/self/mounts") as f:
        mounts = [l.split()[1] for l in f if l.split()[1].startswith(run_dir + "/")]
    for m in sorted(mounts, reverse=True):
        subprocess.run(["umount", "-l", m], capture_output=True)
    pushed = os.path.join(run_dir, "pushed")
    if os.path.isdir(pushed) and registry_storage:
        for fn in os.listdir(pushed):
            with open(os.path.join(pushed, fn)) as f:
                name, *digests = f.read().split("\n")
            remove_from_registry(registry_storage, name, digests)
    # Logs, results and profiles are small and useful: keep the last run's.
    keep = os.path.join(os.path.dirname(run_dir), "last")
    shutil.rmtree(keep, ignore_errors=True)
    logs = os.path.join(run_dir, "logs")
    if os.path.isdir(logs):
        shutil.copytree(logs, keep)
    shutil.rmtree(run_dir, ignore_errors=True)
    if os.path.exists(run_dir):
        log(f"cleanup: could not remove all of {run_dir}")


def remove_task_network(agent_data_dir):
    """The agent releases a task's network when the task stops; what a killed
    agent still held (from its persisted leases), and the bench bridge with
    its chains (an agent leaves those for the next start, as docker0)."""
    state = os.path.join(agent_data_dir, "network", "network.json")
    try:
        with open(state) as f:
            leases = (json.load(f).get("leases") or {}).values()
    except (OSError, ValueError):
        leases = []
    for lease in leases:
        if lease.get("host_veth"):
            subprocess.run(["ip", "link", "del", lease["host_veth"]], capture_output=True)
        ns = lease.get("netns_path")
        if ns and ns.startswith("/run/netns/"):
            subprocess.run(["umount", ns], capture_output=True)
            try:
                os.unlink(ns)
            except OSError:
                pass
    subprocess.run(["ip", "link", "del", BENCH_BRIDGE], capture_output=True)
    for table, chain in (("nat", f"ECS-DNAT-{BENCH_BRIDGE}"), ("nat", f"ECS-SNAT-{BENCH_BRIDGE}"),
                         ("nat", f"ECS-CRED-{BENCH_BRIDGE}"), ("filter", f"ECS-FWD-{BENCH_BRIDGE}"),
                         ("filter", f"ECS-IN-{BENCH_BRIDGE}")):
        rules = subprocess.run(["iptables", "-w", "-t", table, "-S"], capture_output=True, text=True).stdout
        for rule in rules.splitlines():
            parts = shlex.split(rule)
            jumps = [parts[i + 1] for i, p in enumerate(parts[:-1]) if p == "-j"]
            if parts[:1] == ["-A"] and chain in jumps:
                subprocess.run(["iptables", "-w", "-t", table, "-D"] + parts[1:], capture_output=True)
        subprocess.run(["iptables", "-w", "-t", table, "-F", chain], capture_output=True)
        subprocess.run(["iptables", "-w", "-t", table, "-X", chain], capture_output=True)


def ctr_processes(ids):
    """held_processes of the `ctr run -d` containers `ids` (their shims)."""
    return held_processes([f"-id {c}\0" for c in ids], ns=CTR_NS)


def held_processes(needles, ns=AGENT_NS):
    """Shims (`-namespace NS`) and loggers (`--containerd-logger` or
    `--json-file`, the modes of ecs-agent-logger) whose
    command line holds one of `needles` (task ids, `-id CONTAINER`), with
    their PSS in KiB."""
    found = []
    for p, argv in procscan.processes(lambda argv: True):
        if not alive(p):
            continue
        raw = b"\0".join(argv)
        cmd = raw.decode("utf-8", "replace")
        if b"\0--containerd-logger\0" in raw or b"\0--json-file\0" in raw:
            kind = "logger"
        elif f"-namespace\0{ns}\0" in cmd:
            kind = "shim"
        else:
            continue
        spaced = cmd + "\0"
        if not any(nd.replace(" ", "\0") in spaced for nd in needles):
            continue
        pss = 0
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss = int(line.split()[1])
        except OSError:
            pass
        found.append({"pid": p, "kind": kind, "pss_kib": pss})
    return found


def cmdline_in(pid, run_dir, name):
    """The pid still is our process (pids are reused)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = f.read().decode("utf-8", "replace")
    except OSError:
        return False
    return run_dir in cmd or run_dir in env or (name.startswith("perf") and "perf" in cmd)


def reap(sock):
    def ctr(*a):
        return subprocess.run(["ctr", "-a", sock, *a], capture_output=True, text=True, timeout=300)

    for ns in ctr("namespaces", "ls", "-q").stdout.split():
        ids = ctr("-n", ns, "tasks", "ls", "-q").stdout.split()
        if ids:
            ctr("-n", ns, "tasks", "delete", "-f", *ids)
        cids = ctr("-n", ns, "containers", "ls", "-q").stdout.split()
        if cids:
            ctr("-n", ns, "containers", "delete", *cids)
        imgs = ctr("-n", ns, "images", "ls", "-q").stdout.split()
        if imgs:
            ctr("-n", ns, "images", "rm", "--sync", *imgs)
        ctr("namespaces", "rm", ns)


def remove_from_registry(storage, name, digests):
    """Deletes a pushed repository and its (random, unshared) blobs from the
    registry's filesystem storage."""
    v2 = os.path.join(storage, "docker", "registry", "v2")
    if not name or "/" in name or name in (".", ".."):
        return
    shutil.rmtree(os.path.join(v2, "repositories", name), ignore_errors=True)
    for d in digests:
        d = d.strip()
        if not re.fullmatch(r"sha256:[0-9a-f]{64}", d):
            continue
        h = d.split(":", 1)[1]
        shutil.rmtree(os.path.join(v2, "blobs", "sha256", h[:2], h), ignore_errors=True)


# ------------------------------------------------------------------- report


def machine():
    def first(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            return "?"

    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1048576:.1f} GiB"
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "memory": mem,
        "kernel": platform.release(),
        "containerd": first(["containerd", "--version"]),
        "runc": first(["runc", "--version"]),
    }


def busy_neighbours():
    """Compilers and other test runs on the machine right now (it may be shared)."""
    n = 0
    me = os.getpid()
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == me:
            continue
        try:
            with open(f"/proc/{p}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm in ("rustc", "cargo", "cc", "ld", "cc1", "integration-") or comm.startswith("integration"):
            n += 1
    return n


def start_key(network_mode):
    """Results key of the start phase in `network_mode` ("start" for host, as in earlier runs' JSON)."""
    return "start" if network_mode == "host" else f"start_{network_mode}"


def fmt_ms(s):
    return f"{s * 1000:.0f} ms"


def verdict(ok):
    return "met" if ok else "MISSED"


def rows(res):
    """(key, item, agent, baseline, ratio, target, verdict) per table row."""
    out = []
    for network_mode, limit in (("host", 1.15), ("bridge", 1.1), ("awsvpc", 1.1)):
        st = res.get(start_key(network_mode))
        if st is None:
            continue
        am, ap = statistics.median(st["agent_s"]), percentile(st["agent_s"], 90)
        cm, cp = statistics.median(st["ctr_s"]), percentile(st["ctr_s"], 90)
        r = am / cm
        what = {
            "host": "host mode",
            "bridge": "bridge mode, one dynamic host port",
            "awsvpc": "awsvpc mode (task namespace, no ENI)",
        }[network_mode]
        out.append((
            f"start-{network_mode}", f"task start, {what}, cached image (n={st['n']})",
            f"median {fmt_ms(am)}, p90 {fmt_ms(ap)}", f"median {fmt_ms(cm)}, p90 {fmt_ms(cp)}",
            f"{r:.2f}x (p90 {ap / cp:.2f}x)", TARGETS[f"start-{network_mode}"], verdict(r <= limit),
        ))
    sq = res.get("start_quiet")
    if sq is not None and sq["agent_s"]:
        qm = statistics.median(sq["agent_s"])
        warm = sq.get("warm_s")
        wm = statistics.median(warm) if warm else None
        out.append((
            "start-quiet", f"task start, host mode, right after the agent gave a burst's pages back (n={sq['n']})",
            f"median {fmt_ms(qm)}", f"median {fmt_ms(wm)} (warm host-mode starts above)" if wm else "-",
            f"{qm / wm:.2f}x" if wm else "-", TARGETS["start-quiet"], "reported",
        ))
    b = res.get("burst")
    if b is not None:
        r = b["agent_s"] / b["ctr_s"]
        out.append((
            "burst", f"burst: {b['n']} tasks ({b['calls']} RunTask x {b['count_per_call']}) until all RUNNING",
            f"{b['agent_s']:.2f} s", f"{b['ctr_s']:.2f} s ({b['n']} sequential ctr run -d)",
            f"{r:.2f}x", TARGETS["burst"], verdict(r <= 1.0),
        ))
    ba = res.get("burst_awsvpc")
    if ba is not None:
        out.append((
            "burst-awsvpc", f"burst: {ba['n']} awsvpc tasks until all RUNNING, against the host-mode burst above",
            f"{ba['agent_s']:.2f} s", f"{b['agent_s']:.2f} s (host-mode burst, same run)",
            f"{ba['agent_s'] / b['agent_s']:.2f}x", TARGETS["burst-awsvpc"], "met",
        ))
    i = res.get("rss_idle")
    if i is not None:
        out.append((
            "rss-idle", "agent RSS idle (VmRSS steady / VmHWM peak)",
            f"{mib(i['rss_kib']):.1f} MiB / {mib(i['hwm_kib']):.1f} MiB", "-", "-",
            TARGETS["rss-idle"], verdict(mib(i["rss_kib"]) <= 12),
        ))
    ld = res.get("rss_loaded")
    if ld is not None:
        out.append((
            "rss-100", f"agent RSS with {ld['tasks']} running tasks (VmRSS steady / VmHWM peak)",
            f"{mib(ld['rss_after_window_kib']):.1f} MiB / {mib(ld['hwm_after_window_kib']):.1f} MiB", "-", "-",
            TARGETS["rss-100"], verdict(mib(ld["rss_after_window_kib"]) <= 30),
        ))
    sp = res.get("stack_pss")
    if sp is not None and sp["tasks"] and sp["ctr_containers"]:
        n, cn = sp["tasks"], sp["ctr_containers"]
        per = (sp["agent_pss_kib"] + sp["shim_pss_kib"] + sp["logger_pss_kib"]) / n
        base = sp["ctr_pss_kib"] / cn
        r = per / base if base else float("inf")
        out.append((
            "stack-pss", f"whole-stack PSS per running task ({n} tasks): agent share + shim + logger",
            f"{mib(per):.2f} MiB (agent {mib(sp['agent_pss_kib'] / n):.2f}, shim {mib(sp['shim_pss_kib'] / n):.2f}, "
            f"logger {mib(sp['logger_pss_kib'] / n):.2f})",
            f"{mib(base):.2f} MiB ({cn} running ctr run -d: the shim)",
            f"{r:.2f}x", TARGETS["stack-pss"], verdict(r <= 1.1),
        ))
    bi = res.get("binary")
    if bi is not None:
        base = f"{bi['ctr_bytes'] / 2**20:.1f} MiB (ctr)" if bi.get("ctr_bytes") else "-"
        local = "" if bi.get("local_symbols") is None else f", {bi['local_symbols']} strings of ecs-local's code"
        out.append((
            "binary", "size of the ecs-agent executable",
            f"{bi['bytes'] / 2**20:.1f} MiB{local}", base, "-",
            TARGETS["binary"], verdict(bi["bytes"] <= 20 * 2**20),
        ))
    c = res.get("cpu")
    if c is not None:
        pct = 100 * c["agent_s"] / c["window_s"]
        out.append((
            "cpu-100", f"CPU over {c['window_s']:.0f} s with {c['tasks']} running tasks",
            f"{c['agent_s']:.2f} s ({pct:.2f}% of a core)",
            f"containerd {c['containerd_s']:.2f} s ({100 * c['containerd_s'] / c['window_s']:.2f}%)",
            "-", TARGETS["cpu-100"], verdict(pct <= 1.0),
        ))
    p = res.get("pull")
    if p is not None:
        if p["agent_s"] is not None:
            r = p["agent_s"] / p["ctr_s"]
            out.append((
                "pull", f"cold pull, {p['layers']} layers, {p['compressed_mib']:.0f} MiB, median of {p['rounds']} (pullStartedAt->pullStoppedAt)",
                f"{p['agent_s']:.2f} s", f"{p['ctr_s']:.2f} s (ctr image pull, fresh namespace)",
                f"{r:.2f}x time ({1 / r:.2f}x speed)", TARGETS["pull"], verdict(r <= 1.0),
            ))
        else:
            r = p["agent_to_running_minus_cached_start_s"] / p["ctr_s"]
            out.append((
                "pull", f"cold pull, {p['layers']} layers, {p['compressed_mib']:.0f} MiB (to RUNNING minus cached start)",
                f"{p['agent_to_running_minus_cached_start_s']:.2f} s", f"{p['ctr_s']:.2f} s",
                f"{r:.2f}x time", TARGETS["pull"], verdict(r <= 1.0),
            ))
    pt = res.get("pull_transfer")
    if pt is not None:
        out.append(bench_transfer.row(pt, TARGETS["pull-transfer"], verdict))
    rs = res.get("restart")
    if rs is not None:
        ok = rs["agent_s"] <= 2.0 and rs["restarted"] == 0 and rs["tasks_running_after"] == rs["tasks"]
        out.append((
            "restart", f"kill -9 + start with {rs['tasks']} running tasks: reconciled and ACS connected",
            f"{rs['agent_s']:.2f} s, {rs['restarted']} restarted", "-", "-", TARGETS["restart"], verdict(ok),
        ))
    so = res.get("stopped")
    if so is not None:
        out.append((
            "stopped", f"processes and PSS held by {so['n']} stopped short tasks, "
            f"{so['agent_measured_after_exit_s']:.1f} s after the last exit",
            f"{so['agent_processes']} processes, {mib(so['agent_pss_kib']):.1f} MiB",
            f"{so['ctr_processes']} processes, {mib(so['ctr_pss_kib']):.1f} MiB ({so['n']} exited ctr run -d)",
            "-", TARGETS["stopped"],
            verdict(so["agent_processes"] == 0 and so["agent_measured_after_exit_s"] <= 1.5),
        ))
    h = res.get("health")
    if h is not None:
        hc, hp = h["checked"], h["plain"]

        def pct(r, key):
            return 100 * r[key] / r["window_s"]

        def stack(r):
            return (f"containerd {pct(r, 'containerd_s'):.2f}%, shims {pct(r, 'shim_s'):.2f}%, "
                    f"runc + exec'd probes {pct(r, 'shim_children_s'):.2f}%, "
                    f"check runners + checks {pct(r, 'runners_s'):.2f}%")

        out.append((
            "health-100", f"CPU of {hc['tasks']} running tasks with a `CMD-SHELL true` check every 5 s, "
            f"over {hc['window_s']:.0f} s (% of a core)",
            f"agent {pct(hc, 'agent_s'):.2f}%; {stack(hc)}",
            f"without checks: agent {pct(hp, 'agent_s'):.2f}%; {stack(hp)}",
            "-", TARGETS["health-100"], verdict(pct(hc, "agent_s") <= 1.0),
        ))
    lg = res.get("rss_large")
    if lg is not None:
        first, last = lg["samples"][0], lg["samples"][-1]
        grew = last["rss_kib"] - first["rss_kib"]
        per = grew / max(1, last["tasks"] - first["tasks"])
        out.append((
            "rss-large", f"agent RSS after {lg['n']} of the largest tasks ({lg['containers']} containers, "
            f"{lg['definition_bytes'] // 1024} KiB definition), each stopped and cleaned up",
            f"{mib(last['rss_kib']):.1f} MiB", f"{mib(first['rss_kib']):.1f} MiB (after the first)",
            f"{'+' if per >= 0 else ''}{per:.0f} KiB a task", TARGETS["rss-large"],
            verdict(grew <= FLAT_KIB),
        ))
    lc = res.get("rss_local")
    if lc is not None:
        first, last = lc["samples"][0], lc["samples"][-1]
        grew = last["rss_kib"] - first["rss_kib"]
        out.append((
            "rss-local", f"ecs-local RSS after {lc['cycles']} register/deregister cycles of the largest task definition",
            f"{mib(last['rss_kib']):.1f} MiB", f"{mib(first['rss_kib']):.1f} MiB (after {first['cycles']} cycles)",
            f"{'+' if grew >= 0 else ''}{grew / 1024:.1f} MiB", TARGETS["rss-local"],
            verdict(grew <= FLAT_KIB),
        ))
    lr = bench_logs.row(res, TARGETS["logs"], verdict, mib)
    if lr is not None:
        out.append(lr)
    return out


def table(rs):
    head = ("item", "what", "agent", "baseline", "ratio", "target", "result")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rs:
        lines.append("| " + " | ".join(r) + " |")
    return "\n".join(lines)


def details(res):
    st, b, p, rs = res["start"], res["burst"], res["pull"], res["restart"]
    out = []
    out.append(
        f"- Start: per task, ecs-local's `createdAt` (set in the RunTask transaction that queues the ACS payload) "
        f"to its `startedAt` (set when the agent's RUNNING report arrives). "
        + (
            f"ecs-local's log puts `payload sent` a median {fmt_ms(statistics.median(st['placed_to_sent_s']))} "
            f"after `task placed` (n={len(st['placed_to_sent_s'])}), so createdAt is the hand-over time to within that. "
            if st["placed_to_sent_s"] else ""
        )
        + (
            f"Of the agent's time, the image step (pullStartedAt->pullStoppedAt; the default ECS_IMAGE_PULL_BEHAVIOR "
            f"asks the registry for the manifest even when the layers are cached) took a median "
            f"{fmt_ms(statistics.median(st['agent_pull_s']))}. "
            if st["agent_pull_s"] else ""
        )
        + f"The client (python, polling describe-tasks every 100 ms) saw RUNNING a median "
        f"{fmt_ms(statistics.median(st['client_observed_s']))} after sending RunTask. "
        f"Baseline: wall time of `ctr run -d --net-host --memory-limit --log-uri file://...` (process start included), "
        f"one agent task and one ctr container alternately, each started {SETTLE_S * 1000:.0f} ms after the other side's start has ended (so that neither's after-work, such as the agent's next spare network namespace, lands on the other's timing)."
    )
    if st.get("stages_s"):
        out.append(
            "- Start, where the agent's time goes (median per stage, ms; pull times have ms resolution, "
            "the agent's log lines are written after the step they name): "
            + "; ".join(f"{k} {v * 1000:.1f}" for k, v in st["stages_s"].items())
            + "."
        )
    out.append(
        f"- Start, all samples (ms): agent {', '.join(f'{x * 1000:.0f}' for x in st['agent_s'])}; "
        f"ctr {', '.join(f'{x * 1000:.0f}' for x in st['ctr_s'])}."
    )
    for network_mode in ("bridge", "awsvpc"):
        sm = res.get(start_key(network_mode))
        if sm is None:
            continue
        stages = sm.get("stages_s") or {}
        out.append(
            f"- Start in {network_mode} mode: measured the same way, after the rows before it (host, bridge, awsvpc, in that order), "
            f"against the same `ctr run -d --net-host` baseline (ctr makes no network without CNI plugins), "
            f"so the ratio includes the whole cost of the task's network: "
            + (
                "a namespace per container, a veth into the bridge, an address from the persisted IPAM, "
                "and the DNAT rules of its dynamic host port. "
                if network_mode == "bridge"
                else "one namespace per task made before the container, a veth into the bridge and an address. "
            )
            + (
                "Stages (median, ms): " + "; ".join(f"{k} {v * 1000:.1f}" for k, v in stages.items()) + ". "
                if stages else ""
            )
            + f"Samples (ms): agent {', '.join(f'{x * 1000:.0f}' for x in sm['agent_s'])}; "
            f"ctr {', '.join(f'{x * 1000:.0f}' for x in sm['ctr_s'])}."
        )
    out.append(
        f"- Burst: from the first RunTask request (client clock) to the last `startedAt` (same host clock); "
        f"the {b['calls']} RunTask calls themselves took {b['run_task_calls_s']:.2f} s; first createdAt to last "
        f"startedAt {b['agent_created_to_last_running_s']:.2f} s."
    )
    if res.get("burst_awsvpc"):
        out.append(
            "- Burst in awsvpc mode: the same RunTask calls for an awsvpc task definition (a namespace, veth "
            "and address per task, set up alongside the image step and in parallel across tasks), timed the "
            "same way, from no running task after the other items, and stopped again; its baseline is the host-mode "
            "burst of the same run, so the ratio is the price of the task networks."
        )
    if res.get("binary"):
        out.append(
            "- Binary: the size of the ecs-agent file (release profile: symbols and debug info stripped); "
            "two log messages that only ecs-local's code (src/local) holds are counted in it, which must be 0 "
            "(and are checked to be in ecs-local's binary); "
            "the baseline is the size of the `ctr` binary on this machine."
        )
    ld, c = res["rss_loaded"], res["cpu"]
    idle = res["rss_idle"]

    def split(m):
        if m.get("anon_kib") is None:
            return ""
        return (f" (anonymous {mib(m['anon_kib']):.1f} MiB, file-backed {mib(m['file_kib']):.1f} MiB of which "
                f"{mib(m['binary_kib']):.1f} MiB are pages of the ecs-agent executable itself, {m['threads']} threads)")

    out.append(
        f"- Memory: /proc/PID/status of the agent. Idle (registered, ACS connected, no task yet; the highest sample over 60 s after a 5 s settle): VmRSS "
        f"{mib(idle['rss_kib']):.1f} MiB{split(idle)}. With tasks: right after the burst VmRSS "
        f"{mib(ld['rss_kib']):.1f} MiB, after the CPU window {mib(ld['rss_after_window_kib']):.1f} MiB{split(ld)}; "
        f"VmHWM is the peak over the agent's life so far (start phase and burst included)."
    )
    sp = res.get("stack_pss")
    if sp is not None:
        out.append(
            f"- Whole-stack PSS: Pss of /proc/PID/smaps_rollup, read after the CPU window with the "
            f"{sp['tasks']} burst tasks running: the agent's whole PSS divided by its tasks, plus every process "
            f"whose command line names one of them ({sp['shims']} shims, {sp['loggers']} loggers); PSS adds up, "
            f"so the pages the loggers share with the agent (one executable) are counted once in all. "
            f"Baseline: the {sp['ctr_containers']} `ctr run -d` containers of the burst baseline ({sp['ctr_shims']} "
            f"shims, no other process: the shim writes the file:// log), kept running beside the agent's tasks "
            f"and read right after them, so at a similar age (they started just before the agent's burst, so "
            f"they are a few seconds older): a Go shim grows as it runs, and read right after the last `ctr run` "
            f"the same shims were {mib(sp.get('ctr_young_pss_kib', 0) / max(sp.get('ctr_young_shims', 0), 1)):.2f} MiB "
            f"each. The agent's shims also answer its metrics poll (one Tasks.Metrics every "
            f"ECS_POLLING_METRICS_WAIT_DURATION), which ctr's never do; that cost is counted against the agent. "
            f"containerd itself is in neither."
        )
    out.append(
        f"- CPU: utime+stime from /proc/PID/stat (resolution {1 / CLK_TCK:.2f} s), agent {c['agent_s']:.2f} s and "
        f"containerd {c['containerd_s']:.2f} s over {c['window_s']:.1f} s; the shims are not counted."
    )
    if res.get("logs"):
        out.append(
            "- Logs: one host-mode container writes N identical 31-byte lines at once (`yes | head -n N`) and "
            "waits; with json-file the time runs from RunTask until the file holds N lines, with awslogs "
            "(blocking mode, the agent's own credentials, `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS` at moto) until "
            "moto's GetLogEvents returns N events in the stream ECS names; the agent's CPU over that time, the "
            "logger's (utime+stime) at its end, and the agent's VmRSS peak over its start. Moto is a Python "
            "emulator, so the awslogs rate is a floor set partly by moto; the batch is sent when full or 5 s "
            "after its first line, as Docker's driver flushes."
        )
    if res.get("health"):
        out.append(
            "- Health checks: the same number of host-mode tasks, first without and then with a "
            "`CMD-SHELL true` check every 5 s (timeout 5 s, retries 3), each set run until RUNNING (and all "
            "HEALTHY in describe-tasks for the checked set), then CPU over the same window: the agent and "
            "containerd (utime+stime), the tasks' shims (their own utime+stime) and what the shims reaped "
            "(cutime+cstime: the `runc exec` of every probe and the probe itself), stopped before the next set."
        )
    out.append(
        f"- Pull: agent time is `pullStoppedAt - pullStartedAt` from describe-tasks (fetch + unpack; ms resolution); "
        f"median time to RUNNING was {p['agent_to_running_s']:.2f} s, i.e. {p['agent_to_running_minus_cached_start_s']:.2f} s "
        f"more than a cached start. Baseline: wall time of `ctr image pull --plain-http` (fetch + unpack) into a "
        f"namespace of its own. Each round generates two images (busybox plus a random file, and "
        f"{p['random_layers']} layers of {p['layer_mib']} MiB of random data; same sizes, different bytes) and each "
        f"side pulls its own: containerd shares content between namespaces, so pulling one image twice would not be "
        f"cold. Rounds alternate who pulls first. Samples (s): agent "
        f"{', '.join('?' if x is None else f'{x:.2f}' for x in p['agent_samples_s'])}; ctr "
        f"{', '.join(f'{x:.2f}' for x in p['ctr_samples_s'])}."
    )
    out.append(
        f"- Restart: time from spawning the new agent to the later of its `ACS connected` log line "
        f"({rs['acs_connected_s']:.2f} s) and its last `task reconciled with containerd` line for the "
        f"{rs['tasks']} tasks ({rs['reconciled_s']:.2f} s); ecs-local reported agentConnected "
        f"at {rs['agent_connected_observed_s']:.2f} s (polled). {rs['containers_before']} containers before, "
        f"{rs['restarted']} with a changed pid or status after, {rs['new_containers']} new; "
        f"{rs['tasks_running_after']}/{rs['tasks']} tasks RUNNING in describe-tasks; ecs-local duplicate state "
        f"changes: {rs['duplicate_state_changes']}."
    )
    so = res["stopped"]
    out.append(
        f"- Stopped tasks: {so['n']} tasks whose container exits at once (`{SHORT_CMD}`), run 10 per RunTask; once "
        f"describe-tasks shows them all STOPPED and 1 s has passed since the last `executionStoppedAt` (the exit as "
        f"containerd dated it; measured {so['agent_measured_after_exit_s']:.2f} s after it), every process whose "
        f"command line names one of them is counted: shims (`-namespace {AGENT_NS} -id <container>`) and loggers "
        f"(`--containerd-logger` or `--json-file` naming the log of the task); PSS from /proc/PID/smaps_rollup. Kinds left: "
        f"{', '.join(so['agent_kinds']) or 'none'}; their {so['agent_records_kept']} container records (snapshot, "
        f"log) stay until ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION. Baseline: as many `ctr run -d` containers of the "
        f"same command, 1 s after all are STOPPED in `ctr tasks ls`: containerd keeps each exited task's shim until "
        f"its task is deleted, which is what the agent did until issue 19 (plus a logger each)."
    )
    lg = res.get("rss_large")
    if lg is not None:
        curve = ", ".join(f"{x['tasks']}: {mib(x['rss_kib']):.1f}" for x in thin(lg["samples"], 12))
        last = lg["samples"][-1]
        first = lg["samples"][0]
        out.append(
            f"- Large tasks: the agent restarted (SIGTERM, tasks left running) with "
            f"ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION={LARGE_CLEANUP_WAIT}, then {lg['n']} tasks of the largest definition "
            f"Amazon ECS allows ({lg['containers']} containers whose environments fill {lg['definition_bytes'] // 1024} KiB, "
            f"each container `{SHORT_CMD}`), one first, then 10 per RunTask; each batch waited for until STOPPED and "
            f"cleaned up (the agent's `task cleaned up` line), then {lg['settle_s']:.0f} s "
            f"before VmRSS is read. VmRSS (MiB) by tasks done: {curve}. What the agent keeps after cleanup is what it "
            f"did not give back: tasks it forgot (a leak), or free memory the allocator holds. After the first and "
            f"the last: {large_sample_text(first)}; {large_sample_text(last)} (heap: malloc's own counts from the "
            f"agent's /metrics, `ecs_agent_heap_bytes`). The phase took {lg['seconds']:.0f} s."
        )
    lc = res.get("rss_local")
    if lc is not None:
        curve = ", ".join(f"{x['cycles']}: {mib(x['rss_kib']):.1f}" for x in lc["samples"])
        out.append(
            f"- ecs-local under churn: {lc['cycles']} RegisterTaskDefinition + DeregisterTaskDefinition cycles of the "
            f"largest definition (a new revision each), VmRSS (MiB) by cycles: {curve} (as tests/integration/churn.rs, "
            f"through botocore)."
        )
    return "\n".join(out)


def profile_md(res):
    prof = res.get("profile")
    if not prof:
        return "No profile was taken in this run."
    out = []
    for name, title in (
        ("burst", "20 task starts (2 RunTask x 10)"),
        ("rest", "20 s at rest with every task running"),
        ("pull", "one more cold pull of a fresh image of the same shape, to RUNNING"),
    ):
        pr = prof.get(name)
        if not pr:
            continue
        out.append(f"#### {title}: {pr['samples']} samples in {pr['seconds']:.1f} s (cpu-clock, 999 Hz)\n")
        if pr["samples"] in ("0", "?") or not pr["top"]:
            out.append("No sample: the agent did not run on a CPU during this window.\n")
            continue
        out.append("```")
        out.extend(pr["top"])
        out.append("```")
    return "\n".join(out)


ANALYSIS_BEGIN = "<!-- analysis:begin (kept when scripts/bench rewrites this file) -->"
ANALYSIS_END = "<!-- analysis:end -->"


def write_markdown(path, res, rs, meta):
    analysis = ""
    try:
        with open(path) as f:
            old = f.read()
        if ANALYSIS_BEGIN in old and ANALYSIS_END in old:
            analysis = old.split(ANALYSIS_BEGIN, 1)[1].split(ANALYSIS_END, 1)[0].strip("\n")
    except FileNotFoundError:
        pass
    if not analysis:
        analysis = "(no analysis written yet)"
    m = meta["machine"]
    shared = meta["shared"]
    md = f"""# Benchmarks

How much the agent adds on top of containerd itself (issue 7), measured by
`scripts/bench` against a `ctr` baseline taken in the same run on the same
containerd. The numbers, the machine and the command below are written by the
script; the analysis section is written by hand and kept across re-runs.

## How to run

```
scripts/bench                 # full run (< 10 min on 2 cores): builds release binaries, writes BENCHMARKS.md
scripts/bench --smoke         # a few tasks, short windows, tiny image (< 1 min); prints the table only
scripts/bench --bin-dir DIR   # use the ecs-agent and ecs-local in DIR instead of building
scripts/bench --out FILE      # write the report to FILE ('' = do not write)
scripts/bench --json FILE     # also write the raw results (every sample) as JSON
scripts/bench --agent-env K=V # run the agent with an extra setting, e.g. ECS_IMAGE_PULL_BEHAVIOR=prefer-cached
scripts/bench --only ITEM     # only this row (repeatable; e.g. --only stopped); prints it, writes no report
scripts/bench --containerd V  # run on containerd V (1.7 or 2.1, scripts/containerd-fetch) instead of the host's 1.6
```

A full run measures for about 3.5 minutes. The release build before it took
5 minutes here when only this crate had changed (7m45s in all, build
included) and 11.5 minutes when part of the dependencies still had to be
built; a build from nothing takes longer than the issue's 10 minutes, so the
budget holds only with warm dependencies (or with --bin-dir). Cargo also waits
for any other release build on the same target directory (one run here took
11 minutes in all, about 4 of them blocked on another session's build). The smoke run
takes about 15 s and is what `tests/integration/bench_smoke.rs` runs.

Needs root on Debian 12 (like scripts/test). It runs scripts/setup and
`scripts/testenv up` (the registry on 127.0.0.1:5000 and the aws venv), then
starts a containerd of its own (own root, state and socket under
`.work/bench/run-*`, so that its CPU time is this run's alone and cold pulls
are really cold), ecs-local on a free loopback port and ecs-agent (namespace
`{AGENT_NS}`; the `ctr` baseline uses `{CTR_NS}`). At the end it stops every
task through ECS, kills its processes, removes the namespaces, the run
directory and the images it pushed (the test environment is stopped only if
the script started it). Logs and perf reports of the last run stay in
`.work/bench/last/`. Only loopback is used.

## Last run

- Date: {meta['date']}
- Command: `{meta['command']}` ({meta['mode']} mode, binaries: {meta['binaries']}; ecs-agent is {meta['agent_size_mib']:.1f} MiB)
- Commit: {meta['commit']}
- Machine: {m['cores']} cores ({m['cpu']}), {m['memory']} memory, kernel {m['kernel']}, {m['containerd']}, {m['runc']}
- Load: {shared}
- Duration of the measurements (build not included): {meta['duration_s']:.0f} s

{table(rs)}

Targets are the issue's; they are reported, never enforced (no CI failure).

### How each number was taken

{details(res)}

### Profile of the agent

`perf stat -e instructions` is not supported on this machine (no hardware
counters in the VM), so the profile uses the software `cpu-clock` event:
`perf record -F 999 -e cpu-clock -g -p <agent pid>`, reported with
`perf report --no-children --sort dso,symbol` (rows above 1.5%). Full reports
of the last run: `.work/bench/last/perf-*.txt`.

{profile_md(res)}

## Analysis

{ANALYSIS_BEGIN}
{analysis}
{ANALYSIS_END}
"""
    with open(path, "w") as f:
        f.write(md)


# --------------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cleanup", metavar="RUN_DIR", help="only remove what the run in RUN_DIR left behind")
    ap.add_argument("--mode", choices=sorted(MODES), default="full")
    ap.add_argument("--run-dir")
    ap.add_argument("--bin-dir")
    ap.add_argument("--registry", default="127.0.0.1:5000")
    ap.add_argument("--registry-storage", help="filesystem storage of that registry (to remove pushed images)")
    ap.add_argument("--image-dir", help="OCI layout of busybox (scripts/setup)")
    ap.add_argument("--out", default="", help="BENCHMARKS.md to write ('' = none)")
    ap.add_argument("--json", default="", help="results as JSON to this file")
    ap.add_argument("--command", default="scripts/bench", help="the command line to record")
    ap.add_argument("--agent-env", action="append", default=[], metavar="KEY=VALUE",
                    help="extra agent environment (e.g. ECS_IMAGE_PULL_BEHAVIOR=prefer-cached)")
    ap.add_argument("--only", action="append", default=[], metavar="ITEM",
                    help="measure only these items (repeatable; the report file is then not written)")
    ap.add_argument("--large-tasks", type=int, default=0, metavar="N",
                    help="tasks of the rss-large item (default: the mode's, 100 in full mode)")
    args = ap.parse_args()
    unknown = [i for i in args.only if i not in ITEMS]
    if unknown:
        ap.error(f"--only: unknown item(s) {', '.join(unknown)}; items: {', '.join(ITEMS)}")
    if args.only and args.out:
        ap.error("--only measures part of the table: it writes no report (pass --out '')")

    for kv in args.agent_env:
        if "=" not in kv or not re.fullmatch(r"[A-Z_][A-Z0-9_]*", kv.partition("=")[0]):
            ap.error(f"--agent-env wants KEY=VALUE, got {kv!r}")
    if args.cleanup:
        cleanup(args.cleanup, args.registry_storage)
        return 0
    for req in ("run_dir", "bin_dir", "image_dir"):
        if not getattr(args, req):
            ap.error(f"--{req.replace('_', '-')} is required")

    def on_term(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    load0, busy0 = os.getloadavg(), busy_neighbours()
    started = time.time()
    run = Run(args)
    try:
        run.measure()
    except BenchError as e:
        log(f"FAILED: {e}")
        return 1
    finally:
        log("cleaning up")
        run.teardown()
    load1, busy1 = os.getloadavg(), busy_neighbours()
    duration = time.time() - started

    res = run.results
    rs = rows(res)
    shared = (
        f"load average {load0[0]:.2f} at the start, {load1[0]:.2f} at the end; "
        f"{max(busy0, busy1)} compiler/test processes of other work seen"
    )
    if max(load0[0], load1[0]) > 1.0 or max(busy0, busy1) > 0:
        shared += " - the machine was SHARED with other work while these numbers were taken"
    else:
        shared += " - the machine was otherwise idle"
    print()
    print(table(rs))
    print()
    print(f"machine: {shared}")
    for n in run.notes:
        print(f"note: {n}")
    try:
        commit = subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10).stdout.strip() or "?"
        dirty = subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        if dirty:
            commit += " plus uncommitted changes"
    except (OSError, subprocess.SubprocessError):
        commit = "?"
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": args.command,
        "mode": args.mode,
        "binaries": os.path.abspath(args.bin_dir),
        "agent_size_mib": os.path.getsize(os.path.join(args.bin_dir, "ecs-agent")) / 1048576,
        "commit": commit,
        "machine": machine(),
        "shared": shared,
        "duration_s": duration,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "results": res, "rows": rs, "notes": run.notes}, f, indent=1, default=str)
    if args.out:
        write_markdown(args.out, res, rs, meta)
        log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
