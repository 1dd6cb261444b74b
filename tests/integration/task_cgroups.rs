//! Task-level cpu and memory on a task cgroup (ECS_ENABLE_TASK_CPU_MEM_LIMIT,
//! on by default), ECS_TASK_PIDS_LIMIT, and the Go agent's OOM reason, with
//! real containerd and runc. This host is cgroup v1 (TESTBED.md): the task's
//! cgroup is `/<namespace>/<task id>` in each hierarchy, as the Go agent's
//! `/ecs/<task id>` with the default namespace.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{self, Agent, Aws, EcsLocal};

const START: Duration = Duration::from_secs(60);
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

struct World {
    _local: EcsLocal,
    agent: Agent,
    aws: Aws,
    image: String,
}

fn world(extra_env: &[(&str, &str)]) -> Option<World> {
    let env = common::env()?;
    // cgroup v1 only here; on a v2 host the files differ (see src/cgroups).
    if !Path::new(CGROUP_ROOT)
        .join("memory/memory.limit_in_bytes")
        .exists()
    {
        eprintln!("SKIP: no cgroup v1 memory hierarchy at {CGROUP_ROOT}/memory");
        return None;
    }
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, extra_env);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);
    Some(World {
        image: env.image(),
        _local: local,
        agent,
        aws,
    })
}

impl World {
    /// A host-mode task definition with task-level `cpu` and `memory` (strings,
    /// as the ECS API takes them).
    fn register(&self, family: &str, cpu: &str, memory: &str, containers: Value) -> String {
        common::register_task_definition(
            &self.aws,
            json!({"family": family, "networkMode": "host", "cpu": cpu, "memory": memory,
                   "containerDefinitions": containers}),
        )
    }

    fn task_dir(&self, controller: &str, task_arn: &str) -> PathBuf {
        let id = task_arn.rsplit('/').next().unwrap_or_default();
        Path::new(CGROUP_ROOT)
            .join(controller)
            .join(self.agent.namespace())
            .join(id)
    }

    fn read(&self, controller: &str, task_arn: &str, file: &str) -> String {
        let p = self.task_dir(controller, task_arn).join(file);
        std::fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .trim()
            .to_string()
    }
}

fn container<'a>(task: &'a Value, name: &str) -> &'a Value {
    task["containers"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no container {name} in {task}"))
}

/// A task with only task-level memory whose container allocates past it
/// (`tail /dev/zero` keeps a line that never ends): the kernel kills it
/// for the task's limit, and ECS hears the Go agent's reason
/// (agent/api/container: `OutOfMemoryError: Container killed due to memory
/// usage`) and the Go agent's task reason for an essential exit.
#[test]
fn a_container_past_the_task_memory_is_oom_killed_and_reported_so() {
    let Some(w) = world(&[]) else { return };
    let td = w.register(
        "task-oom",
        "256",
        "64",
        json!([{"name": "hog", "image": w.image, "essential": true,
                "command": common::sh("tail /dev/zero")}]),
    );
    let arn = common::run_task(&w.aws, &w.agent, &td);
    let t = common::wait_task_status(&w.aws, &w.agent, &arn, "STOPPED", START);
    let hog = container(&t, "hog");
    assert_eq!(hog["exitCode"], 137, "{t}");
    assert_eq!(
        hog["reason"], "OutOfMemoryError: Container killed due to memory usage",
        "{t}"
    );
    assert_eq!(
        t["stoppedReason"], "Essential container in task exited",
        "{t}"
    );
}

