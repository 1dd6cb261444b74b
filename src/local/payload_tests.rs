use super::*;
use crate::local::overrides::reservation;
use crate::local::state::ContainerRec;
use crate::local::taskdef::view;

fn def() -> TaskDefView {
    let d = serde_json::json!({
        "family": "web",
        "containerDefinitions": [{
            "name": "app", "image": "busybox:latest", "cpu": 128, "memory": 256, "memoryReservation": 128,
            "entryPoint": ["sh", "-c"], "command": ["sleep 1000"],
            "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            "portMappings": [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 53, "hostPort": 5353, "protocol": "udp"}, {"containerPort": 81}],
            "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}],
            "startTimeout": 30, "stopTimeout": 10,
            "dockerLabels": {"com.example": "x"}, "user": "1000", "workingDirectory": "/srv", "hostname": "h",
            "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}],
            "readonlyRootFilesystem": true,
            "logConfiguration": {"logDriver": "json-file", "options": {"max-size": "10m"}},
            "linuxParameters": {"capabilities": {"add": ["NET_ADMIN"], "drop": ["MKNOD"]}, "initProcessEnabled": true},
            "dnsServers": ["10.0.0.2"], "extraHosts": [{"hostname": "db", "ipAddress": "10.0.0.3"}]
        }, {"name": "init", "image": "busybox:latest", "memory": 32, "essential": false}]
    });
    view(d.as_object().unwrap()).unwrap()
}

