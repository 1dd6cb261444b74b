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
