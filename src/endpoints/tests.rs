//! Unit tests of the endpoints: JSON shapes against the Go agent's response
//! types and documented examples, router status codes and error bodies.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::tmds_json::{container_json, task_json};
use super::*;
use crate::config::RpsLimit;
use crate::observe::metadata_json::Version;
use crate::observe::stats::{ContainerSample, NetworkRate};
use crate::observe::test_fixtures::{agent, host_task, HOST_CID, HOST_TASK_ARN};
use crate::observe::view::{
    AgentView, ContainerView, EniView, NetworkView, Published, TaskLimits, TaskSource, TaskView,
};
use crate::observe::{AgentMetrics, StatsStore};
use crate::task::def::NetworkMode;
use crate::task::{ContainerStatus, DesiredStatus, TaskStatus};

const TASK_ARN: &str =
    "arn:aws:ecs:us-west-2:111122223333:task/default/8f03e41243824aea923aca126495f665";
const CID: &str = "ea32192c8553fbff06c9340478a2ff089b2bb5646fb718b4ee206641c9086d66";

fn at(secs: u64, nanos: u32) -> Option<std::time::SystemTime> {
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn awsvpc_task() -> TaskView {
    TaskView {
        arn: TASK_ARN.into(),
        family: "curltest".into(),
        revision: "26".into(),
        desired_status: DesiredStatus::Running,
        known_status: TaskStatus::Running,
        limits: TaskLimits {
            cpu: Some(0.25),
            memory: Some(512),
        },
        pull_started_at: at(1_601_597_705, 443_911_000),
        pull_stopped_at: at(1_601_597_705, 710_000_000),
        availability_zone: "us-west-2d".into(),
        launch_type: "EC2".into(),
        tags: pairs(&[("team", "a"), ("env", "b")]),
        network_mode: NetworkMode::Awsvpc,
        containers: vec![ContainerView {
            token: "tok-curl".into(),
            runtime_id: CID.into(),
            name: "curl".into(),
            docker_name: "ecs-curltest-26-curl-a0e7dba5aca6d8cb2e00".into(),
            image: "111122223333.dkr.ecr.us-west-2.amazonaws.com/curltest:latest".into(),
            image_id: "sha256:d691691e9652791a60114e67b365688d20d19940dde7c4736ea30e660d8d3553"
                .into(),
            labels: pairs(&[
                ("com.amazonaws.ecs.cluster", "default"),
                ("com.amazonaws.ecs.container-name", "curl"),
            ]),
            desired_status: DesiredStatus::Running,
            known_status: ContainerStatus::Running,
            cpu: 10,
            memory_mib: 128,
            created_at: at(1_601_597_706, 0),
            started_at: at(1_601_597_706, 620_912_337),
            container_arn:
                "arn:aws:ecs:us-west-2:111122223333:container/0206b271-b33f-47ab-86c6-a0ba208a70a9"
                    .into(),
            log_driver: "awslogs".into(),
            log_options: pairs(&[("awslogs-group", "/ecs/metadata")]),
            networks: vec![NetworkView {
                mode: NetworkMode::Awsvpc,
                ipv4_addresses: vec!["10.0.2.106".into()],
                ipv6_addresses: vec![],
                eni: Some(EniView {
                    mac_address: "12:ab:cd:ef:12:34".into(),
                    ipv4_subnet_cidr_block: "10.0.2.0/24".into(),
                    private_dns_name: "ip-10-0-2-106.us-west-2.compute.internal".into(),
                    subnet_gateway_ipv4_address: "10.0.2.1/24".into(),
                    ..EniView::default()
                }),
            }],
            container_type: "NORMAL".into(),
            restart_count: None,
            ..ContainerView::default()
        }],
        ..TaskView::default()
    }
}

fn source() -> Published {
    let p = Published::new(agent());
    p.publish_tasks(vec![awsvpc_task(), host_task()]);
    p
}

#[test]
fn v4_container_json_matches_the_go_agent_shape() {
    let t = awsvpc_task();
    let v = serde_json::to_value(container_json(&t, &t.containers[0], Version::V4)).unwrap();
    assert_eq!(
        v,
        json!({
            "DockerId": CID,
            "Name": "curl",
            "DockerName": "ecs-curltest-26-curl-a0e7dba5aca6d8cb2e00",
            "Image": "111122223333.dkr.ecr.us-west-2.amazonaws.com/curltest:latest",
            "ImageID": "sha256:d691691e9652791a60114e67b365688d20d19940dde7c4736ea30e660d8d3553",
            "Labels": {"com.amazonaws.ecs.cluster": "default",
                       "com.amazonaws.ecs.container-name": "curl"},
            "DesiredStatus": "RUNNING",
            "KnownStatus": "RUNNING",
            "Limits": {"CPU": 10, "Memory": 128},
            "CreatedAt": "2020-10-02T00:15:06Z",
            "StartedAt": "2020-10-02T00:15:06.620912337Z",
            "Type": "NORMAL",
            "LogDriver": "awslogs",
            "LogOptions": {"awslogs-group": "/ecs/metadata"},
            "ContainerARN": "arn:aws:ecs:us-west-2:111122223333:container/0206b271-b33f-47ab-86c6-a0ba208a70a9",
            "Networks": [{
                "NetworkMode": "awsvpc",
                "IPv4Addresses": ["10.0.2.106"],
                "AttachmentIndex": 0,
                "MACAddress": "12:ab:cd:ef:12:34",
                "IPv4SubnetCIDRBlock": "10.0.2.0/24",
                "PrivateDNSName": "ip-10-0-2-106.us-west-2.compute.internal",
                "SubnetGatewayIpv4Address": "10.0.2.1/24"
            }]
        })
    );
    // Integral CPU prints without ".0" as Go does.
    let text = serde_json::to_string(&container_json(&t, &t.containers[0], Version::V4)).unwrap();
    assert!(text.contains("\"CPU\":10,"), "{text}");
}

#[test]
fn v3_container_json_has_no_v4_fields_and_host_mode_shows_an_empty_address() {
    let t = host_task();
    let v = serde_json::to_value(container_json(&t, &t.containers[0], Version::V3)).unwrap();
    assert_eq!(
        v,
        json!({
            "DockerId": HOST_CID,
            "Name": "web",
            "DockerName": "ecs-web-3-web-1",
            "Image": "busybox",
            "ImageID": "",
            "Ports": [{"ContainerPort": 8080, "Protocol": "tcp", "HostPort": 8080}],
            "DesiredStatus": "RUNNING",
            "KnownStatus": "RUNNING",
            "Limits": {"CPU": 2, "Memory": 32},
            "Type": "NORMAL",
            "Networks": [{"NetworkMode": "host", "IPv4Addresses": [""]}]
        })
    );
    let v4 = serde_json::to_value(container_json(&t, &t.containers[0], Version::V4)).unwrap();
    assert_eq!(
        v4["Ports"],
        json!([{"ContainerPort": 8080, "Protocol": "tcp", "HostPort": 8080, "HostIp": "0.0.0.0"}])
    );
    let a = awsvpc_task();
    let v3 = serde_json::to_value(container_json(&a, &a.containers[0], Version::V3)).unwrap();
    assert_eq!(
        v3["Networks"],
        json!([{"NetworkMode": "awsvpc", "IPv4Addresses": ["10.0.2.106"]}])
    );
    assert!(v3.get("LogDriver").is_none() && v3.get("ContainerARN").is_none());
}

/// What the engine publishes for a task with limits (its `task_view` test
/// checks the view), as task metadata prints it.
#[test]
fn task_limits_print_in_vcpu_and_mib() {
    let v = TaskView {
        limits: TaskLimits {
            cpu: Some(0.5),
            memory: Some(512),
        },
        launch_type: "EC2".into(),
        ..TaskView::default()
    };
    let j = serde_json::to_value(task_json(&AgentView::default(), &v, Version::V4, false)).unwrap();
    assert_eq!(j["Limits"], serde_json::json!({"CPU": 0.5, "Memory": 512}));
    assert_eq!(j["LaunchType"], "EC2");
}

#[test]
fn v4_task_json_matches_the_go_agent_shape() {
    let t = awsvpc_task();
    let v = serde_json::to_value(task_json(&agent(), &t, Version::V4, false)).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "AvailabilityZone",
            "Cluster",
            "Containers",
            "DesiredStatus",
            "Family",
            "FaultInjectionEnabled",
            "KnownStatus",
            "LaunchType",
            "Limits",
            "PullStartedAt",
            "PullStoppedAt",
            "Revision",
            "TaskARN",
            "VPCID"
        ]
    );
    assert_eq!(v["Cluster"], "default");
    assert_eq!(v["TaskARN"], TASK_ARN);
    assert_eq!(v["Revision"], "26");
    assert_eq!(v["Limits"], json!({"CPU": 0.25, "Memory": 512}));
    assert_eq!(v["PullStartedAt"], "2020-10-02T00:15:05.443911Z");
    assert_eq!(v["PullStoppedAt"], "2020-10-02T00:15:05.71Z");
    assert_eq!(v["LaunchType"], "EC2");
    assert_eq!(v["FaultInjectionEnabled"], false);
    assert_eq!(v["Containers"][0]["DockerId"], CID);

    let tagged = serde_json::to_value(task_json(&agent(), &t, Version::V4, true)).unwrap();
    assert_eq!(tagged["TaskTags"], json!({"env": "b", "team": "a"}));
    assert_eq!(tagged["ContainerInstanceTags"], json!({"rack": "r1"}));

    let v3 = serde_json::to_value(task_json(&agent(), &t, Version::V3, false)).unwrap();
    for absent in ["LaunchType", "FaultInjectionEnabled", "VPCID", "TaskTags"] {
        assert!(v3.get(absent).is_none(), "{absent} in v3: {v3}");
    }
    // No limits at all: the key is omitted; uncreated containers are not listed.
    let h = serde_json::to_value(task_json(&agent(), &host_task(), Version::V4, false)).unwrap();
    assert!(h.get("Limits").is_none());
    assert_eq!(h["Containers"].as_array().unwrap().len(), 1);
}

