//! Inputs that once crashed or stalled the agent, sent through the real
//! parts: ecs-local, the `aws` CLI, containerd.

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{self, Agent, Aws, EcsLocal};

const START: Duration = Duration::from_secs(60);

fn pending_payloads(local: &EcsLocal) -> Option<u64> {
    let out = Command::new("curl")
        .args(["-sf", &format!("{}/debug/stats", local.endpoint())])
        .output()
        .ok()?;
    serde_json::from_slice::<Value>(&out.stdout).ok()?["pendingPayloads"].as_u64()
}

/// The outside probe's task: 18,000 containers, each depending on the next,
/// through a plain RegisterTaskDefinition and RunTask. The recursive
/// dependsOn check overflowed the agent's stack on it, and the unacknowledged
/// payload killed the agent again after every restart. Now: refused naming
/// Amazon ECS's limit, reported STOPPED, acknowledged, and the agent lives.
///
/// (This needs an ecs-local that registers such a definition; if ecs-local
/// comes to enforce Amazon ECS's 10 containers itself, the same payload is
/// checked by the ACS handler's unit test `an_18000_container_chain_...`.)
#[test]
fn a_task_over_amazon_ecs_container_limit_is_refused_and_the_agent_lives() {
    let Some(env) = common::env() else { return };
    let local = EcsLocal::start(&env);
    let mut agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);

    let n = 18_000;
    let containers: Vec<Value> = (0..n)
        .map(|i| {
            // Short fields: the whole definition must stay under the 2 MiB
            // that ecs-local takes in one request.
            let mut c = json!({"name": format!("c{i}"), "image": "b"});
            if i + 1 < n {
                c["dependsOn"] =
                    json!([{"containerName": format!("c{}", i + 1), "condition": "START"}]);
            }
            c
        })
        .collect();
    // Too big for one argument: the CLI reads it from a file.
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("chain.json");
    std::fs::write(
        &input,
        json!({"family": "chain", "networkMode": "host", "memory": "128",
               "containerDefinitions": containers})
        .to_string(),
    )
    .expect("write the definition");
    let td = aws.ecs_ok(&[
        "register-task-definition",
        "--cli-input-json",
        &format!("file://{}", input.display()),
    ])["taskDefinition"]["taskDefinitionArn"]
        .as_str()
        .expect("taskDefinitionArn")
        .to_string();
    let arn = common::run_task(&aws, &agent, &td);
    let t = common::wait_task_status(&aws, &agent, &arn, "STOPPED", START);
    let reason = t["stoppedReason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("containers: 18000 given; Amazon ECS allows at most 10"),
        "{reason}"
    );
    // Acknowledged: ecs-local stops re-sending it.
    common::wait_until_with_log(&agent, "the payload acknowledged", START, || {
        (pending_payloads(&local)? == 0).then_some(())
    });
    assert!(agent.is_running(), "the agent died:\n{}", agent.log());

    // And it still runs what it is sent.
    let td = common::register_task_def(
        &aws,
        "after-chain",
        json!([{"name": "c", "image": env.image(), "memory": 32, "essential": true,
                "command": common::sh("echo alive")}]),
    );
    let arn = common::run_task(&aws, &agent, &td);
    common::wait_task_status(&aws, &agent, &arn, "STOPPED", START);
    assert!(agent
        .container_log(common::task_id(&arn), "c")
        .contains("alive"));
}
