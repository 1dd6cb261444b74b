//! Task networking end to end: the real agent, ecs-local and the `aws` CLI,
//! real namespaces, veths, bridge and iptables, busybox containers.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{
    describe_task, env, register_eni, register_task_definition as register, run_task_with as run,
    stop_task as stop, task_id, wait_task_status, wait_until, wait_until_with_log, Agent, Aws,
    EcsLocal, FakeEni,
};

const LONG: Duration = Duration::from_secs(90);

/// A shell script that exits at once on SIGTERM (busybox sh as PID 1
/// ignores it otherwise), after running `body`.
pub(crate) fn stoppable(body: &str) -> Value {
    json!([
        "sh",
        "-c",
        format!("trap 'exit 0' TERM; {body}; sleep 300 & wait")
    ])
}

pub(crate) fn sh_out(script: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .output()
        .expect("sh");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `GET /` over plain TCP: the body, or None if nothing answered.
pub(crate) fn http_get(addr: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    buf.split_once("\r\n\r\n").map(|(_, body)| body.to_string())
}

/// The container's log once it contains `needle`.
#[track_caller]
fn wait_log(agent: &Agent, arn: &str, container: &str, needle: &str) -> String {
    wait_until_with_log(
        agent,
        &format!("{container} log has {needle:?}"),
        LONG,
        || {
            let log = agent.container_log(task_id(arn), container);
            log.contains(needle).then_some(log)
        },
    )
}

fn bridge_ip(agent: &Agent) -> String {
    let subnet = agent.var("ECS_TASK_BRIDGE_SUBNET").expect("subnet");
    let net = subnet.split('/').next().expect("addr");
    let mut parts: Vec<&str> = net.split('.').collect();
    parts[3] = "1";
    parts.join(".")
}

fn httpd_container(name: &str, port_mappings: Value) -> Value {
    json!({
        "name": name,
        "image": "IMAGE",
        "memory": 64,
        "essential": true,
        "stopTimeout": 2,
        "portMappings": port_mappings,
        "command": stoppable(&format!(
            "mkdir -p /www && echo hello-from-{name} > /www/index.html && httpd -p 80 -h /www"
        )),
    })
}

pub(crate) fn with_image(mut v: Value, image: &str) -> Value {
    let s = v.to_string().replace("IMAGE", image);
    v = serde_json::from_str(&s).expect("json");
    v
}

#[test]
fn bridge_dynamic_port_is_reported_and_reachable_from_host_and_other_tasks() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(
        &env,
        &local,
        &[("ECS_DYNAMIC_HOST_PORT_RANGE", "30000-30999")],
    );
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, LONG);

    let td = register(
        &aws,
        with_image(
            json!({"family": "web", "networkMode": "bridge", "containerDefinitions": [
                httpd_container("web", json!([{"containerPort": 80, "hostPort": 0}]))
            ]}),
            &env.image(),
        ),
    );
    let arn = run(&aws, &agent, &td, &[]);
    let task = wait_task_status(&aws, &agent, &arn, "RUNNING", LONG);
    let bindings = &task["containers"][0]["networkBindings"];
    assert_eq!(bindings.as_array().map(Vec::len), Some(1), "{task}");
    assert_eq!(bindings[0]["containerPort"], 80, "{bindings}");
    assert_eq!(bindings[0]["protocol"], "tcp", "{bindings}");
    let host_port = bindings[0]["hostPort"].as_u64().expect("hostPort");
    assert!((30000..=30999).contains(&host_port), "{bindings}");

    // From the host, on loopback and on the bridge's address.
    let body = wait_until(LONG, Duration::from_millis(300), || {
        http_get(&format!("127.0.0.1:{host_port}"))
    });
    assert_eq!(body.trim(), "hello-from-web");
    let gw = bridge_ip(&agent);
    assert_eq!(
        http_get(&format!("{gw}:{host_port}")).map(|b| b.trim().to_string()),
        Some("hello-from-web".into())
    );

    // From another task's namespace, through the host port.
    let client = register(
        &aws,
        with_image(
            json!({"family": "client", "networkMode": "bridge", "containerDefinitions": [{
                "name": "client", "image": "IMAGE", "memory": 32, "essential": true,
                "command": ["sh", "-c", format!("wget -qO- http://{gw}:{host_port}/; echo rc=$?")],
            }]}),
            &env.image(),
        ),
    );
    let carn = run(&aws, &agent, &client, &[]);
    let log = wait_log(&agent, &carn, "client", "rc=");
    assert!(
        log.contains("hello-from-web") && log.contains("rc=0"),
        "{log}"
    );

    // Stopped: the port is closed again.
    stop(&aws, &agent, &arn);
    wait_task_status(&aws, &agent, &arn, "STOPPED", LONG);
    assert_eq!(http_get(&format!("127.0.0.1:{host_port}")), None);
    let nat = sh_out("iptables -w -t nat -S");
    assert!(
        !nat.contains(&format!("--dport {host_port} ")),
        "the DNAT rule outlived the task:\n{nat}"
    );
}