async fn call(app: &Router, uri: &str) -> (StatusCode, String, String) {
    let resp = app
        .clone()
        .oneshot(Request::builder().uri(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, ctype, String::from_utf8(body.to_vec()).unwrap())
}

fn stats_for(id: &str) -> ContainerSample {
    ContainerSample {
        // 2020-10-02T00:51:13.410254284Z, 2020-10-02T00:51:12.406202398Z
        read: UNIX_EPOCH + Duration::new(1_601_599_873, 410_254_284),
        preread: at(1_601_599_872, 406_202_398),
        id: id.into(),
        name: "n".into(),
        network_rate: Some(NetworkRate {
            rx_bytes_per_sec: 1.5,
            tx_bytes_per_sec: 0.0,
        }),
        ..ContainerSample::default()
    }
}

fn tmds_app(burst: u32) -> (Router, Arc<StatsStore>) {
    let stats = Arc::new(StatsStore::new());
    let limiter = RateLimiter::new(RpsLimit { steady: 1, burst }, None);
    (
        metadata_router(Arc::new(source()), stats.clone(), limiter),
        stats,
    )
}

#[tokio::test]
async fn metadata_routes_answer_like_the_go_agent() {
    let (app, stats) = tmds_app(1000);
    let (s, ct, body) = call(&app, "/v4/tok-curl").await;
    assert_eq!((s, ct.as_str()), (StatusCode::OK, "application/json"));
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["Name"],
        "curl"
    );

    let (s, _, body) = call(&app, "/v4/tok-web/task").await;
    assert_eq!(s, StatusCode::OK);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["TaskARN"], HOST_TASK_ARN);
    assert!(v.get("TaskTags").is_none());
    let (_, _, body) = call(&app, "/v3/tok-curl/taskWithTags").await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["TaskTags"]["team"],
        "a"
    );

    // Unknown tokens: v4 404, v3 500, bodies are JSON strings.
    let (s, ct, body) = call(&app, "/v4/nope").await;
    assert_eq!(
        (s, ct.as_str()),
        (StatusCode::NOT_FOUND, "application/json")
    );
    assert_eq!(
        body,
        "\"V4 container metadata handler: unable to get container ID from request: unable to get docker ID from v3 endpoint ID: nope\""
    );
    let (s, _, body) = call(&app, "/v4/nope/task").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        "\"V4 task metadata handler: unable to get task arn from request: unable to get task Arn from v3 endpoint ID: nope\""
    );
    let (s, _, body) = call(&app, "/v3/nope").await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.starts_with("\"V3 container metadata handler: unable to get container ID"));
    let (s, _, body) = call(&app, "/v3/nope/task").await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.starts_with("\"V3 task metadata handler: unable to get task arn"));
    // A container not created yet has a task but no container metadata.
    let (s, _, _) = call(&app, "/v4/tok-pending").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = call(&app, "/v4/tok-pending/task").await;
    assert_eq!(s, StatusCode::OK);

    // Stats: lookups 404 (v4) / 400 (v3); no sample yet 500 (v4) / 400 (v3).
    let (s, _, body) = call(&app, "/v4/nope/stats").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(body.starts_with("\"V4 container stats handler: unable to get task arn"));
    let (s, _, body) = call(&app, "/v3/nope/stats").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.starts_with("\"V3 container stats handler: unable to get task arn"));
    let (s, _, body) = call(&app, "/v4/tok-pending/stats").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(body.contains("unable to get container ID from request"));
    let (s, _, body) = call(&app, "/v4/tok-curl/stats").await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        body,
        format!("\"Unable to get container stats for: {CID}\"")
    );
    let (s, _, _) = call(&app, "/v3/tok-curl/stats").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, body) = call(&app, "/v4/nope/task/stats").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(body.starts_with("\"V4 task stats handler: unable to get task arn"));
    let (s, _, _) = call(&app, "/v3/nope/task/stats").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Task stats before any sample: {} per container in v4, null in v3.
    let (_, _, body) = call(&app, "/v4/tok-curl/task/stats").await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({CID: {}})
    );
    let (_, _, body) = call(&app, "/v3/tok-curl/task/stats").await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({CID: null})
    );

    stats.insert(CID, stats_for(CID));
    let (s, _, body) = call(&app, "/v4/tok-curl/stats").await;
    assert_eq!(s, StatusCode::OK);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["id"], CID);
    assert_eq!(v["read"], "2020-10-02T00:51:13.410254284Z");
    assert_eq!(
        v["network_rate_stats"],
        json!({"rx_bytes_per_sec": 1.5, "tx_bytes_per_sec": 0.0})
    );
    for key in [
        "cpu_stats",
        "precpu_stats",
        "memory_stats",
        "blkio_stats",
        "pids_stats",
    ] {
        assert!(v.get(key).is_some(), "{key} missing: {v}");
    }
    let (_, _, body) = call(&app, "/v3/tok-curl/stats").await;
    let v3: Value = serde_json::from_str(&body).unwrap();
    assert!(v3.get("network_rate_stats").is_none());
    let (_, _, body) = call(&app, "/v4/tok-curl/task/stats").await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()[CID]["id"],
        CID
    );
}

