//! ACS tasks as Amazon ECS sends them, good and bad.

use super::def::{Condition, NetworkMode, Protocol};
use super::from_acs::{task_def, Policy};
use crate::model::acs::{self, AcsMessage};

fn payload_task(containers: serde_json::Value) -> acs::Task {
    serde_json::from_value(serde_json::json!({
        "arn": "arn:aws:ecs:us-east-1:000000000000:task/demo/0123456789abcdef",
        "family": "web", "version": "4", "desiredStatus": "RUNNING", "networkMode": "host",
        "containers": containers
    }))
    .unwrap()
}

fn reason(t: &acs::Task) -> String {
    task_def(t, Policy::default()).unwrap_err().reason
}

#[test]
fn realistic_task_is_accepted() {
    let t = payload_task(serde_json::json!([
        {"name": "db", "image": "127.0.0.1:5000/busybox:latest", "essential": false, "cpu": 128, "memory": 64,
         "command": ["sleep", "100"], "environment": {"A": "1"},
         "dockerConfig": {"config": "{\"Labels\":{\"x\":\"y\"},\"User\":\"1000\",\"WorkingDir\":\"/tmp\"}",
                          "hostConfig": "{\"Ulimits\":[{\"Name\":\"nofile\",\"Soft\":100,\"Hard\":200}],\"ReadonlyRootfs\":true,\"MemoryReservation\":33554432}",
                          "version": "1.17"},
         "portMappings": [{"containerPort": 80, "hostPort": 80, "protocol": "tcp"}, {"containerPort": 53, "protocol": "udp"}],
         "stopTimeout": 5},
        {"name": "web", "image": "busybox", "essential": true,
         "dependsOn": [{"containerName": "db", "condition": "START"}],
         "overrides": "{\"command\":[\"echo\",\"overridden\"]}", "command": ["echo", "original"]}
    ]));
    let d = task_def(&t, Policy::default()).unwrap();
    assert_eq!(d.family, "web");
    assert_eq!(d.version, "4");
    let db = &d.containers[0];
    assert!(!db.essential);
    assert_eq!(db.cpu, 128);
    assert_eq!(db.memory_mib, Some(64));
    assert_eq!(db.memory_reservation_mib, Some(32));
    assert_eq!(db.user.as_deref(), Some("1000"));
    assert_eq!(db.working_directory.as_deref(), Some("/tmp"));
    assert_eq!(db.labels["x"], "y");
    assert!(db.readonly_rootfs);
    assert_eq!(db.ulimits.len(), 1);
    assert_eq!(db.stop_timeout, Some(std::time::Duration::from_secs(5)));
    assert_eq!(db.port_mappings[1].protocol, Protocol::Udp);
    let web = &d.containers[1];
    assert!(web.essential);
    assert_eq!(
        web.command,
        Some(vec!["echo".to_string(), "overridden".to_string()])
    );
    assert_eq!(web.depends_on[0].condition, Condition::Start);
}

