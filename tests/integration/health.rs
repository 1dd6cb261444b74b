//! Container health checks against real containerd: the agent runs each
//! probe as an exec in the container (no Docker), a HEALTHY dependency
//! gates its dependent, a hanging probe is killed at its timeout, the
//! status survives a kill -9 of the agent and the checks resume, and the
//! health the agent publishes over TCS is what `aws ecs describe-tasks`
//! shows on ecs-local, the task's derived as Amazon ECS derives it.

use std::io::{Read, Write};
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{self, sh, wait_until, Agent, Aws, EcsLocal};

const START: Duration = Duration::from_secs(60);

/// GET `path` of the agent's introspection listener, as JSON.
fn introspection(agent: &Agent, path: &str) -> Option<Value> {
    let port = agent.var("ECS_AGENT_INTROSPECTION_PORT")?;
    let body = http_get(&format!("127.0.0.1:{port}"), path)?;
    serde_json::from_str(&body).ok()
}

fn http_get(addr: &str, path: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

/// The introspection entry of container `name` of task `arn`.
fn container(agent: &Agent, arn: &str, name: &str) -> Option<Value> {
    let tasks = introspection(agent, &format!("/v1/tasks?taskarn={arn}"))?;
    tasks["Containers"]
        .as_array()?
        .iter()
        .find(|c| c["Name"] == name)
        .cloned()
}

/// The container's `Health` once its status is `status`.
fn wait_health(agent: &Agent, arn: &str, name: &str, status: &str) -> Value {
    wait_until(Duration::from_secs(30), Duration::from_millis(200), || {
        container(agent, arn, name)
            .map(|c| c["Health"].clone())
            .filter(|h| h["status"] == status)
    })
}

/// `ctr tasks ps`: one line per process of the container (main process
/// and any exec'd one, with its exec id).
fn processes(agent: &Agent, env: &common::TestEnv, id: &str) -> Vec<String> {
    common::ctr(env, agent.namespace(), &["tasks", "ps", id])
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn metric(agent: &Agent, line_prefix: &str) -> f64 {
    let port = agent
        .var("ECS_AGENT_INTROSPECTION_PORT")
        .unwrap_or_default();
    let text = http_get(&format!("127.0.0.1:{port}"), "/metrics").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(line_prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Container `name` of a describe-tasks task.
fn described<'a>(task: &'a Value, name: &str) -> &'a Value {
    task["containers"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .unwrap_or(&Value::Null)
}

/// /proc/uptime is the host's clock in every container: it orders events.
fn uptime(agent: &Agent, arn: &str, name: &str) -> f64 {
    let log = agent.container_log(common::task_id(arn), name);
    log.split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{name} log: {log:?}"))
}

#[test]
fn a_health_check_gates_its_dependent_survives_kill_9_and_turns_the_task_unhealthy() {
    let Some(env) = common::env() else { return };
    let local = EcsLocal::start(&env);
    // Health goes out on the TCS publish tick (20s; 1s here).
    let mut agent = Agent::start(
        &env,
        &local,
        &[("ECS_TEST_TCS_PUBLISH_INTERVAL_MS", "1000")],
    );
    let aws = Aws::new(&env, &local);
    let instance = agent.wait_registered(&aws, START);
    let attrs = agent.registered_attributes(&aws, &instance);
    for cap in [
        "ecs.capability.container-health-check",
        "com.amazonaws.ecs.capability.docker-remote-api.1.24",
    ] {
        assert!(
            attrs
                .as_array()
                .into_iter()
                .flatten()
                .any(|a| a["name"] == cap),
            "{cap} not advertised: {attrs}"
        );
    }
    // web passes its check 2s after it starts, and fails it from 12s on;
    // app waits for web to be HEALTHY; hang's probe never ends by itself.
    let input = json!({"family": "health", "networkMode": "host", "containerDefinitions": [
        {"name": "web", "image": env.image(), "memory": 32, "essential": true,
         "command": sh("sleep 2; cat /proc/uptime; touch /tmp/ok; sleep 10; rm /tmp/ok; exec sleep 3600"),
         "healthCheck": {"command": ["CMD-SHELL", "test -f /tmp/ok && echo ok"],
                         "interval": 1, "timeout": 1, "retries": 2}},
        {"name": "app", "image": env.image(), "memory": 32, "essential": true,
         "dependsOn": [{"containerName": "web", "condition": "HEALTHY"}],
         "command": sh("cat /proc/uptime; exec sleep 3600")},
        {"name": "hang", "image": env.image(), "memory": 32, "essential": false,
         "command": ["sleep", "3600"],
         "healthCheck": {"command": ["CMD", "sleep", "30"],
                         "interval": 1, "timeout": 1, "retries": 1}}
    ]});
    // Amazon ECS refuses checks more often than every 5 s (and so does
    // ecs-local); the agent runs whatever it is sent, so the test registers
    // its 1 s checks through the unchecked route to stay short.
    let refused = aws
        .ecs(&[
            "register-task-definition",
            "--cli-input-json",
            &input.to_string(),
        ])
        .expect_err("a 1 s health check interval was registered");
    assert!(
        refused.contains("(ClientException)")
            && refused.contains("containerDefinitions[0].healthCheck.interval: 1"),
        "{refused}"
    );
    let td = local.register_task_definition_unchecked(&input);
    let arn = common::run_task(&aws, &agent, &td);
    common::wait_task_status(&aws, &agent, &arn, "RUNNING", START);

    // HEALTHY gated app: it ran only after web made its file.
    let web = wait_health(&agent, &arn, "web", "HEALTHY");
    assert_eq!(web["output"], "ok\n", "{web}");
    let (web_ok, app_ran) = (uptime(&agent, &arn, "web"), uptime(&agent, &arn, "app"));
    assert!(
        app_ran >= web_ok,
        "app ran at {app_ran}, before web was ready at {web_ok}"
    );

    // The hanging probe is killed at its timeout and counted: UNHEALTHY
    // after one (retries 1), with Docker's words and exit code -1.
    let hang = wait_health(&agent, &arn, "hang", "UNHEALTHY");
    assert_eq!(
        hang["output"], "Health check exceeded timeout (1s)",
        "{hang}"
    );
    assert_eq!(hang["exitCode"], -1, "{hang}");
    let hang_id = container(&agent, &arn, "hang")
        .and_then(|c| c["DockerId"].as_str().map(str::to_string))
        .expect("hang's id");

    // describe-tasks: the essential web decides (hang is not essential).
    let t = wait_until(Duration::from_secs(20), Duration::from_millis(300), || {
        common::describe_task(&aws, &agent, &arn).filter(|t| {
            t["healthStatus"] == "HEALTHY" && described(t, "hang")["healthStatus"] == "UNHEALTHY"
        })
    });
    assert_eq!(described(&t, "web")["healthStatus"], "HEALTHY", "{t}");
    assert_eq!(described(&t, "app")["healthStatus"], "UNKNOWN", "{t}");

    // kill -9 (likely mid-probe: hang's probe runs half the time).
    let since = web["statusSince"].clone();
    agent.kill9();
    agent.restart();
    agent.wait_registered(&aws, START);
    // The status is the checkpoint's, before any new probe decides.
    let web = wait_health(&agent, &arn, "web", "HEALTHY");
    assert_eq!(web["statusSince"], since, "{web}");
    wait_health(&agent, &arn, "hang", "UNHEALTHY");

    // The checks resume: hang's probes time out again in the new process,
    // and no probe is left behind (the killed agent's runner is replaced,
    // and its check dies with it): at most the main process, the check
    // runner and the one check it runs.
    wait_until(Duration::from_secs(20), Duration::from_millis(200), || {
        (metric(
            &agent,
            "ecs_agent_health_checks_total{result=\"timed_out\"}",
        ) >= 3.0)
            .then_some(())
    });
    for _ in 0..5 {
        let ps = processes(&agent, &env, &hang_id);
        assert!(ps.len() <= 3, "leftover probe processes in hang: {ps:?}");
        std::thread::sleep(Duration::from_millis(300));
    }
    // web's checks (each an exec) ran every second all along; none is left.
    let web_id = container(&agent, &arn, "web")
        .and_then(|c| c["DockerId"].as_str().map(str::to_string))
        .expect("web's id");
    assert!(processes(&agent, &env, &web_id).len() <= 3);

    // web's file goes at 12s: its check fails twice, in the new process.
    let web = wait_health(&agent, &arn, "web", "UNHEALTHY");
    assert_eq!(web["exitCode"], 1, "{web}");
    let t = wait_until(Duration::from_secs(20), Duration::from_millis(300), || {
        common::describe_task(&aws, &agent, &arn).filter(|t| t["healthStatus"] == "UNHEALTHY")
    });
    assert_eq!(described(&t, "web")["healthStatus"], "UNHEALTHY", "{t}");
    common::stop_task(&aws, &agent, &arn);
}

/// The pid of `id`'s process with exec id `exec_id`, as `ctr tasks ps`
/// shows it (`PID  &ProcessDetails{ExecID:...}`).
fn exec_pid(agent: &Agent, env: &common::TestEnv, id: &str, exec_id: &str) -> Option<u32> {
    processes(agent, env, id)
        .iter()
        .find(|l| l.contains(&format!("ExecID:{exec_id},")))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|p| p.parse().ok())
}

/// Issue 15's cost: every probe of a container goes through one runner
/// exec'd into it once (src/runtime/containerd/runner.rs), not an exec of
/// its own: containerd sees the runner and never a probe's exec. A runner
/// that dies (killed here from the host) costs one probe run as an exec and
/// is replaced; the container stays HEALTHY throughout.
#[test]
fn probes_go_through_one_runner_per_container_which_is_replaced_if_it_dies() {
    let Some(env) = common::env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);
    let input = json!({"family": "runner", "networkMode": "host", "containerDefinitions": [
        {"name": "web", "image": env.image(), "memory": 32, "essential": true,
         "command": ["sleep", "3600"],
         "healthCheck": {"command": ["CMD-SHELL", "echo ok from $(pwd)"],
                         "interval": 1, "timeout": 2, "retries": 1}}
    ]});
    let td = local.register_task_definition_unchecked(&input);
    let arn = common::run_task(&aws, &agent, &td);
    common::wait_task_status(&aws, &agent, &arn, "RUNNING", START);
    let web = wait_health(&agent, &arn, "web", "HEALTHY");
    assert_eq!(web["output"], "ok from /\n", "{web}");
    let id = container(&agent, &arn, "web")
        .and_then(|c| c["DockerId"].as_str().map(str::to_string))
        .expect("web's id");

    // Five probes: every one through the runner, none as an exec.
    let passed = |agent: &Agent| metric(agent, "ecs_agent_health_checks_total{result=\"passed\"}");
    let first = exec_pid(&agent, &env, &id, "ecs-health-runner").expect("a runner");
    let start = passed(&agent);
    wait_until(Duration::from_secs(20), Duration::from_millis(100), || {
        let ps = processes(&agent, &env, &id);
        assert!(
            !ps.iter().any(|l| l.contains("ExecID:ecs-health-check,")),
            "a probe ran as an exec: {ps:?}"
        );
        (passed(&agent) >= start + 5.0).then_some(())
    });
    assert_eq!(
        exec_pid(&agent, &env, &id, "ecs-health-runner"),
        Some(first)
    );

    // The runner dies: a new one takes over, and the status never changes.
    let killed = std::process::Command::new("kill")
        .args(["-9", &first.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let start = passed(&agent);
    let second = wait_until(Duration::from_secs(20), Duration::from_millis(100), || {
        let c = container(&agent, &arn, "web").expect("web");
        assert_eq!(c["Health"]["status"], "HEALTHY", "{c}");
        exec_pid(&agent, &env, &id, "ecs-health-runner")
            .filter(|p| *p != first && passed(&agent) >= start + 3.0)
    });
    assert_ne!(second, first);
    common::stop_task(&aws, &agent, &arn);
}
