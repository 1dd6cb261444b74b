//! The endpoints as a user gets them from the real agent: a host-mode task's
//! container reads its own task metadata (v4 and v3, container, task and
//! stats) through the URIs the agent injected, operators read introspection
//! and `/metrics`, and a container's URI keeps working after kill -9 and a
//! restart of the agent.
//!
//! 169.254.170.2 is not routed to the agent yet (the networking layer does
//! that), so the container calls 127.0.0.1:<ECS_AGENT_CREDENTIALS_PORT> with
//! the path of its injected URI, which is what the redirect would reach.

use std::net::TcpListener;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{self, wait_until_with_log, Agent, Aws, EcsLocal, TestEnv};

const START: Duration = Duration::from_secs(90);

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// GET from the test process: (status, body).
fn get(url: &str) -> Option<(u16, String)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let resp = reqwest::Client::new()
            .get(url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .ok()?;
        let status = resp.status().as_u16();
        Some((status, resp.text().await.ok()?))
    })
}

fn get_json(url: &str) -> Value {
    let (status, body) = get(url).unwrap_or_else(|| panic!("GET {url}: no answer"));
    assert_eq!(status, 200, "GET {url}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: {e}: {body}"))
}

struct World {
    env: TestEnv,
    _local: EcsLocal,
    agent: Agent,
    aws: Aws,
    metadata_port: u16,
    intro_port: u16,
}

fn world() -> Option<World> {
    let env = common::env()?;
    let local = EcsLocal::start(&env);
    let (metadata_port, intro_port) = (free_port(), free_port());
    let (m, i) = (metadata_port.to_string(), intro_port.to_string());
    let agent = Agent::start(
        &env,
        &local,
        &[
            ("ECS_AGENT_CREDENTIALS_PORT", m.as_str()),
            ("ECS_AGENT_INTROSPECTION_PORT", i.as_str()),
            ("ECS_POLLING_METRICS_WAIT_DURATION", "5s"),
        ],
    );
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);
    Some(World {
        env,
        _local: local,
        agent,
        aws,
        metadata_port,
        intro_port,
    })
}

impl World {
    fn run_task(&self, family: &str, containers: Value) -> String {
        let input =
            json!({"family": family, "networkMode": "host", "containerDefinitions": containers});
        let out = self.aws.ecs_ok(&[
            "register-task-definition",
            "--cli-input-json",
            &input.to_string(),
        ]);
        let td = out["taskDefinition"]["taskDefinitionArn"]
            .as_str()
            .unwrap()
            .to_string();
        let out = self.aws.ecs_ok(&[
            "run-task",
            "--cluster",
            self.agent.cluster(),
            "--task-definition",
            &td,
        ]);
        assert_eq!(out["failures"], json!([]), "run-task failures: {out}");
        out["tasks"][0]["taskArn"].as_str().unwrap().to_string()
    }

    fn log(&self, arn: &str, container: &str) -> String {
        self.agent
            .container_log(arn.rsplit('/').next().unwrap(), container)
    }

    /// The JSON the container printed after `tag:` on a line of its own.
    fn printed(&self, arn: &str, container: &str, tag: &str) -> Value {
        let prefix = format!("{tag}:");
        let line = wait_until_with_log(&self.agent, &format!("{tag} in the log"), START, || {
            self.log(arn, container)
                .lines()
                .find(|l| l.starts_with(&prefix))
                .map(|l| l[prefix.len()..].to_string())
        });
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{tag}: {e}: {line:?}"))
    }

    fn intro(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.intro_port)
    }
}

