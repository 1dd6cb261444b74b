//! Task metadata v3/v4 JSON, field for field as the Go agent prints it
//! (agent/handlers/v2 response types, extended by v4). Pure builders from
//! the published views.

use std::collections::BTreeMap;

use serde::Serialize;

use super::gojson::{sorted_map, GoFloat, GoTime};
use crate::observe::metadata_json::{networks_json, NetworkJson, Version};
use crate::observe::names;
use crate::observe::view::{AgentView, ContainerView, HealthView, TaskView};
use crate::task::def::NetworkMode;

/// The Go agent shows container CPU below this many units as this.
const MIN_CPU_UNITS: u32 = 2;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PortJson {
    #[serde(rename = "ContainerPort", skip_serializing_if = "is_zero_u16")]
    pub container_port: u16,
    #[serde(rename = "Protocol", skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    #[serde(rename = "HostPort", skip_serializing_if = "is_zero_u16")]
    pub host_port: u16,
    #[serde(rename = "HostIp", skip_serializing_if = "String::is_empty")]
    pub host_ip: String,
}

fn is_zero_u16(v: &u16) -> bool {
    *v == 0
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VolumeJson {
    #[serde(rename = "DockerName", skip_serializing_if = "String::is_empty")]
    pub docker_name: String,
    #[serde(rename = "Source", skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(rename = "Destination", skip_serializing_if = "String::is_empty")]
    pub destination: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LimitsJson {
    #[serde(rename = "CPU", skip_serializing_if = "Option::is_none")]
    pub cpu: Option<GoFloat>,
    #[serde(rename = "Memory", skip_serializing_if = "Option::is_none")]
    pub memory: Option<i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HealthJson {
    #[serde(rename = "status", skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(rename = "statusSince", skip_serializing_if = "Option::is_none")]
    pub since: Option<GoTime>,
    #[serde(rename = "exitCode", skip_serializing_if = "is_zero_i32")]
    pub exit_code: i32,
    #[serde(rename = "output", skip_serializing_if = "String::is_empty")]
    pub output: String,
}

fn is_zero_i32(v: &i32) -> bool {
    *v == 0
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ContainerJson {
    #[serde(rename = "DockerId")]
    pub docker_id: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "DockerName")]
    pub docker_name: String,
    #[serde(rename = "Image")]
    pub image: String,
    #[serde(rename = "ImageID")]
    pub image_id: String,
    #[serde(rename = "Ports", skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortJson>,
    #[serde(rename = "Labels", skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(rename = "DesiredStatus")]
    pub desired_status: String,
    #[serde(rename = "KnownStatus")]
    pub known_status: String,
    #[serde(rename = "ExitCode", skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(rename = "Limits")]
    pub limits: LimitsJson,
    #[serde(rename = "CreatedAt", skip_serializing_if = "Option::is_none")]
    pub created_at: Option<GoTime>,
    #[serde(rename = "StartedAt", skip_serializing_if = "Option::is_none")]
    pub started_at: Option<GoTime>,
    #[serde(rename = "FinishedAt", skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<GoTime>,
    #[serde(rename = "Type")]
    pub container_type: String,
    #[serde(rename = "Health", skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthJson>,
    #[serde(rename = "Volumes", skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<VolumeJson>,
    #[serde(rename = "LogDriver", skip_serializing_if = "String::is_empty")]
    pub log_driver: String,
    #[serde(rename = "LogOptions", skip_serializing_if = "BTreeMap::is_empty")]
    pub log_options: BTreeMap<String, String>,
    #[serde(rename = "ContainerARN", skip_serializing_if = "String::is_empty")]
    pub container_arn: String,
    #[serde(rename = "Networks", skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<NetworkJson>,
    /// v4 only, for containers with a restart policy (Go:
    /// tmds/handlers/v4/state/response.go `RestartCount`).
    #[serde(rename = "RestartCount", skip_serializing_if = "Option::is_none")]
    pub restart_count: Option<u32>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TaskJson {
    #[serde(rename = "Cluster")]
    pub cluster: String,
    #[serde(rename = "TaskARN")]
    pub task_arn: String,
    #[serde(rename = "Family")]
    pub family: String,
    #[serde(rename = "Revision")]
    pub revision: String,
    #[serde(rename = "DesiredStatus", skip_serializing_if = "String::is_empty")]
    pub desired_status: String,
    #[serde(rename = "KnownStatus")]
    pub known_status: String,
    #[serde(rename = "Limits", skip_serializing_if = "Option::is_none")]
    pub limits: Option<LimitsJson>,
    #[serde(rename = "PullStartedAt", skip_serializing_if = "Option::is_none")]
    pub pull_started_at: Option<GoTime>,
    #[serde(rename = "PullStoppedAt", skip_serializing_if = "Option::is_none")]
    pub pull_stopped_at: Option<GoTime>,
    #[serde(rename = "ExecutionStoppedAt", skip_serializing_if = "Option::is_none")]
    pub execution_stopped_at: Option<GoTime>,
    #[serde(rename = "AvailabilityZone", skip_serializing_if = "String::is_empty")]
    pub availability_zone: String,
    #[serde(rename = "TaskTags", skip_serializing_if = "BTreeMap::is_empty")]
    pub task_tags: BTreeMap<String, String>,
    #[serde(
        rename = "ContainerInstanceTags",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub container_instance_tags: BTreeMap<String, String>,
    #[serde(rename = "LaunchType", skip_serializing_if = "String::is_empty")]
    pub launch_type: String,
    #[serde(rename = "Containers", skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<ContainerJson>,
    #[serde(rename = "VPCID", skip_serializing_if = "String::is_empty")]
    pub vpc_id: String,
    #[serde(rename = "ServiceName", skip_serializing_if = "String::is_empty")]
    pub service_name: String,
    /// v4 always prints it; v3 never.
    #[serde(
        rename = "FaultInjectionEnabled",
        skip_serializing_if = "Option::is_none"
    )]
    pub fault_injection_enabled: Option<bool>,
    /// `/taskWithTags`: tag lookups that failed (the rest is still served).
    #[serde(rename = "Errors", skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ErrorJson>,
}

/// The Go agent's v4 `ErrorResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorJson {
    #[serde(rename = "ErrorField", skip_serializing_if = "String::is_empty")]
    pub error_field: String,
    #[serde(rename = "ErrorCode", skip_serializing_if = "String::is_empty")]
    pub error_code: String,
    #[serde(rename = "ErrorMessage", skip_serializing_if = "String::is_empty")]
    pub error_message: String,
    #[serde(rename = "StatusCode", skip_serializing_if = "is_zero")]
    pub status_code: u16,
    #[serde(rename = "RequestId", skip_serializing_if = "String::is_empty")]
    pub request_id: String,
    #[serde(rename = "ResourceARN", skip_serializing_if = "String::is_empty")]
    pub resource_arn: String,
}

