//! No task from ACS, however malformed, makes validation panic: it is either a
//! `TaskDef` or an `InvalidTask` naming what was wrong. Nor does an image reference.

use super::docker_config::{parse_config, parse_host_config};
use super::from_acs::{task_def, Policy};
use super::image_ref::{parse_reference, ImageRef};
use crate::fuzz_support;
use crate::model::acs;
use crate::model::fuzz_tests::ACS_SEEDS;

/// `dockerConfig.config` / `hostConfig` strings as Amazon ECS fills them (the
/// Go agent's checkpoint fixtures, agent/statemanager/testdata).
const DOCKER_CONFIGS: &[&str] = &[
    "{}",
    r#"{"User":"0"}"#,
    r#"{"HealthCheck":{"Test":["CMD","echo","hello"],"Interval":30000000000,"Timeout":5000000000,"Retries":3}}"#,
    r#"{"Labels":{"com.example":"x"},"User":"1000","WorkingDir":"/srv","Hostname":"h"}"#,
];
const HOST_CONFIGS: &[&str] = &[
    r#"{"CapAdd":[],"CapDrop":[]}"#,
    r#"{"NetworkMode":"bridge","CapAdd":[],"CapDrop":[]}"#,
    r#"{"LogConfig":{"Type":"awsfirelens","Config":{"Name":"cloudwatch"}},"CapAdd":[],"CapDrop":[]}"#,
    r#"{"Ulimits":[{"Name":"nofile","Soft":1024,"Hard":4096}],"MemoryReservation":134217728}"#,
];

#[test]
fn docker_config_strings_never_panic_the_parsers() {
    fuzz_support::json(DOCKER_CONFIGS, |text| {
        let _ = parse_config(Some(text));
    });
    fuzz_support::json(HOST_CONFIGS, |text| {
        let _ = parse_host_config(Some(text));
    });
}

/// The tasks of the payload seeds, as JSON: mutating below the envelope
/// reaches validation far more often than mutating whole frames.
fn task_seeds() -> Vec<String> {
    ACS_SEEDS
        .iter()
        .filter_map(|s| serde_json::from_str::<serde_json::Value>(s).ok())
        .filter(|v| v["type"] == "PayloadMessage")
        .flat_map(|v| {
            v["message"]["tasks"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|t| t.to_string())
        .collect()
}

#[test]
fn acs_tasks_never_panic_validation() {
    let policies = [
        Policy::default(),
        Policy {
            disable_privileged: true,
            allow_eni: true,
            apparmor: true,
            disable_health_check: true,
        },
    ];
    let seeds = task_seeds();
    let seeds: Vec<&str> = seeds.iter().map(String::as_str).collect();
    assert!(!seeds.is_empty());
    fuzz_support::json(&seeds, |text| {
        if let Ok(t) = serde_json::from_str::<acs::Task>(text) {
            for policy in &policies {
                let _ = task_def(&t, *policy);
            }
        }
    });
}

/// Image references as task definitions write them.
const REFERENCES: &[&str] = &[
    "busybox",
    "library/busybox:latest",
    "Registry.Example.com:5000/team/app:v1.2",
    "127.0.0.1:5001/busybox@sha256:56b2c5f18527289468fb1f39cca97ce9cfa7c2864ee1021c755a9ef1fbd63f1b",
    "123456789012.dkr.ecr.us-west-2.amazonaws.com/app:latest@sha256:56b2c5f18527289468fb1f39cca97ce9cfa7c2864ee1021c755a9ef1fbd63f1b",
    "localhost/a/b/c:tag",
    "[::1]:5000/app",
];

#[test]
fn image_references_never_panic_the_parser() {
    fuzz_support::strings(REFERENCES, |text| {
        if let Ok(r) = parse_reference(text) {
            let _ = (r.registry_host(), r.registry(), r.repository(), r.object());
        }
        let _ = ImageRef::parse(text);
    });
}