#[tokio::test]
async fn metadata_requests_beyond_the_burst_get_429() {
    let (app, _) = tmds_app(2);
    assert_eq!(call(&app, "/v4/tok-curl").await.0, StatusCode::OK);
    // Errors count too: the limit is in front of every route.
    assert_eq!(call(&app, "/v4/nope").await.0, StatusCode::NOT_FOUND);
    let (s, ct, body) = call(&app, "/v3/tok-curl/task").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert!(ct.starts_with("text/plain"));
    assert_eq!(body, ratelimit::LIMIT_MESSAGE);
}

fn intro_app() -> (Router, Arc<AgentMetrics>) {
    let metrics = Arc::new(AgentMetrics::new());
    (
        introspection_router(Arc::new(source()), metrics.clone()),
        metrics,
    )
}

#[tokio::test]
async fn introspection_answers_like_the_go_agent() {
    let (app, _) = intro_app();
    let (s, ct, body) = call(&app, "/v1/metadata").await;
    assert_eq!((s, ct.as_str()), (StatusCode::OK, "application/json"));
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"Cluster": "default", "ContainerInstanceArn": null, "Version": "ecs-agent v0.1.0"})
    );

    let (s, _, body) = call(&app, "/v1/tasks").await;
    assert_eq!(s, StatusCode::OK);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["Tasks"].as_array().unwrap().len(), 2);
    assert_eq!(
        v["Tasks"][0],
        json!({
            "Arn": TASK_ARN, "DesiredStatus": "RUNNING", "KnownStatus": "RUNNING",
            "Family": "curltest", "Version": "26",
            "Containers": [{
                "DockerId": CID, "DockerName": "ecs-curltest-26-curl-a0e7dba5aca6d8cb2e00",
                "Name": "curl",
                "Image": "111122223333.dkr.ecr.us-west-2.amazonaws.com/curltest:latest",
                "ImageID": "sha256:d691691e9652791a60114e67b365688d20d19940dde7c4736ea30e660d8d3553",
                "CreatedAt": "2020-10-02T00:15:06Z",
                "StartedAt": "2020-10-02T00:15:06.620912337Z",
                "Networks": [{"NetworkMode": "awsvpc", "IPv4Addresses": ["10.0.2.106"]}]
            }]
        })
    );
    // CREATED is PENDING to ECS.
    assert_eq!(v["Tasks"][1]["KnownStatus"], "PENDING");
    assert_eq!(v["Tasks"][1]["DesiredStatus"], "RUNNING");

    let (s, _, body) = call(&app, &format!("/v1/tasks?dockerid={CID}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["Arn"],
        TASK_ARN
    );
    let (s, _, body) = call(&app, "/v1/tasks?dockerid=ea32192c8553").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["Arn"],
        TASK_ARN
    );
    let (s, _, body) = call(&app, &format!("/v1/tasks?taskarn={HOST_TASK_ARN}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["Family"],
        "web"
    );

    let empty =
        json!({"Arn": "", "KnownStatus": "", "Family": "", "Version": "", "Containers": null});
    for (uri, want) in [
        (
            format!("/v1/tasks?dockerid={CID}&taskarn={TASK_ARN}"),
            StatusCode::BAD_REQUEST,
        ),
        ("/v1/tasks?dockerid=e".to_string(), StatusCode::BAD_REQUEST),
        (
            "/v1/tasks?dockerid=ffffffffffff".to_string(),
            StatusCode::NOT_FOUND,
        ),
        (format!("/v1/tasks?dockerid={CID}0"), StatusCode::NOT_FOUND),
        (
            "/v1/tasks?taskarn=arn:nope".to_string(),
            StatusCode::NOT_FOUND,
        ),
    ] {
        let (s, ct, body) = call(&app, &uri).await;
        assert_eq!(s, want, "{uri}");
        assert_eq!(ct, "application/json");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap(),
            empty,
            "{uri}"
        );
    }
    // "e" matches both tasks' containers (ea32..., ecs-host-...): ambiguous.

    let (s, ct, body) = call(&app, "/license").await;
    assert_eq!((s, ct.as_str()), (StatusCode::OK, "text/plain"));
    assert!(body.contains("Apache License, Version 2.0"));

    let (s, _, body) = call(&app, "/no/such/path").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"AvailableCommands": ["/v1/metadata", "/v1/tasks", "/license", "/metrics"]})
    );
}