#[test]
fn bad_tasks_are_refused_naming_the_field() {
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (
            serde_json::json!([{"name": "a"}]),
            "container \"a\": image: missing",
        ),
        (
            serde_json::json!([{"name": "a", "image": "BusyBox"}]),
            "container \"a\": image: image reference \"BusyBox\": invalid repository path",
        ),
        (
            serde_json::json!([{"name": "a b", "image": "x"}]),
            "containers[0].name \"a b\"",
        ),
        (
            serde_json::json!([{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]),
            "containers[1].name \"a\" is used twice",
        ),
        (
            serde_json::json!([{"name": "a", "image": "x", "essential": false}]),
            "at least one container must be essential",
        ),
        (
            serde_json::json!([{"name": "a", "image": "x", "dependsOn": [{"containerName": "zz", "condition": "START"}]}]),
            "dependsOn container \"zz\", which is not in the task",
        ),
        (
            serde_json::json!([{"name": "a", "image": "x", "dependsOn": [{"containerName": "a", "condition": "START"}]}]),
            "dependsOn itself",
        ),
        (
            serde_json::json!([{"name": "a", "image": "x", "dependsOn": [{"containerName": "b", "condition": "START"}]},
                            {"name": "b", "image": "x", "dependsOn": [{"containerName": "a", "condition": "START"}]}]),
            "cycle",
        ),
        (
            serde_json::json!([{"name": "a", "image": "x"}, {"name": "b", "image": "x", "dependsOn": [{"containerName": "a", "condition": "HEALTHY"}]}]),
            "dependsOn container \"a\" with condition HEALTHY, but \"a\" has no health check",
        ),
        (
            serde_json::json!([{"name": "a", "image": "x", "healthCheckType": "ecs"}]),
            "container \"a\": healthCheckType \"ecs\": expected \"docker\"",
        ),
        (
            serde_json::json!([{"name": "a", "image": "x", "dockerConfig": {"config": "{\"HealthCheck\":{\"Test\":[\"CMD\"]}}"}}]),
            "container \"a\": dockerConfig.config.HealthCheck.Test: CMD without a command",
        ),
        (
            serde_json::json!([{"name": "a", "image": "x", "dependsOn": [{"containerName": "b", "condition": "LATER"}]}, {"name": "b", "image": "x"}]),
            "dependsOn[0].condition \"LATER\": expected START, COMPLETE, SUCCESS or HEALTHY",
        ),
        (
            serde_json::json!([{"name": "a", "image": "x", "memory": -5}]),
            "container \"a\": memory -5",
        ),
        (
            serde_json::json!([{"name": "a", "image": "x", "cpu": -1}]),
            "container \"a\": cpu -1",
        ),
        (
            serde_json::json!([{"name": "a", "image": "x", "portMappings": [{"containerPort": 80, "hostPort": 81}]}]),
            "portMappings[0].hostPort 81: in host network mode it must equal containerPort 80",
        ),
        (
            serde_json::json!([{"name": "a", "image": "x", "portMappings": [{"containerPort": 70000}]}]),
            "portMappings[0].containerPort",
        ),
        (
            serde_json::json!([{"name": "a", "image": "x", "portMappings": [{"containerPort": 80, "protocol": "sctp"}]}]),
            "protocol \"sctp\": expected tcp or udp",
        ),
        (
            serde_json::json!([{"name": "a", "image": "x", "mountPoints": [{"sourceVolume": "v", "containerPath": "/v"}]}]),
            "container \"a\": mountPoints[0].sourceVolume \"v\": no such volume in the task",
        ),
        (
            serde_json::json!([{"name": "a", "image": "x", "dockerConfig": {"hostConfig": "{\"CapAdd\":[\"NET_ADMINS\"]}"}}]),
            "container \"a\": dockerConfig.hostConfig.CapAdd[0]: unknown capability \"NET_ADMINS\"",
        ),
        (
            serde_json::json!([{"name": "a", "image": "x", "dockerConfig": {"hostConfig": "{\"Sysctls\":{\"vm.overcommit_memory\":\"1\"}}"}}]),
            "container \"a\": systemControls (dockerConfig.hostConfig.Sysctls) \"vm.overcommit_memory\" is not namespaced",
        ),
        (
            // The task runs in host network mode (payload_task).
            serde_json::json!([{"name": "a", "image": "x", "dockerConfig": {"hostConfig": "{\"Sysctls\":{\"net.core.somaxconn\":\"1\"}}"}}]),
            "\"net.core.somaxconn\" is a network sysctl and the container shares the host's network namespace",
        ),
        (
            serde_json::json!([{"name": "a", "image": "x", "dockerConfig": {"hostConfig": "{\"MemorySwap\":1048576}"}}]),
            "linuxParameters.maxSwap (dockerConfig.hostConfig.MemorySwap 1048576): needs the container's memory limit",
        ),
        (
            serde_json::json!([{"name": "a", "image": "x", "memory": 64, "dockerConfig": {"hostConfig": "{\"MemorySwap\":1048576}"}}]),
            "memory plus swap is below memory (64 MiB)",
        ),
        (
            serde_json::json!([{"name": "a", "image": "x", "dockerConfig": {"hostConfig": "{\"SecurityOpt\":[\"apparmor:custom\"]}"}}]),
            "dockerSecurityOptions \"apparmor:custom\": this instance does not apply AppArmor profiles",
        ),
        (
            serde_json::json!([{"name": "a", "image": "x", "overrides": "{\"command\": 5}"}]),
            "overrides.command: expected a list of strings",
        ),
        (
            serde_json::json!([{"name": "a", "image": "x", "memory": 32, "dockerConfig": {"hostConfig": "{\"MemoryReservation\":67108864}"}}]),
            "memoryReservation (64 MiB) must not be above memory (32 MiB)",
        ),
        (serde_json::json!([]), "the task has no containers"),
    ];
    for (containers, want) in cases {
        let got = reason(&payload_task(containers.clone()));
        assert!(
            got.contains(want),
            "for {containers}: got {got:?}, want it to contain {want:?}"
        );
    }
}

