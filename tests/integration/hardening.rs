//! Inputs that once crashed or stalled the agent, sent through the real
//! parts: ecs-local, the `aws` CLI, containerd.

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{self, Agent, Aws, EcsLocal};

const START: Duration = Duration::from_secs(60);

fn pending_payloads(local: &EcsLocal) -> Option<u64> {
    let out = Command::new("curl")
        .args(["-sf", &format!("{}/debug/stats", local.endpoint())])
        .output()
        .ok()?;
    serde_json::from_slice::<Value>(&out.stdout).ok()?["pendingPayloads"].as_u64()
}

/// The outside probe's task: 18,000 containers, each depending on the next.
/// The recursive dependsOn check overflowed the agent's stack on it, and the
/// unacknowledged payload killed the agent again after every restart. Now:
/// refused naming Amazon ECS's limit, reported STOPPED, acknowledged, and the
/// agent lives.
///
/// ecs-local, like Amazon ECS, refuses such a definition at
/// RegisterTaskDefinition (checked first, through the CLI); the test-only
/// `/debug/task-definitions-unchecked` route registers it anyway so that the
/// agent's own defence is what is tested.
#[test]
fn a_task_over_amazon_ecs_container_limit_is_refused_and_the_agent_lives() {
    let Some(env) = common::env() else { return };
    let local = EcsLocal::start(&env);
    let mut agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);

    let n = 18_000;
    let containers: Vec<Value> = (0..n)
        .map(|i| {
            // Short fields: the whole definition must stay under the 2 MiB
            // that ecs-local takes in one request.
            let mut c = json!({"name": format!("c{i}"), "image": "b"});
            if i + 1 < n {
                c["dependsOn"] =
                    json!([{"containerName": format!("c{}", i + 1), "condition": "START"}]);
            }
            c
        })
        .collect();
    // Too big for one argument: the CLI reads it from a file.
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("chain.json");
    std::fs::write(
        &input,
        json!({"family": "chain", "networkMode": "host", "memory": "128",
               "containerDefinitions": containers})
        .to_string(),
    )
    .expect("write the definition");
    let e = aws
        .ecs(&[
            "register-task-definition",
            "--cli-input-json",
            &format!("file://{}", input.display()),
        ])
        .expect_err("ecs-local registered 18,000 containers");
    assert!(
        e.contains("(ClientException)") && e.contains("Too many containers: 18000 given"),
        "{e}"
    );
    let out = Command::new("curl")
        .args([
            "-sf",
            "-X",
            "POST",
            "--data-binary",
            &format!("@{}", input.display()),
            &format!("{}/debug/task-definitions-unchecked", local.endpoint()),
        ])
        .output()
        .expect("curl");
    let td = serde_json::from_slice::<Value>(&out.stdout).unwrap_or_default()["taskDefinition"]
        ["taskDefinitionArn"]
        .as_str()
        .unwrap_or_else(|| panic!("unchecked registration: {out:?}"))
        .to_string();
    let arn = common::run_task(&aws, &agent, &td);
    let t = common::wait_task_status(&aws, &agent, &arn, "STOPPED", START);
    let reason = t["stoppedReason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("containers: 18000 given; Amazon ECS allows at most 10"),
        "{reason}"
    );
    // Acknowledged: ecs-local stops re-sending it.
    common::wait_until_with_log(&agent, "the payload acknowledged", START, || {
        (pending_payloads(&local)? == 0).then_some(())
    });
    assert!(agent.is_running(), "the agent died:\n{}", agent.log());

    // A frame Amazon ECS would never send, through the test-only raw-frame
    // hook: a payload whose one task has a wrong-typed field (the corpus's
    // tests/corpus/acs/essential-yes.json). The agent lives, refuses that task
    // naming the field path and acknowledges the payload.
    let instance = agent.wait_registered(&aws, START);
    let bad_arn = "arn:aws:ecs:us-east-1:000000000000:task/raw/0badf00d";
    let frame = json!({"type": "PayloadMessage", "message": {"messageId": "raw-bad", "seqNum": 99,
        "containerInstanceArn": instance, "tasks": [{"arn": bad_arn, "desiredStatus": "RUNNING",
        "containers": [{"name": "web", "image": env.image(), "essential": "yes"}]}]}});
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "POST",
            "--data-binary",
            &frame.to_string(),
            &format!(
                "{}/debug/acs-frame?containerInstanceArn={}",
                local.endpoint(),
                instance.replace(':', "%3A").replace('/', "%2F")
            ),
        ])
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "202", "{out:?}");
    common::wait_until_with_log(&agent, "the raw payload refused", START, || {
        let log = agent.log();
        (log.contains("raw-bad") && log.contains("containers[0].essential")).then_some(())
    });
    assert!(agent.is_running(), "the agent died:\n{}", agent.log());

    // And it still runs what it is sent.
    let td = common::register_task_def(
        &aws,
        "after-chain",
        json!([{"name": "c", "image": env.image(), "memory": 32, "essential": true,
                "command": common::sh("echo alive")}]),
    );
    let arn = common::run_task(&aws, &agent, &td);
    common::wait_task_status(&aws, &agent, &arn, "STOPPED", START);
    assert!(agent
        .container_log(common::task_id(&arn), "c")
        .contains("alive"));
}