#[test]
fn static_host_port_and_udp_are_forwarded() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, LONG);
    let port = crate::common::free_port();
    let td = register(
        &aws,
        with_image(
            json!({"family": "static", "networkMode": "bridge", "containerDefinitions": [
                httpd_container("web", json!([
                    {"containerPort": 80, "hostPort": port},
                    {"containerPort": 53, "protocol": "udp"}
                ]))
            ]}),
            &env.image(),
        ),
    );
    let arn = run(&aws, &agent, &td, &[]);
    let task = wait_task_status(&aws, &agent, &arn, "RUNNING", LONG);
    let bindings = task["containers"][0]["networkBindings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        bindings
            .iter()
            .any(|b| b["hostPort"] == port && b["containerPort"] == 80 && b["protocol"] == "tcp"),
        "{bindings:?}"
    );
    assert!(
        bindings
            .iter()
            .any(|b| b["containerPort"] == 53 && b["protocol"] == "udp" && b["hostPort"] != 0),
        "{bindings:?}"
    );
    let body = wait_until(LONG, Duration::from_millis(300), || {
        http_get(&format!("127.0.0.1:{port}"))
    });
    assert_eq!(body.trim(), "hello-from-web");
    stop(&aws, &agent, &arn);
    wait_task_status(&aws, &agent, &arn, "STOPPED", LONG);
}