fn task(overrides: serde_json::Value) -> TaskRec {
    TaskRec {
        arn: "arn:aws:ecs:us-east-1:000000000000:task/default/abc".into(),
        cluster_arn: "arn:aws:ecs:us-east-1:000000000000:cluster/default".into(),
        desired_status: "RUNNING".into(),
        overrides,
        containers: vec![ContainerRec {
            container_arn: "arn:aws:ecs:us-east-1:000000000000:container/default/abc/1".into(),
            name: "app".into(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn payload_carries_what_the_agent_needs() {
    let t = build_task(
        &task(serde_json::json!({})),
        "web",
        3,
        &def(),
        "us-east-1",
        &[],
    );
    assert_eq!(t.version.as_deref(), Some("3"));
    assert_eq!(t.task_definition_account_id.as_deref(), Some(ACCOUNT_ID));
    assert_eq!(t.launch_type.as_deref(), Some("EC2"));
    assert_eq!(t.network_mode.as_deref(), Some("bridge"));
    let c = &t.containers[0];
    assert_eq!(c.cpu, Some(128));
    assert_eq!(c.memory, Some(256));
    assert_eq!(c.environment["B"], "2");
    assert_eq!(c.port_mappings[0].host_port, Some(8080));
    assert_eq!(c.port_mappings[1].protocol.as_deref(), Some("udp"));
    assert_eq!(c.port_mappings[2].host_port, Some(0));
    assert_eq!(c.depends_on[0].condition.as_deref(), Some("SUCCESS"));
    assert_eq!(c.start_timeout, Some(30));
    assert_eq!(c.essential, Some(true));
    assert_eq!(
        c.container_arn.as_deref(),
        Some("arn:aws:ecs:us-east-1:000000000000:container/default/abc/1")
    );
    let dc = c.docker_config.as_ref().unwrap();
    // initProcessEnabled needs Docker API 1.25, the newest this container uses.
    assert_eq!(dc.version.as_deref(), Some("1.25"));
    let config: serde_json::Value = serde_json::from_str(dc.config.as_deref().unwrap()).unwrap();
    assert_eq!(config["Labels"]["com.example"], "x");
    assert_eq!(config["User"], "1000");
    assert_eq!(config["WorkingDir"], "/srv");
    assert_eq!(config["Hostname"], "h");
    let host: serde_json::Value = serde_json::from_str(dc.host_config.as_deref().unwrap()).unwrap();
    assert_eq!(
        host["Ulimits"][0],
        serde_json::json!({"Name": "nofile", "Soft": 1024, "Hard": 4096})
    );
    assert_eq!(host["ReadonlyRootfs"], true);
    assert_eq!(host["MemoryReservation"], 128 * 1024 * 1024);
    assert_eq!(host["LogConfig"]["Type"], "json-file");
    assert_eq!(host["LogConfig"]["Config"]["max-size"], "10m");
    assert_eq!(host["CapAdd"][0], "NET_ADMIN");
    assert_eq!(host["CapDrop"][0], "MKNOD");
    assert_eq!(host["Init"], true);
    assert_eq!(host["Dns"][0], "10.0.0.2");
    assert_eq!(host["ExtraHosts"][0], "db:10.0.0.3");
    assert_eq!(t.containers[1].essential, Some(false));
    // The frame an agent decodes.
    let frame = crate::model::acs::AcsMessage::Payload(acs::PayloadMessage {
        tasks: vec![t.clone()],
        ..Default::default()
    })
    .encode();
    assert!(crate::model::acs::decode(&frame).is_ok());
}

#[test]
fn overrides_are_merged() {
    let ov = serde_json::json!({"containerOverrides": [{"name": "app", "command": ["echo", "hi"],
        "environment": [{"name": "B", "value": "override"}, {"name": "C", "value": "3"}], "cpu": 64, "memory": 512, "memoryReservation": 200}]});
    let t = build_task(&task(ov.clone()), "web", 1, &def(), "us-east-1", &[]);
    let c = &t.containers[0];
    assert_eq!(c.command, vec!["echo", "hi"]);
    assert_eq!(c.environment["A"], "1");
    assert_eq!(c.environment["B"], "override");
    assert_eq!(c.environment["C"], "3");
    assert_eq!(c.cpu, Some(64));
    assert_eq!(c.memory, Some(512));
    let host: serde_json::Value = serde_json::from_str(
        c.docker_config
            .as_ref()
            .unwrap()
            .host_config
            .as_deref()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(host["MemoryReservation"], 200 * 1024 * 1024);
    let o: serde_json::Value = serde_json::from_str(c.overrides.as_deref().unwrap()).unwrap();
    assert_eq!(o["command"][1], "hi");

    let r = reservation(&def(), &serde_json::from_value(ov).unwrap()).unwrap();
    assert_eq!(r.cpu, 64);
    assert_eq!(r.memory, 200 + 32);
    assert_eq!(r.tcp_ports, vec![8080]);
    assert_eq!(r.udp_ports, vec![5353]);
}

#[test]
fn host_mode_reserves_container_ports_and_task_level_wins() {
    let mut d = def();
    d.network_mode = Some("host".into());
    d.memory = Some("1 GB".into());
    d.cpu = Some("0.5 vCPU".into());
    let r = reservation(&d, &Default::default()).unwrap();
    assert_eq!(r.tcp_ports, vec![80, 81]);
    assert_eq!(r.udp_ports, vec![53]);
    assert_eq!(r.memory, 1024);
    assert_eq!(r.cpu, 512);
    let t = build_task(&task(serde_json::json!({})), "web", 1, &d, "us-east-1", &[]);
    assert_eq!(t.cpu, Some(0.5));
    assert_eq!(t.memory, Some(1024));
}

/// dockerConfig as Amazon ECS fills it, in the shapes the Go agent's
/// checkpoint fixtures keep (agent/statemanager/testdata): `{}` and
/// `{"CapAdd":[],"CapDrop":[]}` at least, a named network mode repeated in
/// hostConfig, `HealthCheck` spelled as ECS spells it, the API version the
/// container's features need.
#[test]
fn docker_config_has_amazon_ecs_shapes() {
    let shaped = |def: serde_json::Value| {
        let v = view(def.as_object().unwrap()).unwrap();
        let t = build_task(&task(serde_json::json!({})), "f", 1, &v, "us-east-1", &[]);
        let dc = t.containers[0].docker_config.clone().unwrap();
        let host: Value = serde_json::from_str(dc.host_config.as_deref().unwrap()).unwrap();
        let config: Value = serde_json::from_str(dc.config.as_deref().unwrap()).unwrap();
        (dc.version.unwrap(), config, host)
    };
    // v14/private-registry and most others.
    let (version, config, host) = shaped(serde_json::json!({"family": "f",
        "containerDefinitions": [{"name": "app", "image": "busybox", "memory": 32}]}));
    assert_eq!(version, "1.17");
    assert_eq!(config, serde_json::json!({}));
    assert_eq!(host, serde_json::json!({"CapAdd": [], "CapDrop": []}));
    // v13/1 (bridge) and v11/task-networking (awsvpc, version 1.18).
    let (version, _, host) = shaped(serde_json::json!({"family": "f", "networkMode": "bridge",
        "containerDefinitions": [{"name": "app", "image": "busybox", "memory": 32}]}));
    assert_eq!(version, "1.17");
    assert_eq!(
        host,
        serde_json::json!({"NetworkMode": "bridge", "CapAdd": [], "CapDrop": []})
    );
    let (version, _, host) = shaped(serde_json::json!({"family": "f", "networkMode": "awsvpc",
        "containerDefinitions": [{"name": "app", "image": "busybox", "memory": 32}]}));
    assert_eq!(version, "1.18");
    assert_eq!(host["NetworkMode"], "awsvpc");
    // v10/container-health-check: version 1.24, `HealthCheck` in nanoseconds.
    let (version, config, _) = shaped(serde_json::json!({"family": "f",
        "containerDefinitions": [{"name": "app", "image": "busybox", "memory": 32,
            "healthCheck": {"command": ["CMD", "echo", "hello"]}}]}));
    assert_eq!(version, "1.24");
    assert_eq!(
        config,
        serde_json::json!({"HealthCheck": {"Test": ["CMD", "echo", "hello"],
            "Interval": 30_000_000_000_i64, "Timeout": 5_000_000_000_i64, "Retries": 3}})
    );
    // v23/firelens: a LogConfig makes it 1.19.
    let (version, _, host) = shaped(serde_json::json!({"family": "f",
        "containerDefinitions": [{"name": "app", "image": "busybox", "memory": 32,
            "logConfiguration": {"logDriver": "json-file"}}]}));
    assert_eq!(version, "1.19");
    assert_eq!(host["LogConfig"]["Type"], "json-file");
}

#[test]
fn volumes_and_mount_points_have_amazon_ecs_shapes() {
    // The shapes the Go agent reads: agent/api/task/taskvolume.go
    // (UnmarshalJSON: name, type, host / dockerVolumeConfiguration) and its
    // fixture agent/statemanager/testdata/v1/1/ecs_agent_data.json
    // ({"host": {"sourcePath": ...}, "name", "type": "host"}, {"host": {}, ...},
    // mountPoints {sourceVolume, containerPath, readOnly}, volumesFrom
    // {sourceContainer, readOnly}).
    let d = serde_json::json!({
        "family": "vols",
        "volumes": [
            {"name": "host", "host": {"sourcePath": "/tmp/host/path"}},
            {"name": "local"},
            {"name": "scratch", "dockerVolumeConfiguration": {"scope": "task", "driver": "local",
                "driverOpts": {"type": "tmpfs", "device": "tmpfs"}, "labels": {"a": "b"}}},
            {"name": "db", "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": true}}
        ],
        "containerDefinitions": [
            {"name": "app", "image": "busybox", "memory": 32,
             "mountPoints": [{"sourceVolume": "host", "containerPath": "/data", "readOnly": true}]},
            {"name": "side", "image": "busybox", "memory": 32,
             "volumesFrom": [{"sourceContainer": "app", "readOnly": false}]}
        ]
    });
    let v = view(d.as_object().unwrap()).unwrap();
    let t = build_task(
        &task(serde_json::json!({})),
        "vols",
        1,
        &v,
        "us-east-1",
        &[],
    );
    let got = serde_json::to_value(&t).unwrap();
    assert_eq!(
        got["volumes"],
        serde_json::json!([
            {"name": "host", "type": "host", "host": {"sourcePath": "/tmp/host/path"}},
            {"name": "local", "type": "host", "host": {}},
            {"name": "scratch", "type": "docker", "dockerVolumeConfiguration": {"scope": "task",
                "driver": "local", "driverOpts": {"type": "tmpfs", "device": "tmpfs"}, "labels": {"a": "b"}}},
            {"name": "db", "type": "docker", "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": true}}
        ])
    );
    assert_eq!(
        got["containers"][0]["mountPoints"],
        serde_json::json!([{"sourceVolume": "host", "containerPath": "/data", "readOnly": true}])
    );
    assert_eq!(
        got["containers"][1]["volumesFrom"],
        serde_json::json!([{"sourceContainer": "app", "readOnly": false}])
    );
}

/// secrets and environmentFiles as Amazon ECS sends them (the Go agent's
/// checkpoints keep the payload's fields: agent/statemanager/testdata/v18/secrets
/// `{"name", "valueFrom", "provider", "type": "ENVIRONMENT_VARIABLE", "region"}`,
/// v28/environmentFiles `{"type": "s3", "value"}`), and the execution role's
/// credentials under executionRoleCredentials (ACS has no executionRoleArn: the
/// role's ARN travels as the credentials' roleArn).
#[test]
fn secrets_env_files_and_the_execution_role_travel_as_amazon_ecs_sends_them() {
    let d = serde_json::json!({
        "family": "web", "executionRoleArn": "arn:aws:iam::000000000000:role/exec",
        "containerDefinitions": [{
            "name": "app", "image": "busybox:latest",
            "secrets": [
                {"name": "P", "valueFrom": "/app/p"},
                {"name": "X", "valueFrom": "arn:aws:ssm:eu-west-1:000000000000:parameter/x"},
                {"name": "S", "valueFrom": "arn:aws:secretsmanager:us-west-2:000000000000:secret:s-AbCdEf:k::"}
            ],
            "environmentFiles": [{"value": "arn:aws:s3:::bucket/a.env", "type": "s3"}]
        }]
    });
    let v = view(d.as_object().unwrap()).unwrap();
    let mut rec = task(serde_json::json!({}));
    rec.execution_role_credentials = Some(crate::local::credentials::issue(
        &mut rand::rng(),
        "arn:aws:iam::000000000000:role/exec",
        1_800_000_000.0,
        3600.0,
    ));
    let t = build_task(&rec, "web", 1, &v, "us-east-1", &[]);
    let c = serde_json::to_value(&t.containers[0]).unwrap();
    assert_eq!(
        c["secrets"],
        serde_json::json!([
            {"name": "P", "valueFrom": "/app/p", "provider": "ssm", "type": "ENVIRONMENT_VARIABLE",
             "region": "us-east-1", "target": "CONTAINER"},
            {"name": "X", "valueFrom": "arn:aws:ssm:eu-west-1:000000000000:parameter/x", "provider": "ssm",
             "type": "ENVIRONMENT_VARIABLE", "region": "eu-west-1", "target": "CONTAINER"},
            {"name": "S", "valueFrom": "arn:aws:secretsmanager:us-west-2:000000000000:secret:s-AbCdEf:k::",
             "provider": "asm", "type": "ENVIRONMENT_VARIABLE", "region": "us-west-2", "target": "CONTAINER"}
        ])
    );
    assert_eq!(
        c["environmentFiles"],
        serde_json::json!([{"value": "arn:aws:s3:::bucket/a.env", "type": "s3"}])
    );
    let exec = t
        .execution_role_credentials
        .expect("executionRoleCredentials");
    assert_eq!(
        exec.role_arn.as_deref(),
        Some("arn:aws:iam::000000000000:role/exec")
    );
    assert!(exec.access_key_id.is_some() && exec.credentials_id.is_some());
}

#[test]
fn dns_hosts_links_and_terminal_reach_the_agent_as_amazon_ecs_sends_them() {
    // Where Amazon ECS puts these (the ECS service model's ContainerDefinition
    // docs: dnsServers "maps to Dns", dnsSearchDomains to DnsSearch,
    // extraHosts to ExtraHosts (--add-host host:ip), hostname to Hostname,
    // disableNetworking to NetworkDisabled, pseudoTerminal to Tty,
    // interactive to OpenStdin; acs-api-2.json: `links` is a field of the ACS
    // Container). The Go agent decodes them into Docker's Config/HostConfig
    // (agent/api/task/task.go dockerConfig/dockerHostConfig; its
    // TestDockerHostConfigRawConfig has ExtraHosts ["extra:hosts"]).
    let d = serde_json::json!({
        "family": "net", "networkMode": "bridge",
        "containerDefinitions": [{
            "name": "web", "image": "busybox:latest", "memory": 32, "links": ["db:database"],
            "hostname": "webhost", "dnsServers": ["10.0.0.2"], "dnsSearchDomains": ["corp.example"],
            "extraHosts": [{"hostname": "extra.example", "ipAddress": "192.0.2.10"}],
            "disableNetworking": false, "pseudoTerminal": true, "interactive": true
        }, {"name": "db", "image": "busybox:latest", "memory": 32}]
    });
    let view = view(d.as_object().unwrap()).unwrap();
    let mut rec = task(serde_json::json!({}));
    rec.containers.push(ContainerRec {
        name: "db".into(),
        ..Default::default()
    });
    let t = build_task(&rec, "net", 1, &view, "us-east-1", &[]);
    let c = &t.containers[0];
    assert_eq!(c.links, vec!["db:database"]);
    let dc = c.docker_config.as_ref().unwrap();
    let config: serde_json::Value = serde_json::from_str(dc.config.as_deref().unwrap()).unwrap();
    assert_eq!(config["Hostname"], "webhost");
    assert_eq!(config["Tty"], true);
    assert_eq!(config["OpenStdin"], true);
    assert_eq!(config["NetworkDisabled"], false);
    let host: serde_json::Value = serde_json::from_str(dc.host_config.as_deref().unwrap()).unwrap();
    assert_eq!(host["Dns"], serde_json::json!(["10.0.0.2"]));
    assert_eq!(host["DnsSearch"], serde_json::json!(["corp.example"]));
    assert_eq!(
        host["ExtraHosts"],
        serde_json::json!(["extra.example:192.0.2.10"])
    );
    // And the agent takes them as sent.
    let def = crate::task::from_acs::task_def(&t, Default::default()).unwrap();
    let web = &def.containers[0];
    assert_eq!(web.net.links[0].alias, "database");
    assert_eq!(web.net.extra_hosts[0].hostname, "extra.example");
    assert_eq!(web.net.dns_search, vec!["corp.example"]);
    assert!(web.tty && !web.net.disabled);
    assert_eq!(web.hostname.as_deref(), Some("webhost"));
}

/// A private ECR image, and one on a registry mapped with `--ecr-registry`,
/// carry registryAuthentication of type ecr with useExecutionRole when the
/// task has an execution role (shape: `local::ecr`); others carry none.
#[test]
fn ecr_images_carry_ecr_auth_data() {
    let def = |exec: bool| {
        let mut d = serde_json::json!({
            "family": "web",
            "containerDefinitions": [
                {"name": "ecr", "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1"},
                {"name": "mapped", "image": "127.0.0.1:5003/busybox:latest"},
                {"name": "plain", "image": "127.0.0.1:5000/busybox:latest"}
            ]
        });
        if exec {
            d["executionRoleArn"] = serde_json::json!("arn:aws:iam::000000000000:role/exec");
        }
        view(d.as_object().unwrap()).unwrap()
    };
    let mapped = [crate::local::ecr::parse_mapping("127.0.0.1:5003=210987654321").unwrap()];
    let rec = task(serde_json::json!({}));
    let t = build_task(&rec, "web", 1, &def(true), "us-west-2", &mapped);
    let auth = |i: usize| {
        serde_json::to_value(&t.containers[i]).unwrap()["registryAuthentication"].clone()
    };
    assert_eq!(
        auth(0),
        serde_json::json!({"type": "ecr", "ecrAuthData": {
            "registryId": "123456789012", "region": "eu-west-1", "useExecutionRole": true}})
    );
    assert_eq!(
        auth(1),
        serde_json::json!({"type": "ecr", "ecrAuthData": {
            "registryId": "210987654321", "region": "us-west-2", "useExecutionRole": true}})
    );
    assert_eq!(auth(2), serde_json::Value::Null);
    let t = build_task(&rec, "web", 1, &def(false), "us-west-2", &mapped);
    let c = serde_json::to_value(&t.containers[0]).unwrap();
    assert_eq!(
        c["registryAuthentication"]["ecrAuthData"]["useExecutionRole"],
        false
    );
}

/// awslogs as Amazon ECS hands it to an agent: `logsAuthStrategy` is the
/// ACS model's `AuthStrategy` (ecs-agent/acs/model/api/api-2.json, enum
/// ["ExecutionRole"]) on awslogs containers of a task with an execution role
/// and absent otherwise; the options travel in
/// `dockerConfig.hostConfig.LogConfig` like every driver's (the Go agent's
/// checkpoint fixtures, agent/statemanager/testdata), with
/// `awslogs-stream-prefix` resolved into the stream ECS names
/// (`prefix/container-name/task-id`), since Docker's driver would refuse it.
#[test]
fn awslogs_travels_with_its_stream_and_the_execution_role_strategy() {
    let d = |exec: bool| {
        let mut d = serde_json::json!({
            "family": "web",
            "containerDefinitions": [{
                "name": "app", "image": "busybox:latest",
                "logConfiguration": {"logDriver": "awslogs", "options": {
                    "awslogs-group": "/ecs/web", "awslogs-region": "us-east-1",
                    "awslogs-stream-prefix": "ecs", "mode": "blocking"}}
            }, {"name": "side", "image": "busybox:latest"}]
        });
        if exec {
            d["executionRoleArn"] = "arn:aws:iam::000000000000:role/exec".into();
        }
        view(d.as_object().unwrap()).unwrap()
    };
    let t = build_task(
        &task(serde_json::json!({})),
        "web",
        1,
        &d(true),
        "us-east-1",
        &[],
    );
    let c = serde_json::to_value(&t.containers[0]).unwrap();
    assert_eq!(c["logsAuthStrategy"], "ExecutionRole");
    assert!(serde_json::to_value(&t.containers[1]).unwrap()["logsAuthStrategy"].is_null());
    let host: serde_json::Value = serde_json::from_str(
        t.containers[0]
            .docker_config
            .as_ref()
            .unwrap()
            .host_config
            .as_deref()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        host["LogConfig"],
        serde_json::json!({"Type": "awslogs", "Config": {
            "awslogs-group": "/ecs/web", "awslogs-region": "us-east-1",
            "awslogs-stream": "ecs/app/abc", "mode": "blocking"}})
    );
    let t = build_task(
        &task(serde_json::json!({})),
        "web",
        1,
        &d(false),
        "us-east-1",
        &[],
    );
    assert!(serde_json::to_value(&t.containers[0]).unwrap()["logsAuthStrategy"].is_null());
}

/// `logConfiguration.secretOptions` as Amazon ECS hands them to an agent:
/// `secrets` entries with `target: "LOG_DRIVER"` (the ACS model's
/// `SecretTarget` enum, ecs-agent/acs/model/api/api-2.json; the Go agent's
/// apicontainer.SecretTargetLogDriver) and no type (its engine tests'
/// LOG_DRIVER secrets carry none, and its PopulateSecrets would put a type
/// ENVIRONMENT_VARIABLE into the environment), after the container's own
/// `secrets`; the options in clear stay in LogConfig, the secret ones do not.
#[test]
fn secret_options_travel_as_secrets_of_target_log_driver() {
    let d = serde_json::json!({
        "family": "web",
        "executionRoleArn": "arn:aws:iam::000000000000:role/exec",
        "containerDefinitions": [{
            "name": "app", "image": "busybox:latest",
            "secrets": [{"name": "TOKEN", "valueFrom": "/app/token"}],
            "logConfiguration": {"logDriver": "awslogs",
                "options": {"awslogs-region": "us-east-1"},
                "secretOptions": [
                    {"name": "awslogs-group", "valueFrom": "/app/group"},
                    {"name": "awslogs-stream",
                     "valueFrom": "arn:aws:secretsmanager:eu-west-1:000000000000:secret:s-AbCdEf"}]}
        }]
    });
    let t = build_task(
        &task(serde_json::json!({})),
        "web",
        1,
        &view(d.as_object().unwrap()).unwrap(),
        "us-east-1",
        &[],
    );
    let c = serde_json::to_value(&t.containers[0]).unwrap();
    assert_eq!(
        c["secrets"],
        serde_json::json!([
            {"name": "TOKEN", "valueFrom": "/app/token", "type": "ENVIRONMENT_VARIABLE",
             "provider": "ssm", "region": "us-east-1", "target": "CONTAINER"},
            {"name": "awslogs-group", "valueFrom": "/app/group",
             "provider": "ssm", "region": "us-east-1", "target": "LOG_DRIVER"},
            {"name": "awslogs-stream",
             "valueFrom": "arn:aws:secretsmanager:eu-west-1:000000000000:secret:s-AbCdEf",
             "provider": "asm", "region": "eu-west-1", "target": "LOG_DRIVER"}
        ])
    );
    let host: serde_json::Value =
        serde_json::from_str(c["dockerConfig"]["hostConfig"].as_str().unwrap()).unwrap();
    assert_eq!(
        host["LogConfig"],
        serde_json::json!({"Type": "awslogs", "Config": {"awslogs-region": "us-east-1"}})
    );
}