/// The task cgroup holds the Go agent's limits (quota = vCPU x period,
/// memory in bytes, ECS_TASK_PIDS_LIMIT), the container runs under it (a
/// fork past pids.max fails inside), the instance advertises the Go
/// agent's capabilities, and the cgroup is gone once the task is cleaned up.
#[test]
fn the_task_cgroup_has_the_limits_holds_the_containers_and_goes_at_cleanup() {
    let Some(w) = world(&[
        ("ECS_TASK_PIDS_LIMIT", "20"),
        ("ECS_CGROUP_CPU_PERIOD", "50ms"),
        ("ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION", "1s"),
        // `sleep` as PID 1 ignores SIGTERM.
        ("ECS_CONTAINER_STOP_TIMEOUT", "1s"),
    ]) else {
        return;
    };
    let instance = w.agent.wait_registered(&w.aws, START);
    let attrs = w.agent.registered_attributes(&w.aws, &instance).to_string();
    for cap in [
        "ecs.capability.task-cpu-mem-limit",
        "ecs.capability.increased-task-cpu-limit",
    ] {
        assert!(attrs.contains(cap), "{cap} not in {attrs}");
    }

    let td = w.register(
        "task-limits",
        "512",
        "128",
        json!([{"name": "app", "image": w.image, "essential": true,
                // The fork loop in a subshell, which dies at the first fork
                // refused; the container's shell goes on without forking.
                "command": common::sh(
                    "cat /proc/self/cgroup; (i=0; while [ $i -lt 30 ]; do sleep 300 & i=$((i+1)); done); \
                     exec sleep 300")}]),
    );
    let arn = common::run_task(&w.aws, &w.agent, &td);
    common::wait_task_status(&w.aws, &w.agent, &arn, "RUNNING", START);
    let id = arn.rsplit('/').next().unwrap_or_default().to_string();
    // 0.5 vCPU of a 50ms period; 128 MiB; pids.max as set.
    assert_eq!(w.read("cpu", &arn, "cpu.cfs_period_us"), "50000");
    assert_eq!(w.read("cpu", &arn, "cpu.cfs_quota_us"), "25000");
    assert_eq!(w.read("memory", &arn, "memory.limit_in_bytes"), "134217728");
    assert_eq!(w.read("pids", &arn, "pids.max"), "20");
    // The container's cgroup is the task cgroup's child, in every hierarchy.
    let under = format!(":/{}/{id}/", w.agent.namespace());
    let log = common::wait_until_with(
        "the container's fork loop to give up",
        Duration::from_secs(20),
        Duration::from_millis(200),
        || {
            let log = w.agent.container_log(&id, "app");
            log.contains("can't fork").then_some(log)
        },
    );
    let memory_line = log
        .lines()
        .find(|l| l.contains(":memory:"))
        .unwrap_or_else(|| panic!("no memory cgroup in the log: {log}"));
    assert!(
        memory_line.contains(&under),
        "{memory_line} not under {under}"
    );
    let current: u32 = w.read("pids", &arn, "pids.current").parse().unwrap();
    assert!(current <= 20, "pids.current {current} above pids.max 20");

    common::stop_task(&w.aws, &w.agent, &arn);
    common::wait_task_status(&w.aws, &w.agent, &arn, "STOPPED", START);
    common::wait_until_with(
        "the task cgroup to be removed at cleanup",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || {
            [
                "cpu", "memory", "pids", "cpuacct", "blkio", "devices", "freezer",
            ]
            .iter()
            .all(|c| !w.task_dir(c, &arn).exists())
            .then_some(())
        },
    );
}

/// After an agent restart the running task's cgroup is found again (the
/// container stays in it, the limit in place) and a stale one of a task the
/// agent does not know is removed.
#[test]
fn an_agent_restart_keeps_a_running_tasks_cgroup_and_removes_stale_ones() {
    let Some(mut w) = world(&[]) else { return };
    let td = w.register(
        "task-restart",
        "256",
        "96",
        json!([{"name": "app", "image": w.image, "essential": true,
                "command": common::sh("sleep 600")}]),
    );
    let arn = common::run_task(&w.aws, &w.agent, &td);
    common::wait_task_status(&w.aws, &w.agent, &arn, "RUNNING", START);
    let procs_before = w.read("memory", &arn, "cgroup.procs");
    let stale = Path::new(CGROUP_ROOT)
        .join("memory")
        .join(w.agent.namespace())
        .join("0123456789abcdef0123456789abcdef");
    std::fs::create_dir(&stale).expect("a stale task cgroup");

    w.agent.restart();
    w.agent.wait_registered(&w.aws, START);
    common::wait_until_with(
        "the stale task cgroup to be removed",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || (!stale.exists()).then_some(()),
    );
    assert_eq!(w.read("memory", &arn, "memory.limit_in_bytes"), "100663296");
    assert_eq!(w.read("memory", &arn, "cgroup.procs"), procs_before);
    let t = common::describe_task(&w.aws, &w.agent, &arn).expect("the task");
    assert_eq!(t["lastStatus"], "RUNNING", "{t}");
}
