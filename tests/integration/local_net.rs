//! ecs-local for networking, credentials and metadata: stand-in ENIs for
//! awsvpc tasks, minted task role credentials and their refresh, and tags,
//! through the real `aws` CLI plus a websocket client playing the agent.

use crate::common::{self, Aws, EcsLocal};
use ecs::model::acs::{AckRequest, AcsMessage, IamRoleCredentialsAckRequest};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const SUBNET: &str = "subnet-test1";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A plain HTTP/1.1 request to ecs-local; (status, JSON body or Null).
fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let v = if body.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {out}"))
    };
    (status, v)
}

/// A GET signed with the test's `--auth` keys (ecs-local's /debug hooks
/// need a signature under `--auth`), through the AWS SDK's own signer.
fn signed_get(port: u16, path_and_query: &str) -> (u16, Value) {
    signed_get_as(
        port,
        path_and_query,
        (common::ACCESS_KEY_ID, common::SECRET_ACCESS_KEY),
        &[],
    )
}

/// A GET signed with `keys`, with `extra` (unsigned) headers, e.g. a
/// websocket upgrade's.
fn signed_get_as(
    port: u16,
    path_and_query: &str,
    keys: (&str, &str),
    extra: &[(&str, &str)],
) -> (u16, Value) {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    use aws_sigv4::sign::v4;
    use aws_smithy_runtime_api::client::identity::Identity;
    let identity: Identity =
        aws_credential_types::Credentials::new(keys.0, keys.1, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("ecs")
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let host = format!("127.0.0.1:{port}");
    let url = format!("http://{host}{path_and_query}");
    let signable = SignableRequest::new(
        "GET",
        &url,
        [("host", host.as_str())].into_iter(),
        SignableBody::Bytes(&[]),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let headers: String = instructions
        .headers()
        .chain(extra.iter().copied())
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path_and_query} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{headers}\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn stats(port: u16) -> Value {
    http(port, "GET", "/debug/stats", None).1
}

fn eni(n: u8) -> Value {
    json!({"subnetId": SUBNET, "macAddress": format!("02:aa:bb:cc:dd:{n:02x}"),
        "privateIpv4Address": format!("10.99.0.{n}"), "subnetCidr": "10.99.0.0/24",
        "gateway": "10.99.0.1", "dnsServers": ["10.99.0.2"]})
}

/// A container instance that can take awsvpc and task-role tasks.
fn register_instance(aws: &Aws, cluster: &str) -> String {
    let resources = json!([
        {"name": "CPU", "type": "INTEGER", "integerValue": 2048},
        {"name": "MEMORY", "type": "INTEGER", "integerValue": 2048}
    ])
    .to_string();
    let attrs = json!([
        {"name": "ecs.capability.task-eni"},
        {"name": "com.amazonaws.ecs.capability.docker-remote-api.1.18"},
        {"name": "com.amazonaws.ecs.capability.task-iam-role"},
        {"name": "ecs.capability.execution-role-ecr-pull"}
    ])
    .to_string();
    aws.ecs_ok(&[
        "register-container-instance",
        "--cluster",
        cluster,
        "--total-resources",
        &resources,
        "--attributes",
        &attrs,
    ])["containerInstance"]["containerInstanceArn"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn connect(port: u16, cluster: &str, instance_arn: &str) -> Ws {
    let enc = |s: &str| s.replace(':', "%3A").replace('/', "%2F");
    let url = format!(
        "ws://127.0.0.1:{port}/acs/ws?clusterArn={}&containerInstanceArn={}&agentVersion=1.0.0&seqNum=1&protocolVersion=2&sendCredentials=true",
        enc(&format!("arn:aws:ecs:us-east-1:000000000000:cluster/{cluster}")),
        enc(instance_arn)
    );
    tokio_tungstenite::connect_async(url)
        .await
        .expect("ACS websocket")
        .0
}

/// The next ACS message `pick` accepts within `wait`, skipping others.
async fn next_where<T>(
    ws: &mut Ws,
    wait: Duration,
    mut pick: impl FnMut(AcsMessage) -> Option<T>,
) -> Option<T> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .ok()??
            .ok()?;
        let Message::Text(t) = msg else { continue };
        let m = AcsMessage::decode(t.as_str()).expect("ecs-local sends well-formed frames");
        if let Some(v) = pick(m) {
            return Some(v);
        }
    }
}

async fn send(ws: &mut Ws, m: AcsMessage) {
    ws.send(Message::Text(m.encode().into())).await.unwrap();
}

fn wait_connected(aws: &Aws, cluster: &str, instance: &str) {
    common::wait_until_with(
        "agentConnected",
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
            (d["containerInstances"][0]["agentConnected"] == true).then_some(())
        },
    );
}

fn register_awsvpc_def(aws: &Aws, family: &str, extra: Value) -> String {
    let mut input = json!({"family": family, "networkMode": "awsvpc",
        "containerDefinitions": [{"name": "app", "image": "127.0.0.1:5000/busybox:latest",
            "memory": 64, "command": ["sleep", "1000"]}]});
    if let (Value::Object(i), Value::Object(e)) = (&mut input, extra) {
        i.extend(e);
    }
    aws.ecs_ok(&[
        "register-task-definition",
        "--cli-input-json",
        &input.to_string(),
    ])["taskDefinition"]["taskDefinitionArn"]
        .as_str()
        .unwrap()
        .to_string()
}

fn detail(attachment: &Value, name: &str) -> Value {
    attachment["details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == name)
        .map(|d| d["value"].clone())
        .unwrap_or(Value::Null)
}

fn describe(aws: &Aws, cluster: &str, task: &str) -> Value {
    aws.ecs_ok(&["describe-tasks", "--cluster", cluster, "--tasks", task])["tasks"][0].clone()
}

#[test]
fn enis_for_awsvpc_tasks_through_the_cli() {
    let Some(env) = common::env() else { return };
    let local = EcsLocal::start_with_args(&env, &["--resend-secs", "30", "--heartbeat-secs", "30"]);
    let aws = Aws::new(&env, &local);
    let rt = runtime();
    let port = local.port();

    // Registration is validated field by field.
    let mut bad = eni(5);
    bad["gateway"] = json!("10.98.0.1");
    let (status, body) = http(port, "POST", "/debug/enis", Some(&bad));
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("gateway")),
        "{body}"
    );
    let mut bad = eni(5);
    bad["macAddress"] = json!("nope");
    let (status, body) = http(port, "POST", "/debug/enis", Some(&bad));
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("macAddress")),
        "{body}"
    );
    let (status, body) = http(port, "POST", "/debug/enis", Some(&eni(5)));
    assert_eq!(status, 201, "{body}");
    let eni_id = body["networkInterfaceId"].as_str().unwrap().to_string();
    assert!(eni_id.starts_with("eni-"), "{body}");
    assert_eq!(body["status"], "available");

    aws.ecs_ok(&["create-cluster", "--cluster-name", "net"]);
    let inst = register_instance(&aws, "net");
    let mut ws = rt.block_on(connect(port, "net", &inst));
    wait_connected(&aws, "net", &inst);
    register_awsvpc_def(&aws, "vpc", json!({}));

    let nc = json!({"awsvpcConfiguration": {"subnets": [SUBNET], "securityGroups": ["sg-1"],
        "assignPublicIp": "DISABLED"}})
    .to_string();
    let r = aws.ecs_ok(&[
        "run-task",
        "--cluster",
        "net",
        "--task-definition",
        "vpc",
        "--network-configuration",
        &nc,
    ]);
    assert_eq!(r["failures"], json!([]), "{r}");
    let task = r["tasks"][0]["taskArn"].as_str().unwrap().to_string();

    let t = describe(&aws, "net", &task);
    let a = &t["attachments"][0];
    assert_eq!(a["type"], "ElasticNetworkInterface", "{t}");
    // ATTACHED only once the agent says so.
    assert_eq!(a["status"], "PRECREATED", "{t}");
    assert_eq!(t["lastStatus"], "PROVISIONING", "{t}");
    assert_eq!(detail(a, "subnetId"), SUBNET);
    assert_eq!(detail(a, "networkInterfaceId"), eni_id.as_str());
    assert_eq!(detail(a, "macAddress"), "02:aa:bb:cc:dd:05");
    assert_eq!(detail(a, "privateIPv4Address"), "10.99.0.5");
    assert_eq!(
        t["containers"][0]["networkInterfaces"],
        json!([{"attachmentId": a["id"], "privateIpv4Address": "10.99.0.5"}])
    );

    // The agent hears of the ENI first, then gets the task carrying it.
    let attach = rt
        .block_on(next_where(&mut ws, Duration::from_secs(10), |m| match m {
            AcsMessage::AttachTaskNetworkInterfaces(a) => Some(a),
            AcsMessage::Payload(p) => panic!("payload before the attachment: {p:?}"),
            _ => None,
        }))
        .expect("AttachTaskNetworkInterfacesMessage");
    assert_eq!(attach.task_arn.as_deref(), Some(task.as_str()));
    assert_eq!(
        attach.container_instance_arn.as_deref(),
        Some(inst.as_str())
    );
    assert!(attach.wait_timeout_ms.unwrap_or(0) > 0);
    let e = &attach.elastic_network_interfaces[0];
    assert_eq!(e.ec2_id.as_deref(), Some(eni_id.as_str()));
    assert_eq!(
        e.subnet_gateway_ipv4_address.as_deref(),
        Some("10.99.0.1/24")
    );
    assert_eq!(e.domain_name_servers, vec!["10.99.0.2"]);
    assert_eq!(e.interface_association_protocol.as_deref(), Some("default"));
    let ack = |id: Option<String>| {
        AcsMessage::Ack(AckRequest {
            cluster: Some("net".into()),
            container_instance: Some(inst.clone()),
            message_id: id,
        })
    };
    rt.block_on(send(&mut ws, ack(attach.message_id.clone())));
    common::wait_until_with(
        "ATTACHING",
        Duration::from_secs(5),
        Duration::from_millis(50),
        || (describe(&aws, "net", &task)["attachments"][0]["status"] == "ATTACHING").then_some(()),
    );
    // No payload until the agent reports the ENI ATTACHED, as the Go agent
    // does (ecs-agent/api/ecs/client/ecs_client.go: cluster, task, attachments).
    assert!(
        rt.block_on(next_where(
            &mut ws,
            Duration::from_millis(800),
            |m| match m {
                AcsMessage::Payload(p) => Some(p),
                _ => None,
            }
        ))
        .is_none(),
        "payload before the ENI was reported ATTACHED"
    );
    let attachment_arn = e.attachment_arn.clone().unwrap();
    aws.ecs_ok(&[
        "submit-task-state-change",
        "--cluster",
        "net",
        "--task",
        &task,
        "--attachments",
        &format!("attachmentArn={attachment_arn},status=ATTACHED"),
    ]);
    let t = describe(&aws, "net", &task);
    assert_eq!(t["attachments"][0]["status"], "ATTACHED", "{t}");
    assert_eq!(t["lastStatus"], "PENDING", "{t}");
    let payload = rt
        .block_on(next_where(&mut ws, Duration::from_secs(10), |m| match m {
            AcsMessage::Payload(p) => Some(p),
            _ => None,
        }))
        .expect("payload");
    assert_eq!(payload.tasks[0].elastic_network_interfaces, vec![e.clone()]);
    assert_eq!(payload.tasks[0].network_mode.as_deref(), Some("awsvpc"));
    rt.block_on(send(&mut ws, ack(payload.message_id.clone())));
    // Both acks in: nothing left to deliver.
    common::wait_until_with(
        "eni_attachment_acks",
        Duration::from_secs(5),
        Duration::from_millis(50),
        || {
            let s = stats(port);
            (s["eni_attachment_acks"] == 1
                && s["pendingPayloads"] == 0
                && s["pendingEniAttachments"] == 0)
                .then_some(())
        },
    );

    // The only ENI of the subnet is taken.
    let r = aws.ecs_ok(&[
        "run-task",
        "--cluster",
        "net",
        "--task-definition",
        "vpc",
        "--network-configuration",
        &nc,
    ]);
    assert_eq!(r["tasks"], json!([]));
    assert_eq!(
        r["failures"],
        json!([{"arn": inst, "reason": "RESOURCE:ENI"}])
    );
    let (_, l) = http(port, "GET", "/debug/enis", None);
    assert_eq!(l["enis"][0]["status"], "in-use");
    assert_eq!(l["enis"][0]["taskArn"], task.as_str());

    // No awsvpcConfiguration, or a subnet without ENIs: awsvpc-style local mode.
    for args in [
        vec![],
        vec![
            "--network-configuration",
            "awsvpcConfiguration={subnets=[subnet-none]}",
        ],
    ] {
        let mut full = vec!["run-task", "--cluster", "net", "--task-definition", "vpc"];
        full.extend(args);
        let r = aws.ecs_ok(&full);
        assert_eq!(r["failures"], json!([]), "{r}");
        assert_eq!(r["tasks"][0]["attachments"], json!([]), "{r}");
        let p = rt
            .block_on(next_where(&mut ws, Duration::from_secs(10), |m| match m {
                AcsMessage::Payload(p) => Some(p),
                AcsMessage::AttachTaskNetworkInterfaces(a) => panic!("no ENI expected: {a:?}"),
                _ => None,
            }))
            .expect("payload");
        assert!(p.tasks[0].elastic_network_interfaces.is_empty(), "{p:?}");
    }

    // STOPPED: the attachment is DELETED and the ENI back in the pool.
    aws.ecs_ok(&[
        "submit-task-state-change",
        "--cluster",
        "net",
        "--task",
        &task,
        "--status",
        "STOPPED",
    ]);
    let t = describe(&aws, "net", &task);
    assert_eq!(t["attachments"][0]["status"], "DELETED", "{t}");
    let (_, l) = http(port, "GET", "/debug/enis", None);
    assert_eq!(l["enis"][0]["status"], "available", "{l}");
    let r = aws.ecs_ok(&[
        "run-task",
        "--cluster",
        "net",
        "--task-definition",
        "vpc",
        "--network-configuration",
        &nc,
    ]);
    assert_eq!(r["failures"], json!([]), "{r}");
    assert_eq!(
        detail(&r["tasks"][0]["attachments"][0], "networkInterfaceId"),
        eni_id.as_str()
    );

    // Registered ENIs survive a restart.
    drop(ws);
    let mut local = local;
    local.restart();
    let (_, l) = http(local.port(), "GET", "/debug/enis", None);
    assert_eq!(l["enis"][0]["networkInterfaceId"], eni_id.as_str(), "{l}");
}

