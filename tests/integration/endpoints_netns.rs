//! The endpoints seen from containers in their own network namespace
//! (bridge, awsvpc, awsvpc with an ENI): task metadata v4 through
//! 169.254.170.2 shows the container's own address, /etc/hosts,
//! /etc/hostname and /etc/resolv.conf are the agent's, and with
//! ECS_ENABLE_CONTAINER_METADATA the metadata file turns READY.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{
    env, register_eni, register_task_definition, run_task_with as run, stop_task, task_id,
    wait_task_status, wait_until_with_log, Agent, Aws, EcsLocal, FakeEni,
};

const LONG: Duration = Duration::from_secs(90);

/// Prints what the container sees, one `TAG:value` line each, then idles
/// until SIGTERM.
const PROBE: &str = r#"trap 'exit 0' TERM
get() { i=0; until R=$(wget -qO- "$1"); do i=$((i+1)); [ $i -gt 20 ] && break; sleep 0.5; done; echo "$R"; }
echo "C4:$(get $ECS_CONTAINER_METADATA_URI_V4)"
echo "T4:$(get $ECS_CONTAINER_METADATA_URI_V4/task)"
echo "ADDR:$(ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1)"
echo "HOSTNAME:$(hostname)"
echo "ETCHOSTNAME:$(cat /etc/hostname)"
echo "HOSTS:$(tr '\n' '|' < /etc/hosts)"
echo "RESOLV:$(tr '\n' '|' < /etc/resolv.conf)"
mkdir -p /www && echo up > /www/i && httpd -p 127.0.0.1:8080 -h /www
echo "LOCALHOST:$(wget -qO- http://localhost:8080/i)"
if [ -n "$ECS_CONTAINER_METADATA_FILE" ]; then
  i=0
  until grep -q '"READY"' "$ECS_CONTAINER_METADATA_FILE" 2>/dev/null; do
    i=$((i+1)); [ $i -gt 150 ] && break; sleep 0.2
  done
  echo "MD:$(tr -d '\n\t' < "$ECS_CONTAINER_METADATA_FILE")"
fi
echo "DONE:"
sleep 300 & wait
"#;

fn register(aws: &Aws, family: &str, mode: &str, image: &str, ports: Value) -> String {
    let input = json!({"family": family, "networkMode": mode, "containerDefinitions": [{
        "name": "app", "image": image, "memory": 32, "essential": true, "stopTimeout": 2,
        "portMappings": ports,
        "command": ["sh", "-c", PROBE],
    }]});
    register_task_definition(aws, input)
}

fn stop(aws: &Aws, agent: &Agent, arn: &str) {
    stop_task(aws, agent, arn);
    wait_task_status(aws, agent, arn, "STOPPED", LONG);
}

/// What the probe printed, once it is done: tag -> value.
struct Seen(Vec<(String, String)>);

