//! ecs-local through the real `aws` CLI, plus a websocket client playing the
//! agent on /acs/ws.

use crate::common::{self, Aws, EcsLocal, ACCESS_KEY_ID, SECRET_ACCESS_KEY};
use ecs::model::acs::{AckRequest, AcsMessage, PayloadMessage};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn cli_err(r: Result<Value, String>) -> String {
    match r {
        Ok(v) => panic!("expected the CLI to fail, got {v}"),
        Err(e) => e,
    }
}

fn container_defs() -> String {
    json!([{
        "name": "app", "image": "127.0.0.1:5000/busybox:latest", "cpu": 128, "memory": 256,
        "memoryReservation": 128, "essential": true,
        "entryPoint": ["sh", "-c"], "command": ["sleep 1000"],
        "environment": [{"name": "A", "value": "1"}],
        "portMappings": [{"containerPort": 80, "hostPort": 8080}],
        "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}],
        "dockerLabels": {"team": "x"}, "user": "1000", "workingDirectory": "/srv",
        "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}],
        "logConfiguration": {"logDriver": "json-file", "options": {"max-size": "1m"}},
        "startTimeout": 30, "stopTimeout": 5
    }, {
        "name": "init", "image": "127.0.0.1:5000/busybox:latest", "memory": 32, "essential": false,
        "command": ["true"]
    }])
    .to_string()
}

#[test]
fn clusters_and_task_definitions_through_the_cli() {
    let Some(env) = common::env() else { return };
    let local = EcsLocal::start(&env);
    let aws = Aws::new(&env, &local);
    let c = aws.ecs_ok(&["create-cluster", "--cluster-name", "c1"]);
    assert_eq!(
        c["cluster"]["clusterArn"],
        "arn:aws:ecs:us-east-1:000000000000:cluster/c1"
    );
    assert_eq!(c["cluster"]["status"], "ACTIVE");
    let l = aws.ecs_ok(&["list-clusters"]);
    assert_eq!(
        l["clusterArns"],
        json!(["arn:aws:ecs:us-east-1:000000000000:cluster/c1"])
    );
    let d = aws.ecs_ok(&["describe-clusters", "--clusters", "c1", "nope"]);
    assert_eq!(d["clusters"][0]["clusterName"], "c1");
    assert_eq!(d["failures"][0]["reason"], "MISSING");

    let defs = container_defs();
    let r = aws.ecs_ok(&[
        "register-task-definition",
        "--family",
        "web",
        "--container-definitions",
        &defs,
    ]);
    let td = &r["taskDefinition"];
    assert_eq!(
        td["taskDefinitionArn"],
        "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1"
    );
    assert_eq!(td["revision"], 1);
    assert_eq!(
        td["containerDefinitions"][0]["ulimits"][0]["name"],
        "nofile"
    );
    let attrs: Vec<&str> = td["requiresAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert!(
        attrs.contains(&"ecs.capability.container-ordering"),
        "{attrs:?}"
    );
    aws.ecs_ok(&[
        "register-task-definition",
        "--family",
        "web",
        "--container-definitions",
        &defs,
    ]);
    let d = aws.ecs_ok(&["describe-task-definition", "--task-definition", "web"]);
    assert_eq!(d["taskDefinition"]["revision"], 2);
    let d = aws.ecs_ok(&["describe-task-definition", "--task-definition", "web:1"]);
    assert_eq!(d["taskDefinition"]["revision"], 1);
    let l = aws.ecs_ok(&["list-task-definitions", "--family-prefix", "web"]);
    assert_eq!(l["taskDefinitionArns"].as_array().unwrap().len(), 2);
    let dr = aws.ecs_ok(&["deregister-task-definition", "--task-definition", "web:1"]);
    assert_eq!(dr["taskDefinition"]["status"], "INACTIVE");
    let l = aws.ecs_ok(&["list-task-definitions"]);
    assert_eq!(
        l["taskDefinitionArns"],
        json!(["arn:aws:ecs:us-east-1:000000000000:task-definition/web:2"])
    );

    // No container instance: ECS's error.
    let e = cli_err(aws.ecs(&["run-task", "--cluster", "c1", "--task-definition", "web"]));
    assert!(e.contains("(InvalidParameterException) when calling the RunTask operation: No Container Instances were found in your cluster."), "{e}");
    let e = cli_err(aws.ecs(&["run-task", "--cluster", "nope", "--task-definition", "web"]));
    assert!(e.contains("(ClusterNotFoundException)"), "{e}");
    // RunTask on "default" creates that cluster, as ECS does.
    let _ = aws.ecs(&["run-task", "--task-definition", "web"]);
    let d = aws.ecs_ok(&["describe-clusters"]);
    assert_eq!(d["clusters"][0]["clusterName"], "default");

    let del = aws.ecs_ok(&["delete-cluster", "--cluster", "c1"]);
    assert_eq!(del["cluster"]["status"], "INACTIVE");
}