#[test]
fn awsvpc_tasks_get_their_own_addresses_and_share_localhost() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    // ECS places awsvpc tasks only on instances with task-eni.
    let agent = Agent::start(&env, &local, &[("ECS_ENABLE_TASK_ENI", "true")]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, LONG);

    // Two containers of one task: the client reaches the server on localhost.
    let td = register(
        &aws,
        with_image(
            json!({"family": "pair", "networkMode": "awsvpc", "containerDefinitions": [
                httpd_container("server", json!([{"containerPort": 80}])),
                {"name": "client", "image": "IMAGE", "memory": 32, "essential": false,
                 "command": ["sh", "-c",
                    "i=0; until wget -qO- http://127.0.0.1:80/; do i=$((i+1)); [ $i -gt 50 ] && break; sleep 0.2; done; \
                     echo; echo rc=$?; echo addr=$(ip -4 -o addr show eth0 | awk '{print $4}')"]}
            ]}),
            &env.image(),
        ),
    );
    let a = run(&aws, &agent, &td, &[]);
    let b = run(&aws, &agent, &td, &[]);
    let la = wait_log(&agent, &a, "client", "addr=");
    let lb = wait_log(&agent, &b, "client", "addr=");
    assert!(la.contains("hello-from-server"), "{la}");
    assert!(lb.contains("hello-from-server"), "{lb}");
    let addr = |log: &str| {
        log.lines()
            .find_map(|l| l.strip_prefix("addr="))
            .map(|a| a.split('/').next().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    let (ia, ib) = (addr(&la), addr(&lb));
    assert!(
        ia.starts_with("10.215.") && ib.starts_with("10.215."),
        "{ia} {ib}"
    );
    assert_ne!(ia, ib, "two awsvpc tasks got one address");

    // Task a reaches task b's address directly (port 80 in b's namespace).
    let probe = register(
        &aws,
        with_image(
            json!({"family": "probe", "networkMode": "awsvpc", "containerDefinitions": [{
                "name": "probe", "image": "IMAGE", "memory": 32, "essential": true,
                "command": ["sh", "-c", format!("wget -qO- http://{ib}:80/; echo rc=$?")],
            }]}),
            &env.image(),
        ),
    );
    let p = run(&aws, &agent, &probe, &[]);
    let lp = wait_log(&agent, &p, "probe", "rc=");
    assert!(
        lp.contains("hello-from-server") && lp.contains("rc=0"),
        "{lp}"
    );

    // Task metadata shows the awsvpc network with the task's address.
    for arn in [&a, &b] {
        stop(&aws, &agent, arn);
    }
    for arn in [&a, &b] {
        wait_task_status(&aws, &agent, arn, "STOPPED", LONG);
    }
}

#[test]
fn none_mode_has_only_loopback() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, LONG);
    let td = register(
        &aws,
        with_image(
            json!({"family": "isolated", "networkMode": "none", "containerDefinitions": [{
                "name": "c", "image": "IMAGE", "memory": 32, "essential": true,
                "command": ["sh", "-c", "echo links:$(ls /sys/class/net | tr '\\n' ' '); echo done"],
            }]}),
            &env.image(),
        ),
    );
    let arn = run(&aws, &agent, &td, &[]);
    let log = wait_log(&agent, &arn, "c", "done");
    let links = log
        .lines()
        .find_map(|l| l.strip_prefix("links:"))
        .unwrap_or_default()
        .trim()
        .to_string();
    assert_eq!(links, "lo", "{log}");
    wait_task_status(&aws, &agent, &arn, "STOPPED", LONG);
}