/// The Go agent (1.105) sends no versionInfo with RegisterContainerInstance
/// and its versions in the ACS connect query (ecs-agent/acs/session/
/// session.go acsURL, formatDockerVersion); Amazon ECS shows them in
/// describe-container-instances.
#[test]
fn version_info_comes_from_the_acs_connect_query() {
    let Some(env) = common::env() else { return };
    let local = EcsLocal::start(&env);
    let aws = Aws::new(&env, &local);
    aws.ecs_ok(&["create-cluster", "--cluster-name", "ver"]);
    let inst = register_instance(&aws, "ver");
    let describe_versions = || {
        aws.ecs_ok(&[
            "describe-container-instances",
            "--cluster",
            "ver",
            "--container-instances",
            &inst,
        ])["containerInstances"][0]["versionInfo"]
            .clone()
    };
    assert_eq!(describe_versions(), json!({}));
    let enc = |s: &str| {
        s.replace(':', "%3A")
            .replace('/', "%2F")
            .replace(' ', "%20")
    };
    let url = format!(
        "ws://127.0.0.1:{}/acs/ws?agentHash=7ab4c1b0&agentVersion=1.105.0&clusterArn={}&containerInstanceArn={}&dockerVersion={}&protocolVersion=2&sendCredentials=true&seqNum=1",
        local.port(),
        enc("arn:aws:ecs:us-east-1:000000000000:cluster/ver"),
        enc(&inst),
        enc("DockerVersion: 25.0.8"),
    );
    let rt = runtime();
    let _ws = rt.block_on(async {
        tokio_tungstenite::connect_async(url)
            .await
            .expect("ACS websocket")
            .0
    });
    wait_connected(&aws, "ver", &inst);
    assert_eq!(
        describe_versions(),
        json!({"agentHash": "7ab4c1b0", "agentVersion": "1.105.0",
               "dockerVersion": "DockerVersion: 25.0.8"})
    );
}