impl Seen {
    #[track_caller]
    fn wait(agent: &Agent, arn: &str) -> Seen {
        let log = wait_until_with_log(agent, "the probe's output", LONG, || {
            let log = agent.container_log(task_id(arn), "app");
            log.contains("DONE:").then_some(log)
        });
        Seen(
            log.lines()
                .filter_map(|l| l.split_once(':'))
                .map(|(t, v)| (t.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[track_caller]
    fn text(&self, tag: &str) -> &str {
        self.0
            .iter()
            .find(|(t, _)| t == tag)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {tag}: line in {:?}", self.0))
    }

    #[track_caller]
    fn json(&self, tag: &str) -> Value {
        let text = self.text(tag);
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{tag}: {e}: {text:?}"))
    }
}

/// Checks shared by every mode; returns the container's address.
#[track_caller]
fn check_common(seen: &Seen, arn: &str, mode: &str, hostname: &dyn Fn(&str) -> String) -> String {
    let addr = seen.text("ADDR").to_string();
    assert!(addr.starts_with("10.21"), "no address on eth0: {addr:?}");

    let c4 = seen.json("C4");
    assert_eq!(c4["Name"], "app", "{c4}");
    assert_eq!(c4["Networks"][0]["NetworkMode"], mode, "{c4}");
    assert_eq!(c4["Networks"][0]["IPv4Addresses"], json!([addr]), "{c4}");
    let t4 = seen.json("T4");
    assert_eq!(t4["TaskARN"], arn, "{t4}");
    assert_eq!(t4["LaunchType"], "EC2", "{t4}");
    assert!(t4.get("PullStartedAt").is_some(), "{t4}");
    assert!(t4.get("PullStoppedAt").is_some(), "{t4}");
    assert_eq!(
        t4["Containers"][0]["Networks"][0]["IPv4Addresses"],
        json!([addr]),
        "{t4}"
    );

    let name = hostname(&addr);
    assert_eq!(seen.text("HOSTNAME"), name);
    assert_eq!(seen.text("ETCHOSTNAME"), name);
    let hosts = seen.text("HOSTS");
    assert!(hosts.starts_with("127.0.0.1\tlocalhost|"), "{hosts:?}");
    assert!(
        hosts.contains("|::1\tlocalhost ip6-localhost ip6-loopback|"),
        "{hosts:?}"
    );
    assert!(hosts.ends_with(&format!("|{addr}\t{name}|")), "{hosts:?}");
    assert_eq!(seen.text("LOCALHOST"), "up", "localhost does not resolve");

    let md = seen.json("MD");
    assert_eq!(md["MetadataFileStatus"], "READY", "{md}");
    assert_eq!(md["TaskARN"], arn, "{md}");
    assert_eq!(md["ContainerName"], "app", "{md}");
    assert_eq!(md["ContainerID"], c4["DockerId"], "{md}");
    assert_eq!(md["Networks"][0]["NetworkMode"], mode, "{md}");
    assert_eq!(md["Networks"][0]["IPv4Addresses"], json!([addr]), "{md}");
    addr
}

#[test]
fn a_bridge_container_sees_its_own_address_hosts_and_metadata_file() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, &[("ECS_ENABLE_CONTAINER_METADATA", "true")]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, LONG);
    let td = register(
        &aws,
        "md-bridge",
        "bridge",
        &env.image(),
        json!([{"containerPort": 80, "hostPort": 0}]),
    );
    let arn = run(&aws, &agent, &td, &[]);
    let seen = Seen::wait(&agent, &arn);
    // Docker's default hostname: the short container id.
    let short: String = format!("{}-0-app", task_id(&arn))
        .chars()
        .take(12)
        .collect();
    check_common(&seen, &arn, "bridge", &|_| short.clone());
    let md = seen.json("MD");
    let ports = &md["PortMappings"];
    assert_eq!(ports[0]["ContainerPort"], 80, "{md}");
    assert_eq!(ports[0]["Protocol"], "tcp", "{md}");
    assert!(ports[0]["HostPort"].as_u64() > Some(0), "{md}");
    assert!(
        !seen.text("RESOLV").is_empty(),
        "bridge containers keep the host's resolv.conf"
    );

    let files = agent.data_dir().join("netfiles").join(task_id(&arn));
    assert!(files.join("app/hosts").is_file());
    stop(&aws, &agent, &arn);
}

#[test]
fn an_awsvpc_container_sees_its_own_address_hosts_and_metadata_file() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(
        &env,
        &local,
        &[
            ("ECS_ENABLE_TASK_ENI", "true"),
            ("ECS_ENABLE_CONTAINER_METADATA", "true"),
            ("ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION", "2s"),
        ],
    );
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, LONG);
    let td = register(&aws, "md-vpc", "awsvpc", &env.image(), json!([]));
    let arn = run(&aws, &agent, &td, &[]);
    let seen = Seen::wait(&agent, &arn);
    check_common(&seen, &arn, "awsvpc", &|addr| {
        format!("ip-{}", addr.replace('.', "-"))
    });

    // The files go at cleanup.
    let netfiles = agent.data_dir().join("netfiles").join(task_id(&arn));
    let metadata = agent.data_dir().join("metadata");
    assert!(netfiles.join("hosts").is_file());
    stop(&aws, &agent, &arn);
    wait_until_with_log(&agent, "the task's files removed", LONG, || {
        let md_left = std::fs::read_dir(&metadata)
            .map(|d| {
                d.flatten()
                    .any(|cluster| cluster.path().join(task_id(&arn)).exists())
            })
            .unwrap_or(false);
        (!netfiles.exists() && !md_left).then_some(())
    });
}