fn debug_credentials(local: &EcsLocal, arn: &str) -> Value {
    let url = format!(
        "{}/debug/credentials?taskArn={}",
        local.endpoint(),
        urlencode(arn)
    );
    let out = Command::new("curl")
        .args(["-sf", &url])
        .output()
        .expect("curl");
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn debug_enis(local: &EcsLocal) -> Value {
    let out = Command::new("curl")
        .args(["-sf", &format!("{}/debug/enis", local.endpoint())])
        .output()
        .expect("curl");
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

fn debug_stats(local: &EcsLocal) -> Value {
    let out = Command::new("curl")
        .args(["-sf", &format!("{}/debug/stats", local.endpoint())])
        .output()
        .expect("curl");
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn a_task_gets_exactly_its_own_credentials_and_no_one_elses() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, &[("ECS_ENABLE_TASK_IAM_ROLE", "true")]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, LONG);

    let td = register(
        &aws,
        with_image(
            json!({"family": "role", "networkMode": "bridge",
                   "taskRoleArn": "arn:aws:iam::123456789012:role/app",
                   "containerDefinitions": [{
                "name": "app", "image": "IMAGE", "memory": 32, "essential": true, "stopTimeout": 2,
                "command": stoppable(
                    "echo uri=$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI; \
                     echo body=$(wget -qO- http://169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)"),
            }]}),
            &env.image(),
        ),
    );
    let arn = run(&aws, &agent, &td, &[]);
    let log = wait_log(&agent, &arn, "app", "body=");
    let uri = log
        .lines()
        .find_map(|l| l.strip_prefix("uri="))
        .unwrap_or_default()
        .to_string();
    assert!(uri.starts_with("/v2/credentials/"), "{log}");
    let body: Value = log
        .lines()
        .find_map(|l| l.strip_prefix("body="))
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or_else(|| panic!("no credentials JSON in:\n{log}"));
    let minted = debug_credentials(&local, &arn);
    let app = &minted["roleCredentials"];
    assert_eq!(
        body["AccessKeyId"], app["accessKeyId"],
        "{body} vs {minted}"
    );
    assert_eq!(body["SecretAccessKey"], app["secretAccessKey"]);
    assert_eq!(body["Token"], app["sessionToken"]);
    assert_eq!(body["RoleArn"], "arn:aws:iam::123456789012:role/app");
    assert!(body["Expiration"].as_str().is_some_and(|e| !e.is_empty()));
    assert!(
        uri.ends_with(app["credentialsId"].as_str().unwrap_or("?")),
        "{uri} {minted}"
    );

    // Another task (another address) asking for the first one's id is refused.
    let thief = register(
        &aws,
        with_image(
            json!({"family": "thief", "networkMode": "bridge", "containerDefinitions": [{
                "name": "thief", "image": "IMAGE", "memory": 32, "essential": true,
                "command": ["sh", "-c", format!("wget -qO- http://169.254.170.2{uri} 2>&1; echo rc=$?")],
            }]}),
            &env.image(),
        ),
    );
    let t = run(&aws, &agent, &thief, &[]);
    let tlog = wait_log(&agent, &t, "thief", "rc=");
    assert!(
        !tlog.contains(app["secretAccessKey"].as_str().unwrap_or("?")),
        "{tlog}"
    );
    assert!(tlog.contains("403") && !tlog.contains("rc=0"), "{tlog}");
    stop(&aws, &agent, &arn);
    wait_task_status(&aws, &agent, &arn, "STOPPED", LONG);
    // The id is a secret for host-mode tasks: the log carries its fingerprint.
    let id = app["credentialsId"].as_str().unwrap_or("?");
    let log = agent.log();
    assert!(
        !log.contains(id),
        "the credentials id is in the agent's log"
    );
    assert!(
        log.contains(&ecs::credentials::fingerprint(id)),
        "no fingerprint in the log"
    );
}

#[test]
fn an_eni_with_the_payloads_mac_moves_into_the_task_and_back() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, &[("ECS_ENABLE_TASK_ENI", "true")]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, LONG);
    let n = std::process::id() % 200 + 20;
    let mac = format!("02:13:00:00:{:02x}:01", n % 256);
    let eni = FakeEni::new(&format!("ecseni{n}"), &mac);
    register_eni(
        &local,
        &json!({"subnetId": format!("subnet-t{n}"), "macAddress": mac,
                "privateIpv4Address": format!("10.214.{n}.5"),
                "subnetCidr": format!("10.214.{n}.0/24"),
                "gateway": format!("10.214.{n}.1")}),
    );

    let td = register(
        &aws,
        with_image(
            json!({"family": "eni", "networkMode": "awsvpc", "containerDefinitions": [{
                "name": "c", "image": "IMAGE", "memory": 32, "essential": true, "stopTimeout": 2,
                "command": stoppable(
                    "echo mac=$(cat /sys/class/net/eth0/address); \
                     echo addr=$(ip -4 -o addr show eth0 | awk '{print $4}'); \
                     echo gw=$(ip route | awk '/default/ {print $3}')"),
            }]}),
            &env.image(),
        ),
    );
    let net = format!("awsvpcConfiguration={{subnets=[subnet-t{n}]}}");
    let arn = run(&aws, &agent, &td, &["--network-configuration", &net]);
    let log = wait_log(&agent, &arn, "c", "gw=");
    assert!(log.contains(&format!("mac={mac}")), "{log}");
    assert!(log.contains(&format!("addr=10.214.{n}.5/24")), "{log}");
    assert!(log.contains(&format!("gw=10.214.{n}.1")), "{log}");
    assert!(!eni.on_host(), "the ENI is still in the host namespace");
    let task = describe_task(&aws, &agent, &arn).unwrap_or_default();
    assert_eq!(
        task["attachments"][0]["type"], "ElasticNetworkInterface",
        "{task}"
    );
    // The task ran, so the agent reported the ENI ATTACHED (ecs-local sends
    // the payload only then, as Amazon ECS), in the Go agent's shape: a
    // SubmitTaskStateChange with only cluster, task and attachments
    // (ecs-agent/api/ecs/client/ecs_client.go, submitTaskStateChange).
    assert_eq!(task["attachments"][0]["status"], "ATTACHED", "{task}");
    let listed = debug_enis(&local);
    let held = listed["enis"]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["macAddress"] == mac.as_str()))
        .cloned()
        .unwrap_or_default();
    assert_eq!(held["attachmentStatus"], "ATTACHED", "{listed}");
    assert_eq!(
        held["attachedReportMembers"],
        json!(["attachments", "cluster", "task"]),
        "{listed}"
    );

    assert!(
        debug_stats(&local)["eni_attachment_acks"].as_u64() >= Some(1),
        "the agent did not acknowledge the ENI attachment"
    );

    stop(&aws, &agent, &arn);
    wait_task_status(&aws, &agent, &arn, "STOPPED", LONG);
    assert!(eni.on_host(), "the ENI did not come back to the host");
}