#[test]
fn tags_round_trip_through_the_cli() {
    let Some(env) = common::env() else { return };
    let local = EcsLocal::start(&env);
    let aws = Aws::new(&env, &local);
    let rt = runtime();
    let cluster = aws.ecs_ok(&[
        "create-cluster",
        "--cluster-name",
        "tagged",
        "--tags",
        "key=owner,value=net",
    ])["cluster"]["clusterArn"]
        .as_str()
        .unwrap()
        .to_string();
    let inst = register_instance(&aws, "tagged");
    let _ws = rt.block_on(connect(local.port(), "tagged", &inst));
    wait_connected(&aws, "tagged", &inst);
    let td = register_awsvpc_def(
        &aws,
        "tagdef",
        json!({"tags": [{"key": "team", "value": "td"}, {"key": "tier", "value": "td"}]}),
    );

    let list =
        |arn: &str| aws.ecs_ok(&["list-tags-for-resource", "--resource-arn", arn])["tags"].clone();
    assert_eq!(list(&cluster), json!([{"key": "owner", "value": "net"}]));
    assert_eq!(
        list(&td),
        json!([{"key": "team", "value": "td"}, {"key": "tier", "value": "td"}])
    );

    let r = aws.ecs_ok(&[
        "run-task",
        "--cluster",
        "tagged",
        "--task-definition",
        "tagdef",
        "--tags",
        "key=tier,value=run",
        "--propagate-tags",
        "TASK_DEFINITION",
        "--enable-ecs-managed-tags",
    ]);
    assert_eq!(r["failures"], json!([]), "{r}");
    let task = r["tasks"][0]["taskArn"].as_str().unwrap().to_string();
    assert_eq!(
        list(&task),
        json!([{"key": "tier", "value": "run"}, {"key": "team", "value": "td"},
            {"key": "aws:ecs:clusterName", "value": "tagged"}])
    );
    let d = aws.ecs_ok(&[
        "describe-tasks",
        "--cluster",
        "tagged",
        "--tasks",
        &task,
        "--include",
        "TAGS",
    ]);
    assert_eq!(d["tasks"][0]["tags"], list(&task));

    for arn in [cluster.as_str(), inst.as_str(), td.as_str(), task.as_str()] {
        aws.ecs_ok(&[
            "tag-resource",
            "--resource-arn",
            arn,
            "--tags",
            "key=env,value=test",
            "key=k2,value=",
        ]);
        let tags = list(arn);
        assert!(
            tags.as_array()
                .unwrap()
                .contains(&json!({"key": "env", "value": "test"})),
            "{arn}: {tags}"
        );
        aws.ecs_ok(&[
            "untag-resource",
            "--resource-arn",
            arn,
            "--tag-keys",
            "env",
            "k2",
        ]);
        let tags = list(arn);
        assert!(
            !tags.to_string().contains("\"env\"") && !tags.to_string().contains("\"k2\""),
            "{arn}: {tags}"
        );
    }
    let d = aws.ecs_ok(&[
        "describe-clusters",
        "--clusters",
        "tagged",
        "--include",
        "TAGS",
    ]);
    assert_eq!(
        d["clusters"][0]["tags"],
        json!([{"key": "owner", "value": "net"}])
    );

    let err = |args: &[&str]| match aws.ecs(args) {
        Ok(v) => panic!("expected a failure, got {v}"),
        Err(e) => e,
    };
    let e = err(&[
        "list-tags-for-resource",
        "--resource-arn",
        "arn:aws:ecs:us-east-1:000000000000:task/tagged/0123456789abcdef0123456789abcdef",
    ]);
    assert!(e.contains("(ResourceNotFoundException)"), "{e}");
    let e = err(&[
        "tag-resource",
        "--resource-arn",
        "arn:aws:ecr:us-east-1:000000000000:repository/x",
        "--tags",
        "key=a,value=b",
    ]);
    assert!(
        e.contains("(InvalidParameterException)") && e.contains("The ARN provided is invalid."),
        "{e}"
    );
    let e = err(&[
        "list-tags-for-resource",
        "--resource-arn",
        "arn:aws:ecs:us-east-1:000000000000:cluster/nope",
    ]);
    assert!(e.contains("(ClusterNotFoundException)"), "{e}");
    let e = err(&[
        "tag-resource",
        "--resource-arn",
        &cluster,
        "--tags",
        "key=aws:x,value=b",
    ]);
    assert!(e.contains("(InvalidParameterException)"), "{e}");
}

