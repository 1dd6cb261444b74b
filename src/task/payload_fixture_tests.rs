//! Payloads shaped exactly as Amazon ECS sends them are accepted (or refused
//! with a reason naming the unimplemented feature, never for their shape).
//!
//! The fixtures in testdata/payloads are written by us, field for field in the
//! shapes that Amazon ECS delivered to the Go agent, as its checkpoint fixtures
//! keep them (aws/amazon-ecs-agent, agent/statemanager/testdata/…/ecs_agent_data.json):
//! every container with at least config `{}` and hostConfig
//! `{"CapAdd":[],"CapDrop":[]}`, the task's network mode repeated as
//! `hostConfig.NetworkMode`, a per-container `version`, the health check
//! spelled `HealthCheck`.

use super::def::NetworkMode;
use super::from_acs::{ignored_docker_keys, task_def, Policy};
use crate::model::acs::AcsMessage;

const POLICY: Policy = Policy {
    disable_privileged: false,
    allow_eni: true,
    apparmor: false,
    disable_health_check: false,
};

/// (fixture, the Go agent fixture whose shape it follows, what must happen:
/// Ok(network mode) or Err(part of the reason)).
const CASES: &[(&str, &str, Result<NetworkMode, &str>)] = &[
    (
        include_str!("testdata/payloads/bridge_named_mode.json"),
        "v13/1: hostConfig {\"NetworkMode\":\"bridge\",\"CapAdd\":[],\"CapDrop\":[]}, version 1.17",
        Ok(NetworkMode::Bridge),
    ),
    (
        include_str!("testdata/payloads/awsvpc_with_eni.json"),
        "v11/task-networking: hostConfig {\"NetworkMode\":\"awsvpc\",...}, version 1.18, the ENI",
        Ok(NetworkMode::Awsvpc),
    ),
    (
        include_str!("testdata/payloads/default_mode_ordering.json"),
        "v20/containerOrdering: hostConfig {\"CapAdd\":[],\"CapDrop\":[]}; v23/firelens: config {\"User\":\"0\"}",
        Ok(NetworkMode::Bridge),
    ),
    (
        include_str!("testdata/payloads/mode_only_in_host_config.json"),
        "no task-level networkMode (as v1/1), the mode only in hostConfig, which Docker applied for the Go agent",
        Ok(NetworkMode::Host),
    ),
    (
        include_str!("testdata/payloads/health_check.json"),
        "v10/container-health-check: config {\"HealthCheck\":{...}}, version 1.24",
        Ok(NetworkMode::Bridge),
    ),
    (
        include_str!("testdata/payloads/firelens_log_config.json"),
        "v23/firelens: hostConfig {\"LogConfig\":{\"Type\":\"awsfirelens\",...},\"NetworkMode\":\"bridge\",...}, version 1.19",
        Err("dockerConfig.hostConfig.LogConfig.Type \"awsfirelens\" is not supported"),
    ),
];

#[test]
fn payloads_as_amazon_ecs_sends_them() {
    for (text, source, expected) in CASES {
        let msg = AcsMessage::decode(text).unwrap_or_else(|e| panic!("{source}: {e}"));
        let AcsMessage::Payload(p) = msg else {
            panic!("{source}: not a payload")
        };
        assert_eq!(p.tasks.len(), 1, "{source}");
        let t = &p.tasks[0];
        match (task_def(t, POLICY), expected) {
            (Ok(def), Ok(mode)) => assert_eq!(def.network_mode, *mode, "{source}"),
            (Err(e), Err(part)) => assert!(e.reason.contains(part), "{source}: {}", e.reason),
            (got, want) => panic!("{source}: got {got:?}, want {want:?}"),
        }
        assert_eq!(ignored_docker_keys(t), Vec::<String>::new(), "{source}");
    }
}

/// The `HealthCheck` key Amazon ECS sends is Docker's `Healthcheck` field,
/// read with its nanosecond durations (the Go agent's v10 fixture).
#[test]
fn the_health_check_spelling_is_docker_s_field() {
    let c = super::docker_config::parse_config(Some(
        r#"{"HealthCheck":{"Test":["CMD","echo","hello"],"Interval":30000000000,"Timeout":5000000000,"Retries":3}}"#,
    ))
    .unwrap();
    let h = c.health_check.expect("a health check");
    assert_eq!(h.argv(), vec!["echo", "hello"]);
    assert_eq!(h.interval, std::time::Duration::from_secs(30));
    assert_eq!(h.timeout, std::time::Duration::from_secs(5));
    assert_eq!(h.retries, 3);
}