fn is_zero(n: &u16) -> bool {
    *n == 0
}

pub fn health_json(h: &HealthView) -> HealthJson {
    HealthJson {
        status: h.status.clone(),
        since: h.since.map(GoTime),
        exit_code: h.exit_code,
        output: h.output.clone(),
    }
}

pub fn container_json(task: &TaskView, c: &ContainerView, v: Version) -> ContainerJson {
    let awsvpc = task.network_mode == NetworkMode::Awsvpc;
    let v4 = v == Version::V4;
    ContainerJson {
        docker_id: c.runtime_id.clone(),
        name: c.name.clone(),
        docker_name: c.docker_name.clone(),
        image: c.image.clone(),
        image_id: c.image_id.clone(),
        ports: c
            .ports
            .iter()
            .map(|p| PortJson {
                container_port: p.container_port,
                protocol: names::protocol(p.protocol).to_string(),
                host_port: if awsvpc {
                    p.container_port
                } else {
                    p.host_port
                },
                host_ip: if v4 { p.host_ip.clone() } else { String::new() },
            })
            .collect(),
        labels: sorted_map(&c.labels),
        desired_status: names::desired_status(c.desired_status).to_string(),
        known_status: names::container_status(c.known_status).to_string(),
        exit_code: c.exit_code,
        limits: LimitsJson {
            cpu: Some(GoFloat(f64::from(c.cpu.max(MIN_CPU_UNITS)))),
            memory: Some(i64::from(c.memory_mib)),
        },
        created_at: c.created_at.map(GoTime),
        started_at: c.started_at.map(GoTime),
        finished_at: c.finished_at.map(GoTime),
        container_type: if c.container_type.is_empty() {
            "NORMAL".into()
        } else {
            c.container_type.clone()
        },
        health: c.health.as_ref().map(health_json),
        volumes: c
            .volumes
            .iter()
            .map(|vol| VolumeJson {
                docker_name: vol.docker_name.clone(),
                source: vol.source.clone(),
                destination: vol.destination.clone(),
            })
            .collect(),
        log_driver: if v4 {
            c.log_driver.clone()
        } else {
            String::new()
        },
        log_options: if v4 {
            sorted_map(&c.log_options)
        } else {
            BTreeMap::new()
        },
        container_arn: if v4 {
            c.container_arn.clone()
        } else {
            String::new()
        },
        networks: networks_json(task, c, v),
        restart_count: c.restart_count.filter(|_| v4),
    }
}

