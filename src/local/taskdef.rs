//! The typed view of a registered task definition: what placement and the
//! ACS payload need, validated at RegisterTaskDefinition with errors that name
//! the field. The definition itself is stored (and echoed back) verbatim.

use super::error::ApiError;
use crate::model::acs;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TaskDefView {
    pub family: String,
    pub network_mode: Option<String>,
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub task_role_arn: Option<String>,
    pub execution_role_arn: Option<String>,
    pub pid_mode: Option<String>,
    pub ipc_mode: Option<String>,
    pub container_definitions: Vec<ContainerDef>,
    pub volumes: Vec<VolumeDef>,
    pub proxy_configuration: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct KeyValue {
    pub name: Option<String>,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PortMappingDef {
    pub container_port: Option<i64>,
    pub host_port: Option<i64>,
    pub protocol: Option<String>,
    pub container_port_range: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DependsOnDef {
    pub container_name: Option<String>,
    pub condition: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UlimitDef {
    pub name: Option<String>,
    pub soft_limit: Option<i64>,
    pub hard_limit: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LogConfigurationDef {
    pub log_driver: Option<String>,
    pub options: BTreeMap<String, String>,
    pub secret_options: Vec<SecretDef>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EnvironmentFileDef {
    pub value: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FirelensConfigurationDef {
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RestartPolicyDef {
    pub enabled: Option<bool>,
    pub ignored_exit_codes: Vec<i64>,
    pub restart_attempt_period: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CapabilitiesDef {
    pub add: Vec<String>,
    pub drop: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeviceDef {
    pub host_path: Option<String>,
    pub container_path: Option<String>,
    pub permissions: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TmpfsDef {
    pub container_path: Option<String>,
    pub size: Option<i64>,
    pub mount_options: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LinuxParametersDef {
    pub capabilities: Option<CapabilitiesDef>,
    pub devices: Vec<DeviceDef>,
    pub init_process_enabled: Option<bool>,
    pub shared_memory_size: Option<i64>,
    pub tmpfs: Vec<TmpfsDef>,
    pub max_swap: Option<i64>,
    pub swappiness: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HostEntryDef {
    pub hostname: Option<String>,
    pub ip_address: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HealthCheckDef {
    pub command: Vec<String>,
    pub interval: Option<i64>,
    pub timeout: Option<i64>,
    pub retries: Option<i64>,
    pub start_period: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SecretDef {
    pub name: Option<String>,
    pub value_from: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RepositoryCredentialsDef {
    pub credentials_parameter: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerDef {
    pub name: Option<String>,
    pub image: Option<String>,
    pub cpu: Option<i64>,
    pub memory: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub essential: Option<bool>,
    pub entry_point: Vec<String>,
    pub command: Vec<String>,
    pub environment: Vec<KeyValue>,
    pub port_mappings: Vec<PortMappingDef>,
    pub depends_on: Vec<DependsOnDef>,
    pub links: Vec<String>,
    pub mount_points: Vec<acs::MountPoint>,
    pub volumes_from: Vec<acs::VolumeFrom>,
    pub start_timeout: Option<i64>,
    pub stop_timeout: Option<i64>,
    pub privileged: Option<bool>,
    pub docker_labels: BTreeMap<String, String>,
    pub user: Option<String>,
    pub working_directory: Option<String>,
    pub hostname: Option<String>,
    pub ulimits: Vec<UlimitDef>,
    pub readonly_root_filesystem: Option<bool>,
    pub log_configuration: Option<LogConfigurationDef>,
    pub linux_parameters: Option<LinuxParametersDef>,
    pub dns_servers: Vec<String>,
    pub dns_search_domains: Vec<String>,
    pub extra_hosts: Vec<HostEntryDef>,
    pub docker_security_options: Vec<String>,
    pub disable_networking: Option<bool>,
    pub interactive: Option<bool>,
    pub pseudo_terminal: Option<bool>,
    pub health_check: Option<HealthCheckDef>,
    pub system_controls: Vec<KeyValueSysctl>,
    pub secrets: Vec<SecretDef>,
    pub repository_credentials: Option<RepositoryCredentialsDef>,
    pub environment_files: Vec<EnvironmentFileDef>,
    pub firelens_configuration: Option<FirelensConfigurationDef>,
    pub restart_policy: Option<RestartPolicyDef>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct KeyValueSysctl {
    pub namespace: Option<String>,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VolumeDef {
    pub name: Option<String>,
    pub host: Option<acs::HostVolumeProperties>,
    pub docker_volume_configuration: Option<acs::DockerVolumeConfiguration>,
    pub efs_volume_configuration: Option<acs::EfsVolumeConfiguration>,
}

/// Parses a stored or submitted definition, naming the JSON path on failure.
pub fn view(def: &serde_json::Map<String, serde_json::Value>) -> Result<TaskDefView, ApiError> {
    serde_path_to_error::deserialize(serde_json::Value::Object(def.clone()))
        .map_err(|e| ApiError::client(format!("Invalid value at '{}': {}", e.path(), e.inner())))
}

/// Parses a stored body (the JSON of a registered definition) straight into
/// the view, without building a JSON tree first.
pub fn view_of_body(body: &[u8]) -> Result<TaskDefView, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de)
        .map_err(|e| ApiError::client(format!("Invalid value at '{}': {}", e.path(), e.inner())))
}

fn valid_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Amazon ECS's quotas (service quotas page, "Amazon ECS"): at most 10
/// containers per task definition, and 64 KiB for the task definition.
pub const MAX_CONTAINERS: usize = 10;
pub const MAX_DEFINITION_BYTES: usize = 64 * 1024;

/// ECS's limits on a submitted definition, checked before anything parses
/// it: the container count in O(1), then its size (linear, and the body is
/// already bounded), then the documented per-field limits
/// (`taskdef_limits`). The size message is the text Amazon ECS returns; the
/// container message is ours (ECS's exact text for it is not documented).
pub fn check_limits(def: &serde_json::Map<String, serde_json::Value>) -> Result<(), ApiError> {
    let n = def
        .get("containerDefinitions")
        .and_then(serde_json::Value::as_array)
        .map_or(0, Vec::len);
    if n > MAX_CONTAINERS {
        return Err(ApiError::client(format!(
            "Too many containers: {n} given; a task definition can have at most {MAX_CONTAINERS} containerDefinitions."
        )));
    }
    let len = serde_json::to_string(def).map_or(usize::MAX, |s| s.len());
    if len > MAX_DEFINITION_BYTES {
        return Err(ApiError::client(format!(
            "Actual length: '{len}'. Max allowed length is '{MAX_DEFINITION_BYTES}' bytes."
        )));
    }
    super::taskdef_limits::check(def)
}

/// The largest value ECS takes for a container's cpu, memory and
/// memoryReservation: they are `Integer` (32-bit) in the ECS API model.
pub const MAX_CONTAINER_VALUE: i64 = i32::MAX as i64;

const NETWORK_MODES: [&str; 4] = ["bridge", "host", "awsvpc", "none"];
const CONDITIONS: [&str; 4] = ["START", "COMPLETE", "SUCCESS", "HEALTHY"];

/// ECS's checks at registration (EC2 launch type).
pub fn validate(v: &TaskDefView) -> Result<(), ApiError> {
    if !valid_name(&v.family, 255) {
        return Err(ApiError::client(format!(
            "Invalid family {:?}: up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores are allowed.",
            v.family
        )));
    }
    if let Some(mode) = &v.network_mode {
        if !NETWORK_MODES.contains(&mode.as_str()) {
            return Err(ApiError::client(format!(
                "Invalid networkMode {mode:?}: must be one of bridge, host, awsvpc, none."
            )));
        }
    }
    let task_cpu = v
        .cpu
        .as_deref()
        .map(|c| parse_cpu(c).ok_or_else(|| ApiError::client(format!("Invalid 'cpu' setting for task: {c:?} is neither CPU units (\"256\") nor vCPUs (\"0.25 vCPU\")."))))
        .transpose()?;
    let task_mem = v
        .memory
        .as_deref()
        .map(|m| parse_memory(m).ok_or_else(|| ApiError::client(format!("Invalid 'memory' setting for task: {m:?} is neither MiB (\"512\") nor GB (\"1 GB\")."))))
        .transpose()?;
    let _ = task_cpu;
    if v.container_definitions.is_empty() {
        return Err(ApiError::client(
            "containerDefinitions must contain at least one container definition.",
        ));
    }
    // Sets, so that validation stays linear in the number of containers
    // (the debug route that skips the limits registers 18,000 of them).
    let all_names: std::collections::HashSet<&str> = v
        .container_definitions
        .iter()
        .filter_map(|c| c.name.as_deref())
        .collect();
    let mut names = std::collections::HashSet::new();
    for (i, c) in v.container_definitions.iter().enumerate() {
        let name = c.name.clone().unwrap_or_default();
        if !valid_name(&name, 255) {
            return Err(ApiError::client(format!(
                "Invalid containerDefinitions[{i}].name {name:?}: up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores are allowed."
            )));
        }
        if !names.insert(name.clone()) {
            return Err(ApiError::client(format!(
                "Duplicate container name {name:?} in containerDefinitions[{i}].name."
            )));
        }
        if c.image.as_deref().unwrap_or("").trim().is_empty() {
            return Err(ApiError::client(format!(
                "Container.image should not be null or empty (containerDefinitions[{i}].image of container '{name}')."
            )));
        }
        if c.memory.is_none() && c.memory_reservation.is_none() && task_mem.is_none() {
            return Err(ApiError::client(format!(
                "Invalid setting for container '{name}'. At least one of 'memory' or 'memoryReservation' must be specified."
            )));
        }
        for (field, value) in [
            ("memory", c.memory),
            ("memoryReservation", c.memory_reservation),
        ] {
            if let Some(m) = value {
                if m < 6 {
                    return Err(ApiError::client(format!(
                        "Invalid '{field}' setting for container '{name}'. The minimum is 6 MiB (got {m})."
                    )));
                }
            }
        }
        if let (Some(hard), Some(soft)) = (c.memory, c.memory_reservation) {
            if hard < soft {
                return Err(ApiError::client(format!(
                    "Invalid setting for container '{name}'. 'memory' ({hard}) must be greater than or equal to 'memoryReservation' ({soft})."
                )));
            }
        }
        if let Some(cpu) = c.cpu {
            if cpu < 0 {
                return Err(ApiError::client(format!(
                    "Invalid 'cpu' setting for container '{name}': must not be negative."
                )));
            }
        }
        // cpu, memory and memoryReservation are `Integer` (32-bit) in the ECS
        // API model; a larger value is out of range, not a huge reservation.
        for (field, value) in [
            ("cpu", c.cpu),
            ("memory", c.memory),
            ("memoryReservation", c.memory_reservation),
        ] {
            if let Some(n) = value.filter(|n| *n > MAX_CONTAINER_VALUE) {
                return Err(ApiError::client(format!(
                    "Invalid '{field}' setting for container '{name}': {n} is out of range (at most {MAX_CONTAINER_VALUE})."
                )));
            }
        }
        for (j, p) in c.port_mappings.iter().enumerate() {
            let field = format!("containerDefinitions[{i}].portMappings[{j}]");
            let Some(cp) = p.container_port else {
                if p.container_port_range.is_some() {
                    continue;
                }
                return Err(ApiError::client(format!(
                    "{field}.containerPort is required (container '{name}')."
                )));
            };
            if !(1..=65535).contains(&cp) {
                return Err(ApiError::client(format!(
                    "Invalid {field}.containerPort {cp}: must be between 1 and 65535."
                )));
            }
            if let Some(hp) = p.host_port {
                if !(0..=65535).contains(&hp) {
                    return Err(ApiError::client(format!(
                        "Invalid {field}.hostPort {hp}: must be between 0 and 65535."
                    )));
                }
                let mode = v.network_mode.as_deref().unwrap_or("bridge");
                if (mode == "host" || mode == "awsvpc") && hp != 0 && hp != cp {
                    return Err(ApiError::client(format!(
                        "When networkMode={mode}, {field}.hostPort ({hp}) must either be blank or match containerPort ({cp})."
                    )));
                }
            }
            if let Some(proto) = &p.protocol {
                if proto != "tcp" && proto != "udp" {
                    return Err(ApiError::client(format!(
                        "Invalid {field}.protocol {proto:?}: must be tcp or udp."
                    )));
                }
            }
        }
        for (j, d) in c.depends_on.iter().enumerate() {
            let field = format!("containerDefinitions[{i}].dependsOn[{j}]");
            let target = d.container_name.as_deref().unwrap_or("");
            if !all_names.contains(target) || target == name {
                return Err(ApiError::client(format!(
                    "{field}.containerName {target:?} does not name another container in this task definition."
                )));
            }
            let cond = d.condition.as_deref().unwrap_or("");
            if !CONDITIONS.contains(&cond) {
                return Err(ApiError::client(format!(
                    "Invalid {field}.condition {cond:?}: must be one of START, COMPLETE, SUCCESS, HEALTHY."
                )));
            }
        }
    }
    if !v
        .container_definitions
        .iter()
        .any(|c| c.essential.unwrap_or(true))
    {
        return Err(ApiError::client(
            "Task definition does not have any essential container.",
        ));
    }
    Ok(())
}

/// CPU units from "256", "256 cpu", "0.25 vCPU" or "1 vcpu".
pub fn parse_cpu(s: &str) -> Option<i64> {
    let t = s.trim().to_ascii_lowercase();
    if let Some(n) = t.strip_suffix("vcpu") {
        let v: f64 = n.trim().parse().ok()?;
        return in_range((v * 1024.0).round());
    }
    let n = t.strip_suffix("cpu").unwrap_or(&t).trim();
    n.parse::<i64>()
        .ok()
        .filter(|v| (0..=MAX_TASK_VALUE).contains(v))
}

/// Task-level cpu and memory are strings in the ECS API, but ECS stores them
/// as 32-bit integers: larger values (and "inf vCPU") are invalid settings,
/// never saturated or wrapped.
const MAX_TASK_VALUE: i64 = i32::MAX as i64;

fn in_range(v: f64) -> Option<i64> {
    (v >= 0.0 && v <= MAX_TASK_VALUE as f64).then_some(v as i64)
}

/// MiB from "512", "512 MiB", "1 GB" or "2gb".
pub fn parse_memory(s: &str) -> Option<i64> {
    let t = s.trim().to_ascii_lowercase();
    if let Some(n) = t.strip_suffix("gb") {
        let v: f64 = n.trim().parse().ok()?;
        return in_range((v * 1024.0).round());
    }
    let n = t
        .strip_suffix("mib")
        .or_else(|| t.strip_suffix("mb"))
        .unwrap_or(&t)
        .trim();
    n.parse::<i64>()
        .ok()
        .filter(|v| (0..=MAX_TASK_VALUE).contains(v))
}

#[cfg(test)]
#[path = "taskdef_tests.rs"]
mod tests;