#[test]
fn role_credentials_are_minted_refreshed_and_kept() {
    let Some(env) = common::env() else { return };
    // Refreshed at 2 s (a second before the 3 s expiry).
    let mut local = EcsLocal::start_with_args(
        &env,
        &[
            "--credentials-ttl-secs",
            "3",
            "--resend-secs",
            "30",
            "--heartbeat-secs",
            "30",
        ],
    );
    let aws = Aws::new(&env, &local);
    let rt = runtime();
    let port = local.port();
    aws.ecs_ok(&["create-cluster", "--cluster-name", "creds"]);
    let inst = register_instance(&aws, "creds");
    let mut ws = rt.block_on(connect(port, "creds", &inst));
    wait_connected(&aws, "creds", &inst);
    register_awsvpc_def(
        &aws,
        "roles",
        json!({"taskRoleArn": "arn:aws:iam::000000000000:role/app",
            "executionRoleArn": "arn:aws:iam::000000000000:role/exec"}),
    );
    let r = aws.ecs_ok(&[
        "run-task",
        "--cluster",
        "creds",
        "--task-definition",
        "roles",
    ]);
    assert_eq!(r["failures"], json!([]), "{r}");
    let task = r["tasks"][0]["taskArn"].as_str().unwrap().to_string();

    let (status, c) = http(
        port,
        "GET",
        &format!("/debug/credentials?taskArn={task}"),
        None,
    );
    assert_eq!(status, 200, "{c}");
    let role = c["roleCredentials"].clone();
    assert_eq!(role["roleArn"], "arn:aws:iam::000000000000:role/app");
    assert_eq!(
        c["executionRoleCredentials"]["roleArn"],
        "arn:aws:iam::000000000000:role/exec"
    );
    let key = role["accessKeyId"].as_str().unwrap();
    assert!(key.starts_with("ASIA") && key.len() == 20, "{key}");
    assert_eq!(role["secretAccessKey"].as_str().unwrap().len(), 40);
    assert!(role["sessionToken"].as_str().unwrap().len() > 200);
    assert!(
        role["expiration"].as_str().unwrap().ends_with('Z'),
        "{role}"
    );
    let (status, _) = http(
        port,
        "GET",
        "/debug/credentials?taskArn=arn:aws:ecs:us-east-1:000000000000:task/creds/nope",
        None,
    );
    assert_eq!(status, 404);
    let (status, _) = http(port, "GET", "/debug/credentials", None);
    assert_eq!(status, 400);

    // The payload hands the agent exactly these.
    let p = rt
        .block_on(next_where(&mut ws, Duration::from_secs(10), |m| match m {
            AcsMessage::Payload(p) => Some(p),
            _ => None,
        }))
        .expect("payload");
    let sent = serde_json::to_value(p.tasks[0].role_credentials.as_ref().unwrap()).unwrap();
    assert_eq!(sent, role);
    rt.block_on(send(
        &mut ws,
        AcsMessage::Ack(AckRequest {
            message_id: p.message_id.clone(),
            ..Default::default()
        }),
    ));

    // Before they expire: new keys under the same credentials id, until acked.
    let refresh = |ws: &mut Ws| {
        rt.block_on(next_where(ws, Duration::from_secs(10), |m| match m {
            AcsMessage::IamRoleCredentials(m)
                if m.role_type.as_deref() == Some("TaskApplication") =>
            {
                Some(m)
            }
            _ => None,
        }))
        .expect("IAMRoleCredentialsMessage")
    };
    let m = refresh(&mut ws);
    assert_eq!(m.task_arn.as_deref(), Some(task.as_str()));
    let new = m.role_credentials.clone().unwrap();
    assert_eq!(
        new.credentials_id.as_deref(),
        role["credentialsId"].as_str()
    );
    assert_ne!(new.access_key_id.as_deref(), role["accessKeyId"].as_str());
    rt.block_on(send(
        &mut ws,
        AcsMessage::IamRoleCredentialsAck(IamRoleCredentialsAckRequest {
            message_id: m.message_id.clone(),
            credentials_id: new.credentials_id.clone(),
            expiration: new.expiration.clone(),
        }),
    ));
    common::wait_until_with(
        "credential_refresh_acks",
        Duration::from_secs(5),
        Duration::from_millis(50),
        || (stats(port)["credential_refresh_acks"].as_u64() >= Some(1)).then_some(()),
    );
    let (_, now) = http(
        port,
        "GET",
        &format!("/debug/credentials?taskArn={task}"),
        None,
    );
    assert_eq!(
        now["roleCredentials"]["credentialsId"],
        role["credentialsId"]
    );
    assert_ne!(now["roleCredentials"]["accessKeyId"], role["accessKeyId"]);

    // A restart keeps them, and the refreshes go on.
    drop(ws);
    local.restart();
    let (_, after) = http(
        port,
        "GET",
        &format!("/debug/credentials?taskArn={task}"),
        None,
    );
    assert_eq!(
        after["roleCredentials"]["credentialsId"],
        role["credentialsId"]
    );
    assert_eq!(
        after["executionRoleCredentials"]["credentialsId"],
        c["executionRoleCredentials"]["credentialsId"]
    );
    let mut ws = rt.block_on(connect(port, "creds", &inst));
    let m = refresh(&mut ws);
    assert_eq!(
        m.role_credentials.unwrap().credentials_id.as_deref(),
        role["credentialsId"].as_str()
    );

    // Desired STOPPED: no more refreshes.
    aws.ecs_ok(&["stop-task", "--cluster", "creds", "--task", &task]);
    let (_, frozen) = http(
        port,
        "GET",
        &format!("/debug/credentials?taskArn={task}"),
        None,
    );
    std::thread::sleep(Duration::from_secs(3));
    let (_, later) = http(
        port,
        "GET",
        &format!("/debug/credentials?taskArn={task}"),
        None,
    );
    assert_eq!(frozen, later);
}