#[test]
fn task_pid_and_ipc_modes_replace_the_containers() {
    let mut t = payload_task(serde_json::json!([{"name": "a", "image": "x",
        "dockerConfig": {"hostConfig": "{\"IpcMode\":\"private\"}"}}]));
    t.pid_mode = Some("host".into());
    t.ipc_mode = Some("none".into());
    let d = task_def(&t, Policy::default()).unwrap();
    assert_eq!(d.containers[0].linux.pid, super::linux::PidMode::Host);
    assert_eq!(d.containers[0].linux.ipc, super::linux::IpcMode::None);
    t.pid_mode = Some("task".into());
    t.ipc_mode = Some("task".into());
    let d = task_def(&t, Policy::default()).unwrap();
    assert_eq!(d.containers[0].linux.pid, super::linux::PidMode::Task);
    assert_eq!(d.containers[0].linux.ipc, super::linux::IpcMode::Task);
    assert!(d.containers[0].linux.joins_task_namespaces());
    t.pid_mode = Some("container".into());
    assert_eq!(reason(&t), "pidMode \"container\": expected host or task");
    t.pid_mode = None;
    t.ipc_mode = Some("shared".into());
    assert_eq!(
        reason(&t),
        "ipcMode \"shared\": expected host, task or none"
    );
}

#[test]
fn network_modes_and_enis() {
    use super::def::NetworkMode;
    let mut t = payload_task(serde_json::json!([{"name": "a", "image": "x",
        "portMappings": [{"containerPort": 80, "hostPort": 8080}]}]));
    for (wire, mode) in [
        (Some("bridge"), NetworkMode::Bridge),
        (None, NetworkMode::Bridge),
        (Some(""), NetworkMode::Bridge),
        (Some("none"), NetworkMode::None),
    ] {
        t.network_mode = wire.map(str::to_string);
        assert_eq!(task_def(&t, Policy::default()).unwrap().network_mode, mode);
    }
    t.network_mode = Some("nat".into());
    assert!(reason(&t).contains("networkMode \"nat\": expected host, bridge, awsvpc or none"));
    // awsvpc and host: a host port other than the container port makes no sense.
    t.network_mode = Some("awsvpc".into());
    assert!(reason(&t).contains("in awsvpc network mode it must equal containerPort 80"));

    let mut t = payload_task(serde_json::json!([{"name": "a", "image": "x"}]));
    t.network_mode = Some("awsvpc".into());
    t.elastic_network_interfaces = vec![serde_json::from_value(serde_json::json!({
        "macAddress": "0a:1b:2c:3d:4e:5f", "attachmentArn": "arn:aws:ecs:us-east-1:0:attachment/x",
        "ipv4Addresses": [{"primary": true, "privateAddress": "10.0.0.5"}],
        "subnetGatewayIpv4Address": "10.0.0.1/24", "domainNameServers": ["10.0.0.2"]
    }))
    .unwrap()];
    assert!(reason(&t).contains("ECS_ENABLE_TASK_ENI"), "{}", reason(&t));
    let allow = Policy {
        allow_eni: true,
        ..Policy::default()
    };
    let d = task_def(&t, allow).unwrap();
    let eni = d.eni.unwrap();
    assert_eq!(eni.ipv4, vec![("10.0.0.5".parse().unwrap(), 24)]);
    assert_eq!(
        d.eni_attachment_arn.as_deref(),
        Some("arn:aws:ecs:us-east-1:0:attachment/x")
    );
    t.network_mode = Some("bridge".into());
    assert!(task_def(&t, allow)
        .unwrap_err()
        .reason
        .contains("only awsvpc tasks take an ENI"));
    t.network_mode = Some("awsvpc".into());
    t.elastic_network_interfaces[0].mac_address = Some("nope".into());
    assert!(task_def(&t, allow)
        .unwrap_err()
        .reason
        .starts_with("elasticNetworkInterfaces[0]: "));
}

#[test]
fn role_credential_ids_are_kept_but_not_the_secrets() {
    let mut t = payload_task(serde_json::json!([{"name": "a", "image": "x"}]));
    t.role_credentials = Some(
        serde_json::from_value(serde_json::json!({
            "credentialsId": "cid-1", "accessKeyId": "AK", "secretAccessKey": "SECRET",
            "sessionToken": "TOKEN", "expiration": "2030-01-01T00:00:00Z"
        }))
        .unwrap(),
    );
    let d = task_def(&t, Policy::default()).unwrap();
    assert_eq!(d.credentials_id.as_deref(), Some("cid-1"));
    assert_eq!(d.execution_credentials_id, None);
    let saved = serde_json::to_string(&d).unwrap();
    assert!(
        !saved.contains("SECRET") && !saved.contains("TOKEN"),
        "{saved}"
    );
}