/// What a task network leaves on the host, for one agent's bridge.
pub(crate) fn footprint(agent: &Agent) -> (Vec<String>, Vec<String>, Vec<String>, usize) {
    let b = agent.bridge();
    let netns: Vec<String> = sh_out("ls /var/run/netns 2>/dev/null")
        .lines()
        .map(str::to_string)
        .collect();
    let veths: Vec<String> = sh_out(&format!("ip -o link show master {b} 2>/dev/null"))
        .lines()
        .map(str::to_string)
        .collect();
    let rules: Vec<String> = sh_out(&format!("iptables -w -t nat -S ECS-DNAT-{b} 2>/dev/null"))
        .lines()
        .filter(|l| l.starts_with("-A"))
        .map(str::to_string)
        .collect();
    let subnet = agent.var("ECS_TASK_BRIDGE_SUBNET").unwrap_or_default();
    let prefix = subnet.rsplitn(2, '.').last().unwrap_or("?").to_string() + ".";
    // Entries whose reply comes from a task address (not the bridge's own .1).
    let conntrack = std::fs::read_to_string("/proc/net/nf_conntrack")
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            l.split_whitespace().any(|f| {
                f.strip_prefix("src=")
                    .and_then(|a| a.strip_prefix(&prefix))
                    .is_some_and(|host| host != "1")
            })
        })
        .count();
    (netns, veths, rules, conntrack)
}

#[test]
fn twenty_tasks_started_and_stopped_leave_nothing_behind() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(
        &env,
        &local,
        &[
            ("ECS_DYNAMIC_HOST_PORT_RANGE", "31000-31999"),
            ("ECS_ENABLE_TASK_ENI", "true"),
        ],
    );
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, LONG);
    let before = footprint(&agent);
    let bridge_td = register(
        &aws,
        with_image(
            json!({"family": "leak-bridge", "networkMode": "bridge", "containerDefinitions": [
                httpd_container("web", json!([{"containerPort": 80}]))
            ]}),
            &env.image(),
        ),
    );
    let vpc_td = register(
        &aws,
        with_image(
            json!({"family": "leak-vpc", "networkMode": "awsvpc", "containerDefinitions": [
                httpd_container("web", json!([{"containerPort": 80}]))
            ]}),
            &env.image(),
        ),
    );
    let mut arns = Vec::new();
    for i in 0..20 {
        let td = if i % 2 == 0 { &bridge_td } else { &vpc_td };
        arns.push(run(&aws, &agent, td, &[]));
    }
    let mut ports = Vec::new();
    for arn in &arns {
        let t = wait_task_status(&aws, &agent, arn, "RUNNING", LONG);
        if let Some(p) = t["containers"][0]["networkBindings"][0]["hostPort"].as_u64() {
            ports.push(p);
        }
    }
    assert_eq!(ports.len(), 10, "every bridge task reports its binding");
    let mut unique = ports.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        10,
        "a host port was handed out twice: {ports:?}"
    );
    // Traffic through each port leaves conntrack entries behind to flush.
    for p in &ports {
        let body = wait_until(LONG, Duration::from_millis(300), || {
            http_get(&format!("127.0.0.1:{p}"))
        });
        assert_eq!(body.trim(), "hello-from-web");
    }
    let during = footprint(&agent);
    assert!(during.1.len() >= 20, "veths: {:?}", during.1);
    assert!(during.2.len() >= 10, "rules: {:?}", during.2);
    assert!(
        during.3 >= 10,
        "the check below would see no entries: {}",
        during.3
    );

    for arn in &arns {
        stop(&aws, &agent, arn);
    }
    for arn in &arns {
        wait_task_status(&aws, &agent, arn, "STOPPED", LONG);
    }
    let after = footprint(&agent);
    let ids: Vec<&str> = arns.iter().map(|a| task_id(a)).collect();
    let leaked_ns: Vec<&String> = after
        .0
        .iter()
        .filter(|n| ids.iter().any(|id| n.contains(id)))
        .collect();
    assert!(leaked_ns.is_empty(), "namespaces left: {leaked_ns:?}");
    assert_eq!(after.1, before.1, "veths left on the bridge");
    assert_eq!(after.2, before.2, "port rules left");
    assert_eq!(after.3, 0, "conntrack entries of task addresses left");
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(agent.data_dir().join("network/network.json")).unwrap_or_default(),
    )
    .unwrap_or(Value::Null);
    assert_eq!(state["leases"], json!({}), "leases left: {state}");
}