// ---- Task scale-in protection (UpdateTaskProtection / GetTaskProtection) ----

const PROTECT_WAIT: Duration = Duration::from_secs(120);

/// A bridge-mode task that runs until stopped, optionally with a task role.
fn register_sleeper(aws: &Aws, env: &common::TestEnv, family: &str, role: Option<&str>) -> String {
    let mut input = json!({"family": family, "networkMode": "bridge",
        "containerDefinitions": [{"name": "app", "image": env.image(), "memory": 32,
            "essential": true, "stopTimeout": 2,
            "command": common::sh("trap 'exit 0' TERM; sleep 600 & wait")}]});
    if let Some(r) = role {
        input["taskRoleArn"] = json!(r);
    }
    aws.ecs_ok(&[
        "register-task-definition",
        "--cli-input-json",
        &input.to_string(),
    ])["taskDefinition"]["taskDefinitionArn"]
        .as_str()
        .unwrap()
        .to_string()
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A CLI timestamp as epoch seconds: CLI v1 prints the number ECS sent,
/// CLI v2 an ISO 8601 string.
fn epoch(v: &Value) -> f64 {
    if let Some(n) = v.as_f64() {
        return n;
    }
    let s = v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}"));
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{s}: {e}"));
    t.unix_timestamp_nanos() as f64 / 1e9
}