#[test]
fn health_checks_are_read_and_refused_when_disabled() {
    // The shape of the Go agent's v10/container-health-check fixture.
    let t = payload_task(serde_json::json!([
        {"name": "web", "image": "x", "healthCheckType": "docker", "dockerConfig": {"config":
            "{\"HealthCheck\":{\"Test\":[\"CMD-SHELL\",\"test -f /ok\"],\"Interval\":2000000000,\"Timeout\":1000000000,\"Retries\":2,\"StartPeriod\":3000000000}}"}},
        {"name": "app", "image": "x", "dependsOn": [{"containerName": "web", "condition": "HEALTHY"}]}
    ]));
    let d = task_def(&t, Policy::default()).unwrap();
    let h = d.containers[0].health_check.as_ref().unwrap();
    assert_eq!(h.argv(), vec!["/bin/sh", "-c", "test -f /ok"]);
    assert_eq!((h.retries, h.start_period.as_secs()), (2, 3));
    assert_eq!(d.containers[1].depends_on[0].condition, Condition::Healthy);
    let e = task_def(
        &t,
        Policy {
            disable_health_check: true,
            ..Policy::default()
        },
    )
    .unwrap_err();
    assert!(
        e.reason.contains("ECS_DISABLE_DOCKER_HEALTH_CHECK=true"),
        "{}",
        e.reason
    );
}

#[test]
fn privileged_is_refused_when_disabled() {
    let t = payload_task(serde_json::json!([{"name": "a", "image": "x", "privileged": true}]));
    assert!(task_def(&t, Policy::default()).unwrap().containers[0].privileged);
    let e = task_def(
        &t,
        Policy {
            disable_privileged: true,
            ..Policy::default()
        },
    )
    .unwrap_err();
    assert!(e.reason.contains("ECS_DISABLE_PRIVILEGED"), "{e}");
}

#[test]
fn missing_arn_is_refused() {
    let mut t = payload_task(serde_json::json!([{"name": "a", "image": "x"}]));
    t.arn = None;
    assert_eq!(reason(&t), "arn: missing");
}

/// Amazon ECS repeats the network mode in each container's hostConfig
/// (the Go agent's fixtures v13/1, v11/task-networking); a mode there that
/// contradicts the task's is refused naming both.
#[test]
fn host_config_network_mode_must_match_the_task() {
    let payload = |task_mode: &str, host_mode: &str| {
        format!(
            r#"{{"type":"PayloadMessage","message":{{"tasks":[{{"arn":"arn:aws:ecs:us-west-2:1:task/c/t","networkMode":{task_mode},
               "containers":[{{"name":"app","image":"busybox","dockerConfig":{{"config":"{{}}","version":"1.17",
               "hostConfig":"{{\"NetworkMode\":\"{host_mode}\",\"CapAdd\":[],\"CapDrop\":[]}}"}}}}]}}]}}}}"#
        )
    };
    let def = |text: String| {
        let AcsMessage::Payload(p) = AcsMessage::decode(&text).unwrap() else {
            panic!("not a payload")
        };
        task_def(&p.tasks[0], Policy::default())
    };
    assert_eq!(
        def(payload("\"bridge\"", "bridge")).unwrap().network_mode,
        NetworkMode::Bridge
    );
    assert_eq!(
        def(payload("\"bridge\"", "default")).unwrap().network_mode,
        NetworkMode::Bridge
    );
    assert_eq!(
        def(payload("\"host\"", "host")).unwrap().network_mode,
        NetworkMode::Host
    );
    assert_eq!(
        def(payload("null", "none")).unwrap().network_mode,
        NetworkMode::None
    );
    let e = def(payload("\"bridge\"", "host")).unwrap_err();
    assert_eq!(
        e.reason,
        "container \"app\": dockerConfig.hostConfig.NetworkMode \"host\" differs from the task's networkMode \"bridge\""
    );
    let e = def(payload("null", "container:other")).unwrap_err();
    assert!(
        e.reason
            .starts_with("dockerConfig.hostConfig.NetworkMode \"container:other\""),
        "{}",
        e.reason
    );
}

