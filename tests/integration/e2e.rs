//! The whole system for real: ecs-local + ecs-agent + containerd + runc + the
//! local registry, driven with the real `aws` CLI, checked the way a user
//! would check: describe-tasks and the container's log file.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{self, Agent, Aws, EcsLocal, TestEnv};

const START: Duration = Duration::from_secs(60);

struct World {
    env: TestEnv,
    local: EcsLocal,
    agent: Agent,
    aws: Aws,
}

fn world(extra_env: &[(&str, &str)]) -> Option<World> {
    let env = common::env()?;
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, extra_env);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);
    Some(World {
        env,
        local,
        agent,
        aws,
    })
}

impl World {
    fn register(&self, family: &str, containers: Value) -> String {
        common::register_task_def(&self.aws, family, containers)
    }

    fn run(&self, task_def: &str) -> String {
        common::run_task(&self.aws, &self.agent, task_def)
    }

    fn describe(&self, task_arn: &str) -> Option<Value> {
        common::describe_task(&self.aws, &self.agent, task_arn)
    }

    #[track_caller]
    fn wait_status(&self, task_arn: &str, status: &str, timeout: Duration) -> Value {
        common::wait_task_status(&self.aws, &self.agent, task_arn, status, timeout)
    }

    fn container<'a>(task: &'a Value, name: &str) -> &'a Value {
        task["containers"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["name"] == name))
            .unwrap_or_else(|| panic!("no container {name} in {task}"))
    }

    fn log(&self, task_arn: &str, container: &str) -> String {
        let id = task_arn.rsplit('/').next().unwrap_or_default();
        self.agent.container_log(id, container)
    }
}

fn sh(script: &str) -> Value {
    common::sh(script)
}

#[test]
fn task_that_prints_and_exits_zero_is_stopped_with_its_output_logged() {
    let Some(w) = world(&[]) else { return };
    let td = w.register(
        "hello",
        json!([{"name": "hello", "image": w.env.image(), "memory": 32, "essential": true,
                "command": sh("echo hello-from-the-task; echo to-stderr >&2")}]),
    );
    let arn = w.run(&td);
    let t = w.wait_status(&arn, "STOPPED", START);
    let c = World::container(&t, "hello");
    assert_eq!(c["exitCode"], 0, "{t}");
    assert_eq!(c["lastStatus"], "STOPPED");
    assert!(
        c["runtimeId"].as_str().is_some_and(|s| !s.is_empty()),
        "runtimeId reported: {t}"
    );
    assert_eq!(
        t["stoppedReason"], "Essential container in task exited",
        "{t}"
    );
    let log = w.log(&arn, "hello");
    assert!(log.contains("hello-from-the-task"), "log: {log:?}");
    assert!(log.contains("to-stderr"), "stderr is logged too: {log:?}");
}

#[test]
fn long_running_task_runs_until_stop_task_and_a_term_ignoring_container_is_killed() {
    let Some(w) = world(&[("ECS_CONTAINER_STOP_TIMEOUT", "3s")]) else {
        return;
    };
    let td = w.register(
        "long",
        json!([
            {"name": "polite", "image": w.env.image(), "memory": 32, "essential": true,
             "command": sh("trap 'echo got-term; exit 0' TERM; while true; do sleep 1 & wait; done")},
            {"name": "stubborn", "image": w.env.image(), "memory": 32, "essential": false,
             "command": sh("trap '' TERM; echo ignoring-term; while true; do sleep 1; done")}
        ]),
    );
    let arn = w.run(&td);
    let t = w.wait_status(&arn, "RUNNING", START);
    for name in ["polite", "stubborn"] {
        assert_eq!(World::container(&t, name)["lastStatus"], "RUNNING", "{t}");
    }
    // Still running a while later: nothing stops it but us.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(w.describe(&arn).unwrap()["lastStatus"], "RUNNING");

    w.aws.ecs_ok(&[
        "stop-task",
        "--cluster",
        w.agent.cluster(),
        "--task",
        &arn,
        "--reason",
        "test says stop",
    ]);
    let t = w.wait_status(&arn, "STOPPED", Duration::from_secs(30));
    assert_eq!(
        World::container(&t, "polite")["exitCode"],
        0,
        "SIGTERM handled: {t}"
    );
    assert_eq!(
        World::container(&t, "stubborn")["exitCode"],
        137,
        "SIGKILL after the stop timeout: {t}"
    );
    assert_eq!(t["stoppedReason"], "test says stop", "{t}");
    assert!(w.log(&arn, "polite").contains("got-term"));
    // Nothing of the task is left running in containerd.
    let tasks = common::ctr(&w.env, w.agent.namespace(), &["tasks", "ls"]);
    assert!(!tasks.contains("RUNNING"), "ctr tasks ls: {tasks}");
}