fn assert_expires_in(entry: &Value, secs: f64) {
    assert_eq!(entry["protectionEnabled"], true, "{entry}");
    let left = epoch(&entry["expirationDate"]) - unix_now();
    assert!(
        (secs - 60.0..=secs + 1.0).contains(&left),
        "expected about {secs}s of protection, {left}s left: {entry}"
    );
}

#[test]
fn task_protection_through_the_cli() {
    let Some(env) = common::env() else { return };
    let mut local = EcsLocal::start(&env);
    let agent = common::Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, PROTECT_WAIT);
    let cluster = agent.cluster().to_string();
    let td = register_sleeper(&aws, &env, "protected", None);
    let task = common::run_task(&aws, &agent, &td);
    common::wait_task_status(&aws, &agent, &task, "RUNNING", PROTECT_WAIT);
    let id = task.rsplit('/').next().unwrap().to_string();

    // Never protected.
    let g = aws.ecs_ok(&["get-task-protection", "--cluster", &cluster, "--tasks", &id]);
    assert_eq!(
        g["protectedTasks"],
        json!([{"taskArn": task, "protectionEnabled": false}]),
        "{g}"
    );

    // Default: 2 hours.
    let u = aws.ecs_ok(&[
        "update-task-protection",
        "--cluster",
        &cluster,
        "--tasks",
        &task,
        "--protection-enabled",
    ]);
    assert_eq!(u["failures"], json!([]), "{u}");
    assert_eq!(u["protectedTasks"][0]["taskArn"], json!(task), "{u}");
    assert_expires_in(&u["protectedTasks"][0], 7200.0);

    // Again with a duration: the clock restarts with it.
    let u = aws.ecs_ok(&[
        "update-task-protection",
        "--cluster",
        &cluster,
        "--tasks",
        &id,
        "--protection-enabled",
        "--expires-in-minutes",
        "30",
    ]);
    assert_expires_in(&u["protectedTasks"][0], 1800.0);
    let g = aws.ecs_ok(&[
        "get-task-protection",
        "--cluster",
        &cluster,
        "--tasks",
        &task,
    ]);
    assert_eq!(g["protectedTasks"], u["protectedTasks"], "{g}");

    for bad in ["0", "2881"] {
        let e = aws
            .ecs(&[
                "update-task-protection",
                "--cluster",
                &cluster,
                "--tasks",
                &task,
                "--protection-enabled",
                "--expires-in-minutes",
                bad,
            ])
            .unwrap_err();
        assert!(e.contains("(InvalidParameterException)"), "{e}");
        assert!(e.contains("expiresInMinutes"), "{e}");
    }
    let eleven: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
    let mut args = vec!["update-task-protection", "--cluster", &cluster];
    args.push("--tasks");
    args.extend(eleven.iter().map(String::as_str));
    args.push("--protection-enabled");
    let e = aws.ecs(&args).unwrap_err();
    assert!(e.contains("(InvalidParameterException)"), "{e}");
    let e = aws
        .ecs(&[
            "update-task-protection",
            "--cluster",
            "no-such-cluster",
            "--tasks",
            &task,
            "--protection-enabled",
        ])
        .unwrap_err();
    assert!(e.contains("(ClusterNotFoundException)"), "{e}");

    // An unknown task is a failure next to the ones that worked.
    let u = aws.ecs_ok(&[
        "update-task-protection",
        "--cluster",
        &cluster,
        "--tasks",
        &task,
        "0123456789abcdef0123456789abcdef",
        "--protection-enabled",
        "--expires-in-minutes",
        "30",
    ]);
    assert_eq!(u["protectedTasks"].as_array().unwrap().len(), 1, "{u}");
    assert_eq!(
        u["failures"],
        json!([{"arn": format!("arn:aws:ecs:us-east-1:000000000000:task/{cluster}/0123456789abcdef0123456789abcdef"),
            "reason": "MISSING"}]),
        "{u}"
    );

    // Kept with the task across a restart of ecs-local.
    local.restart();
    let after = aws.ecs_ok(&[
        "get-task-protection",
        "--cluster",
        &cluster,
        "--tasks",
        &task,
    ]);
    assert_eq!(after["protectedTasks"], u["protectedTasks"], "{after}");
    let listed = aws.ecs_ok(&["get-task-protection", "--cluster", &cluster]);
    assert_eq!(listed["protectedTasks"], u["protectedTasks"], "{listed}");

    // Unprotecting clears the expiration.
    let u = aws.ecs_ok(&[
        "update-task-protection",
        "--cluster",
        &cluster,
        "--tasks",
        &task,
        "--no-protection-enabled",
    ]);
    assert_eq!(
        u["protectedTasks"],
        json!([{"taskArn": task, "protectionEnabled": false}]),
        "{u}"
    );
    let g = aws.ecs_ok(&[
        "get-task-protection",
        "--cluster",
        &cluster,
        "--tasks",
        &task,
    ]);
    assert_eq!(g["protectedTasks"], u["protectedTasks"], "{g}");

    // A stopped task has nothing left to protect.
    aws.ecs_ok(&["stop-task", "--cluster", &cluster, "--task", &task]);
    common::wait_task_status(&aws, &agent, &task, "STOPPED", PROTECT_WAIT);
    let u = aws.ecs_ok(&[
        "update-task-protection",
        "--cluster",
        &cluster,
        "--tasks",
        &task,
        "--protection-enabled",
    ]);
    assert_eq!(u["protectedTasks"], json!([]), "{u}");
    assert_eq!(u["failures"][0]["arn"], json!(task), "{u}");
    assert_eq!(
        u["failures"][0]["reason"], "TASK_STOPPING_OR_STOPPED",
        "{u}"
    );
}

