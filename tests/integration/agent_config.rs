//! A bad setting stops the agent at start with a message naming the variable.

use std::process::Command;

fn run_agent(vars: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecs-agent"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ECS_") || k.starts_with("AWS_") || k.starts_with("CONTAINERD_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .env("ECS_CONFIG_FILE", "/nonexistent/ecs.config")
        .envs(vars.iter().copied())
        .output()
        .expect("run ecs-agent");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn bad_settings_stop_the_agent_naming_the_variable() {
    for (var, value) in [
        ("ECS_RESERVED_MEMORY", "lots"),
        ("ECS_CONTAINER_STOP_TIMEOUT", "forever"),
        ("ECS_RESERVED_PORTS", "[22,"),
        ("ECS_IMAGE_PULL_BEHAVIOR", "sometimes"),
        ("ECS_ENGINE_AUTH_TYPE", "docker"),
        ("ECS_IMAGE_CLEANUP_FREE_SPACE_THRESHOLD", "150%"),
        ("ECS_IMAGE_FILESYSTEM_PATH", "relative/dir"),
        // Kubernetes' namespace: kubelet garbage-collects what it did not make.
        ("CONTAINERD_NAMESPACE", "k8s.io"),
    ] {
        let (ok, stderr) = run_agent(&[("AWS_DEFAULT_REGION", "us-east-1"), (var, value)]);
        assert!(!ok, "{var}={value} must stop the agent");
        assert!(
            stderr.contains(var),
            "{var}: stderr does not name it: {stderr}"
        );
    }
}

#[test]
fn a_bad_config_file_line_is_reported_with_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ecs.config");
    std::fs::write(&path, "ECS_CLUSTER=ok\nECS_RESERVED_MEMORY=abc\n").unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecs-agent"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ECS_") || k.starts_with("AWS_") || k.starts_with("CONTAINERD_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .env("ECS_CONFIG_FILE", &path)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ECS_RESERVED_MEMORY"), "{stderr}");
}

/// The OS attributes the Go agent registers (ecs_client.go
/// getAdditionalAttributes): `ecs.os-type` linux, `ecs.os-family` LINUX and
/// `ecs.os-type-detailed` from ECS_DETAILED_OS_FAMILY, as describe-container-
/// instances shows them.
#[test]
fn os_attributes_are_registered_as_the_go_agent_does() {
    use crate::common::{env, Agent, Aws, EcsLocal};
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, &[("ECS_DETAILED_OS_FAMILY", "testos_7.1")]);
    let aws = Aws::new(&env, &local);
    let instance = agent.wait_registered(&aws, std::time::Duration::from_secs(90));
    let attrs = agent
        .registered_attributes(&aws, &instance)
        .as_array()
        .cloned()
        .unwrap_or_default();
    let value = |name: &str| {
        attrs
            .iter()
            .find(|a| a["name"] == name)
            .and_then(|a| a["value"].as_str())
            .map(str::to_string)
    };
    assert_eq!(value("ecs.os-type").as_deref(), Some("linux"), "{attrs:?}");
    assert_eq!(
        value("ecs.os-family").as_deref(),
        Some("LINUX"),
        "{attrs:?}"
    );
    assert_eq!(
        value("ecs.os-type-detailed").as_deref(),
        Some("testos_7.1"),
        "{attrs:?}"
    );
}

/// With default settings (ecs-init's ECS_AVAILABLE_LOGGING_DRIVERS), a task
/// definition that names the json-file log driver is placed (ecs-local, like
/// Amazon ECS, requires logging-driver.json-file for it) and runs; a listed
/// driver this agent lacks is not advertised.
#[test]
fn json_file_logging_is_advertised_and_placed_by_default() {
    use crate::common::{
        env, register_task_definition, run_task, wait_task_status, Agent, Aws, EcsLocal,
    };
    use std::time::Duration;
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    let instance = agent.wait_registered(&aws, Duration::from_secs(90));
    let attrs = agent.registered_attributes(&aws, &instance).to_string();
    assert!(
        attrs.contains("com.amazonaws.ecs.capability.logging-driver.json-file"),
        "{attrs}"
    );
    assert!(!attrs.contains("logging-driver.fluentd"), "{attrs}");
    let td = register_task_definition(
        &aws,
        serde_json::json!({"family": "json-file-logs", "containerDefinitions": [{
            "name": "app", "image": env.image(), "memory": 32, "essential": true,
            "command": ["sleep", "300"],
            "logConfiguration": {"logDriver": "json-file", "options": {"max-size": "10m"}}
        }]}),
    );
    let arn = run_task(&aws, &agent, &td);
    wait_task_status(&aws, &agent, &arn, "RUNNING", Duration::from_secs(90));
}

/// A CONTAINERD_ADDRESS socket that speaks something else (here: a server
/// that answers every connection with an HTTP/1.1 error, as a Docker or
/// other HTTP API socket would) stops the agent at start, naming the
/// variable and the socket, within seconds rather than after a wait.
#[test]
fn a_socket_that_is_not_containerd_stops_the_agent_at_start() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("not-containerd.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 256];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let started = std::time::Instant::now();
    let (ok, stderr) = run_agent(&[
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("CONTAINERD_ADDRESS", &sock.display().to_string()),
        (
            "ECS_DATADIR",
            &dir.path().join("data").display().to_string(),
        ),
    ]);
    assert!(!ok, "the agent must not start: {stderr}");
    assert!(
        stderr.contains("CONTAINERD_ADDRESS")
            && stderr.contains(&sock.display().to_string())
            && stderr.contains("is not a containerd socket"),
        "{stderr}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
}
