//! Who reaches the introspection API: ecs-init's rule (since 2025,
//! ecs-init/exec/iptables/iptables.go) accepts the port from loopback and the
//! bridge of bridge-mode tasks and drops it on every other interface. Here a
//! bridge-mode task reads `/v1/metadata` through the task bridge, an awsvpc task
//! on the same bridge cannot, and the rules stay single across a restart.

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{
    env, register_task_definition as register, run_task_with as run, stop_task as stop, task_id,
    wait_task_status, wait_until_with_log, Agent, Aws, EcsLocal,
};

const LONG: Duration = Duration::from_secs(90);

fn sh_out(script: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .output()
        .expect("sh");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[track_caller]
fn wait_log(agent: &Agent, arn: &str, container: &str, needle: &str) -> String {
    wait_until_with_log(
        agent,
        &format!("{container} log has {needle:?}"),
        LONG,
        || {
            let log = agent.container_log(task_id(arn), container);
            log.contains(needle).then_some(log)
        },
    )
}

/// A task that reads the introspection API at its default gateway (the task
/// bridge's address on the host), as a monitoring daemon in bridge mode does,
/// then stays up until stopped. (`timeout`, not wget's `-T`: this busybox's
/// wget crashes with it.)
fn probe_task(aws: &Aws, env: &crate::common::TestEnv, mode: &str, port: &str) -> String {
    let script = format!(
        "trap 'exit 0' TERM; gw=$(ip route | awk '/default/{{print $3}}'); \
         body=$(timeout 3 wget -q -O- http://$gw:{port}/v1/metadata); echo rc=$? body=$body; \
         sleep 300 & wait"
    );
    let td = json!({"family": format!("intro-{mode}"), "networkMode": mode,
    "containerDefinitions": [{
        "name": "probe", "image": env.image(), "memory": 32, "essential": true,
        "command": ["sh", "-c", script],
    }]});
    register(aws, td)
}

/// The probe's `rc=` line (wget's exit status) and body.
fn probe_result(log: &str) -> (String, String) {
    let line = log
        .lines()
        .find(|l| l.starts_with("rc="))
        .unwrap_or_default();
    let (rc, body) = line.split_once(" body=").unwrap_or((line, ""));
    (rc.trim_start_matches("rc=").to_string(), body.to_string())
}

/// The agent's INPUT rules for the introspection port: ECS-AGENT-INPUT, the
/// bridge's ECS-IN chain and the jumps to both, as `iptables -S` lists them.
fn intro_rules(bridge: &str) -> Vec<String> {
    sh_out(&format!(
        "iptables -w -S INPUT | grep -E -- '-j (ECS-AGENT-INPUT|ECS-IN-{bridge})$'; \
         iptables -w -S ECS-AGENT-INPUT | grep '^-A'; iptables -w -S ECS-IN-{bridge} | grep '^-A'"
    ))
    .lines()
    .map(str::to_string)
    .collect()
}

#[test]
fn introspection_answers_bridge_tasks_not_awsvpc_tasks_and_rules_stay_single() {
    let Some(env) = env() else { return };
    // Rewrites the host-wide ECS-AGENT-* chains: one such test at a time.
    let _host = crate::network::HOST_PREP.blocking_lock();
    let local = EcsLocal::start(&env);
    let mut agent = Agent::start(
        &env,
        &local,
        &[
            ("ECS_HOST_NETWORK_SETUP", "true"),
            // ECS places awsvpc tasks only on instances with task-eni.
            ("ECS_ENABLE_TASK_ENI", "true"),
        ],
    );
    let aws = Aws::new(&env, &local);
    let instance = agent.wait_registered(&aws, LONG);
    let port = agent.var("ECS_AGENT_INTROSPECTION_PORT").expect("port");
    let bridge = agent.bridge();

    let bridge_td = probe_task(&aws, &env, "bridge", &port);
    let awsvpc_td = probe_task(&aws, &env, "awsvpc", &port);
    let b = run(&aws, &agent, &bridge_td, &[]);
    let a = run(&aws, &agent, &awsvpc_td, &[]);

    let (rc, body) = probe_result(&wait_log(&agent, &b, "probe", "rc="));
    assert_eq!(rc, "0", "bridge task could not read /v1/metadata: {body}");
    let meta: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    assert_eq!(meta["ContainerInstanceArn"], instance.as_str(), "{body}");

    let (rc, body) = probe_result(&wait_log(&agent, &a, "probe", "rc="));
    assert_ne!(rc, "0", "awsvpc task read introspection: {body}");
    assert!(body.is_empty(), "{body}");

    // ecs-init's shapes and order, adapted to the task bridge.
    let rules = intro_rules(&bridge);
    let agent_input: Vec<&String> = rules
        .iter()
        .filter(|r| r.starts_with("-A ECS-AGENT-INPUT"))
        .collect();
    assert_eq!(
        agent_input
            .iter()
            .take(2)
            .map(|r| r.as_str())
            .collect::<Vec<_>>(),
        vec![
            format!("-A ECS-AGENT-INPUT -i {bridge} -p tcp -m tcp --dport {port} -j ACCEPT"),
            format!("-A ECS-AGENT-INPUT ! -i lo -p tcp -m tcp --dport {port} -j DROP"),
        ],
        "{rules:#?}"
    );
    // The awsvpc task's DROP is ahead of the ACCEPT: its chain is INPUT's first rule.
    let input_first = sh_out("iptables -w -S INPUT | grep '^-A' | head -1");
    assert_eq!(
        input_first.trim(),
        format!("-A INPUT -i {bridge} -j ECS-IN-{bridge}"),
        "{rules:#?}"
    );
    assert_eq!(
        rules
            .iter()
            .filter(|r| r.starts_with(&format!("-A ECS-IN-{bridge} ")))
            .count(),
        1,
        "one DROP for the one awsvpc task: {rules:#?}"
    );

    // A restart with both tasks running rewrites nothing twice.
    agent.restart();
    wait_until_with_log(&agent, "host prepared again", LONG, || {
        (agent
            .log()
            .matches("host prepared for task networking")
            .count()
            >= 2)
            .then_some(())
    });
    agent.wait_registered(&aws, LONG);
    let after = intro_rules(&bridge);
    assert_eq!(after, rules, "rules changed across a restart");
    let mut unique = after.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), after.len(), "duplicated rules: {after:#?}");

    // The awsvpc task's DROP goes with its network.
    for arn in [&a, &b] {
        stop(&aws, &agent, arn);
    }
    for arn in [&a, &b] {
        wait_task_status(&aws, &agent, arn, "STOPPED", LONG);
    }
    wait_until_with_log(&agent, "awsvpc DROP removed", LONG, || {
        let left = intro_rules(&bridge);
        (!left
            .iter()
            .any(|r| r.starts_with(&format!("-A ECS-IN-{bridge} "))))
        .then_some(())
    });
    drop(agent);
    let undo = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(ecs::network::NetworkManager::undo_host_prep());
    assert!(undo.is_ok(), "{undo:?}");
}