#[tokio::test]
async fn metrics_text_has_help_type_and_moving_counters() {
    let (app, metrics) = intro_app();
    metrics.set_acs_connected(true);
    metrics.record_heartbeat_at(std::time::SystemTime::now() - Duration::from_secs(5));
    {
        let g = metrics.pull_started();
        metrics.add_pull_bytes(1234);
        let (_, _, during) = call(&app, "/metrics").await;
        assert!(
            during.contains("\necs_agent_image_pulls_in_flight 1\n"),
            "{during}"
        );
        g.succeeded();
    }
    metrics.inc_error("pull");
    metrics.inc_error("pull");
    metrics.inc_error("acs");
    metrics.set_state_changes_pending(3);
    let (s, ct, text) = call(&app, "/metrics").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8");
    for line in [
        "# TYPE ecs_agent_acs_connected gauge",
        "ecs_agent_acs_connected 1",
        "ecs_agent_image_pulls_in_flight 0",
        "ecs_agent_image_pull_bytes_total 1234",
        "ecs_agent_image_pulls_completed_total 1",
        "ecs_agent_state_changes_pending 3",
        "ecs_agent_errors_total{kind=\"acs\"} 1",
        "ecs_agent_errors_total{kind=\"pull\"} 2",
        "ecs_agent_tasks{status=\"PENDING\"} 1",
        "ecs_agent_tasks{status=\"RUNNING\"} 1",
        "ecs_agent_tasks{status=\"STOPPED\"} 0",
        "ecs_agent_containers{status=\"NONE\"} 1",
        "ecs_agent_containers{status=\"RUNNING\"} 2",
        "# TYPE process_resident_memory_bytes gauge",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    // The containerd version found at start, as a label (test_fixtures::agent).
    let info = format!(
        "ecs_agent_info{{version=\"{}\",containerd_version=\"1.7.24~ds1\",image_pull=\"agent\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    assert!(
        text.lines().any(|l| l == info),
        "missing {info:?} in\n{text}"
    );
    let age_line = text
        .lines()
        .find(|l| l.starts_with("ecs_agent_acs_last_heartbeat_age_seconds "))
        .unwrap();
    let age: f64 = age_line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!((4.5..60.0).contains(&age), "{age_line}");
    let rss_line = text
        .lines()
        .find(|l| l.starts_with("process_resident_memory_bytes "))
        .unwrap();
    assert!(rss_line.rsplit(' ').next().unwrap().parse::<u64>().unwrap() > 1 << 20);
    // malloc's counts (glibc): what the agent uses, what the allocator keeps.
    if cfg!(all(target_os = "linux", target_env = "gnu")) {
        let heap = |state: &str| {
            let prefix = format!("ecs_agent_heap_bytes{{state=\"{state}\"}} ");
            text.lines()
                .find_map(|l| l.strip_prefix(prefix.as_str()))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("no {prefix:?} in\n{text}"))
        };
        assert!(heap("in_use") > 0);
        heap("held_free");
    }
    // Every sample line belongs to a family announced by HELP and TYPE.
    let mut typed = std::collections::HashSet::new();
    for l in text.lines() {
        if let Some(rest) = l.strip_prefix("# TYPE ") {
            typed.insert(rest.split(' ').next().unwrap().to_string());
        } else if !l.starts_with('#') {
            let name = l.split(['{', ' ']).next().unwrap();
            assert!(typed.contains(name), "{l}");
        }
    }
}