#[test]
fn depends_on_success_runs_the_init_container_first() {
    let Some(w) = world(&[]) else { return };
    // /proc/uptime is the host's clock in every container: it orders events across them.
    let td = w.register(
        "ordered",
        json!([
            {"name": "app", "image": w.env.image(), "memory": 32, "essential": true,
             "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}],
             "command": sh("cat /proc/uptime")},
            {"name": "init", "image": w.env.image(), "memory": 32, "essential": false,
             "command": sh("sleep 2; cat /proc/uptime; exit 0")}
        ]),
    );
    let arn = w.run(&td);
    let t = w.wait_status(&arn, "STOPPED", START);
    assert_eq!(World::container(&t, "init")["exitCode"], 0, "{t}");
    assert_eq!(World::container(&t, "app")["exitCode"], 0, "{t}");
    let uptime = |c: &str| -> f64 {
        let log = w.log(&arn, c);
        log.split_whitespace()
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{c} log: {log:?}"))
    };
    let (init_done, app_started) = (uptime("init"), uptime("app"));
    assert!(
        app_started >= init_done,
        "app ran at {app_started}, before init finished at {init_done}"
    );
}

#[test]
fn depends_on_success_with_a_failing_init_never_starts_the_app() {
    let Some(w) = world(&[]) else { return };
    let td = w.register(
        "ordered-fail",
        json!([
            {"name": "init", "image": w.env.image(), "memory": 32, "essential": false,
             "command": sh("exit 4")},
            {"name": "app", "image": w.env.image(), "memory": 32, "essential": true,
             "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}],
             "command": sh("echo app-ran")}
        ]),
    );
    let arn = w.run(&td);
    let t = w.wait_status(&arn, "STOPPED", START);
    assert_eq!(World::container(&t, "init")["exitCode"], 4, "{t}");
    let reason = t["stoppedReason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("\"init\" exited with code 4") && reason.contains("SUCCESS"),
        "{t}"
    );
    assert!(
        !w.log(&arn, "app").contains("app-ran"),
        "the app must not have run"
    );
}

/// startTimeout as the Go agent reads it (dependencygraph/graph.go): set on
/// the dependency, counted from its start; the container waiting on its
/// SUCCESS is STOPPED with 143 and the Go agent's reason, never started.
#[test]
fn depends_on_start_timeout_of_the_dependency_stops_the_waiting_container() {
    let Some(w) = world(&[]) else { return };
    let td = w.register(
        "ordered-timeout",
        json!([
            {"name": "init", "image": w.env.image(), "memory": 32, "essential": false,
             "startTimeout": 2,
             "command": sh("trap 'exit 0' TERM; while true; do sleep 1; done")},
            {"name": "app", "image": w.env.image(), "memory": 32, "essential": true,
             "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}],
             "command": sh("echo app-ran")}
        ]),
    );
    let arn = w.run(&td);
    let t = w.wait_status(&arn, "STOPPED", START);
    let app = World::container(&t, "app");
    assert_eq!(app["exitCode"], 143, "{t}");
    let reason = app["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with(
            "CannotStartContainerError: dependency graph: container ordering dependency [init("
        ) && reason.ends_with("has timed out."),
        "{t}"
    );
    // init was running when app gave up: the task's stop sent it SIGTERM.
    assert_eq!(World::container(&t, "init")["exitCode"], 0, "{t}");
    assert!(
        !w.log(&arn, "app").contains("app-ran"),
        "the app must not have run"
    );
}