/// `aws ecs ARGS` signed with minted task keys (`keys` as /debug/credentials
/// shows them); `with_token: false` leaves the session token out.
fn aws_as_task(aws: &Aws, keys: &Value, with_token: bool, args: &[&str]) -> Result<Value, String> {
    let mut cmd = std::process::Command::new(&aws.bin);
    cmd.arg("ecs")
        .args(args)
        .args(["--endpoint-url", &aws.endpoint])
        .args(["--region", common::REGION, "--output", "json"])
        .env("AWS_ACCESS_KEY_ID", keys["accessKeyId"].as_str().unwrap())
        .env(
            "AWS_SECRET_ACCESS_KEY",
            keys["secretAccessKey"].as_str().unwrap(),
        )
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_PAGER", "")
        .env("AWS_MAX_ATTEMPTS", "1")
        .stdin(std::process::Stdio::null());
    if with_token {
        cmd.env("AWS_SESSION_TOKEN", keys["sessionToken"].as_str().unwrap());
    } else {
        cmd.env_remove("AWS_SESSION_TOKEN");
    }
    let out = cmd.output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
}

const SECOND_AK: &str = "AKIDSECONDPRINCIPAL";
const SECOND_SK: &str = "second-principal-secret";

/// A second ACS (and TCS) websocket for the agent's instance, signed by
/// another `--auth` principal, is refused with a 403 and an AWS-shaped
/// AccessDeniedException naming the IAM action (the Go agent's ACS session
/// needs `ecs:Poll`, its TCS session `ecs:StartTelemetrySession`); the
/// agent's own session is not replaced. The second principal's API calls
/// work (it is an operator), so the refusal is about the instance.
fn second_principal_cannot_take_the_instance(
    env: &common::TestEnv,
    local: &EcsLocal,
    cluster: &str,
    instance: &str,
) {
    let enc = |s: &str| s.replace(':', "%3A").replace('/', "%2F");
    let upgrade = [
        ("connection", "Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    for (path, action) in [
        (
            format!(
                "/acs/ws?clusterArn={}&containerInstanceArn={}&seqNum=1",
                enc(cluster),
                enc(instance)
            ),
            "ecs:Poll",
        ),
        (
            format!(
                "/tcs/ws?cluster={}&containerInstance={}",
                enc(cluster),
                enc(instance)
            ),
            "ecs:StartTelemetrySession",
        ),
    ] {
        let (status, v) = signed_get_as(local.port(), &path, (SECOND_AK, SECOND_SK), &upgrade);
        assert_eq!(status, 403, "{path}: {v}");
        assert_eq!(v["type"], "AccessDeniedException", "{v}");
        let m = v["message"]["message"].as_str().unwrap_or_default();
        assert!(m.contains(action) && m.contains(instance), "{m}");
    }
    let other = Aws::with_keys(env, local, SECOND_AK, SECOND_SK);
    let d = other.ecs_ok(&[
        "describe-container-instances",
        "--cluster",
        cluster,
        "--container-instances",
        instance,
    ]);
    assert_eq!(d["containerInstances"][0]["agentConnected"], true, "{d}");
}

#[test]
fn task_role_keys_may_protect_their_own_task_only() {
    let Some(env) = common::env() else { return };
    let auth = format!("{}:{}", common::ACCESS_KEY_ID, common::SECRET_ACCESS_KEY);
    // A second operator principal: it may call the API, but not open the
    // sessions of an instance the first one registered (issue 18 point 10).
    let second = format!("{SECOND_AK}:{SECOND_SK}");
    let local = EcsLocal::start_with_args(&env, &["--auth", &auth, "--auth", &second]);
    let agent = common::Agent::start(&env, &local, &[("ECS_ENABLE_TASK_IAM_ROLE", "true")]);
    let aws = Aws::new(&env, &local);
    let instance = agent.wait_registered(&aws, PROTECT_WAIT);
    second_principal_cannot_take_the_instance(&env, &local, agent.cluster(), &instance);
    let cluster = agent.cluster().to_string();
    let td = register_sleeper(
        &aws,
        &env,
        "self-protect",
        Some("arn:aws:iam::000000000000:role/worker"),
    );
    let mine = common::run_task(&aws, &agent, &td);
    let other = common::run_task(&aws, &agent, &td);
    common::wait_task_status(&aws, &agent, &mine, "RUNNING", PROTECT_WAIT);
    // Under --auth the debug hooks need a signature: unsigned, no keys.
    let (status, c) = http(
        local.port(),
        "GET",
        &format!("/debug/credentials?taskArn={mine}"),
        None,
    );
    assert_eq!(status, 403, "{c}");
    assert!(c["roleCredentials"].is_null(), "{c}");
    let encoded = mine.replace(':', "%3A").replace('/', "%2F");
    let (status, c) = signed_get(
        local.port(),
        &format!("/debug/credentials?taskArn={encoded}"),
    );
    assert_eq!(status, 200, "{c}");
    let keys = c["roleCredentials"].clone();

    // Its own task: both operations.
    let u = aws_as_task(
        &aws,
        &keys,
        true,
        &[
            "update-task-protection",
            "--cluster",
            &cluster,
            "--tasks",
            &mine,
            "--protection-enabled",
            "--expires-in-minutes",
            "10",
        ],
    )
    .unwrap();
    assert_expires_in(&u["protectedTasks"][0], 600.0);
    let g = aws_as_task(
        &aws,
        &keys,
        true,
        &[
            "get-task-protection",
            "--cluster",
            &cluster,
            "--tasks",
            &mine,
        ],
    )
    .unwrap();
    assert_eq!(g["protectedTasks"], u["protectedTasks"], "{g}");

    // Another task, another operation, no session token: refused.
    let session = format!(
        "arn:aws:sts::000000000000:assumed-role/worker/{}",
        mine.rsplit('/').next().unwrap()
    );
    let e = aws_as_task(
        &aws,
        &keys,
        true,
        &[
            "update-task-protection",
            "--cluster",
            &cluster,
            "--tasks",
            &other,
            "--protection-enabled",
        ],
    )
    .unwrap_err();
    assert!(e.contains("(AccessDeniedException)"), "{e}");
    assert!(
        e.contains(&format!(
            "User: {session} is not authorized to perform: ecs:UpdateTaskProtection on resource: {other}"
        )),
        "{e}"
    );
    let e = aws_as_task(
        &aws,
        &keys,
        true,
        &["describe-tasks", "--cluster", &cluster, "--tasks", &mine],
    )
    .unwrap_err();
    assert!(e.contains("(AccessDeniedException)"), "{e}");
    assert!(e.contains("ecs:DescribeTasks"), "{e}");
    let e = aws_as_task(
        &aws,
        &keys,
        false,
        &[
            "get-task-protection",
            "--cluster",
            &cluster,
            "--tasks",
            &mine,
        ],
    )
    .unwrap_err();
    assert!(e.contains("(UnrecognizedClientException)"), "{e}");
    let mut forged = keys.clone();
    forged["secretAccessKey"] = json!("x".repeat(40));
    let e = aws_as_task(
        &aws,
        &forged,
        true,
        &[
            "get-task-protection",
            "--cluster",
            &cluster,
            "--tasks",
            &mine,
        ],
    )
    .unwrap_err();
    assert!(e.contains("(InvalidSignatureException)"), "{e}");

    // The other task is untouched; the operator keys still do everything.
    let g = aws.ecs_ok(&[
        "get-task-protection",
        "--cluster",
        &cluster,
        "--tasks",
        &other,
    ]);
    assert_eq!(g["protectedTasks"][0]["protectionEnabled"], false, "{g}");
    for t in [&mine, &other] {
        aws.ecs_ok(&["stop-task", "--cluster", &cluster, "--task", t]);
    }
    common::wait_task_status(&aws, &agent, &other, "STOPPED", PROTECT_WAIT);
}
