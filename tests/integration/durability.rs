//! The promise: restarting or crashing the agent (or containerd) never
//! disturbs a running container, never loses a task, and never reports a
//! change twice or not at all. Real processes, real kill -9.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{
    self, ctr_tasks, describe_task as describe, register_task_def as register, run_task as run, sh,
    wait_task_status as wait_status, wait_until, wait_until_with_log, Agent, Aws, EcsLocal,
    TestEnv,
};

const START: Duration = Duration::from_secs(60);

fn duplicates(local: &EcsLocal) -> u64 {
    local.debug_stats()["duplicateStateChanges"]
        .as_u64()
        .expect("duplicateStateChanges")
}

#[test]
fn kill_9_leaves_containers_running_and_the_restarted_agent_adopts_them() {
    let Some(env) = common::env() else { return };
    let local = EcsLocal::start(&env);
    let mut agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    let instance = agent.wait_registered(&aws, START);
    let td = register(
        &aws,
        "adopt",
        json!([
            {"name": "long", "image": env.image(), "memory": 32, "essential": true,
             "command": sh("trap 'exit 0' TERM; while true; do sleep 1; done")},
            {"name": "short", "image": env.image(), "memory": 32, "essential": false,
             "command": sh("sleep 10; exit 5")}
        ]),
    );
    let arn = run(&aws, &agent, &td);
    wait_status(&aws, &agent, &arn, "RUNNING", START);
    let before = ctr_tasks(&env, agent.namespace());
    assert_eq!(before.len(), 2, "{before:?}");

    // Not in the milliseconds between ecs-local taking the RUNNING report and
    // the agent striking it from its outbox (one re-send by design).
    std::thread::sleep(Duration::from_millis(500));
    agent.kill9();
    // The short container exits while no agent is watching.
    wait_until_with_log(&agent, "the short container to exit", START, || {
        let rows = ctr_tasks(&env, agent.namespace());
        rows.iter()
            .any(|r| r.0.ends_with("-short") && r.2 == "STOPPED")
            .then_some(())
    });
    let during = ctr_tasks(&env, agent.namespace());
    let long_pid = |rows: &[(String, String, String)]| {
        rows.iter()
            .find(|r| r.0.ends_with("-long"))
            .map(|r| (r.1.clone(), r.2.clone()))
    };
    assert_eq!(
        long_pid(&during).map(|p| p.1),
        Some("RUNNING".to_string()),
        "survives kill -9: {during:?}"
    );

    agent.restart();
    assert_eq!(
        agent.wait_registered(&aws, START),
        instance,
        "re-registered with the saved ARN"
    );
    let t = wait_until_with_log(&agent, "the exit seen while down", START, || {
        let t = describe(&aws, &agent, &arn)?;
        let short = t["containers"]
            .as_array()?
            .iter()
            .find(|c| c["name"] == "short")?
            .clone();
        (short["lastStatus"] == "STOPPED").then_some(t)
    });
    let short = t["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "short")
        .unwrap();
    assert_eq!(
        short["exitCode"], 5,
        "real exit code of a container that exited while the agent was down: {t}"
    );
    assert_eq!(
        t["lastStatus"], "RUNNING",
        "the essential container still runs: {t}"
    );
    let after = ctr_tasks(&env, agent.namespace());
    assert_eq!(
        long_pid(&after),
        long_pid(&during),
        "same process, not restarted"
    );
    // The restarted agent finishes what an exit asks for (issue 19): the
    // exited container's task, shim and logger go; its record stays.
    wait_until_with_log(
        &agent,
        "the exited container's task to be deleted",
        START,
        || {
            let rows = ctr_tasks(&env, agent.namespace());
            (!rows.iter().any(|r| r.0.ends_with("-short"))).then_some(())
        },
    );
    let containers = common::ctr(&env, agent.namespace(), &["containers", "ls", "-q"]);
    assert_eq!(
        containers.lines().count(),
        2,
        "no duplicate containers, the exited one kept: {containers}"
    );

    // The adopted container is still under control.
    aws.ecs_ok(&["stop-task", "--cluster", agent.cluster(), "--task", &arn]);
    let t = wait_status(&aws, &agent, &arn, "STOPPED", Duration::from_secs(40));
    let long = t["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "long")
        .unwrap();
    assert_eq!(long["exitCode"], 0, "{t}");
    assert_eq!(
        duplicates(&local),
        0,
        "every change reached ecs-local exactly once"
    );
}

#[test]
fn sigterm_exits_the_agent_and_leaves_containers_running() {
    let Some(env) = common::env() else { return };
    let local = EcsLocal::start(&env);
    let mut agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);
    let td = register(
        &aws,
        "sigterm",
        json!([{"name": "c", "image": env.image(), "memory": 32, "essential": true,
        "command": sh("trap 'exit 0' TERM; while true; do sleep 1; done")}]),
    );
    let arn = run(&aws, &agent, &td);
    wait_status(&aws, &agent, &arn, "RUNNING", START);
    agent.stop();
    assert!(!agent.is_running());
    assert!(agent.log().contains("SIGTERM"), "{}", agent.log());
    std::thread::sleep(Duration::from_secs(1));
    let rows = ctr_tasks(&env, agent.namespace());
    assert!(
        rows.iter().any(|r| r.2 == "RUNNING"),
        "container outlives the agent: {rows:?}"
    );
    agent.restart();
    wait_status(&aws, &agent, &arn, "RUNNING", START);
    assert_eq!(duplicates(&local), 0);
}

#[test]
fn stopped_tasks_are_cleaned_up_after_the_wait() {
    let Some(env) = common::env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(
        &env,
        &local,
        // Long enough for the two describe-tasks calls below to see the log
        // before it goes, even when the aws CLI is slow on a loaded machine.
        &[("ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION", "15s")],
    );
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);
    let td = register(
        &aws,
        "cleanup",
        json!([{"name": "c", "image": env.image(), "memory": 32, "essential": true, "command": sh("echo bye")}]),
    );
    let keep_td = register(
        &aws,
        "keep",
        json!([{"name": "k", "image": env.image(), "memory": 32, "essential": true,
        "command": sh("trap 'exit 0' TERM; while true; do sleep 1; done")}]),
    );
    let keep = run(&aws, &agent, &keep_td);
    let arn = run(&aws, &agent, &td);
    wait_status(&aws, &agent, &arn, "STOPPED", START);
    wait_status(&aws, &agent, &keep, "RUNNING", START);
    let task_id = arn.rsplit('/').next().unwrap().to_string();
    assert!(agent.container_log_path(&task_id, "c").exists());
    wait_until_with_log(
        &agent,
        "cleanup of the stopped task",
        Duration::from_secs(60),
        || {
            let ids = common::ctr(&env, agent.namespace(), &["containers", "ls", "-q"]);
            (!ids.contains(&task_id)).then_some(())
        },
    );
    // The logs go after the containers (and the network and cgroup), in the
    // same cleanup step: wait for it rather than race it.
    wait_until_with_log(
        &agent,
        "its logs are removed",
        Duration::from_secs(10),
        || (!agent.container_log_path(&task_id, "c").exists()).then_some(()),
    );
    let ids = common::ctr(&env, agent.namespace(), &["containers", "ls", "-q"]);
    assert!(
        ids.contains(keep.rsplit('/').next().unwrap()),
        "the running task is untouched: {ids}"
    );
    let snaps = common::ctr(&env, agent.namespace(), &["snapshots", "ls"]);
    assert!(
        !snaps.contains(&task_id),
        "its snapshot is removed: {snaps}"
    );
}

