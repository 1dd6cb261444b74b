use super::*;
use crate::local::taskdef::view;
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn names(def: Value) -> Vec<String> {
    let v = view(def.as_object().unwrap()).unwrap();
    requires_attributes(&v, &[])
        .into_iter()
        .map(|a| a.name)
        .collect()
}

fn set(def: Value) -> BTreeSet<String> {
    names(def).into_iter().collect()
}

fn expect(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn one(container: Value) -> Value {
    let mut c = json!({"name": "app", "image": "busybox", "memory": 64});
    for (k, v) in container.as_object().unwrap() {
        c[k] = v.clone();
    }
    json!({"family": "f", "containerDefinitions": [c]})
}

const ECR: &str = "123456789012.dkr.ecr.eu-west-2.amazonaws.com/app:latest";

/// Shaped as a real describe-task-definition of Amazon ECS (a public Fargate
/// and EC2 definition, 2021): awsvpc, an ECR image, task and execution roles,
/// awslogs without awslogs-create-group. Its requiresAttributes, as ECS
/// listed them: logging-driver.awslogs, execution-role-awslogs, ecr-auth,
/// docker-remote-api.1.19, task-iam-role, execution-role-ecr-pull,
/// docker-remote-api.1.18, task-eni.
#[test]
fn an_awsvpc_ecr_awslogs_definition_as_amazon_ecs_derives_it() {
    let def = json!({
        "family": "backfill", "networkMode": "awsvpc",
        "taskRoleArn": "arn:aws:iam::123456789012:role/task",
        "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
        "cpu": "4096", "memory": "30720",
        "containerDefinitions": [{
            "name": "backfill", "image": ECR, "cpu": 0, "portMappings": [], "essential": true,
            "environment": [{"name": "A", "value": "b"}], "mountPoints": [], "volumesFrom": [],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/ecs/x", "awslogs-region": "eu-west-2", "awslogs-stream-prefix": "ecs"}}
        }]
    });
    assert_eq!(
        set(def),
        expect(&[
            "com.amazonaws.ecs.capability.logging-driver.awslogs",
            "ecs.capability.execution-role-awslogs",
            "com.amazonaws.ecs.capability.ecr-auth",
            "com.amazonaws.ecs.capability.docker-remote-api.1.19",
            "com.amazonaws.ecs.capability.task-iam-role",
            "ecs.capability.execution-role-ecr-pull",
            "com.amazonaws.ecs.capability.docker-remote-api.1.18",
            "ecs.capability.task-eni",
        ])
    );
}

/// Shaped as a real bridge-mode definition made in the console (2026):
/// awslogs with awslogs-create-group adds docker-remote-api.1.29; bridge
/// mode adds neither task-eni nor 1.18.
#[test]
fn a_bridge_definition_with_awslogs_create_group_as_amazon_ecs_derives_it() {
    let def = json!({
        "family": "backend", "networkMode": "bridge",
        "taskRoleArn": "arn:aws:iam::123456789012:role/task",
        "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
        "containerDefinitions": [{
            "name": "backend", "image": ECR, "cpu": 0, "memory": 256, "essential": true,
            "portMappings": [{"containerPort": 8080, "hostPort": 0, "protocol": "tcp"}],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/ecs/b", "awslogs-create-group": "true",
                "awslogs-region": "ap-southeast-1", "awslogs-stream-prefix": "ecs"}},
            "systemControls": []
        }]
    });
    assert_eq!(
        set(def),
        expect(&[
            "com.amazonaws.ecs.capability.logging-driver.awslogs",
            "ecs.capability.execution-role-awslogs",
            "com.amazonaws.ecs.capability.ecr-auth",
            "com.amazonaws.ecs.capability.docker-remote-api.1.19",
            "com.amazonaws.ecs.capability.task-iam-role",
            "ecs.capability.execution-role-ecr-pull",
            "com.amazonaws.ecs.capability.docker-remote-api.1.29",
        ])
    );
}

