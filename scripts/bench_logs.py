"""The log item of scripts/bench (issue 16): one container writes N short
lines as fast as it can, once with awslogs to moto's CloudWatch Logs and
once with json-file to the local disk (the ceiling: nothing leaves the
host). Each side is timed from the task's start to the moment every line
is where it goes (counted there: in moto with GetLogEvents, in the json-file
by its newlines), with the CPU the agent and the container's logger spent
meanwhile and the agent's memory growth. Imported by bench-driver.py.
"""

import os
import time

import procscan

# What the container writes: N identical short lines, then it waits for the
# stop (so its logger is still there to be measured).
LINE = "bench-log-line-0123456789abcdef"
GROUP = "/ecs/bench"


def script(n):
    return f"trap 'exit 0' TERM; yes {LINE} | head -n {n}; sleep 86400 & wait"


def logs_client(moto, region):
    import botocore.session

    return botocore.session.get_session().create_client(
        "logs",
        region_name=region,
        endpoint_url=moto,
        aws_access_key_id="AKIDBENCHLOGS",
        aws_secret_access_key="bench-logs-secret",
    )


def moto_count(client, group, stream):
    """Events in the stream so far (0 while it does not exist)."""
    n, token = 0, None
    while True:
        kw = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
        if token:
            kw["nextToken"] = token
        try:
            page = client.get_log_events(**kw)
        except client.exceptions.ResourceNotFoundException:
            return n
        n += len(page["events"])
        nxt = page.get("nextForwardToken")
        if not page["events"] or nxt is None or nxt == token:
            return n
        token = nxt


def file_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def logger_pid(task_id):
    """The container logger process of the task (its json-file path names it)."""
    found = procscan.processes(
        lambda argv: argv[0].endswith(b"ecs-agent-logger") and any(task_id.encode() in a for a in argv)
    )
    return found[0][0] if found else None


def measure_side(run, family, driver, n, count, proc_cpu_s, proc_status):
    """Runs one task of `family` and waits until `count(task_id)` reaches n."""
    agent = run.agent_pid
    cpu0 = proc_cpu_s(agent)
    rss0 = proc_status(agent)["VmRSS"]
    t0 = time.time()
    arn = run.run_tasks(family, 1)[0]
    task_id = arn.rsplit("/", 1)[1]
    peak, got, deadline = rss0, 0, time.time() + 600
    while got < n:
        if time.time() > deadline:
            raise RuntimeError(f"{driver}: only {got} of {n} lines arrived in 600 s")
        run.check_agent_alive()
        time.sleep(0.2)
        peak = max(peak, proc_status(agent)["VmRSS"])
        got = count(task_id)
    elapsed = time.time() - t0
    agent_cpu = proc_cpu_s(agent) - cpu0
    pid = logger_pid(task_id)
    logger_cpu = proc_cpu_s(pid) if pid else None
    logger_rss = proc_status(pid)["VmRSS"] if pid else None
    run.stop_all_tasks(timeout=120)
    return {
        "driver": driver, "lines": n, "arrived": got, "seconds": elapsed,
        "agent_cpu_s": agent_cpu, "logger_cpu_s": logger_cpu,
        "agent_rss_growth_kib": peak - rss0, "logger_rss_kib": logger_rss,
    }


def phase(run, n, moto, region, proc_cpu_s, proc_status):
    """Both sides, json-file first; returns the item's results."""
    container = {"name": "app", "image": run.image, "memory": 64, "essential": True,
                 "command": ["sh", "-c", script(n)]}
    run.client.register_task_definition(
        family="bench-logs-json", networkMode="host",
        containerDefinitions=[dict(container, logConfiguration={"logDriver": "json-file"})],
    )
    run.client.register_task_definition(
        family="bench-logs-awslogs", networkMode="host",
        containerDefinitions=[dict(container, logConfiguration={
            "logDriver": "awslogs",
            "options": {"awslogs-group": GROUP, "awslogs-region": region,
                        "awslogs-stream-prefix": "bench", "mode": "blocking"},
        })],
    )
    client = logs_client(moto, region)
    try:
        client.create_log_group(logGroupName=GROUP)
    except client.exceptions.ResourceAlreadyExistsException:
        pass
    data = os.path.join(run.dir, "agent", "logs")
    json_side = measure_side(
        run, "bench-logs-json", "json-file", n,
        lambda t: file_lines(os.path.join(data, t, "app-json.log")), proc_cpu_s, proc_status,
    )
    aws_side = measure_side(
        run, "bench-logs-awslogs", "awslogs", n,
        lambda t: moto_count(client, GROUP, f"bench/app/{t}"), proc_cpu_s, proc_status,
    )
    return {"json_file": json_side, "awslogs": aws_side}


def row(res, target, verdict, mib):
    """The table row of the item, or None when it was not measured."""
    lg = res.get("logs")
    if lg is None:
        return None
    a, j = lg["awslogs"], lg["json_file"]

    def rate(s):
        return s["lines"] / s["seconds"]

    def per10k(s, key):
        v = s.get(key)
        return "-" if v is None else f"{1000 * v * 10000 / s['lines']:.0f} ms"

    return (
        "logs", f"{a['lines']} short lines written at once, until all are in CloudWatch Logs "
        f"(moto) with awslogs / in the json-file",
        f"{rate(a):.0f} lines/s delivered; per 10,000 lines agent {per10k(a, 'agent_cpu_s')}, "
        f"logger {per10k(a, 'logger_cpu_s')} CPU; agent RSS +{mib(a['agent_rss_growth_kib']):.1f} MiB",
        f"json-file {rate(j):.0f} lines/s; agent {per10k(j, 'agent_cpu_s')}, logger {per10k(j, 'logger_cpu_s')}",
        f"{rate(a) / rate(j):.2f}x", target,
        verdict(a["arrived"] == a["lines"] and j["arrived"] == j["lines"]),
    )
