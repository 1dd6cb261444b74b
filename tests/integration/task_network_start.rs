//! How task networks are made at start (issue 19 point 4): alongside the
//! image pull, and for independent tasks in parallel. A task whose pull
//! fails leaves none of its network behind; ten bridge tasks started at
//! once each get their own address and host port, and each answers on it.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{
    env, register_task_definition as register, run_task_with as run, stop_task as stop, task_id,
    wait_task_status, wait_until, Agent, Aws, EcsLocal,
};
use crate::task_network::{footprint, http_get, sh_out, stoppable, with_image};

const LONG: Duration = Duration::from_secs(90);

/// The rules of the agent's bridge in the filter table (the awsvpc tasks'
/// DROPs of the introspection port), which `footprint` does not list.
fn input_rules(agent: &Agent) -> Vec<String> {
    sh_out(&format!(
        "iptables -w -S ECS-IN-{} 2>/dev/null",
        agent.bridge()
    ))
    .lines()
    .filter(|l| l.starts_with("-A"))
    .map(str::to_string)
    .collect()
}

fn leases(agent: &Agent) -> Value {
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(agent.data_dir().join("network/network.json")).unwrap_or_default(),
    )
    .unwrap_or(Value::Null);
    state["leases"].clone()
}

/// The namespace of the task's container is begun with its image pull; a
/// pull that fails (no such image in the registry) must leave no
/// namespace, veth, DNAT or introspection rule, nor lease behind, in
/// bridge mode (a port mapping) and in awsvpc mode alike.
#[test]
fn a_task_whose_image_does_not_exist_leaves_no_network_behind() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(
        &env,
        &local,
        &[
            ("ECS_DYNAMIC_HOST_PORT_RANGE", "32000-32099"),
            ("ECS_ENABLE_TASK_ENI", "true"),
        ],
    );
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, LONG);
    let before = (footprint(&agent), input_rules(&agent));
    let missing = format!("{}/no-such-image-issue19:latest", env.registry);
    let container = json!({
        "name": "web", "image": "IMAGE", "memory": 32, "essential": true,
        "portMappings": [{"containerPort": 80}],
        "command": stoppable("true"),
    });
    let mut arns = Vec::new();
    for mode in ["bridge", "awsvpc"] {
        let td = register(
            &aws,
            with_image(
                json!({"family": format!("nopull-{mode}"), "networkMode": mode,
                       "containerDefinitions": [container.clone()]}),
                &missing,
            ),
        );
        arns.push(run(&aws, &agent, &td, &[]));
    }
    for arn in &arns {
        let task = wait_task_status(&aws, &agent, arn, "STOPPED", LONG);
        let reason = task["containers"][0]["reason"].as_str().unwrap_or_default();
        assert!(reason.contains("CannotPullContainerError"), "{task}");
    }
    let ids: Vec<&str> = arns.iter().map(|a| task_id(a)).collect();
    let after = (footprint(&agent), input_rules(&agent));
    let namespaces: Vec<&String> = (after.0)
        .0
        .iter()
        .filter(|n| ids.iter().any(|id| n.contains(id)))
        .collect();
    assert!(namespaces.is_empty(), "namespaces left: {namespaces:?}");
    assert_eq!((after.0).1, (before.0).1, "veths left on the bridge");
    assert_eq!((after.0).2, (before.0).2, "DNAT rules left");
    assert_eq!(after.1, before.1, "introspection rules left");
    assert_eq!(leases(&agent), json!({}), "leases left");
}

/// Ten bridge tasks of one RunTask (one payload, so their networks are set
/// up at the same time), each with a dynamic host port: ten distinct
/// ports, and behind each a distinct container that had its address on
/// eth0 when its process began (the address it serves is the one it saw).
#[test]
fn ten_bridge_tasks_started_at_once_each_answer_on_their_own_port_and_address() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(
        &env,
        &local,
        &[("ECS_DYNAMIC_HOST_PORT_RANGE", "32100-32199")],
    );
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, LONG);
    let before = footprint(&agent);
    let td = register(
        &aws,
        with_image(
            json!({"family": "ten-web", "networkMode": "bridge", "containerDefinitions": [{
                "name": "web", "image": "IMAGE", "memory": 32, "essential": true,
                "stopTimeout": 2,
                "portMappings": [{"containerPort": 80}],
                "command": stoppable(
                    "mkdir -p /www && echo addr=$(ip -4 -o addr show eth0 | awk '{print $4}') \
                     > /www/index.html && httpd -p 80 -h /www"
                ),
            }]}),
            &env.image(),
        ),
    );
    let out = aws.ecs_ok(&[
        "run-task",
        "--cluster",
        agent.cluster(),
        "--task-definition",
        &td,
        "--count",
        "10",
    ]);
    assert_eq!(out["failures"], json!([]), "{out}");
    let arns: Vec<String> = out["tasks"]
        .as_array()
        .map(|ts| {
            ts.iter()
                .filter_map(|t| t["taskArn"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(arns.len(), 10, "{out}");

    let mut ports = Vec::new();
    for arn in &arns {
        let t = wait_task_status(&aws, &agent, arn, "RUNNING", LONG);
        let port = t["containers"][0]["networkBindings"][0]["hostPort"].as_u64();
        ports.push(port.unwrap_or_else(|| panic!("no host port: {t}")));
    }
    let distinct: HashSet<&u64> = ports.iter().collect();
    assert_eq!(
        distinct.len(),
        10,
        "a host port handed out twice: {ports:?}"
    );

    let subnet = agent.var("ECS_TASK_BRIDGE_SUBNET").expect("subnet");
    let prefix = subnet.rsplitn(2, '.').last().unwrap_or("?").to_string() + ".";
    let mut addrs = Vec::new();
    for p in &ports {
        let body = wait_until(LONG, Duration::from_millis(300), || {
            http_get(&format!("127.0.0.1:{p}"))
        });
        let addr = body
            .trim()
            .strip_prefix("addr=")
            .unwrap_or_default()
            .to_string();
        assert!(
            addr.starts_with(&prefix) && addr.len() > prefix.len(),
            "port {p}: the container saw no address of {subnet} on eth0 at its start: {body:?}"
        );
        addrs.push(addr);
    }
    let distinct: HashSet<&String> = addrs.iter().collect();
    assert_eq!(distinct.len(), 10, "an address handed out twice: {addrs:?}");

    for arn in &arns {
        stop(&aws, &agent, arn);
    }
    for arn in &arns {
        wait_task_status(&aws, &agent, arn, "STOPPED", LONG);
    }
    let after = footprint(&agent);
    assert_eq!(after.1, before.1, "veths left on the bridge");
    assert_eq!(after.2, before.2, "DNAT rules left");
    assert_eq!(leases(&agent), json!({}), "leases left");
}