/// Shaped as a real awsvpc definition the console made (2024), with the
/// console's awslogs defaults (`mode: non-blocking`, `max-buffer-size`,
/// `awslogs-create-group`): Amazon ECS listed logging-driver.awslogs,
/// execution-role-awslogs, ecr-auth, docker-remote-api.1.19, 1.28,
/// execution-role-ecr-pull, 1.18, task-eni and 1.29.
#[test]
fn the_consoles_awslogs_defaults_as_amazon_ecs_derives_them() {
    let def = json!({
        "family": "server01", "networkMode": "awsvpc",
        "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
        "cpu": "2048", "memory": "4096",
        "containerDefinitions": [{
            "name": "server01", "image": ECR, "cpu": 0, "essential": true,
            "portMappings": [{"name": "server01-80-tcp", "containerPort": 80, "hostPort": 80, "protocol": "tcp"}],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/ecs/server01", "mode": "non-blocking",
                "awslogs-create-group": "true", "max-buffer-size": "25m",
                "awslogs-region": "us-east-1", "awslogs-stream-prefix": "ecs"}},
            "systemControls": []
        }]
    });
    assert_eq!(
        set(def),
        expect(&[
            "com.amazonaws.ecs.capability.logging-driver.awslogs",
            "ecs.capability.execution-role-awslogs",
            "com.amazonaws.ecs.capability.ecr-auth",
            "com.amazonaws.ecs.capability.docker-remote-api.1.19",
            "com.amazonaws.ecs.capability.docker-remote-api.1.28",
            "ecs.capability.execution-role-ecr-pull",
            "com.amazonaws.ecs.capability.docker-remote-api.1.18",
            "ecs.capability.task-eni",
            "com.amazonaws.ecs.capability.docker-remote-api.1.29",
        ])
    );
    // The rule keys on the options being there, whatever their value (no
    // output tells more): `mode` alone adds 1.28 too.
    let blocking = one(json!({"logConfiguration": {"logDriver": "awslogs",
        "options": {"awslogs-group": "g", "mode": "blocking"}}}));
    assert!(names(blocking).contains(&"com.amazonaws.ecs.capability.docker-remote-api.1.28".into()));
}

/// Shaped as a real awsvpc definition with an ECR image and an execution
/// role only (2022): ecr-auth, execution-role-ecr-pull, 1.18, task-eni.
#[test]
fn an_ecr_image_with_an_execution_role() {
    let def = json!({
        "family": "hands-on", "networkMode": "awsvpc",
        "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
        "cpu": "256", "memory": "512",
        "containerDefinitions": [{"name": "web", "image": ECR, "cpu": 0, "essential": true,
            "portMappings": [{"containerPort": 80, "hostPort": 80, "protocol": "tcp"}]}]
    });
    assert_eq!(
        set(def),
        expect(&[
            "com.amazonaws.ecs.capability.ecr-auth",
            "ecs.capability.execution-role-ecr-pull",
            "com.amazonaws.ecs.capability.docker-remote-api.1.18",
            "ecs.capability.task-eni",
        ])
    );
    // Without an execution role the instance pulls from ECR itself.
    let own = one(json!({"image": ECR}));
    assert_eq!(set(own), expect(&["com.amazonaws.ecs.capability.ecr-auth"]));
    // Not ECR: nothing.
    let hub = one(json!({"image": "public.ecr.aws/nginx/nginx:latest"}));
    assert!(names(hub).is_empty());
}

/// A host mapped with `--ecr-registry` stands for a private ECR registry
/// (its payloads carry ECR authentication), so its images require what a
/// real ECR image does; an unmapped host of the same machine nothing.
#[test]
fn an_image_on_a_mapped_host_requires_what_an_ecr_image_does() {
    let mapped = [crate::local::ecr::parse_mapping("127.0.0.1:5003=123456789012").unwrap()];
    let required = |def: Value| -> BTreeSet<String> {
        let v = view(def.as_object().unwrap()).unwrap();
        requires_attributes(&v, &mapped)
            .into_iter()
            .map(|a| a.name)
            .collect()
    };
    let mut def = one(json!({"image": "127.0.0.1:5003/busybox:latest"}));
    assert_eq!(
        required(def.clone()),
        expect(&["com.amazonaws.ecs.capability.ecr-auth"])
    );
    def["executionRoleArn"] = json!("arn:aws:iam::123456789012:role/exec");
    assert_eq!(
        required(def),
        expect(&[
            "com.amazonaws.ecs.capability.ecr-auth",
            "ecs.capability.execution-role-ecr-pull",
        ])
    );
    let other = one(json!({"image": "127.0.0.1:5000/busybox:latest"}));
    assert!(required(other).is_empty());
}