/// A container that prints its metadata, then keeps asking for its own
/// container metadata every second (`LOOP <DockerId or FAIL>`).
fn probe_script(port: u16) -> String {
    format!(
        r#"B=http://127.0.0.1:{port}
V4=${{ECS_CONTAINER_METADATA_URI_V4#http://169.254.170.2}}
V3=${{ECS_CONTAINER_METADATA_URI#http://169.254.170.2}}
echo "ENV:{{\"v4\":\"$ECS_CONTAINER_METADATA_URI_V4\",\"v3\":\"$ECS_CONTAINER_METADATA_URI\",\"api\":\"$ECS_AGENT_URI\",\"exec\":\"$AWS_EXECUTION_ENV\"}}"
echo "C4:$(wget -qO- $B$V4)"
echo "T4:$(wget -qO- $B$V4/task)"
echo "C3:$(wget -qO- $B$V3)"
echo "T3:$(wget -qO- $B$V3/task)"
i=0
while [ $i -lt 60 ]; do
  S=$(wget -qO- $B$V4/stats) && break
  i=$((i+1)); sleep 1
done
echo "S4:$S"
while true; do
  if C=$(wget -qO- $B$V4); then echo "LOOP $C" | sed 's/.*"DockerId":"\([^"]*\)".*/LOOP \1/'; else echo "LOOP FAIL"; fi
  sleep 1
done
"#
    )
}

#[test]
fn a_container_reads_its_own_metadata_and_operators_see_the_task() {
    let Some(w) = world() else { return };
    let arn = w.run_task(
        "tmds",
        json!([{"name": "probe", "image": w.env.image(), "memory": 32, "cpu": 128,
                "essential": true, "dockerLabels": {"team": "endpoints"},
                "command": ["sh", "-c", probe_script(w.metadata_port)]}]),
    );

    let env = w.printed(&arn, "probe", "ENV");
    let v4 = env["v4"].as_str().unwrap();
    let token = v4
        .strip_prefix("http://169.254.170.2/v4/")
        .unwrap_or_else(|| panic!("v4 URI: {env}"));
    assert_eq!(token.len(), 36, "a UUID: {env}");
    assert_eq!(env["v3"], format!("http://169.254.170.2/v3/{token}"));
    assert_eq!(env["api"], format!("http://169.254.170.2/api/{token}"));
    assert_eq!(env["exec"], "AWS_ECS_EC2");

    let c4 = w.printed(&arn, "probe", "C4");
    let docker_id = c4["DockerId"].as_str().unwrap().to_string();
    assert!(docker_id.ends_with("-0-probe"), "{c4}");
    assert_eq!(c4["Name"], "probe");
    assert_eq!(c4["Image"], w.env.image());
    assert!(
        c4["ImageID"].as_str().unwrap().starts_with("sha256:"),
        "{c4}"
    );
    assert_eq!(c4["Labels"]["team"], "endpoints");
    assert_eq!(c4["Labels"]["com.amazonaws.ecs.task-arn"], arn.as_str());
    assert_eq!(c4["DesiredStatus"], "RUNNING");
    assert_eq!(c4["Limits"]["CPU"].as_f64(), Some(128.0), "{c4}");
    assert_eq!(c4["Limits"]["Memory"].as_f64(), Some(32.0), "{c4}");
    assert_eq!(c4["Type"], "NORMAL");
    assert_eq!(c4["Networks"][0]["NetworkMode"], "host", "{c4}");
    assert!(c4["CreatedAt"].is_string(), "{c4}");

    let t4 = w.printed(&arn, "probe", "T4");
    assert_eq!(t4["TaskARN"], arn.as_str());
    assert_eq!(t4["Family"], "tmds");
    assert_eq!(t4["Revision"], "1");
    assert_eq!(t4["DesiredStatus"], "RUNNING");
    assert_eq!(t4["LaunchType"], "EC2");
    assert_eq!(t4["Cluster"], w.agent.cluster());
    assert!(t4["PullStartedAt"].is_string(), "{t4}");
    assert_eq!(t4["Containers"][0]["DockerId"], docker_id.as_str());

    let c3 = w.printed(&arn, "probe", "C3");
    assert_eq!(c3["DockerId"], docker_id.as_str());
    assert_eq!(c3["Name"], "probe");
    let t3 = w.printed(&arn, "probe", "T3");
    assert_eq!(t3["TaskARN"], arn.as_str());
    assert_eq!(t3["Family"], "tmds");

    let s4 = w.printed(&arn, "probe", "S4");
    assert!(s4["read"].is_string(), "{s4}");
    assert!(
        s4["memory_stats"]["usage"].as_u64().is_some_and(|u| u > 0),
        "{s4}"
    );
    assert!(s4["cpu_stats"]["cpu_usage"]["total_usage"].is_u64(), "{s4}");

    // Operators: introspection.
    let meta = get_json(&w.intro("/v1/metadata"));
    assert_eq!(meta["Cluster"], w.agent.cluster());
    assert!(
        meta["ContainerInstanceArn"]
            .as_str()
            .is_some_and(|a| a.contains(":container-instance/")),
        "{meta}"
    );
    let t = get_json(&w.intro(&format!("/v1/tasks?taskarn={arn}")));
    assert_eq!(t["Arn"], arn.as_str());
    assert_eq!(t["KnownStatus"], "RUNNING");
    assert_eq!(t["Family"], "tmds");
    assert_eq!(t["Containers"][0]["DockerId"], docker_id.as_str());
    let by_id = get_json(&w.intro(&format!("/v1/tasks?dockerid={docker_id}")));
    assert_eq!(by_id["Arn"], arn.as_str());
    let all = get_json(&w.intro("/v1/tasks"));
    assert_eq!(all["Tasks"].as_array().map(Vec::len), Some(1), "{all}");
    let (status, _) = get(&w.intro("/v1/tasks?taskarn=arn:aws:ecs:us-east-1:0:task/x/y")).unwrap();
    assert_eq!(status, 404);

    // Operators: /metrics, parsed by a real Prometheus parser.
    let (status, text) = get(&w.intro("/metrics")).unwrap();
    assert_eq!(status, 200);
    let m = common::parse_prometheus(&w.env, &text);
    assert_eq!(
        common::prometheus_sample(&m, "ecs_agent_acs_connected", &[]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        common::prometheus_sample(&m, "ecs_agent_tasks", &[("status", "RUNNING")]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        common::prometheus_sample(&m, "ecs_agent_containers", &[("status", "RUNNING")]),
        Some(1.0),
        "{text}"
    );
    assert!(
        common::prometheus_sample(&m, "ecs_agent_acs_last_heartbeat_age_seconds", &[]).is_some(),
        "{text}"
    );
    // The engine's own counters: the pull, and RUNNING reported to ECS.
    assert!(
        common::prometheus_sample(&m, "ecs_agent_image_pulls_completed", &[])
            .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        common::prometheus_sample(&m, "ecs_agent_state_changes_submitted", &[])
            .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    // The containerd version the agent found at start is the one `ctr`
    // gets from the same socket (Server: Version: ...).
    // And who pulls: containerd's Transfer service on 2.x, the agent before.
    let server = common::ctr_version(&w.env);
    let image_pull = if common::pulls_through_transfer(&w.env) {
        "containerd-transfer"
    } else {
        "agent"
    };
    assert_eq!(
        common::prometheus_sample(
            &m,
            "ecs_agent_info",
            &[("containerd_version", &server), ("image_pull", image_pull)]
        ),
        Some(1.0),
        "ctr says {server}; {text}"
    );

    // Unknown tokens are refused the Go agent's way.
    let (status, _) = get(&format!(
        "http://127.0.0.1:{}/v4/not-a-token",
        w.metadata_port
    ))
    .unwrap();
    assert_eq!(status, 404);

    // Stopped: the task stays visible (STOPPED) until cleanup.
    w.aws
        .ecs_ok(&["stop-task", "--cluster", w.agent.cluster(), "--task", &arn]);
    wait_until_with_log(&w.agent, "introspection shows STOPPED", START, || {
        let t = get_json(&w.intro(&format!("/v1/tasks?taskarn={arn}")));
        (t["KnownStatus"] == "STOPPED").then_some(())
    });
}

#[test]
fn a_containers_metadata_uri_survives_kill_9_and_restart_of_the_agent() {
    let Some(mut w) = world() else { return };
    let arn = w.run_task(
        "tmds-restart",
        json!([{"name": "probe", "image": w.env.image(), "memory": 32, "essential": true,
                "command": ["sh", "-c", probe_script(w.metadata_port)]}]),
    );
    let c4 = w.printed(&arn, "probe", "C4");
    let docker_id = c4["DockerId"].as_str().unwrap().to_string();
    let token_line = w.printed(&arn, "probe", "ENV")["v4"]
        .as_str()
        .unwrap()
        .to_string();
    let ok_line = format!("LOOP {docker_id}");
    wait_until_with_log(&w.agent, "the container's loop succeeds", START, || {
        w.log(&arn, "probe").contains(&ok_line).then_some(())
    });

    w.agent.kill9();
    wait_until_with_log(
        &w.agent,
        "the loop fails while the agent is down",
        START,
        || {
            let log = w.log(&arn, "probe");
            let last = log.lines().rev().find(|l| l.starts_with("LOOP "))?;
            (last == "LOOP FAIL").then_some(())
        },
    );
    w.agent.restart();
    w.agent.wait_registered(&w.aws, START);
    // Whatever the container prints from now on is served by the new process.
    wait_until_with_log(&w.agent, "the new agent listens", START, || {
        get(&w.intro("/v1/metadata")).map(|_| ())
    });
    let seen = w.log(&arn, "probe").len();
    wait_until_with_log(
        &w.agent,
        "the same URI answers after the restart",
        START,
        || {
            w.log(&arn, "probe")[seen..]
                .contains(&ok_line)
                .then_some(())
        },
    );
    // The same token, from the outside too.
    let path = token_line.strip_prefix("http://169.254.170.2").unwrap();
    let c = get_json(&format!("http://127.0.0.1:{}{path}", w.metadata_port));
    assert_eq!(c["DockerId"], docker_id.as_str());
    assert_eq!(c["KnownStatus"], "RUNNING");
}
