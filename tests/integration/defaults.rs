//! What a new user gets with default settings: the agent has ecs-init's
//! defaults (task roles, task ENIs), advertises the Docker API levels whose
//! fields it implements, and ecs-local places a task only where Amazon ECS
//! would, with RunTask's `ATTRIBUTE` failure otherwise.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{
    env, register_task_definition, run_task, run_task_with, task_id, wait_task_status,
    wait_until_with_log, Agent, Aws, EcsLocal,
};

const LONG: Duration = Duration::from_secs(90);

fn names(attrs: &Value) -> Vec<String> {
    attrs
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The first line of the container's log that starts with `prefix`, rest.
fn wait_line(agent: &Agent, arn: &str, container: &str, prefix: &str) -> String {
    wait_until_with_log(
        agent,
        &format!("{prefix} in {container}'s log"),
        LONG,
        || {
            agent
                .container_log(task_id(arn), container)
                .lines()
                .find_map(|l| l.strip_prefix(prefix).map(str::to_string))
        },
    )
}

/// `aws ecs run-task` of an awsvpc task (with a networkConfiguration, as the
/// CLI requires on Amazon ECS) and of a task with a taskRoleArn, against an
/// agent started with nothing but the harness's isolation settings: both
/// are placed and reach RUNNING, and the role's container gets its
/// credentials URI. Before ecs-init's defaults both failed with ATTRIBUTE.
#[test]
fn awsvpc_and_task_role_tasks_run_with_default_settings() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    let instance = agent.wait_registered(&aws, LONG);
    let attrs = names(&agent.registered_attributes(&aws, &instance));
    for want in [
        "ecs.capability.task-eni",
        "com.amazonaws.ecs.capability.task-iam-role",
        "com.amazonaws.ecs.capability.docker-remote-api.1.18",
    ] {
        assert!(attrs.iter().any(|a| a == want), "{want} missing: {attrs:?}");
    }

    let vpc = register_task_definition(
        &aws,
        json!({"family": "new-user-vpc", "networkMode": "awsvpc", "containerDefinitions": [{
            "name": "app", "image": env.image(), "memory": 32, "essential": true,
            "command": ["sleep", "300"]}]}),
    );
    let net = "awsvpcConfiguration={subnets=[subnet-new-user],securityGroups=[sg-1]}";
    let vpc_arn = run_task_with(&aws, &agent, &vpc, &["--network-configuration", net]);
    wait_task_status(&aws, &agent, &vpc_arn, "RUNNING", LONG);

    let role = register_task_definition(
        &aws,
        json!({"family": "new-user-role", "taskRoleArn": "arn:aws:iam::123456789012:role/app",
               "containerDefinitions": [{
            "name": "app", "image": env.image(), "memory": 32, "essential": true,
            "command": ["sh", "-c", "echo uri=[$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI]; sleep 300"]}]}),
    );
    let role_arn = run_task(&aws, &agent, &role);
    wait_task_status(&aws, &agent, &role_arn, "RUNNING", LONG);
    let uri = wait_line(&agent, &role_arn, "app", "uri=");
    assert!(uri.starts_with("[/v2/credentials/"), "{uri}");
}

/// A definition that needs what the agent does not advertise (an EFS
/// volume: ecs.capability.efs, with docker-remote-api.1.25, which is
/// advertised; the fluentd driver) is refused by RunTask as Amazon ECS refuses it: no task, and
/// `failures: [{arn: <container instance>, reason: "ATTRIBUTE"}]`, plus a
/// `detail` naming the missing attribute (Amazon ECS leaves it out; the
/// field is part of its Failure shape). describe-task-definition shows the
/// derived requiresAttributes, and ecs-local's log names the missing attribute.
#[test]
fn definitions_needing_what_the_agent_lacks_fail_with_attribute() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    let instance = agent.wait_registered(&aws, LONG);

    let efs = register_task_definition(
        &aws,
        json!({"family": "needs-efs",
            "volumes": [{"name": "shared", "efsVolumeConfiguration": {"fileSystemId": "fs-12345678"}}],
            "containerDefinitions": [{
            "name": "app", "image": env.image(), "memory": 32, "essential": true,
            "command": ["sleep", "300"],
            "mountPoints": [{"sourceVolume": "shared", "containerPath": "/data"}]}]}),
    );
    let d = aws.ecs_ok(&["describe-task-definition", "--task-definition", &efs]);
    let required = names(&d["taskDefinition"]["requiresAttributes"]);
    for want in [
        "com.amazonaws.ecs.capability.docker-remote-api.1.25",
        "ecs.capability.efs",
    ] {
        assert!(
            required.iter().any(|r| r == want),
            "{want} not in {required:?}"
        );
    }
    let fluentd = register_task_definition(
        &aws,
        json!({"family": "needs-fluentd", "containerDefinitions": [{
            "name": "app", "image": env.image(), "memory": 32, "essential": true,
            "logConfiguration": {"logDriver": "fluentd", "options": {
                "fluentd-address": "127.0.0.1:24224"}}}]}),
    );
    for (td, missing) in [
        (&efs, "ecs.capability.efs"),
        (
            &fluentd,
            "com.amazonaws.ecs.capability.logging-driver.fluentd",
        ),
    ] {
        let out = aws.ecs_ok(&[
            "run-task",
            "--cluster",
            agent.cluster(),
            "--task-definition",
            td,
        ]);
        assert_eq!(out["tasks"], json!([]), "{out}");
        // Amazon ECS's shape (the instance and the reason), with the detail.
        assert_eq!(
            out["failures"],
            json!([{"arn": instance, "reason": "ATTRIBUTE",
                    "detail": format!("missing attribute {missing}")}]),
            "{out}"
        );
    }
    let log = local.log();
    for missing in [
        "ecs.capability.efs",
        "com.amazonaws.ecs.capability.logging-driver.fluentd",
    ] {
        assert!(
            log.contains(missing),
            "ecs-local's log does not name {missing}:\n{log}"
        );
    }
}

/// memoryReservation needs docker-remote-api.1.21 on Amazon ECS: advertised,
/// so a task with only a soft limit is placed, runs, and the limit is in
/// its cgroup (memory.soft_limit_in_bytes on cgroup v1, memory.low on v2).
#[test]
fn memory_reservation_is_placed_and_reaches_the_cgroup() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, LONG);
    let td = register_task_definition(
        &aws,
        json!({"family": "soft-limit", "containerDefinitions": [{
            "name": "app", "image": env.image(), "memoryReservation": 48, "essential": true,
            "command": ["sh", "-c",
                "echo soft=$(cat /sys/fs/cgroup/memory/memory.soft_limit_in_bytes 2>/dev/null \
                 || cat /sys/fs/cgroup/memory.low); sleep 300"]}]}),
    );
    let d = aws.ecs_ok(&["describe-task-definition", "--task-definition", &td]);
    assert_eq!(
        names(&d["taskDefinition"]["requiresAttributes"]),
        vec!["com.amazonaws.ecs.capability.docker-remote-api.1.21"]
    );
    let arn = run_task(&aws, &agent, &td);
    wait_task_status(&aws, &agent, &arn, "RUNNING", LONG);
    assert_eq!(
        wait_line(&agent, &arn, "app", "soft="),
        (48u64 << 20).to_string()
    );
}