#[test]
fn a_plain_definition_requires_nothing() {
    assert!(names(one(json!({}))).is_empty());
    // Fields no attribute gates in real output.
    let plain = one(
        json!({"ulimits": [{"name": "nofile", "softLimit": 10, "hardLimit": 10}],
        "user": "1000", "workingDirectory": "/", "dockerLabels": {"a": "b"}, "essential": true}),
    );
    assert!(names(plain).is_empty());
}

/// Each rule alone, with the attributes it adds.
#[test]
fn each_rule_adds_its_attributes() {
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            one(json!({"memoryReservation": 32})),
            vec!["com.amazonaws.ecs.capability.docker-remote-api.1.21"],
        ),
        (
            one(json!({"healthCheck": {"command": ["CMD", "true"]}})),
            vec![
                "ecs.capability.container-health-check",
                "com.amazonaws.ecs.capability.docker-remote-api.1.24",
            ],
        ),
        (
            one(json!({"logConfiguration": {"logDriver": "json-file"}})),
            vec![
                "com.amazonaws.ecs.capability.logging-driver.json-file",
                "com.amazonaws.ecs.capability.docker-remote-api.1.19",
            ],
        ),
        (
            one(json!({"privileged": true})),
            vec!["com.amazonaws.ecs.capability.privileged-container"],
        ),
        (one(json!({"privileged": false})), vec![]),
        (
            one(
                json!({"repositoryCredentials": {"credentialsParameter": "arn:aws:secretsmanager:us-east-1:1:secret:x"}}),
            ),
            vec!["ecs.capability.private-registry-authentication.secretsmanager"],
        ),
        (
            one(
                json!({"secrets": [{"name": "A", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/a"},
                                {"name": "B", "valueFrom": "arn:aws:secretsmanager:us-east-1:1:secret:b"}]}),
            ),
            vec![
                "ecs.capability.secrets.ssm.environment-variables",
                "ecs.capability.secrets.asm.environment-variables",
            ],
        ),
        (
            one(
                json!({"logConfiguration": {"logDriver": "splunk", "secretOptions": [{"name": "t", "valueFrom": "/p"}]}}),
            ),
            vec![
                "com.amazonaws.ecs.capability.logging-driver.splunk",
                "ecs.capability.secrets.ssm.bootstrap.log-driver",
                "com.amazonaws.ecs.capability.docker-remote-api.1.19",
            ],
        ),
        (
            one(json!({"environmentFiles": [{"value": "arn:aws:s3:::b/x.env", "type": "s3"}]})),
            vec!["ecs.capability.env-files.s3"],
        ),
        (
            one(json!({"dockerSecurityOptions": ["no-new-privileges"]})),
            vec!["com.amazonaws.ecs.capability.docker-remote-api.1.23"],
        ),
        (
            one(json!({"linuxParameters": {"initProcessEnabled": true}})),
            vec!["com.amazonaws.ecs.capability.docker-remote-api.1.25"],
        ),
        (
            one(json!({"linuxParameters": {"tmpfs": [{"containerPath": "/t", "size": 8}]}})),
            vec!["com.amazonaws.ecs.capability.docker-remote-api.1.25"],
        ),
        (
            one(json!({"firelensConfiguration": {"type": "fluentbit"}})),
            vec!["ecs.capability.firelens.fluentbit"],
        ),
        (
            one(json!({"portMappings": [{"containerPortRange": "8000-8010"}]})),
            vec!["ecs.capability.network.container-port-range"],
        ),
        (
            one(json!({"restartPolicy": {"enabled": true}})),
            vec!["ecs.capability.container-restart-policy"],
        ),
    ];
    for (def, want) in cases {
        assert_eq!(names(def.clone()), want, "{def}");
    }
}