#[test]
fn an_eni_task_gets_the_enis_dns_and_attachment_fields() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(
        &env,
        &local,
        &[
            ("ECS_ENABLE_TASK_ENI", "true"),
            ("ECS_ENABLE_CONTAINER_METADATA", "true"),
        ],
    );
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, LONG);
    // Another MAC, name and host octet than task_network's ENI test.
    let n = std::process::id() % 200 + 20;
    let mac = format!("02:14:00:00:{:02x}:02", n % 256);
    let _eni = FakeEni::new(&format!("ecsmd{n}"), &mac);
    let subnet = format!("10.214.{n}");
    register_eni(
        &local,
        &json!({"subnetId": format!("subnet-m{n}"), "macAddress": mac,
                    "privateIpv4Address": format!("{subnet}.6"),
                    "subnetCidr": format!("{subnet}.0/24"),
                    "gateway": format!("{subnet}.1"),
                    "dnsServers": [format!("{subnet}.2")],
                    "privateDnsName": format!("eni-host-{n}.corp.internal")}),
    );
    let td = register(&aws, "md-eni", "awsvpc", &env.image(), json!([]));
    let net = format!("awsvpcConfiguration={{subnets=[subnet-m{n}]}}");
    let arn = run(&aws, &agent, &td, &["--network-configuration", &net]);
    let seen = Seen::wait(&agent, &arn);
    // The hostname is the first label of the ENI's private DNS name.
    let addr = check_common(&seen, &arn, "awsvpc", &|_| format!("eni-host-{n}"));
    assert_eq!(addr, format!("{subnet}.6"));
    assert_eq!(seen.text("RESOLV"), format!("nameserver {subnet}.2|"));
    let net = &seen.json("C4")["Networks"][0];
    assert_eq!(net["AttachmentIndex"], 0, "{net}");
    assert_eq!(net["MACAddress"], mac, "{net}");
    assert_eq!(
        net["IPv4SubnetCIDRBlock"],
        format!("{subnet}.0/24"),
        "{net}"
    );
    assert_eq!(
        net["SubnetGatewayIpv4Address"],
        format!("{subnet}.1"),
        "{net}"
    );
    assert_eq!(
        net["DomainNameServers"],
        json!([format!("{subnet}.2")]),
        "{net}"
    );
    assert_eq!(
        net["PrivateDNSName"],
        format!("eni-host-{n}.corp.internal"),
        "{net}"
    );
    stop(&aws, &agent, &arn);
}

#[test]
fn task_with_tags_shows_the_control_planes_task_and_instance_tags() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(
        &env,
        &local,
        &[
            ("ECS_CONTAINER_INSTANCE_TAGS", r#"{"team":"infra"}"#),
            ("ECS_POLLING_METRICS_WAIT_DURATION", "5s"),
        ],
    );
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, LONG);
    let input = json!({"family": "tagged", "networkMode": "bridge",
    "tags": [{"key": "app", "value": "web"}],
    "containerDefinitions": [{
        "name": "app", "image": env.image(), "memory": 32, "essential": true, "stopTimeout": 2,
        "command": ["sh", "-c",
            "trap 'exit 0' TERM; sleep 1; echo \"TAGS:$(wget -qO- $ECS_CONTAINER_METADATA_URI_V4/taskWithTags)\"; \
             echo \"PLAIN:$(wget -qO- $ECS_CONTAINER_METADATA_URI_V4/task)\"; \
                 i=0; until S=$(wget -qO- $ECS_CONTAINER_METADATA_URI_V4/stats) && echo \"$S\" | grep -q eth0; do \
                   i=$((i+1)); [ $i -gt 60 ] && break; sleep 0.5; done; echo \"STATS:$S\"; \
                 echo DONE:; sleep 300 & wait"],
    }]});
    let td = register_task_definition(&aws, input);
    let arn = run(
        &aws,
        &agent,
        &td,
        &[
            "--tags",
            "key=run,value=1",
            "--propagate-tags",
            "TASK_DEFINITION",
        ],
    );
    let log = wait_until_with_log(&agent, "taskWithTags answered", LONG, || {
        let log = agent.container_log(task_id(&arn), "app");
        log.contains("DONE:").then_some(log)
    });
    let field = |tag: &str| -> Value {
        log.lines()
            .find_map(|l| l.strip_prefix(tag))
            .and_then(|v| serde_json::from_str(v).ok())
            .unwrap_or_else(|| panic!("no {tag} JSON in:\n{log}"))
    };
    let tagged = field("TAGS:");
    assert_eq!(
        tagged["TaskTags"],
        json!({"app": "web", "run": "1"}),
        "{tagged}"
    );
    assert_eq!(
        tagged["ContainerInstanceTags"],
        json!({"team": "infra"}),
        "{tagged}"
    );
    assert!(tagged.get("Errors").is_none(), "{tagged}");
    let plain = field("PLAIN:");
    assert!(
        plain.get("TaskTags").is_none(),
        "/task must not carry tags: {plain}"
    );
    // Its stats carry the counters of its own namespace's interface.
    let stats = field("STATS:");
    assert!(
        stats["networks"]["eth0"]["rx_bytes"].as_u64() > Some(0),
        "{stats}"
    );
    stop(&aws, &agent, &arn);
    wait_task_status(&aws, &agent, &arn, "STOPPED", LONG);
}
