//! The agent API at `${ECS_AGENT_URI}` from inside containers: task scale-in
//! protection, called on the task's behalf with its role's credentials.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{
    env, register_task_definition as register, run_task as run, task_id, wait_task_status,
    wait_until_with_log, Agent, Aws, EcsLocal,
};

const LONG: Duration = Duration::from_secs(90);

/// The script's lines `name=<json>` once `done` is printed (`Null` for a
/// name whose line has no JSON; the log is in the map under "log").
fn wait_json_lines(agent: &Agent, arn: &str) -> std::collections::BTreeMap<String, Value> {
    let log = wait_until_with_log(agent, "agent API answers", LONG, || {
        let log = agent.container_log(task_id(arn), "app");
        log.contains("done").then_some(log)
    });
    let mut out: std::collections::BTreeMap<String, Value> = log
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            let v = v.find('{').map(|i| &v[i..]).unwrap_or("null");
            Some((
                k.to_string(),
                serde_json::from_str(v).unwrap_or(Value::Null),
            ))
        })
        .collect();
    out.insert("log".into(), Value::String(log));
    out
}

/// A PUT with busybox (its wget cannot): raw HTTP over nc, body only. nc
/// gives up on the connection when its input ends, so the input stays open
/// until the agent (which calls ECS first) has answered and closed.
const PUT: &str = "put() { body=\"$1\"; \
    { printf 'PUT %s HTTP/1.0\\r\\nHost: 169.254.170.2\\r\\nContent-Type: application/json\\r\\nContent-Length: %s\\r\\n\\r\\n%s' \
      \"${ECS_AGENT_URI#http://169.254.170.2}/task-protection/v1/state\" \"${#body}\" \"$body\"; sleep 5; } \
      | nc 169.254.170.2 80 | sed '1,/^\\r$/d'; }";

#[test]
fn a_task_protects_itself_through_the_agent_api() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, &[("ECS_ENABLE_TASK_IAM_ROLE", "true")]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, LONG);
    let script = format!(
        "{PUT}; u=$ECS_AGENT_URI/task-protection/v1/state; \
         echo before=$(wget -qO- $u); \
         echo set=$(put '{{\"ProtectionEnabled\":true,\"ExpiresInMinutes\":30}}'); \
         echo after=$(wget -qO- $u); \
         echo bad=$(put '{{\"Protection\":true}}'); \
         echo missing=$(put '{{\"ExpiresInMinutes\":5}}'); \
         echo done; trap 'exit 0' TERM; sleep 300 & wait"
    );
    let td = register(
        &aws,
        json!({"family": "protect", "networkMode": "bridge",
               "taskRoleArn": "arn:aws:iam::123456789012:role/p",
               "containerDefinitions": [{
            "name": "app", "image": env.image(), "memory": 32, "essential": true, "stopTimeout": 2,
            "command": ["sh", "-c", script],
        }]}),
    );
    let arn = run(&aws, &agent, &td);
    let out = wait_json_lines(&agent, &arn);
    assert_eq!(
        out["before"]["protection"]["ProtectionEnabled"], false,
        "{out:?}"
    );
    assert_eq!(
        out["before"]["protection"]["TaskArn"],
        arn.as_str(),
        "{out:?}"
    );
    assert_eq!(
        out["set"]["protection"]["ProtectionEnabled"], true,
        "{out:?}"
    );
    assert!(
        out["set"]["protection"]["ExpirationDate"].is_string(),
        "{out:?}"
    );
    assert_eq!(
        out["after"]["protection"]["ProtectionEnabled"], true,
        "{out:?}"
    );
    assert_eq!(
        out["bad"]["error"]["Code"], "InvalidParameterException",
        "{out:?}"
    );
    assert_eq!(
        out["missing"]["error"]["Message"],
        "Invalid request: does not contain 'ProtectionEnabled' field",
        "{out:?}"
    );
    // The control plane saw it, as `aws ecs get-task-protection` shows.
    let seen = aws.ecs_ok(&[
        "get-task-protection",
        "--cluster",
        agent.cluster(),
        "--tasks",
        &arn,
    ]);
    assert_eq!(
        seen["protectedTasks"][0]["protectionEnabled"], true,
        "{seen}"
    );
    aws.ecs_ok(&["stop-task", "--cluster", agent.cluster(), "--task", &arn]);
    wait_task_status(&aws, &agent, &arn, "STOPPED", LONG);
}

#[test]
fn a_task_without_a_role_is_refused_as_by_the_go_agent() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, LONG);
    let td = register(
        &aws,
        json!({"family": "norole", "networkMode": "bridge",
               "containerDefinitions": [{
            "name": "app", "image": env.image(), "memory": 32, "essential": true,
            "command": ["sh", "-c", format!(
                "{PUT}; echo get=$(wget -qO- $ECS_AGENT_URI/task-protection/v1/state 2>&1); \
                 echo set=$(put '{{\"ProtectionEnabled\":true}}'); echo done")],
        }]}),
    );
    let arn = run(&aws, &agent, &td);
    let out = wait_json_lines(&agent, &arn);
    // busybox wget prints no body on errors; the raw PUT shows it.
    assert_eq!(
        out["set"]["error"]["Code"], "AccessDeniedException",
        "{out:?}"
    );
    assert_eq!(out["set"]["error"]["Arn"], arn.as_str(), "{out:?}");
}