#[test]
fn offhost_access_allowed_lets_awsvpc_tasks_in() {
    let Some(env) = env() else { return };
    let _host = crate::network::HOST_PREP.blocking_lock();
    let local = EcsLocal::start(&env);
    let agent = Agent::start(
        &env,
        &local,
        &[
            ("ECS_HOST_NETWORK_SETUP", "true"),
            ("ECS_ENABLE_TASK_ENI", "true"),
            ("ECS_ALLOW_OFFHOST_INTROSPECTION_ACCESS", "true"),
        ],
    );
    let aws = Aws::new(&env, &local);
    let instance = agent.wait_registered(&aws, LONG);
    let port = agent.var("ECS_AGENT_INTROSPECTION_PORT").expect("port");
    let bridge = agent.bridge();
    let td = probe_task(&aws, &env, "awsvpc", &port);
    let a = run(&aws, &agent, &td, &[]);
    let (rc, body) = probe_result(&wait_log(&agent, &a, "probe", "rc="));
    assert_eq!(
        rc, "0",
        "awsvpc task refused with off-host access allowed: {body}"
    );
    let meta: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    assert_eq!(meta["ContainerInstanceArn"], instance.as_str(), "{body}");
    let rules = intro_rules(&bridge);
    assert!(
        !rules.iter().any(|r| r.contains(&format!("--dport {port}"))),
        "{rules:#?}"
    );
    stop(&aws, &agent, &a);
    wait_task_status(&aws, &agent, &a, "STOPPED", LONG);
    drop(agent);
    let undo = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(ecs::network::NetworkManager::undo_host_prep());
    assert!(undo.is_ok(), "{undo:?}");
}