#[test]
fn host_mode_tasks_reach_credentials_through_the_prepared_host() {
    let Some(env) = env() else { return };
    // The only agent test that rewrites the host-wide ECS-AGENT-* chains.
    let _host = crate::network::HOST_PREP.blocking_lock();
    let local = EcsLocal::start(&env);
    let agent = Agent::start(
        &env,
        &local,
        &[
            ("ECS_HOST_NETWORK_SETUP", "true"),
            ("ECS_ENABLE_TASK_IAM_ROLE", "true"),
            ("ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST", "true"),
        ],
    );
    let aws = Aws::new(&env, &local);
    let instance = agent.wait_registered(&aws, LONG);
    let port = agent.var("ECS_AGENT_CREDENTIALS_PORT").expect("port");
    let intro = agent.var("ECS_AGENT_INTROSPECTION_PORT").expect("port");
    let rules = sh_out("iptables-save");
    assert!(
        rules.contains(&format!(
            "-A ECS-AGENT-PREROUTING -d 169.254.170.2/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 127.0.0.1:{port}"
        )),
        "{rules}"
    );
    assert!(
        rules.contains(&format!(
            "-A ECS-AGENT-OUTPUT -d 169.254.170.2/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports {port}"
        )),
        "{rules}"
    );
    assert!(
        rules.contains(&format!("--dport {intro} -j DROP")),
        "introspection not closed off-host:\n{rules}"
    );
    let attrs = agent.registered_attributes(&aws, &instance).to_string();
    assert!(
        attrs.contains("com.amazonaws.ecs.capability.task-iam-role-network-host"),
        "{attrs}"
    );

    let td = register(
        &aws,
        with_image(
            json!({"family": "host-role", "networkMode": "host",
                   "taskRoleArn": "arn:aws:iam::123456789012:role/host-app",
                   "containerDefinitions": [{
                "name": "app", "image": "IMAGE", "memory": 32, "essential": true,
                "command": ["sh", "-c",
                    "echo meta=$(wget -qO- $ECS_CONTAINER_METADATA_URI_V4); \
                     echo body=$(wget -qO- http://169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)"],
            }]}),
            &env.image(),
        ),
    );
    let arn = run(&aws, &agent, &td, &[]);
    let log = wait_log(&agent, &arn, "app", "body=");
    let body: Value = log
        .lines()
        .find_map(|l| l.strip_prefix("body="))
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or_else(|| panic!("no credentials JSON in:\n{log}"));
    let minted = debug_credentials(&local, &arn);
    assert_eq!(
        body["AccessKeyId"], minted["roleCredentials"]["accessKeyId"],
        "{body}"
    );
    assert_eq!(body["RoleArn"], "arn:aws:iam::123456789012:role/host-app");
    // Task metadata through the same redirect, from the host's namespace.
    let meta: Value = log
        .lines()
        .find_map(|l| l.strip_prefix("meta="))
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or_else(|| panic!("no metadata JSON in:\n{log}"));
    assert_eq!(meta["Name"], "app", "{meta}");
    assert_eq!(meta["Networks"][0]["NetworkMode"], "host", "{meta}");
    wait_task_status(&aws, &agent, &arn, "STOPPED", LONG);
    drop(agent);
    let undo = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(ecs::network::NetworkManager::undo_host_prep());
    assert!(undo.is_ok(), "{undo:?}");
}

