//! The sweep at start (issue 14): what the agent's containerd namespace holds
//! that no task of its checkpoint owns is removed when it starts, while the
//! containers of checkpointed tasks keep running untouched (same process).
//! The leftovers are made as an agent killed at the wrong moment leaves
//! them: a running container that never reached the checkpoint (made with
//! `ctr run`), a namespace holder of a task that is gone (made by the real
//! runtime, as the engine makes one) and a writable snapshot without a
//! container (`ctr snapshots prepare`, pinned against containerd's garbage
//! collector so that only the agent can remove it).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use ecs::runtime::containerd::pull::PullOptions;
use ecs::runtime::containerd::{Conn, ContainerdRuntime};
use ecs::runtime::{ContainerRuntime, NamespaceHolder};
use serde_json::json;

use crate::common::procs::alive;
use crate::common::{
    self, ctr_tasks, describe_task, register_task_def, run_task, sh, wait_task_status,
    wait_until_with_log, Agent, Aws, EcsLocal, TestEnv,
};

const START: Duration = Duration::from_secs(60);
/// A task the checkpoint never held; its container and holder are named as
/// the agent names a task's.
const STRAY: &str = "0a1b2c3d4e5f-0-app";
const STRAY_HOLDER: &str = "0a1b2c3d4e5f-ns";
const STRAY_SNAPSHOT: &str = "0a1b2c3d4e5f-1-side";

/// The pid of `id`'s main process while it runs.
fn running_pid(env: &TestEnv, agent: &Agent, id: &str) -> Option<u32> {
    ctr_tasks(env, agent.namespace())
        .into_iter()
        .find(|(c, _, status)| c == id && status == "RUNNING")
        .and_then(|(_, pid, _)| pid.parse().ok())
}

/// The agent's counter `name` in /metrics.
fn metric(agent: &Agent, name: &str) -> Option<f64> {
    let port = agent.var("ECS_AGENT_INTROSPECTION_PORT")?;
    let out = Command::new("curl")
        .args(["-sf", &format!("http://127.0.0.1:{port}/metrics")])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// A namespace holder as the engine makes one, with the init the agent installed.
fn start_holder(env: &TestEnv, agent: &Agent, id: &str) -> u32 {
    let init: PathBuf = agent.data_dir().join("bin").join("ecs-agent-init");
    assert!(init.exists(), "the agent installs its init at {init:?}");
    let holder = NamespaceHolder {
        id: id.to_string(),
        cgroup_parent: None,
    };
    tokio::runtime::Runtime::new()
        .expect("tokio")
        .block_on(async {
            let conn = Conn::lazy(&env.containerd_sock, agent.namespace()).expect("conn");
            let rt = ContainerdRuntime::new(conn, PullOptions::default()).with_init(init);
            rt.ensure_namespace_holder(&holder).await
        })
        .expect("a stray namespace holder")
}

#[test]
fn leftovers_no_checkpointed_task_owns_are_removed_at_start_and_its_tasks_kept() {
    let Some(env) = common::env() else { return };
    let local = EcsLocal::start(&env);
    let mut agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);
    let td = register_task_def(
        &aws,
        "keeper",
        json!([{"name": "keeper", "image": env.image(), "memory": 32, "essential": true,
        "command": sh("trap 'exit 0' TERM; while true; do sleep 1; done")}]),
    );
    let arn = run_task(&aws, &agent, &td);
    wait_task_status(&aws, &agent, &arn, "RUNNING", START);
    let keeper = format!("{}-0-keeper", common::task_id(&arn));
    let keeper_pid = running_pid(&env, &agent, &keeper).expect("the keeper runs");

    // Killed at the wrong moment; what it made but never checkpointed stays.
    agent.kill9();
    let ns = agent.namespace().to_string();
    let image = common::ctr(&env, &ns, &["images", "ls", "-q"])
        .lines()
        .find(|l| l.contains("busybox"))
        .expect("the keeper's image in the namespace")
        .trim()
        .to_string();
    common::ctr(
        &env,
        &ns,
        &[
            "run",
            "-d",
            "--snapshotter",
            "overlayfs",
            &image,
            STRAY,
            "sleep",
            "600",
        ],
    );
    let holder_pid = start_holder(&env, &agent, STRAY_HOLDER);
    let snapshots = ["snapshots", "--snapshotter", "overlayfs"];
    common::ctr(
        &env,
        &ns,
        &[&snapshots[..], &["prepare", STRAY_SNAPSHOT]].concat(),
    );
    common::ctr(
        &env,
        &ns,
        &[
            &snapshots[..],
            &[
                "label",
                STRAY_SNAPSHOT,
                "containerd.io/gc.root=leftovers-test",
            ],
        ]
        .concat(),
    );
    let stray_pid = running_pid(&env, &agent, STRAY).expect("the stray runs");
    assert!(alive(holder_pid));

    agent.restart();
    wait_until_with_log(&agent, "the leftovers to be removed", START, || {
        let records = common::ctr(&env, &ns, &["containers", "ls", "-q"]);
        let snaps = common::ctr(&env, &ns, &[&snapshots[..], &["ls"]].concat());
        let left = [STRAY, STRAY_HOLDER, STRAY_SNAPSHOT].iter().any(|id| {
            records
                .lines()
                .chain(snaps.lines())
                .any(|l| l.starts_with(id))
        });
        (!left).then_some(())
    });
    assert!(!alive(stray_pid), "the stray's process is gone");
    assert!(!alive(holder_pid), "the stray holder's init is gone");
    assert_eq!(
        metric(&agent, "ecs_agent_leftovers_removed_total"),
        Some(3.0),
        "counted in /metrics"
    );
    let log = agent.log();
    assert!(
        log.contains("removed a leftover that no checkpointed task owns") && log.contains(STRAY),
        "{log}"
    );

    // The checkpointed task was never touched: the same process runs on.
    assert_eq!(running_pid(&env, &agent, &keeper), Some(keeper_pid));
    assert!(alive(keeper_pid));
    let t = describe_task(&aws, &agent, &arn).expect("the keeper task");
    assert_eq!(t["lastStatus"], "RUNNING", "{t}");
}