#[test]
fn eni_from_the_acs_payload() {
    use super::from_acs::eni_from_acs;
    use crate::model::acs::ElasticNetworkInterface;
    use std::net::Ipv4Addr;
    let e: ElasticNetworkInterface = serde_json::from_value(serde_json::json!({
        "macAddress": "0a:1b:2c:3d:4e:5f",
        "ec2Id": "eni-123",
        "ipv4Addresses": [
            {"privateAddress": "10.0.1.9", "primary": false},
            {"privateAddress": "10.0.1.8", "primary": true}
        ],
        "subnetGatewayIpv4Address": "10.0.1.1/24",
        "domainNameServers": ["10.0.0.2"],
        "domainName": ["ec2.internal"]
    }))
    .unwrap();
    let eni = eni_from_acs(&e).unwrap();
    assert_eq!(eni.mac, "0a:1b:2c:3d:4e:5f");
    assert_eq!(
        eni.ipv4,
        vec![
            (Ipv4Addr::new(10, 0, 1, 8), 24),
            (Ipv4Addr::new(10, 0, 1, 9), 24)
        ]
    );
    assert_eq!(eni.gateway, Some(Ipv4Addr::new(10, 0, 1, 1)));
    assert_eq!(eni.dns, vec![Ipv4Addr::new(10, 0, 0, 2)]);
    assert_eq!(eni.dns_search, vec!["ec2.internal".to_string()]);

    let field = |patch: serde_json::Value| {
        let mut v = serde_json::to_value(&e).unwrap();
        for (k, x) in patch.as_object().unwrap() {
            v[k] = x.clone();
        }
        let e: ElasticNetworkInterface = serde_json::from_value(v).unwrap();
        eni_from_acs(&e).unwrap_err().field
    };
    assert_eq!(field(serde_json::json!({"macAddress": null})), "macAddress");
    // The ACS field (the network layer called it eni.mac).
    assert_eq!(field(serde_json::json!({"macAddress": "zz"})), "macAddress");
    assert_eq!(
        field(serde_json::json!({"subnetGatewayIpv4Address": "10.0.1.1"})),
        "subnetGatewayIpv4Address"
    );
    assert_eq!(
        field(serde_json::json!({"ipv4Addresses": []})),
        "ipv4Addresses"
    );
    assert_eq!(
        field(serde_json::json!({"ipv4Addresses": [{"privateAddress": "x"}]})),
        "ipv4Addresses.privateAddress"
    );
    assert_eq!(
        field(serde_json::json!({"domainNameServers": ["::1"]})),
        "domainNameServers"
    );
}

fn bridge_task(containers: serde_json::Value) -> acs::Task {
    let mut t = payload_task(containers);
    t.network_mode = Some("bridge".into());
    t
}

#[test]
fn links_name_containers_of_the_task_which_start_first() {
    // `links` is a field of the ACS container (acs-api-2.json Container.links);
    // the Go agent adds a START dependency on each linked container
    // (task.go:initializeContainerOrdering).
    let t = bridge_task(serde_json::json!([
        {"name": "db", "image": "busybox"},
        {"name": "web", "image": "busybox", "links": ["db:database"],
         "dockerConfig": {"hostConfig": "{\"Dns\":[\"10.0.0.2\"],\"ExtraHosts\":[\"x:192.0.2.1\"]}",
                          "config": "{\"Tty\":true,\"OpenStdin\":true,\"Hostname\":\"web\"}"}}
    ]));
    let def = task_def(&t, Policy::default()).unwrap();
    let web = &def.containers[1];
    assert_eq!(web.net.links[0].alias, "database");
    assert_eq!(web.net.dns_servers.len(), 1);
    assert!(web.tty);
    assert_eq!(web.hostname.as_deref(), Some("web"));
    assert_eq!(
        web.depends_on,
        vec![super::def::Dependency {
            container: "db".into(),
            condition: Condition::Start
        }]
    );
    let t = bridge_task(serde_json::json!([
        {"name": "web", "image": "busybox", "links": ["cache"]}
    ]));
    assert_eq!(
        reason(&t),
        "container \"web\": links[0] names container \"cache\", which is not in the task"
    );
    let t = bridge_task(serde_json::json!([
        {"name": "web", "image": "busybox", "links": ["web:me"]}
    ]));
    assert!(reason(&t).contains("links[0] links the container to itself"));
    let t = bridge_task(serde_json::json!([
        {"name": "a", "image": "busybox", "links": ["b"]},
        {"name": "b", "image": "busybox", "links": ["a"]}
    ]));
    assert!(reason(&t).contains("cycle"), "{}", reason(&t));
    let t = bridge_task(serde_json::json!([
        {"name": "web", "image": "busybox",
         "dockerConfig": {"hostConfig": "{\"ExtraHosts\":[\"x:192.0.2.300\"]}"}}
    ]));
    assert_eq!(
        reason(&t),
        "container \"web\": extraHosts[0] \"x:192.0.2.300\": \"192.0.2.300\" is not an IPv4 or IPv6 address"
    );
}