#[test]
fn without_network_host_a_host_task_gets_no_credentials_uri() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    // Host tasks with a role require task-iam-role-network-host, which this
    // agent (no host redirect in the harness) does not advertise; the
    // instance claims it by a custom attribute so the task is placed anyway
    // and the agent's own check is what the test sees.
    let agent = Agent::start(
        &env,
        &local,
        &[
            ("ECS_ENABLE_TASK_IAM_ROLE", "true"),
            (
                "ECS_INSTANCE_ATTRIBUTES",
                r#"{"com.amazonaws.ecs.capability.task-iam-role-network-host":"claimed"}"#,
            ),
        ],
    );
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, LONG);
    let td = register(
        &aws,
        with_image(
            json!({"family": "host-norole", "networkMode": "host",
                   "taskRoleArn": "arn:aws:iam::123456789012:role/x",
                   "containerDefinitions": [{
                "name": "app", "image": "IMAGE", "memory": 32, "essential": true,
                "command": ["sh", "-c", "echo uri=[$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI]"],
            }]}),
            &env.image(),
        ),
    );
    let arn = run(&aws, &agent, &td, &[]);
    let log = wait_log(&agent, &arn, "app", "uri=");
    assert!(log.contains("uri=[]"), "{log}");
}

#[test]
fn refreshed_credentials_replace_the_old_ones_in_the_container() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start_with_args(&env, &["--credentials-ttl-secs", "6"]);
    let agent = Agent::start(&env, &local, &[("ECS_ENABLE_TASK_IAM_ROLE", "true")]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, LONG);
    let td = register(
        &aws,
        with_image(
            json!({"family": "refresh", "networkMode": "bridge",
                   "taskRoleArn": "arn:aws:iam::123456789012:role/r",
                   "containerDefinitions": [{
                "name": "app", "image": "IMAGE", "memory": 32, "essential": true, "stopTimeout": 2,
                "command": stoppable(
                    "u=http://169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI; \
                     echo first=$(wget -qO- $u); sleep 8; echo second=$(wget -qO- $u)"),
            }]}),
            &env.image(),
        ),
    );
    let arn = run(&aws, &agent, &td, &[]);
    let log = wait_log(&agent, &arn, "app", "second=");
    let key = |prefix: &str| {
        log.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|b| serde_json::from_str::<Value>(b).ok())
            .map(|v| v["AccessKeyId"].clone())
            .unwrap_or_else(|| panic!("no {prefix} credentials in:\n{log}"))
    };
    let (first, second) = (key("first="), key("second="));
    assert_ne!(
        first, second,
        "the refresh did not reach the container's endpoint"
    );
    let minted = debug_credentials(&local, &arn);
    // The current keys (a later refresh may have come since the second read).
    let acks = debug_stats(&local)["credential_refresh_acks"]
        .as_u64()
        .unwrap_or(0);
    assert!(acks >= 1, "no refresh acknowledged: {acks}");
    assert!(minted["roleCredentials"]["accessKeyId"]
        .as_str()
        .is_some_and(|k| k.starts_with("ASIA")));
    stop(&aws, &agent, &arn);
    wait_task_status(&aws, &agent, &arn, "STOPPED", LONG);
}