#[test]
fn a_data_dir_of_another_cluster_is_refused() {
    let Some(env) = common::env() else { return };
    let local = EcsLocal::start(&env);
    let mut first = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    first.wait_registered(&aws, START);
    first.stop();
    let dir = first.data_dir().display().to_string();
    let mut second = Agent::start(&env, &local, &[("ECS_DATADIR", &dir)]);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while second.is_running() {
        assert!(
            std::time::Instant::now() < deadline,
            "the agent kept running with a foreign data dir:\n{}",
            second.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = second.log();
    assert!(
        log.contains(first.cluster())
            && log.contains(second.cluster())
            && log.contains("ECS_DATADIR"),
        "{log}"
    );
}

/// A containerd of this test's own, so that restarting it disturbs no other test.
struct PrivateContainerd {
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl PrivateContainerd {
    fn start() -> PrivateContainerd {
        let dir = tempfile::Builder::new()
            .prefix("ctrd-")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let p = dir.path();
        // The version's own config format: 2.x migrates version 2 at every
        // start, so it gets version 3 (what scripts/testenv writes too).
        let format = if containerd_major(&containerd_bin()) >= 2 {
            3
        } else {
            2
        };
        let config = format!(
            "version = {format}\nroot = \"{r}/root\"\nstate = \"{r}/state\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]\n  address = \"{r}/c.sock\"\n[ttrpc]\n  address = \"{r}/c.sock.ttrpc\"\n",
            r = p.display()
        );
        std::fs::write(p.join("config.toml"), config).expect("config");
        let mut c = PrivateContainerd { dir, child: None };
        c.spawn();
        c
    }

    fn sock(&self) -> PathBuf {
        self.dir.path().join("c.sock")
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("log"))
            .expect("log");
        // The containerd under test (ECS_TEST_CONTAINERD_BIN: scripts/testenv
        // runs 1.7 and 2.1 from their own directories), its shim found first.
        let bin = containerd_bin();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let child = Command::new(bin.join("containerd"))
            .env("PATH", path)
            .args([
                "--config",
                &self.dir.path().join("config.toml").display().to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start containerd");
        self.child = Some(child);
        let sock = self.sock();
        common::wait_until(Duration::from_secs(20), Duration::from_millis(100), || {
            Command::new("ctr")
                .args(["-a", &sock.display().to_string(), "version"])
                .output()
                .ok()
                .filter(|o| o.status.success())
        });
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for PrivateContainerd {
    fn drop(&mut self) {
        if self.child.is_none() {
            self.spawn();
        }
        let sock = self.sock().display().to_string();
        // Kill every container it runs before it goes, so no shim outlives the test.
        let ns = Command::new("ctr")
            .args(["-a", &sock, "namespaces", "ls", "-q"])
            .output();
        for ns in ns
            .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
            .unwrap_or_default()
            .lines()
        {
            let env = TestEnv {
                containerd_sock: self.sock(),
                ..common::env().expect("env")
            };
            common::cleanup_ns(&env, ns);
        }
        self.kill9();
        let _ = Command::new("umount")
            .arg("-R")
            .arg(self.dir.path())
            .status();
    }
}

/// Where the containerd under test lives: ECS_TEST_CONTAINERD_BIN, or the
/// host's.
fn containerd_bin() -> PathBuf {
    std::env::var_os("ECS_TEST_CONTAINERD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin"))
}

/// The major version `containerd --version` prints (`containerd
/// github.com/containerd/containerd/v2 2.1.9+unknown`, `... v1.7.27 ...`).
fn containerd_major(bin: &Path) -> u32 {
    let out = Command::new(bin.join("containerd"))
        .arg("--version")
        .output()
        .expect("containerd --version");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .nth(2)
        .and_then(|v| v.trim_start_matches('v').split('.').next()?.parse().ok())
        .unwrap_or(1)
}

fn is_mounted_under(dir: &Path) -> bool {
    std::fs::read_to_string("/proc/mounts")
        .map(|m| m.contains(&dir.display().to_string()))
        .unwrap_or(false)
}

#[test]
fn containerd_restart_under_running_tasks_keeps_them_and_the_agent_follows() {
    let Some(shared) = common::env() else { return };
    let mut ctrd = PrivateContainerd::start();
    let env = TestEnv {
        containerd_sock: ctrd.sock(),
        ..shared
    };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);
    let td = register(
        &aws,
        "ctrd",
        json!([
            {"name": "long", "image": env.image(), "memory": 32, "essential": true,
             "command": sh("trap 'exit 0' TERM; while true; do sleep 1; done")},
            // Each exits when the test says so (a file in its root):
            // later once containerd is back, gone while it is down.
            {"name": "later", "image": env.image(), "memory": 32, "essential": false,
             "command": sh("while [ ! -e /tmp/go ]; do sleep 0.1; done; exit 6")},
            {"name": "gone", "image": env.image(), "memory": 32, "essential": false,
             "command": sh("while [ ! -e /tmp/go ]; do sleep 0.1; done; exit 7")}
        ]),
    );
    let arn = run(&aws, &agent, &td);
    wait_status(&aws, &agent, &arn, "RUNNING", START);
    let before = ctr_tasks(&env, agent.namespace());
    let pid_of = |name: &str| -> String {
        before
            .iter()
            .find(|r| r.0.ends_with(&format!("-{name}")))
            .map(|r| r.1.clone())
            .unwrap_or_else(|| panic!("no task for {name}: {before:?}"))
    };
    let (later_pid, gone_pid) = (pid_of("later"), pid_of("gone"));
    let tell_to_exit = |pid: &str| {
        std::fs::write(format!("/proc/{pid}/root/tmp/go"), b"")
            .unwrap_or_else(|e| panic!("cannot signal container process {pid}: {e}"))
    };

    ctrd.kill9();
    // gone exits while containerd is down: containerd 1.7 and later drop its
    // task and exit status when they start again.
    tell_to_exit(&gone_pid);
    wait_until(Duration::from_secs(10), Duration::from_millis(100), || {
        (!Path::new(&format!("/proc/{gone_pid}")).exists()).then_some(())
    });
    std::thread::sleep(Duration::from_secs(1));
    ctrd.spawn();
    let after = ctr_tasks(&env, agent.namespace());
    assert_eq!(
        before.iter().find(|r| r.0.ends_with("-long")),
        after.iter().find(|r| r.0.ends_with("-long")),
        "the shim kept the task running"
    );
    tell_to_exit(&later_pid);

    // The exit during the outage is not lost either: with its code where
    // containerd kept it, else as a stop with no exit code and the reason.
    let gone = wait_until_with_log(&agent, "exit while containerd was down", START, || {
        let t = describe(&aws, &agent, &arn)?;
        let c = t["containers"]
            .as_array()?
            .iter()
            .find(|c| c["name"] == "gone")?
            .clone();
        (c["lastStatus"] == "STOPPED").then_some(c)
    });
    eprintln!("gone, after containerd's restart: {gone}");
    assert!(
        gone["exitCode"] == 7
            || (gone["exitCode"].is_null()
                && gone["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("exited while containerd was down"))),
        "{gone}"
    );

    // An exit after the restart still reaches the agent and the control plane.
    let t = wait_until_with_log(&agent, "exit after containerd restart", START, || {
        let t = describe(&aws, &agent, &arn)?;
        let c = t["containers"]
            .as_array()?
            .iter()
            .find(|c| c["name"] == "later")?
            .clone();
        (c["lastStatus"] == "STOPPED").then_some(c)
    });
    assert_eq!(t["exitCode"], 6, "{t}");
    aws.ecs_ok(&["stop-task", "--cluster", agent.cluster(), "--task", &arn]);
    wait_status(&aws, &agent, &arn, "STOPPED", Duration::from_secs(40));
    assert_eq!(duplicates(&local), 0);
    drop(agent);
    let dir = ctrd.dir.path().to_path_buf();
    drop(ctrd);
    assert!(!is_mounted_under(&dir), "no mounts left behind");
}

fn post_json(url: &str, body: &Value) -> u16 {
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            "-d",
            &body.to_string(),
            url,
        ])
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

#[test]
fn a_task_the_control_plane_no_longer_knows_is_stopped_through_the_manifest() {
    let Some(env) = common::env() else { return };
    let local = EcsLocal::start_with_args(&env, &["--manifest-secs", "2"]);
    let agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);
    let long = json!([{"name": "c", "image": env.image(), "memory": 32, "essential": true,
        "command": sh("trap 'exit 0' TERM; while true; do sleep 1; done")}]);
    let td = register(&aws, "manifest", long);
    let lost = run(&aws, &agent, &td);
    let kept = run(&aws, &agent, &td);
    wait_status(&aws, &agent, &lost, "RUNNING", START);
    wait_status(&aws, &agent, &kept, "RUNNING", START);
    assert_eq!(
        post_json(
            &format!("{}/debug/forget-task", local.endpoint()),
            &json!({"task": lost})
        ),
        204
    );
    let lost_id = lost.rsplit('/').next().unwrap().to_string();
    wait_until_with_log(
        &agent,
        "the forgotten task's container to stop",
        Duration::from_secs(40),
        || {
            // Its task is deleted at once after the exit (issue 19).
            let rows = ctr_tasks(&env, agent.namespace());
            (!rows
                .iter()
                .any(|r| r.0.starts_with(&lost_id) && r.2 == "RUNNING"))
            .then_some(())
        },
    );
    assert!(
        agent
            .log()
            .contains("control plane confirmed tasks to stop"),
        "{}",
        agent.log()
    );
    let t = describe(&aws, &agent, &kept).unwrap();
    assert_eq!(
        t["lastStatus"], "RUNNING",
        "a task the manifest lists keeps running: {t}"
    );
}

#[test]
fn draining_stops_the_instances_tasks_and_places_no_new_ones() {
    let Some(env) = common::env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    let instance = agent.wait_registered(&aws, START);
    let td = register(
        &aws,
        "drain",
        json!([{"name": "c", "image": env.image(), "memory": 32, "essential": true,
        "command": sh("trap 'exit 0' TERM; while true; do sleep 1; done")}]),
    );
    let arn = run(&aws, &agent, &td);
    wait_status(&aws, &agent, &arn, "RUNNING", START);
    aws.ecs_ok(&[
        "update-container-instances-state",
        "--cluster",
        agent.cluster(),
        "--container-instances",
        &instance,
        "--status",
        "DRAINING",
    ]);
    let t = wait_status(&aws, &agent, &arn, "STOPPED", Duration::from_secs(40));
    assert_eq!(
        t["containers"][0]["exitCode"], 0,
        "stopped with SIGTERM by the agent: {t}"
    );
    let out = aws.ecs_ok(&[
        "run-task",
        "--cluster",
        agent.cluster(),
        "--task-definition",
        &td,
    ]);
    assert_eq!(
        out["tasks"],
        json!([]),
        "nothing placed on a draining instance: {out}"
    );
    assert!(!out["failures"].as_array().unwrap().is_empty(), "{out}");
}

#[test]
fn deregistration_ends_the_session_and_the_agent_exits() {
    let Some(env) = common::env() else { return };
    let local = EcsLocal::start(&env);
    let mut agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    let instance = agent.wait_registered(&aws, START);
    aws.ecs_ok(&[
        "deregister-container-instance",
        "--cluster",
        agent.cluster(),
        "--container-instance",
        &instance,
        "--force",
    ]);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while agent.is_running() {
        assert!(
            std::time::Instant::now() < deadline,
            "agent still running after deregistration:\n{}",
            agent.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        agent.log().contains("no longer accepts this instance"),
        "{}",
        agent.log()
    );
}

#[test]
fn a_change_unsent_when_the_agent_dies_is_delivered_once_after_restart() {
    let Some(env) = common::env() else { return };
    let mut local = EcsLocal::start(&env);
    let mut agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);
    let td = register(
        &aws,
        "unsent",
        json!([{"name": "c", "image": env.image(), "memory": 32, "essential": true,
        // Long enough to outlive the CLI round trips before ecs-local is killed.
        "command": sh("sleep 12; exit 9")}]),
    );
    let arn = run(&aws, &agent, &td);
    wait_status(&aws, &agent, &arn, "RUNNING", START);
    // The control plane goes away; the container exits; the agent cannot report it...
    local.kill9();
    wait_until_with_log(
        &agent,
        "the exit to be seen and the report to fail",
        Duration::from_secs(60),
        || {
            agent
                .log()
                .contains("state change not delivered")
                .then_some(())
        },
    );
    // ...and dies with the change in its outbox.
    agent.kill9();
    local.restart();
    agent.restart();
    let t = wait_status(&aws, &agent, &arn, "STOPPED", START);
    assert_eq!(t["containers"][0]["exitCode"], 9, "{t}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(duplicates(&local), 0, "reported once, not once per process");
}

#[test]
fn kill_9_between_create_and_start_neither_loses_nor_duplicates_the_container() {
    let Some(env) = common::env() else { return };
    let mut agent_local = EcsLocal::start(&env);
    let mut agent = Agent::start(&env, &agent_local, &[]);
    let aws = Aws::new(&env, &agent_local);
    agent.wait_registered(&aws, START);
    // "app" is created at once but waits for "init" to succeed: it sits between create and start.
    let td = register(
        &aws,
        "between",
        json!([
            {"name": "init", "image": env.image(), "memory": 32, "essential": false, "command": sh("sleep 6; exit 0")},
            {"name": "app", "image": env.image(), "memory": 32, "essential": true,
             "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}], "command": sh("echo app-ran")}
        ]),
    );
    let arn = run(&aws, &agent, &td);
    let task_id = arn.rsplit('/').next().unwrap().to_string();
    wait_until_with_log(&agent, "app created, not started", START, || {
        let ids = common::ctr(&env, agent.namespace(), &["containers", "ls", "-q"]);
        (ids.lines().filter(|l| l.starts_with(&task_id)).count() == 2).then_some(())
    });
    // Kill between create and start, not in the milliseconds between the
    // control plane taking init's RUNNING report and the agent striking it
    // from its outbox (that window gives one re-sent report by design).
    wait_until_with_log(&agent, "init RUNNING at the control plane", START, || {
        let t = describe(&aws, &agent, &arn)?;
        let init = t["containers"]
            .as_array()?
            .iter()
            .find(|c| c["name"] == "init")?
            .clone();
        (init["lastStatus"] == "RUNNING").then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    agent.kill9();
    agent.restart();
    let t = wait_status(&aws, &agent, &arn, "STOPPED", START);
    let app = t["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "app")
        .unwrap()
        .clone();
    assert_eq!(app["exitCode"], 0, "{t}");
    assert!(agent.container_log(&task_id, "app").contains("app-ran"));
    let ids = common::ctr(&env, agent.namespace(), &["containers", "ls", "-q"]);
    assert_eq!(
        ids.lines().filter(|l| l.starts_with(&task_id)).count(),
        2,
        "no duplicate containers: {ids}"
    );
    assert_eq!(duplicates(&agent_local), 0);
    agent_local.restart();
}

/// Copies the test image to a new name in the plain registry, so this test's
/// images are its own.
fn copy_image(env: &TestEnv, name: &str) -> String {
    let dest = format!("{}/{name}:v1", env.registry);
    let ok = Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false", "--dest-tls-verify=false"])
        .arg(format!("docker://{}", env.image()))
        .arg(format!("docker://{dest}"))
        .stdout(Stdio::null())
        .status()
        .expect("skopeo")
        .success();
    assert!(ok, "skopeo copy to {dest}");
    dest
}

#[test]
fn unused_images_are_cleaned_up_and_used_ones_kept() {
    let Some(env) = common::env() else { return };
    let tag = common::unique_ns("gc");
    let (gone, kept) = (
        copy_image(&env, &format!("{tag}-gone")),
        copy_image(&env, &format!("{tag}-kept")),
    );
    let local = EcsLocal::start(&env);
    let agent = Agent::start(
        &env,
        &local,
        &[
            ("ECS_IMAGE_CLEANUP_INTERVAL", "2s"),
            ("ECS_IMAGE_MINIMUM_CLEANUP_AGE", "1s"),
            ("ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION", "1s"),
        ],
    );
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);
    // An image the agent did not pull: untracked cleanup is off by default.
    common::ctr(
        &env,
        agent.namespace(),
        &["images", "pull", "--plain-http", &env.image()],
    );
    let short = register(
        &aws,
        "gc-short",
        json!([{"name": "c", "image": gone, "memory": 32, "essential": true, "command": sh("true")}]),
    );
    let long = register(
        &aws,
        "gc-long",
        json!([{"name": "c", "image": kept, "memory": 32, "essential": true,
        "command": sh("trap 'exit 0' TERM; while true; do sleep 1; done")}]),
    );
    let short_arn = run(&aws, &agent, &short);
    let long_arn = run(&aws, &agent, &long);
    wait_status(&aws, &agent, &short_arn, "STOPPED", START);
    wait_status(&aws, &agent, &long_arn, "RUNNING", START);
    let images = |agent: &Agent| common::ctr(&env, agent.namespace(), &["images", "ls", "-q"]);
    wait_until_with_log(
        &agent,
        "the unused image to be removed",
        Duration::from_secs(40),
        || (!images(&agent).contains(&gone)).then_some(()),
    );
    std::thread::sleep(Duration::from_secs(3));
    let left = images(&agent);
    assert!(
        left.contains(&kept),
        "the running task's image stays: {left}"
    );
    assert!(
        left.contains(&env.image()),
        "an image the agent did not pull stays: {left}"
    );
    assert!(
        agent.log().contains("image cleanup: removed"),
        "{}",
        agent.log()
    );
}

/// A TCP proxy to the registry that slows what the registry sends, so a pull
/// takes seconds; counts the bytes it relayed.
struct SlowProxy {
    port: u16,
    relayed: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl SlowProxy {
    fn start(upstream: &str) -> SlowProxy {
        use std::io::{Read, Write};
        use std::net::{TcpListener, TcpStream};
        use std::sync::atomic::Ordering;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let relayed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = relayed.clone();
        let upstream = upstream.to_string();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let (mut c_read, mut s_write) = (
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                );
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c_read, &mut s_write);
                });
                let (mut s_read, mut c_write) = (server, client);
                let counter = counter.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 8192];
                    // About 100 KB/s: the busybox layer takes several seconds.
                    while let Ok(n) = s_read.read(&mut buf) {
                        if n == 0 || c_write.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        counter.fetch_add(n, Ordering::Relaxed);
                        std::thread::sleep(Duration::from_millis(80));
                    }
                });
            }
        });
        SlowProxy { port, relayed }
    }

    fn relayed(&self) -> usize {
        self.relayed.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[test]
fn kill_9_mid_pull_then_restart_runs_the_task_once() {
    let Some(env) = common::env() else { return };
    let proxy = SlowProxy::start(&env.registry);
    // Its own layer: containerd 2.x's Transfer would take busybox's shared
    // one from another namespace without a download to interrupt.
    let (repo, _, _) = common::images::push_unique_busybox(&env, "midpull");
    let image = format!("127.0.0.1:{}/{repo}:latest", proxy.port);
    let local = EcsLocal::start(&env);
    let mut agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);
    let td = register(
        &aws,
        "midpull",
        json!([{"name": "c", "image": image, "memory": 32, "essential": true, "command": sh("echo pulled-and-ran")}]),
    );
    let arn = run(&aws, &agent, &td);
    // Layer bytes are flowing: the pull is under way.
    wait_until_with_log(&agent, "the pull to be under way", START, || {
        (proxy.relayed() > 200_000).then_some(())
    });
    assert_eq!(
        describe(&aws, &agent, &arn).unwrap()["lastStatus"],
        "PENDING"
    );
    agent.kill9();
    agent.restart();
    let t = wait_status(&aws, &agent, &arn, "STOPPED", Duration::from_secs(120));
    assert_eq!(t["containers"][0]["exitCode"], 0, "{t}");
    let task_id = arn.rsplit('/').next().unwrap().to_string();
    assert!(agent
        .container_log(&task_id, "c")
        .contains("pulled-and-ran"));
    let ids = common::ctr(&env, agent.namespace(), &["containers", "ls", "-q"]);
    assert_eq!(
        ids.lines().filter(|l| l.starts_with(&task_id)).count(),
        1,
        "one container: {ids}"
    );
    let check = common::ctr(&env, agent.namespace(), &["images", "check"]);
    assert!(check.contains("complete"), "the image is whole: {check}");
    assert_eq!(duplicates(&local), 0);
}