/// A bridge task's credentials, stored when the task is accepted, went to
/// any local caller with the id until its network was set up, which comes
/// after the whole image pull. Here the pull never ends (a registry that
/// accepts connections and never answers), and a host process that has the
/// id is refused. The id itself is never in the agent's log either (for a
/// host-mode task it is the only secret).
#[test]
fn a_bridge_task_credentials_go_to_nobody_while_its_image_is_pulled() {
    let Some(env) = common::env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, &[("ECS_ENABLE_TASK_IAM_ROLE", "true")]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);

    let registry = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let registry_port = registry.local_addr().expect("addr").port();
    let (pulling_tx, pulling) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in registry.incoming().flatten() {
            held.push(conn);
            let _ = pulling_tx.send(());
        }
    });
    let td = common::register_task_definition(
        &aws,
        json!({"family": "stalled-pull", "networkMode": "bridge",
               "taskRoleArn": "arn:aws:iam::123456789012:role/app",
               "containerDefinitions": [{"name": "app", "memory": 32, "essential": true,
                   "image": format!("127.0.0.1:{registry_port}/stall:latest")}]}),
    );
    let arn = common::run_task(&aws, &agent, &td);
    pulling
        .recv_timeout(START)
        .unwrap_or_else(|_| panic!("the pull never began:\n{}", agent.log()));

    let minted = Command::new("curl")
        .args([
            "-sf",
            &format!(
                "{}/debug/credentials?taskArn={}",
                local.endpoint(),
                arn.replace(':', "%3A").replace('/', "%2F")
            ),
        ])
        .output()
        .expect("curl");
    let minted: Value = serde_json::from_slice(&minted.stdout).expect("debug credentials");
    let id = minted["roleCredentials"]["credentialsId"]
        .as_str()
        .unwrap_or_else(|| panic!("no credentials for the task: {minted}"))
        .to_string();
    let secret = minted["roleCredentials"]["secretAccessKey"]
        .as_str()
        .unwrap_or("?")
        .to_string();
    let port = agent
        .var("ECS_AGENT_CREDENTIALS_PORT")
        .expect("credentials port");
    let out = Command::new("curl")
        .args([
            "-s",
            "-w",
            "\nstatus=%{http_code}",
            &format!("http://127.0.0.1:{port}/v2/credentials/{id}"),
        ])
        .output()
        .expect("curl");
    let answer = String::from_utf8_lossy(&out.stdout);
    assert!(
        answer.ends_with("status=403") && !answer.contains(&secret),
        "{answer}"
    );
    let log = agent.log();
    assert!(log.contains("role credentials stored"), "{log}");
    assert!(
        !log.contains(&id),
        "the credentials id is in the agent's log"
    );
}

/// The checkpoint holds task environments: the agent narrows the data dir
/// the harness made 0755 (as an older agent left it) to 0700, and creates
/// agent.redb 0600. And its log, written to a file here, is plain text.
#[test]
fn the_data_dir_is_owner_only_and_the_log_has_no_colour_codes() {
    use std::os::unix::fs::PermissionsExt;
    let Some(env) = common::env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let data = agent.data_dir();
    assert_eq!(mode(&data), 0o700, "{}", data.display());
    assert_eq!(mode(&data.join("agent.redb")), 0o600);
    let log = agent.log();
    assert!(log.contains("ACS connected"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "ANSI escape codes in the agent's log file:\n{}",
        &log[..log.len().min(2000)]
    );
    assert!(
        log.contains("narrowed"),
        "no log line for the narrowed mode:\n{log}"
    );
}