#[test]
fn bad_input_is_refused_naming_the_field() {
    let Some(env) = common::env() else { return };
    let local = EcsLocal::start(&env);
    let aws = Aws::new(&env, &local);
    let e = cli_err(aws.ecs(&[
        "register-task-definition",
        "--family",
        "web",
        "--container-definitions",
        r#"[{"name":"app","image":"busybox"}]"#,
    ]));
    assert!(
        e.contains("(ClientException) when calling the RegisterTaskDefinition operation"),
        "{e}"
    );
    assert!(e.contains("'memory' or 'memoryReservation'"), "{e}");
    let e = cli_err(aws.ecs(&["register-task-definition", "--family", "web", "--container-definitions",
        r#"[{"name":"app","image":"busybox","memory":64,"portMappings":[{"containerPort":70000}]}]"#]));
    assert!(
        e.contains("containerDefinitions[0].portMappings[0].containerPort"),
        "{e}"
    );
    let e = cli_err(aws.ecs(&[
        "register-task-definition",
        "--family",
        "bad family",
        "--container-definitions",
        r#"[{"name":"app","image":"busybox","memory":64}]"#,
    ]));
    assert!(e.contains("family"), "{e}");
    aws.ecs_ok(&[
        "register-task-definition",
        "--family",
        "ok",
        "--container-definitions",
        r#"[{"name":"app","image":"busybox","memory":64}]"#,
    ]);
    let e = cli_err(aws.ecs(&["run-task", "--task-definition", "ok", "--count", "11"]));
    assert!(
        e.contains("(InvalidParameterException)") && e.contains("count"),
        "{e}"
    );
    let e = cli_err(aws.ecs(&[
        "run-task",
        "--task-definition",
        "ok",
        "--overrides",
        r#"{"containerOverrides":[{"name":"nope"}]}"#,
    ]));
    assert!(e.contains("containerOverrides[0].name"), "{e}");
    let e = cli_err(aws.ecs(&["create-cluster", "--cluster-name", "no spaces"]));
    assert!(e.contains("clusterName"), "{e}");
    let e = cli_err(aws.ecs(&["describe-task-definition", "--task-definition", "missing:3"]));
    assert!(e.contains("(ClientException)"), "{e}");
}

#[test]
fn auth_checks_the_signature() {
    let Some(env) = common::env() else { return };
    let wrong = format!("{ACCESS_KEY_ID}:not-the-secret");
    let local = EcsLocal::start_with_args(&env, &["--auth", &wrong]);
    let e = cli_err(Aws::new(&env, &local).ecs(&["list-clusters"]));
    assert!(
        e.contains("(InvalidSignatureException) when calling the ListClusters operation"),
        "{e}"
    );
    drop(local);

    let local = EcsLocal::start_with_args(&env, &["--auth", "AKIDSOMEONEELSE:x"]);
    let e = cli_err(Aws::new(&env, &local).ecs(&["list-clusters"]));
    assert!(e.contains("(UnrecognizedClientException)"), "{e}");
    drop(local);

    let right = format!("{ACCESS_KEY_ID}:{SECRET_ACCESS_KEY}");
    let local = EcsLocal::start_with_args(&env, &["--auth", &right]);
    let aws = Aws::new(&env, &local);
    aws.ecs_ok(&["create-cluster", "--cluster-name", "signed"]);
    assert_eq!(
        aws.ecs_ok(&["list-clusters"])["clusterArns"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // An unsigned websocket upgrade is refused.
    let rt = runtime();
    let url = format!(
        "ws://127.0.0.1:{}/acs/ws?containerInstanceArn=x",
        local.port()
    );
    let Err(err) = rt.block_on(tokio_tungstenite::connect_async(url)) else {
        panic!("unsigned websocket upgrade accepted")
    };
    assert!(err.to_string().contains("403"), "{err}");
}

#[test]
fn restart_keeps_clusters_and_task_definitions() {
    let Some(env) = common::env() else { return };
    let mut local = EcsLocal::start(&env);
    let aws = Aws::new(&env, &local);
    aws.ecs_ok(&["create-cluster", "--cluster-name", "kept"]);
    aws.ecs_ok(&[
        "register-task-definition",
        "--family",
        "fam",
        "--container-definitions",
        &container_defs(),
    ]);
    local.restart();
    let l = aws.ecs_ok(&["list-clusters"]);
    assert_eq!(
        l["clusterArns"],
        json!(["arn:aws:ecs:us-east-1:000000000000:cluster/kept"])
    );
    let d = aws.ecs_ok(&["describe-task-definition", "--task-definition", "fam:1"]);
    assert_eq!(
        d["taskDefinition"]["containerDefinitions"][0]["name"],
        "app"
    );
    let r = aws.ecs_ok(&[
        "register-task-definition",
        "--family",
        "fam",
        "--container-definitions",
        &container_defs(),
    ]);
    assert_eq!(r["taskDefinition"]["revision"], 2);
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn register_instance(aws: &Aws, cluster: &str, memory: i64) -> Value {
    let resources = json!([
        {"name": "CPU", "type": "INTEGER", "integerValue": 1024},
        {"name": "MEMORY", "type": "INTEGER", "integerValue": memory},
        {"name": "PORTS", "type": "STRINGSET", "stringSetValue": ["22", "51678"]},
        {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": []}
    ])
    .to_string();
    let attrs = instance_attributes().to_string();
    aws.ecs_ok(&[
        "register-container-instance",
        "--cluster",
        cluster,
        "--total-resources",
        &resources,
        "--attributes",
        &attrs,
        "--version-info",
        "agentVersion=1.0.0,agentHash=abc,dockerVersion=containerd",
    ])["containerInstance"]
        .clone()
}

/// What our agent advertises for these definitions (logConfiguration needs
/// 1.19, memoryReservation 1.21).
fn instance_attributes() -> Value {
    json!([
        {"name": "ecs.capability.container-ordering"},
        {"name": "com.amazonaws.ecs.capability.logging-driver.json-file"},
        {"name": "com.amazonaws.ecs.capability.docker-remote-api.1.19"},
        {"name": "com.amazonaws.ecs.capability.docker-remote-api.1.21"},
        {"name": "ecs.os-type", "value": "linux"},
        {"name": "ecs.cpu-architecture", "value": "x86_64"}
    ])
}

async fn connect(port: u16, cluster_arn: &str, instance_arn: &str) -> Ws {
    let enc = |s: &str| s.replace(':', "%3A").replace('/', "%2F");
    let url = format!(
        "ws://127.0.0.1:{port}/acs/ws?clusterArn={}&containerInstanceArn={}&agentVersion=1.0.0&agentHash=abc&seqNum=1&protocolVersion=2&sendCredentials=true&dockerVersion=containerd",
        enc(cluster_arn),
        enc(instance_arn)
    );
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("ACS websocket");
    ws
}

/// The next PayloadMessage within `wait`, skipping heartbeats.
async fn next_payload(ws: &mut Ws, wait: Duration) -> Option<PayloadMessage> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .ok()??
            .ok()?;
        let Message::Text(t) = msg else { continue };
        match AcsMessage::decode(t.as_str()).expect("ecs-local sends well-formed frames") {
            AcsMessage::Payload(p) => return Some(p),
            // ecs-local's periodic manifest may come on any long session.
            AcsMessage::Heartbeat(_) | AcsMessage::TaskManifest(_) => continue,
            other => panic!("unexpected ACS message {other:?}"),
        }
    }
}

async fn ack(ws: &mut Ws, p: &PayloadMessage) {
    let a = AcsMessage::Ack(AckRequest {
        cluster: p.cluster_arn.clone(),
        container_instance: p.container_instance_arn.clone(),
        message_id: p.message_id.clone(),
    });
    ws.send(Message::Text(a.encode().into())).await.unwrap();
}

fn wait_connected(aws: &Aws, cluster: &str, instance: &str, connected: bool) {
    common::wait_until_with(
        &format!("agentConnected {connected}"),
        Duration::from_secs(10),
        Duration::from_millis(100),
        || {
            let d = aws.ecs_ok(&[
                "describe-container-instances",
                "--cluster",
                cluster,
                "--container-instances",
                instance,
            ]);
            (d["containerInstances"][0]["agentConnected"] == connected).then_some(())
        },
    );
}

/// GET /debug/stats (plain HTTP/1.1 over a socket).
fn debug_stats(port: u16) -> Value {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /debug/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (_, body) = out.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn duplicates(aws: &Aws, cluster: &str) -> String {
    let d = aws.ecs_ok(&["describe-clusters", "--clusters", cluster]);
    d["clusters"][0]["statistics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "duplicateStateChanges")
        .map(|s| s["value"].as_str().unwrap().to_string())
        .unwrap()
}

#[test]
fn acs_delivers_payloads_until_acked_and_takes_state_changes() {
    let Some(env) = common::env() else { return };
    let local = EcsLocal::start_with_args(&env, &["--resend-secs", "1", "--heartbeat-secs", "30"]);
    let aws = Aws::new(&env, &local);
    let rt = runtime();
    let cluster = aws.ecs_ok(&["create-cluster", "--cluster-name", "acs"])["cluster"]["clusterArn"]
        .as_str()
        .unwrap()
        .to_string();
    let inst = register_instance(&aws, "acs", 2048);
    let inst_arn = inst["containerInstanceArn"].as_str().unwrap().to_string();
    assert_eq!(
        inst["attributes"].as_array().unwrap().len(),
        instance_attributes().as_array().unwrap().len(),
        "every attribute echoed: {inst}"
    );
    assert_eq!(inst["status"], "ACTIVE");
    aws.ecs_ok(&[
        "register-task-definition",
        "--family",
        "web",
        "--container-definitions",
        &container_defs(),
    ]);

    // Not connected yet: placement says AGENT.
    let r = aws.ecs_ok(&["run-task", "--cluster", "acs", "--task-definition", "web"]);
    assert_eq!(r["failures"][0]["reason"], "AGENT", "{r}");

    let mut ws = rt.block_on(connect(local.port(), &cluster, &inst_arn));
    wait_connected(&aws, "acs", &inst_arn, true);

    let overrides = json!({"containerOverrides": [{"name": "app", "command": ["echo", "hi"],
        "environment": [{"name": "B", "value": "2"}], "memoryReservation": 200}]})
    .to_string();
    let r = aws.ecs_ok(&[
        "run-task",
        "--cluster",
        "acs",
        "--task-definition",
        "web",
        "--overrides",
        &overrides,
        "--started-by",
        "test",
    ]);
    assert_eq!(r["failures"], json!([]), "{r}");
    let task_arn = r["tasks"][0]["taskArn"].as_str().unwrap().to_string();
    assert!(
        task_arn.starts_with("arn:aws:ecs:us-east-1:000000000000:task/acs/"),
        "{task_arn}"
    );
    assert_eq!(r["tasks"][0]["lastStatus"], "PENDING");

    let p = rt
        .block_on(next_payload(&mut ws, Duration::from_secs(10)))
        .expect("payload");
    assert_eq!(p.container_instance_arn.as_deref(), Some(inst_arn.as_str()));
    let t = &p.tasks[0];
    assert_eq!(t.arn.as_deref(), Some(task_arn.as_str()));
    assert_eq!(
        (t.family.as_deref(), t.version.as_deref()),
        (Some("web"), Some("1"))
    );
    assert_eq!(t.desired_status.as_deref(), Some("RUNNING"));
    assert_eq!(
        t.task_definition_account_id.as_deref(),
        Some("000000000000")
    );
    let app = t
        .containers
        .iter()
        .find(|c| c.name.as_deref() == Some("app"))
        .unwrap();
    assert_eq!(app.image.as_deref(), Some("127.0.0.1:5000/busybox:latest"));
    assert_eq!(
        (app.cpu, app.memory, app.essential),
        (Some(128), Some(256), Some(true))
    );
    assert_eq!(app.entry_point, vec!["sh", "-c"]);
    assert_eq!(app.command, vec!["echo", "hi"]);
    assert_eq!(
        (app.environment["A"].as_str(), app.environment["B"].as_str()),
        ("1", "2")
    );
    assert_eq!(app.port_mappings[0].host_port, Some(8080));
    assert_eq!(app.depends_on[0].container_name.as_deref(), Some("init"));
    assert_eq!((app.start_timeout, app.stop_timeout), (Some(30), Some(5)));
    assert!(app
        .container_arn
        .as_deref()
        .unwrap()
        .contains(":container/acs/"));
    let dc = app.docker_config.as_ref().unwrap();
    let config: Value = serde_json::from_str(dc.config.as_deref().unwrap()).unwrap();
    assert_eq!(
        (config["Labels"]["team"].as_str(), config["User"].as_str()),
        (Some("x"), Some("1000"))
    );
    let host: Value = serde_json::from_str(dc.host_config.as_deref().unwrap()).unwrap();
    assert_eq!(host["MemoryReservation"], 200 * 1024 * 1024);
    assert_eq!(host["LogConfig"]["Type"], "json-file");
    assert_eq!(host["Ulimits"][0]["Soft"], 1024);

    // Not acked: re-sent with the same messageId.
    let again = rt
        .block_on(next_payload(&mut ws, Duration::from_secs(5)))
        .expect("re-sent payload");
    assert_eq!(again.message_id, p.message_id);
    rt.block_on(ack(&mut ws, &p));
    // Garbage in between must not break the session.
    rt.block_on(ws.send(Message::Text("{not json".into())))
        .unwrap();
    rt.block_on(ws.send(Message::Text(
        r#"{"type":"SomethingNew","message":{}}"#.into(),
    )))
    .unwrap();
    // Drain re-sends that raced the ack (one a second), then expect silence.
    for _ in 0..5 {
        if rt
            .block_on(next_payload(&mut ws, Duration::from_millis(1500)))
            .is_none()
        {
            break;
        }
    }
    assert!(
        rt.block_on(next_payload(&mut ws, Duration::from_secs(3)))
            .is_none(),
        "acked payload re-sent"
    );

    // Placement now accounts for the task: same fixed host port does not fit.
    let r = aws.ecs_ok(&["run-task", "--cluster", "acs", "--task-definition", "web"]);
    assert_eq!(r["failures"][0]["reason"], "RESOURCE:PORTS", "{r}");

    // The agent reports.
    aws.ecs_ok(&[
        "submit-task-state-change",
        "--cluster",
        "acs",
        "--task",
        &task_arn,
        "--status",
        "RUNNING",
        "--containers",
        "containerName=app,status=RUNNING,runtimeId=rt-app",
        "containerName=init,status=STOPPED,exitCode=0",
        "--pull-started-at",
        "1700000000",
        "--pull-stopped-at",
        "1700000005",
    ]);
    let d = aws.ecs_ok(&["describe-tasks", "--cluster", "acs", "--tasks", &task_arn]);
    let t = &d["tasks"][0];
    assert_eq!(t["lastStatus"], "RUNNING", "{t}");
    assert_eq!(t["desiredStatus"], "RUNNING");
    assert!(
        t["startedAt"].is_number() && t["pullStartedAt"].is_number(),
        "{t}"
    );
    let app = t["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "app")
        .unwrap();
    assert_eq!(
        (app["lastStatus"].as_str(), app["runtimeId"].as_str()),
        (Some("RUNNING"), Some("rt-app"))
    );
    let init = t["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "init")
        .unwrap();
    assert_eq!(init["exitCode"], 0);
    assert_eq!(duplicates(&aws, "acs"), "0");
    let l = aws.ecs_ok(&["list-tasks", "--cluster", "acs"]);
    assert_eq!(l["taskArns"], json!([task_arn]));

    // A repeated report is counted.
    aws.ecs_ok(&[
        "submit-container-state-change",
        "--cluster",
        "acs",
        "--task",
        &task_arn,
        "--container-name",
        "app",
        "--status",
        "RUNNING",
    ]);
    assert_eq!(duplicates(&aws, "acs"), "1");
    let stats = debug_stats(local.port());
    assert_eq!(stats["duplicateStateChanges"], 1, "{stats}");
    assert_eq!(stats["connectedInstances"], json!([inst_arn]), "{stats}");

    // StopTask: desiredStatus STOPPED reaches the agent.
    let s = aws.ecs_ok(&["stop-task", "--cluster", "acs", "--task", &task_arn]);
    assert_eq!(s["task"]["desiredStatus"], "STOPPED");
    assert_eq!(s["task"]["stoppedReason"], "Task stopped by user");
    let p = rt
        .block_on(next_payload(&mut ws, Duration::from_secs(10)))
        .expect("stop payload");
    assert_eq!(p.tasks[0].desired_status.as_deref(), Some("STOPPED"));
    rt.block_on(ack(&mut ws, &p));
    aws.ecs_ok(&[
        "submit-task-state-change",
        "--cluster",
        "acs",
        "--task",
        &task_arn,
        "--status",
        "STOPPED",
        "--containers",
        "containerName=app,status=STOPPED,exitCode=137",
    ]);
    let d = aws.ecs_ok(&["describe-tasks", "--cluster", "acs", "--tasks", &task_arn]);
    assert_eq!(d["tasks"][0]["lastStatus"], "STOPPED");
    assert!(d["tasks"][0]["stoppedAt"].is_number());
    assert_eq!(d["tasks"][0]["stopCode"], "UserInitiated");

    // Disconnect: agentConnected goes false.
    rt.block_on(ws.close(None)).ok();
    drop(ws);
    wait_connected(&aws, "acs", &inst_arn, false);
}

#[test]
fn acs_resends_unacked_payload_after_reconnect_and_restart() {
    let Some(env) = common::env() else { return };
    let mut local =
        EcsLocal::start_with_args(&env, &["--resend-secs", "30", "--heartbeat-secs", "30"]);
    let aws = Aws::new(&env, &local);
    let rt = runtime();
    // The default cluster appears on first registration.
    let inst = register_instance(&aws, "default", 1024);
    let inst_arn = inst["containerInstanceArn"].as_str().unwrap().to_string();
    let cluster = "arn:aws:ecs:us-east-1:000000000000:cluster/default";
    aws.ecs_ok(&[
        "register-task-definition",
        "--family",
        "small",
        "--container-definitions",
        r#"[{"name":"app","image":"127.0.0.1:5000/busybox:latest","memory":600}]"#,
    ]);
    let mut ws = rt.block_on(connect(local.port(), cluster, &inst_arn));
    wait_connected(&aws, "default", &inst_arn, true);
    let r = aws.ecs_ok(&["run-task", "--task-definition", "small", "--count", "2"]);
    // 1024 MiB holds one 600 MiB task.
    assert_eq!(r["tasks"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["failures"][0]["reason"], "RESOURCE:MEMORY", "{r}");
    let p = rt
        .block_on(next_payload(&mut ws, Duration::from_secs(10)))
        .expect("payload");
    drop(ws);

    // Reconnect: the unacked payload comes again at once.
    let mut ws = rt.block_on(connect(local.port(), cluster, &inst_arn));
    let again = rt
        .block_on(next_payload(&mut ws, Duration::from_secs(10)))
        .expect("re-sent after reconnect");
    assert_eq!(again.message_id, p.message_id);
    drop(ws);

    // Re-registering with the ARN keeps it.
    let resources = r#"[{"name":"CPU","type":"INTEGER","integerValue":1024},{"name":"MEMORY","type":"INTEGER","integerValue":1024}]"#;
    let re = aws.ecs_ok(&[
        "register-container-instance",
        "--container-instance-arn",
        &inst_arn,
        "--total-resources",
        resources,
    ]);
    assert_eq!(
        re["containerInstance"]["containerInstanceArn"],
        inst_arn.as_str()
    );

    // And after a restart of ecs-local too.
    local.restart();
    let mut ws = rt.block_on(connect(local.port(), cluster, &inst_arn));
    let after = rt
        .block_on(next_payload(&mut ws, Duration::from_secs(10)))
        .expect("re-sent after restart");
    assert_eq!(after.message_id, p.message_id);
    rt.block_on(ack(&mut ws, &after));
    let d = aws.ecs_ok(&[
        "describe-tasks",
        "--tasks",
        r["tasks"][0]["taskArn"].as_str().unwrap(),
    ]);
    assert_eq!(d["tasks"][0]["lastStatus"], "PENDING");
}

/// Signs a websocket upgrade as the agent does (aws-sigv4, service `ecs`,
/// `host` + `x-amz-date`).
fn signed_upgrade(
    url: &str,
    secret: &str,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    use aws_sigv4::sign::v4;
    use aws_smithy_runtime_api::client::identity::Identity;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = url.into_client_request().unwrap();
    let identity: Identity =
        aws_credential_types::Credentials::new(ACCESS_KEY_ID, secret, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("ecs")
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let host = req.uri().authority().unwrap().to_string();
    let signable = SignableRequest::new(
        "GET",
        url,
        [("host", host.as_str())].into_iter(),
        SignableBody::Bytes(&[]),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    instructions.apply_to_request_http1x(&mut req);
    req
}

#[test]
fn sdk_client_and_signed_websockets_with_auth() {
    let Some(env) = common::env() else { return };
    let right = format!("{ACCESS_KEY_ID}:{SECRET_ACCESS_KEY}");
    let local = EcsLocal::start_with_args(&env, &["--auth", &right]);
    let rt = runtime();
    let conf = aws_sdk_ecs::Config::builder()
        .behavior_version(aws_sdk_ecs::config::BehaviorVersion::latest())
        .region(aws_sdk_ecs::config::Region::new("us-east-1"))
        .endpoint_url(local.endpoint())
        .credentials_provider(aws_sdk_ecs::config::Credentials::new(
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
            None,
            None,
            "test",
        ))
        .build();
    let client = aws_sdk_ecs::Client::from_conf(conf);
    use aws_sdk_ecs::types::{Attribute, Resource};
    let reg = rt
        .block_on(
            client
                .register_container_instance()
                .cluster("sdk")
                .total_resources(
                    Resource::builder()
                        .name("CPU")
                        .r#type("INTEGER")
                        .integer_value(2048)
                        .build(),
                )
                .total_resources(
                    Resource::builder()
                        .name("MEMORY")
                        .r#type("INTEGER")
                        .integer_value(4096)
                        .build(),
                )
                .attributes(
                    Attribute::builder()
                        .name("ecs.capability.container-ordering")
                        .build()
                        .unwrap(),
                )
                .send(),
        )
        .err()
        .map(|e| format!("{e:?}"))
        .unwrap_or_default();
    assert!(reg.contains("ClusterNotFoundException"), "{reg}");
    rt.block_on(client.create_cluster().cluster_name("sdk").send())
        .unwrap();
    let reg = rt
        .block_on(
            client
                .register_container_instance()
                .cluster("sdk")
                .total_resources(
                    Resource::builder()
                        .name("CPU")
                        .r#type("INTEGER")
                        .integer_value(2048)
                        .build(),
                )
                .total_resources(
                    Resource::builder()
                        .name("MEMORY")
                        .r#type("INTEGER")
                        .integer_value(4096)
                        .build(),
                )
                .attributes(
                    Attribute::builder()
                        .name("ecs.capability.container-ordering")
                        .build()
                        .unwrap(),
                )
                .send(),
        )
        .unwrap();
    let inst = reg.container_instance().unwrap();
    let inst_arn = inst.container_instance_arn().unwrap().to_string();
    assert_eq!(inst.attributes().len(), 1);
    assert!(inst.registered_at().is_some());
    let d = rt
        .block_on(
            client
                .discover_poll_endpoint()
                .cluster("sdk")
                .container_instance(&inst_arn)
                .send(),
        )
        .unwrap();
    let endpoint = d.endpoint().unwrap().to_string();
    assert_eq!(endpoint, format!("{}/acs/", local.endpoint()));
    assert_eq!(
        d.telemetry_endpoint().unwrap(),
        format!("{}/tcs/", local.endpoint())
    );

    let enc = |s: &str| s.replace(':', "%3A").replace('/', "%2F");
    let acs = format!(
        "ws://127.0.0.1:{}/acs/ws?agentHash=abc&agentVersion=1.0.0&clusterArn={}&containerInstanceArn={}&protocolVersion=2&sendCredentials=true&seqNum=1",
        local.port(),
        enc("arn:aws:ecs:us-east-1:000000000000:cluster/sdk"),
        enc(&inst_arn)
    );
    let Err(e) = rt.block_on(tokio_tungstenite::connect_async(signed_upgrade(
        &acs, "wrong",
    ))) else {
        panic!("badly signed upgrade accepted")
    };
    assert!(e.to_string().contains("403"), "{e}");
    let (mut ws, _) = rt
        .block_on(tokio_tungstenite::connect_async(signed_upgrade(
            &acs,
            SECRET_ACCESS_KEY,
        )))
        .expect("signed ACS upgrade");
    // The session starts right after the 101 response; give it a moment.
    common::wait_until_with(
        "agentConnected",
        Duration::from_secs(5),
        Duration::from_millis(50),
        || {
            let di = rt
                .block_on(
                    client
                        .describe_container_instances()
                        .cluster("sdk")
                        .container_instances(&inst_arn)
                        .send(),
                )
                .unwrap();
            di.container_instances()[0].agent_connected().then_some(())
        },
    );

    // TCS: a Go-agent style frame (signed header block, blank line, JSON) is acked.
    let tcs = format!(
        "ws://127.0.0.1:{}/tcs/ws?cluster=sdk&containerInstance={}",
        local.port(),
        enc(&inst_arn)
    );
    let (mut t, _) = rt
        .block_on(tokio_tungstenite::connect_async(signed_upgrade(
            &tcs,
            SECRET_ACCESS_KEY,
        )))
        .expect("signed TCS upgrade");
    let frame = "Authorization: AWS4-HMAC-SHA256 x\r\nX-Amz-Date: 20260101T000000Z\r\n\r\n{\"type\":\"PublishMetricsRequest\",\"message\":{\"metadata\":{\"cluster\":\"sdk\",\"fin\":true},\"timestamp\":1.7e9,\"taskMetrics\":[]}}";
    rt.block_on(t.send(Message::Text(frame.into()))).unwrap();
    let reply = rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(5), t.next()).await })
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        reply.to_text().unwrap().contains("AckPublishMetric"),
        "{reply:?}"
    );
    rt.block_on(ws.close(None)).ok();
}

#[test]
fn acs_sends_heartbeats() {
    let Some(env) = common::env() else { return };
    let local = EcsLocal::start_with_args(&env, &["--heartbeat-secs", "0.3"]);
    let aws = Aws::new(&env, &local);
    let rt = runtime();
    let inst = register_instance(&aws, "default", 512);
    let inst_arn = inst["containerInstanceArn"].as_str().unwrap().to_string();
    let mut ws = rt.block_on(connect(
        local.port(),
        "arn:aws:ecs:us-east-1:000000000000:cluster/default",
        &inst_arn,
    ));
    let first = rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(5), ws.next()).await })
        .expect("a frame within 5s")
        .unwrap()
        .unwrap();
    let AcsMessage::Heartbeat(hb) = AcsMessage::decode(first.to_text().unwrap()).unwrap() else {
        panic!("expected a heartbeat, got {first:?}")
    };
    assert_eq!(hb.healthy, Some(true));
    assert!(hb.message_id.is_some());
}