#[test]
fn prometheus_escaping() {
    assert_eq!(prometheus::escape_label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    assert_eq!(prometheus::escape_help("x\\y\nz\"q"), "x\\\\y\\nz\"q");
}

#[test]
fn published_snapshots_are_replaced_whole() {
    let p = source();
    let before = p.snapshot();
    p.publish_tasks(vec![]);
    assert_eq!(before.tasks.len(), 2);
    assert!(p.snapshot().tasks.is_empty());
    assert_eq!(p.snapshot().agent.cluster, "default");
    assert!(before.by_token("").is_none());
    assert_eq!(before.by_token("tok-web").unwrap().1.name, "web");
}

#[test]
fn one_task_is_published_and_removed_by_arn() {
    let p = source();
    let mut t = host_task();
    t.known_status = TaskStatus::Stopped;
    p.publish_task(t.clone());
    let snap = p.snapshot();
    assert_eq!(snap.tasks.len(), 2, "replaced in place, not added");
    assert_eq!(
        snap.task_by_arn(&t.arn).unwrap().known_status,
        TaskStatus::Stopped
    );
    let mut other = host_task();
    other.arn = "arn:aws:ecs:us-east-1:1:task/c/other".into();
    p.publish_task(other.clone());
    assert_eq!(p.snapshot().tasks.len(), 3);
    p.remove_task(&other.arn);
    p.remove_task(&t.arn);
    let snap = p.snapshot();
    assert_eq!(snap.tasks.len(), 1);
    assert!(snap.task_by_arn(&t.arn).is_none());
}

/// A control plane that knows the tasks' tags but fails for the instance.
struct HalfTags;

impl crate::endpoints::tags::TagsApi for HalfTags {
    fn tags(&self, arn: String) -> crate::endpoints::tags::TagsFuture {
        Box::pin(async move {
            if arn.contains(":task/") {
                Ok(vec![("team".to_string(), "a".to_string())])
            } else {
                Err(crate::endpoints::tags::TagsError {
                    code: "AccessDeniedException".into(),
                    message: "not allowed".into(),
                    status: 400,
                    request_id: Some("req-1".into()),
                })
            }
        })
    }
}

#[tokio::test]
async fn task_with_tags_asks_the_control_plane_and_reports_what_failed() {
    let stats = Arc::new(StatsStore::new());
    let limiter = RateLimiter::new(
        RpsLimit {
            steady: 100,
            burst: 100,
        },
        None,
    );
    let src = source();
    let mut agent = src.snapshot().agent.clone();
    agent.container_instance_arn =
        Some("arn:aws:ecs:us-west-2:111122223333:container-instance/default/ci1".into());
    src.publish_agent(agent);
    let app = crate::endpoints::metadata_router_with_tags(
        Arc::new(src),
        stats,
        limiter,
        Some(Arc::new(HalfTags)),
    );
    let (s, _, body) = call(&app, "/v4/tok-web/taskWithTags").await;
    assert_eq!(s, StatusCode::OK);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["TaskTags"], serde_json::json!({"team": "a"}), "{v}");
    assert!(v.get("ContainerInstanceTags").is_none(), "{v}");
    assert_eq!(v["Errors"][0]["ErrorField"], "ContainerInstanceTags", "{v}");
    assert_eq!(v["Errors"][0]["ErrorCode"], "AccessDeniedException");
    assert_eq!(v["Errors"][0]["RequestId"], "req-1");
    assert!(v["Errors"][0]["ResourceARN"]
        .as_str()
        .is_some_and(|a| a.contains("container-instance")));
}

#[test]
fn introspection_shows_restart_count_for_containers_with_a_policy() {
    let mut task = awsvpc_task();
    let json = |t: &TaskView| serde_json::to_value(introspection::task_json(t)).unwrap();
    assert!(json(&task)["Containers"][0].get("RestartCount").is_none());
    task.containers[0].restart_count = Some(3);
    assert_eq!(json(&task)["Containers"][0]["RestartCount"], 3);
}