/// `GET url` from inside the task's namespace (the host's busybox wget),
/// so the request comes from the task's own address.
fn wget_in_netns(task_arn: &str, url: &str) -> String {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &format!("ecs-{}", task_id(task_arn)),
            "busybox",
            "wget",
            "-qO-",
            url,
        ])
        .output()
        .expect("ip netns exec");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_killed_agent_leaves_task_networks_up_and_serves_credentials_again_after_restart() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    let mut agent = Agent::start(
        &env,
        &local,
        &[
            ("ECS_ENABLE_TASK_IAM_ROLE", "true"),
            ("ECS_ENABLE_TASK_ENI", "true"),
        ],
    );
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, LONG);
    let td = register(
        &aws,
        with_image(
            json!({"family": "survivor", "networkMode": "awsvpc",
                   "taskRoleArn": "arn:aws:iam::123456789012:role/s",
                   "containerDefinitions": [
                httpd_container("web", json!([{"containerPort": 80}]))
            ]}),
            &env.image(),
        ),
    );
    let arn = run(&aws, &agent, &td, &[]);
    wait_task_status(&aws, &agent, &arn, "RUNNING", LONG);
    let creds_url = |id: &str| format!("http://169.254.170.2/v2/credentials/{id}");
    let id = debug_credentials(&local, &arn)["roleCredentials"]["credentialsId"]
        .as_str()
        .expect("credentialsId")
        .to_string();
    let before: Value = wait_until(LONG, Duration::from_millis(300), || {
        serde_json::from_str(&wget_in_netns(&arn, &creds_url(&id))).ok()
    });
    assert!(before["AccessKeyId"].as_str().is_some(), "{before}");

    agent.kill9();
    // The task's namespace and its server do not depend on the agent.
    let page = wget_in_netns(&arn, "http://127.0.0.1:80/");
    assert_eq!(page.trim(), "hello-from-web");

    agent.restart();
    agent.wait_registered(&aws, LONG);
    // Credentials live in memory only: ACS sends them again on reconnect.
    let after: Value = wait_until_with_log(&agent, "credentials served again", LONG, || {
        serde_json::from_str::<Value>(&wget_in_netns(&arn, &creds_url(&id)))
            .ok()
            .filter(|v| v["AccessKeyId"].is_string())
    });
    let minted = debug_credentials(&local, &arn);
    assert_eq!(
        after["AccessKeyId"],
        minted["roleCredentials"]["accessKeyId"]
    );
    let task = describe_task(&aws, &agent, &arn).unwrap_or_default();
    assert_eq!(task["lastStatus"], "RUNNING", "{task}");

    stop(&aws, &agent, &arn);
    wait_task_status(&aws, &agent, &arn, "STOPPED", LONG);
    let ns = format!("/var/run/netns/ecs-{}", task_id(&arn));
    assert!(
        !std::path::Path::new(&ns).exists(),
        "{ns} outlived the task"
    );
}

#[test]
fn a_host_port_already_in_use_stops_the_task_with_a_reason() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, LONG);
    let busy = std::net::TcpListener::bind("0.0.0.0:0").expect("bind");
    let port = busy.local_addr().expect("addr").port();
    let td = register(
        &aws,
        with_image(
            json!({"family": "clash", "networkMode": "bridge", "containerDefinitions": [
                httpd_container("web", json!([{"containerPort": 80, "hostPort": port}]))
            ]}),
            &env.image(),
        ),
    );
    let arn = run(&aws, &agent, &td, &[]);
    let task = wait_task_status(&aws, &agent, &arn, "STOPPED", LONG);
    let reason = task["containers"][0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&format!("host port {port}/tcp is already in use")),
        "{task}"
    );
    // Nothing of the failed setup is left.
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(agent.data_dir().join("network/network.json")).unwrap_or_default(),
    )
    .unwrap_or(Value::Null);
    assert!(
        state["leases"].as_object().is_none_or(|m| m.is_empty()),
        "{state}"
    );
    drop(busy);
}