#[test]
fn essential_container_exit_stops_its_sibling() {
    let Some(w) = world(&[]) else { return };
    let td = w.register(
        "essential",
        json!([
            // After the sidecar has started, so that its trap is set when SIGTERM comes.
            {"name": "main", "image": w.env.image(), "memory": 32, "essential": true,
             "dependsOn": [{"containerName": "sidecar", "condition": "START"}],
             "command": sh("sleep 3; exit 3")},
            {"name": "sidecar", "image": w.env.image(), "memory": 32, "essential": false,
             "command": sh("trap 'exit 0' TERM; while true; do sleep 1; done")}
        ]),
    );
    let arn = w.run(&td);
    let t = w.wait_status(&arn, "STOPPED", START);
    assert_eq!(World::container(&t, "main")["exitCode"], 3, "{t}");
    assert_eq!(
        World::container(&t, "sidecar")["lastStatus"],
        "STOPPED",
        "{t}"
    );
    assert_eq!(
        World::container(&t, "sidecar")["exitCode"],
        0,
        "stopped with SIGTERM: {t}"
    );
    assert_eq!(t["stoppedReason"], "Essential container in task exited");
}

#[test]
fn missing_image_stops_the_task_with_cannot_pull_container_error() {
    let Some(w) = world(&[]) else { return };
    let image = format!("{}/no-such-image:latest", w.env.registry);
    let td = w.register(
        "missing",
        json!([{"name": "c", "image": image, "memory": 32, "essential": true}]),
    );
    let arn = w.run(&td);
    let t = w.wait_status(&arn, "STOPPED", START);
    let reason = t["stoppedReason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("CannotPullContainerError:"), "{t}");
    assert!(
        reason.to_lowercase().contains("unknown") || reason.contains("not found"),
        "registry's message kept: {reason}"
    );
    assert!(
        World::container(&t, "c")["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("CannotPullContainerError:"),
        "{t}"
    );
}

#[test]
fn private_registry_needs_and_uses_ecs_engine_auth_data() {
    let Some(env) = common::env() else { return };
    let auth = json!({ format!("http://{}", env.auth_registry): {"username": env.auth_user, "password": env.auth_password, "email": "t@example.com"} }).to_string();
    let Some(w) = world(&[
        ("ECS_ENGINE_AUTH_TYPE", "docker"),
        ("ECS_ENGINE_AUTH_DATA", &auth),
    ]) else {
        return;
    };
    let td = w.register(
        "private",
        json!([{"name": "c", "image": w.env.auth_image(), "memory": 32, "essential": true, "command": sh("echo pulled-with-auth")}]),
    );
    let arn = w.run(&td);
    let t = w.wait_status(&arn, "STOPPED", START);
    assert_eq!(World::container(&t, "c")["exitCode"], 0, "{t}");
    assert!(w.log(&arn, "c").contains("pulled-with-auth"));

    // The same image without credentials is refused by the registry, and the user is told so.
    let Some(w) = world(&[]) else { return };
    let td = w.register(
        "private-noauth",
        json!([{"name": "c", "image": w.env.auth_image(), "memory": 32, "essential": true}]),
    );
    let arn = w.run(&td);
    let t = w.wait_status(&arn, "STOPPED", START);
    let reason = t["stoppedReason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("CannotPullContainerError:")
            && reason.to_lowercase().contains("unauthorized"),
        "{t}"
    );
}

/// Host names have no case: a registry spelled `LocalHost:5001` in the image
/// and `LOCALHOST:5001` in ECS_ENGINE_AUTH_DATA is one registry, spoken to in
/// plain HTTP (loopback) and with the credentials.
#[test]
fn private_registry_host_matches_its_credentials_in_any_case() {
    let Some(env) = common::env() else { return };
    let port = env
        .auth_registry
        .rsplit_once(':')
        .map(|(_, p)| p.to_string())
        .expect("ECS_TEST_AUTH_REGISTRY has a port");
    let auth = json!({ format!("http://LOCALHOST:{port}"): {"username": env.auth_user, "password": env.auth_password} }).to_string();
    let Some(w) = world(&[
        ("ECS_ENGINE_AUTH_TYPE", "docker"),
        ("ECS_ENGINE_AUTH_DATA", &auth),
    ]) else {
        return;
    };
    let td = w.register(
        "private-case",
        json!([{"name": "c", "image": format!("LocalHost:{port}/busybox:latest"), "memory": 32,
                "essential": true, "command": sh("trap 'exit 0' TERM; echo pulled-in-any-case; sleep 600 & wait")}]),
    );
    let arn = w.run(&td);
    let t = w.wait_status(&arn, "RUNNING", START);
    assert_eq!(World::container(&t, "c")["lastStatus"], "RUNNING", "{t}");
    // The shell handles TERM: a PID 1 without a handler ignores it, and the
    // stop would then wait out the whole 30 s stop timeout, as long as this wait.
    common::stop_task(&w.aws, &w.agent, &arn);
    w.wait_status(&arn, "STOPPED", Duration::from_secs(30));
    assert!(w.log(&arn, "c").contains("pulled-in-any-case"));
}

#[test]
fn bad_container_definitions_are_stopped_with_a_reason_naming_the_field() {
    let Some(w) = world(&[]) else { return };
    let td = w.register(
        "bad-user",
        json!([{"name": "c", "image": w.env.image(), "memory": 32, "essential": true, "user": "nosuchuser", "command": sh("true")}]),
    );
    let arn = w.run(&td);
    let t = w.wait_status(&arn, "STOPPED", START);
    let reason = t["stoppedReason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("CannotCreateContainerError:") && reason.contains("nosuchuser"),
        "{t}"
    );

    let td = w.register(
        "bad-ulimit",
        json!([{"name": "c", "image": w.env.image(), "memory": 32, "essential": true,
                "ulimits": [{"name": "nofile", "softLimit": 4096, "hardLimit": 1024}], "command": sh("true")}]),
    );
    let arn = w.run(&td);
    let t = w.wait_status(&arn, "STOPPED", START);
    let reason = t["stoppedReason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("Ulimits[0]") && reason.contains("greater than Hard"),
        "{t}"
    );
}

#[test]
fn container_settings_reach_the_container() {
    let Some(w) = world(&[]) else { return };
    let td = w.register(
        "settings",
        json!([{"name": "c", "image": w.env.image(), "memory": 64, "essential": true,
                "user": "1000:1000", "workingDirectory": "/tmp", "readonlyRootFilesystem": true,
                "environment": [{"name": "GREETING", "value": "hi there"}],
                "ulimits": [{"name": "nofile", "softLimit": 1234, "hardLimit": 2345}],
                "dockerLabels": {"team": "platform"},
                "command": sh("echo uid=$(id -u) cwd=$(pwd) nofile=$(ulimit -n) greeting=\"$GREETING\" exec=$AWS_EXECUTION_ENV; touch /x 2>/dev/null && echo rw || echo ro")}]),
    );
    let arn = w.run(&td);
    let t = w.wait_status(&arn, "STOPPED", START);
    assert_eq!(World::container(&t, "c")["exitCode"], 0, "{t}");
    let log = w.log(&arn, "c");
    for want in [
        "uid=1000",
        "cwd=/tmp",
        "nofile=1234",
        "greeting=hi there",
        "exec=AWS_ECS_EC2",
        "ro",
    ] {
        assert!(log.contains(want), "{want:?} missing in {log:?}");
    }
    let id = World::container(&t, "c")["runtimeId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let info = common::ctr(&w.env, w.agent.namespace(), &["containers", "info", &id]);
    assert!(
        info.contains("\"team\": \"platform\""),
        "dockerLabels as containerd labels: {info}"
    );
}

#[test]
fn ecs_local_restart_keeps_tasks_and_the_agent_reconnects() {
    let Some(mut w) = world(&[]) else { return };
    let td = w.register(
        "survivor",
        json!([{"name": "c", "image": w.env.image(), "memory": 32, "essential": true,
                "command": sh("trap 'exit 0' TERM; while true; do sleep 1; done")}]),
    );
    let arn = w.run(&td);
    w.wait_status(&arn, "RUNNING", START);
    w.local.restart();
    // The control plane still knows the task after its restart...
    let t = w.wait_status(&arn, "RUNNING", Duration::from_secs(20));
    assert_eq!(World::container(&t, "c")["lastStatus"], "RUNNING");
    // ...and reaches the agent again: the stop only works over a new ACS session.
    w.aws
        .ecs_ok(&["stop-task", "--cluster", w.agent.cluster(), "--task", &arn]);
    let t = w.wait_status(&arn, "STOPPED", Duration::from_secs(90));
    assert_eq!(World::container(&t, "c")["exitCode"], 0, "{t}");
}

#[test]
fn aws_keys_in_ecs_config_sign_the_agents_requests() {
    let Some(env) = common::env() else { return };
    // ecs-local that verifies signatures: only the right keys get in.
    let local = EcsLocal::start_with_args(&env, &["--auth", "AKIDFROMFILE:secret-from-the-file"]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ecs.config");
    std::fs::write(
        &config,
        "AWS_ACCESS_KEY_ID=AKIDFROMFILE\nAWS_SECRET_ACCESS_KEY=secret-from-the-file\n",
    )
    .unwrap();
    let config = config.display().to_string();
    let mut agent = Agent::start(
        &env,
        &local,
        &[
            ("ECS_CONFIG_FILE", &config),
            ("AWS_ACCESS_KEY_ID", ""),
            ("AWS_SECRET_ACCESS_KEY", ""),
        ],
    );
    let aws = Aws::with_keys(&env, &local, "AKIDFROMFILE", "secret-from-the-file");
    // The harness could not create the cluster with its default keys, so the
    // agent's first registration found none; create it with the right keys.
    aws.ecs_ok(&["create-cluster", "--cluster-name", agent.cluster()]);
    agent.restart();
    agent.wait_registered(&aws, START);
}

/// A container is created from the image the agent pulled before while the
/// registry is asked about its tag (src/engine/image_check.rs); when the tag
/// has moved, the task must still run the image the tag points at now, and
/// report that image's digest.
#[test]
fn a_tag_moved_between_two_tasks_runs_the_image_it_points_at_now() {
    let Some(w) = world(&[]) else { return };
    let repo = common::unique_ns("moved-tag").to_ascii_lowercase();
    let image = common::images::push_busybox_with_filler(&w.env, &repo, 1, 1);
    let td = w.register(
        "moved-tag",
        json!([{"name": "c", "image": image, "memory": 32, "essential": true,
                "command": sh("md5sum /srv/filler")}]),
    );
    let run = |expect_same_as: Option<&(String, String)>| {
        let arn = w.run(&td);
        let t = w.wait_status(&arn, "STOPPED", START);
        let c = World::container(&t, "c");
        assert_eq!(c["exitCode"], 0, "{t}");
        let digest = c["imageDigest"].as_str().unwrap_or_default().to_string();
        assert!(digest.starts_with("sha256:"), "{t}");
        let sum = w
            .log(&arn, "c")
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        assert_eq!(sum.len(), 32, "md5sum printed: {:?}", w.log(&arn, "c"));
        if let Some(same) = expect_same_as {
            assert_eq!(&(digest.clone(), sum.clone()), same);
        }
        (digest, sum)
    };
    let first = run(None);
    // Pushed again under the same tag: another layer, another digest.
    assert_eq!(
        common::images::push_busybox_with_filler(&w.env, &repo, 1, 2),
        image
    );
    let moved = run(None);
    assert_ne!(moved.0, first.0, "the moved tag's digest is reported");
    assert_ne!(moved.1, first.1, "the moved tag's image runs");
    // And again, now that the agent has the moved image: the same one.
    run(Some(&moved));
}