#[test]
fn task_level_rules() {
    let with = |extra: Value| {
        let mut d = one(json!({}));
        for (k, v) in extra.as_object().unwrap() {
            d[k] = v.clone();
        }
        names(d)
    };
    let role = "arn:aws:iam::1:role/r";
    assert_eq!(
        with(json!({"taskRoleArn": role})),
        vec!["com.amazonaws.ecs.capability.task-iam-role"]
    );
    assert_eq!(
        with(json!({"taskRoleArn": role, "networkMode": "host"})),
        vec![
            "com.amazonaws.ecs.capability.task-iam-role",
            "com.amazonaws.ecs.capability.task-iam-role-network-host"
        ]
    );
    assert_eq!(with(json!({"networkMode": "host"})), Vec::<String>::new());
    assert_eq!(
        with(json!({"networkMode": "awsvpc"})),
        vec![
            "ecs.capability.task-eni",
            "com.amazonaws.ecs.capability.docker-remote-api.1.18"
        ]
    );
    assert_eq!(
        with(json!({"pidMode": "task"})),
        vec!["ecs.capability.pid-ipc-namespace-sharing"]
    );
    // Real output (2021, EC2): ipcMode none carries 1.32 as well.
    assert_eq!(
        with(json!({"ipcMode": "none"})),
        vec![
            "ecs.capability.pid-ipc-namespace-sharing",
            "com.amazonaws.ecs.capability.docker-remote-api.1.32"
        ]
    );
    assert_eq!(
        with(json!({"proxyConfiguration": {"type": "APPMESH", "containerName": "envoy"}})),
        vec!["ecs.capability.aws-appmesh"]
    );
    assert_eq!(
        with(
            json!({"volumes": [{"name": "d", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}}]})
        ),
        vec![
            "ecs.capability.efs",
            "com.amazonaws.ecs.capability.docker-remote-api.1.25"
        ]
    );
    assert_eq!(
        with(
            json!({"volumes": [{"name": "d", "efsVolumeConfiguration": {"fileSystemId": "fs-1",
            "transitEncryption": "ENABLED", "authorizationConfig": {"iam": "ENABLED"}}}]})
        ),
        vec![
            "ecs.capability.efs",
            "ecs.capability.efsAuth",
            "com.amazonaws.ecs.capability.docker-remote-api.1.25"
        ]
    );
    assert_eq!(
        with(json!({"volumes": [{"name": "d", "dockerVolumeConfiguration": {"scope": "task"}}]})),
        vec!["ecs.capability.docker-plugin.local"]
    );
    assert_eq!(
        with(json!({"volumes": [{"name": "d", "host": {}}]})),
        Vec::<String>::new()
    );
}

/// Each attribute once; Docker API levels last, ascending.
#[test]
fn attributes_are_listed_once_and_levels_last() {
    let def = json!({"family": "f", "networkMode": "awsvpc", "containerDefinitions": [
        {"name": "a", "image": "x", "memoryReservation": 32, "logConfiguration": {"logDriver": "json-file"},
         "dependsOn": [{"containerName": "b", "condition": "START"}]},
        {"name": "b", "image": "x", "memory": 32, "logConfiguration": {"logDriver": "json-file"},
         "healthCheck": {"command": ["CMD", "true"]}},
    ]});
    assert_eq!(
        names(def),
        vec![
            "ecs.capability.task-eni",
            "com.amazonaws.ecs.capability.logging-driver.json-file",
            "ecs.capability.container-ordering",
            "ecs.capability.container-health-check",
            "com.amazonaws.ecs.capability.docker-remote-api.1.18",
            "com.amazonaws.ecs.capability.docker-remote-api.1.19",
            "com.amazonaws.ecs.capability.docker-remote-api.1.21",
            "com.amazonaws.ecs.capability.docker-remote-api.1.24",
        ]
    );
}