/// `with_tags`: the `/taskWithTags` variant.
pub fn task_json(agent: &AgentView, task: &TaskView, v: Version, with_tags: bool) -> TaskJson {
    let v4 = v == Version::V4;
    let cpu = task.limits.cpu.filter(|c| *c != 0.0);
    let mem = task.limits.memory.filter(|m| *m != 0);
    TaskJson {
        cluster: agent.cluster.clone(),
        task_arn: task.arn.clone(),
        family: task.family.clone(),
        revision: task.revision.clone(),
        desired_status: names::desired_status(task.desired_status).to_string(),
        known_status: names::task_status(task).to_string(),
        limits: (cpu.is_some() || mem.is_some()).then_some(LimitsJson {
            cpu: cpu.map(GoFloat),
            memory: mem,
        }),
        pull_started_at: task.pull_started_at.map(GoTime),
        pull_stopped_at: task.pull_stopped_at.map(GoTime),
        execution_stopped_at: task.execution_stopped_at.map(GoTime),
        availability_zone: task.availability_zone.clone(),
        task_tags: if with_tags {
            sorted_map(&task.tags)
        } else {
            BTreeMap::new()
        },
        container_instance_tags: if with_tags {
            sorted_map(&agent.container_instance_tags)
        } else {
            BTreeMap::new()
        },
        launch_type: if v4 {
            task.launch_type.clone()
        } else {
            String::new()
        },
        // Containers the runtime has not created yet have no DockerId; the
        // Go agent lists only those it knows a runtime container for.
        containers: task
            .containers
            .iter()
            .filter(|c| !c.runtime_id.is_empty())
            .map(|c| container_json(task, c, v))
            .collect(),
        vpc_id: if v4 {
            agent.vpc_id.clone()
        } else {
            String::new()
        },
        service_name: if v4 {
            task.service_name.clone()
        } else {
            String::new()
        },
        fault_injection_enabled: v4.then_some(false),
        errors: Vec::new(),
    }
}

#[cfg(test)]
mod health_tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    /// The Go agent's tmdsv2.HealthStatus (agent/handlers/v2/response.go
    /// dockerContainerHealthToV2Health): `status` left out while UNKNOWN,
    /// `exitCode` and `output` when set, `statusSince` as Go prints times.
    #[test]
    fn health_is_the_go_agents_shape() {
        let unknown = HealthView::default();
        assert_eq!(
            serde_json::to_value(health_json(&unknown)).unwrap(),
            serde_json::json!({})
        );
        let unhealthy = HealthView {
            status: "UNHEALTHY".into(),
            since: Some(UNIX_EPOCH + Duration::from_millis(1_700_000_000_500)),
            exit_code: 1,
            output: "down\n".into(),
        };
        assert_eq!(
            serde_json::to_value(health_json(&unhealthy)).unwrap(),
            serde_json::json!({"status": "UNHEALTHY", "statusSince": "2023-11-14T22:13:20.5Z",
                               "exitCode": 1, "output": "down\n"})
        );
    }
}
