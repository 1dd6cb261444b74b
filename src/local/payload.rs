//! Builds the ACS `Task` an agent receives for a placed task, shaped as Amazon
//! ECS sends it: container fields, environment as a map, Docker create options
//! carried as JSON strings in `dockerConfig`. Pure.

use super::enis::acs_eni;
use super::overrides::{effective_containers, task_cpu_memory, TaskOverride};
use super::state::{TaskRec, ACCOUNT_ID};
use super::taskdef::{ContainerDef, TaskDefView};
use crate::model::acs;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Docker remote API version of a dockerConfig that uses no newer feature:
/// what Amazon ECS sends most often (the Go agent's checkpoint fixtures,
/// agent/statemanager/testdata, e.g. v14, v17, v20, v28).
pub const DOCKER_CONFIG_VERSION: &str = "1.17";

const MIB: i64 = 1024 * 1024;
const NANOS_PER_SEC: i64 = 1_000_000_000;

pub fn build_task(
    task: &TaskRec,
    family: &str,
    revision: i64,
    v: &TaskDefView,
    region: &str,
    ecr: &super::ecr::EcrRegistries,
) -> acs::Task {
    let ov: TaskOverride = serde_json::from_value(task.overrides.clone()).unwrap_or_default();
    let (cpu, memory) = task_cpu_memory(v, &ov);
    let containers = effective_containers(v, &ov)
        .iter()
        .map(|c| {
            let arn = task
                .containers
                .iter()
                .find(|r| Some(&r.name) == c.name.as_ref())
                .map(|r| r.container_arn.clone());
            build_container(
                c,
                v,
                arn,
                ov.container_overrides
                    .iter()
                    .find(|o| o.name == c.name)
                    .and_then(|o| o.command.clone()),
                region,
                ecr,
                task.arn.rsplit('/').next().unwrap_or_default(),
            )
        })
        .collect();
    acs::Task {
        arn: Some(task.arn.clone()),
        task_cluster_arn: Some(task.cluster_arn.clone()),
        family: Some(family.to_string()),
        version: Some(revision.to_string()),
        desired_status: Some(task.desired_status.clone()),
        task_definition_account_id: Some(ACCOUNT_ID.to_string()),
        launch_type: Some("EC2".to_string()),
        network_mode: Some(
            v.network_mode
                .clone()
                .unwrap_or_else(|| "bridge".to_string()),
        ),
        cpu: cpu.map(|c| c as f64 / 1024.0),
        memory,
        pid_mode: v.pid_mode.clone(),
        ipc_mode: v.ipc_mode.clone(),
        volumes: v.volumes.iter().map(build_volume).collect(),
        containers,
        role_credentials: task
            .role_credentials
            .as_ref()
            .map(|c| c.credentials.clone()),
        execution_role_credentials: task
            .execution_role_credentials
            .as_ref()
            .map(|c| c.credentials.clone()),
        elastic_network_interfaces: task.eni.iter().map(acs_eni).collect(),
        ..Default::default()
    }
}

fn build_volume(d: &super::taskdef::VolumeDef) -> acs::Volume {
    let kind = if d.docker_volume_configuration.is_some() {
        "docker"
    } else if d.efs_volume_configuration.is_some() {
        "efs"
    } else {
        "host"
    };
    acs::Volume {
        name: d.name.clone(),
        kind: Some(kind.to_string()),
        // A name-only volume is a host volume with an empty `host`: the Go
        // agent (taskvolume.go:unmarshalHostVolume) refuses a host volume
        // without the key, so Amazon ECS sends `"host": {}`.
        host: d
            .host
            .clone()
            .or_else(|| (kind == "host").then(acs::HostVolumeProperties::default)),
        docker_volume_configuration: d.docker_volume_configuration.clone(),
        efs_volume_configuration: d.efs_volume_configuration.clone(),
        ..Default::default()
    }
}

fn build_container(
    c: &ContainerDef,
    v: &TaskDefView,
    arn: Option<String>,
    command_override: Option<Vec<String>>,
    region: &str,
    ecr: &super::ecr::EcrRegistries,
    task_id: &str,
) -> acs::Container {
    let resolved = awslogs_stream_resolved(c, task_id);
    let c = &resolved;
    let has_exec_role = v
        .execution_role_arn
        .as_deref()
        .is_some_and(|s| !s.trim().is_empty());
    let environment: BTreeMap<String, String> = c
        .environment
        .iter()
        .filter_map(|kv| Some((kv.name.clone()?, kv.value.clone().unwrap_or_default())))
        .collect();
    let overrides = match &command_override {
        Some(cmd) => json!({ "command": cmd }).to_string(),
        None => "{}".to_string(),
    };
    acs::Container {
        name: c.name.clone(),
        image: c.image.clone(),
        cpu: Some(c.cpu.unwrap_or(0)),
        memory: c.memory,
        essential: Some(c.essential.unwrap_or(true)),
        entry_point: c.entry_point.clone(),
        command: c.command.clone(),
        environment,
        port_mappings: c
            .port_mappings
            .iter()
            .map(|p| acs::PortMapping {
                container_port: p.container_port,
                host_port: Some(p.host_port.unwrap_or(0)),
                container_port_range: p.container_port_range.clone(),
                protocol: Some(p.protocol.clone().unwrap_or_else(|| "tcp".to_string())),
            })
            .collect(),
        links: c.links.clone(),
        mount_points: c.mount_points.clone(),
        volumes_from: c.volumes_from.clone(),
        privileged: Some(c.privileged.unwrap_or(false)),
        depends_on: c
            .depends_on
            .iter()
            .map(|d| acs::ContainerDependency {
                container_name: d.container_name.clone(),
                condition: d.condition.clone(),
            })
            .collect(),
        start_timeout: c.start_timeout,
        stop_timeout: c.stop_timeout,
        container_arn: arn,
        overrides: Some(overrides),
        linux_parameters: c.linux_parameters.as_ref().map(|l| acs::LinuxParameters {
            capabilities: l.capabilities.as_ref().map(|k| acs::KernelCapabilities {
                add: k.add.clone(),
                drop: k.drop.clone(),
            }),
            devices: l
                .devices
                .iter()
                .map(|d| acs::Device {
                    host_path: d.host_path.clone(),
                    container_path: d.container_path.clone(),
                    permissions: d.permissions.clone(),
                })
                .collect(),
            init_process_enabled: l.init_process_enabled,
            shared_memory_size: l.shared_memory_size,
        }),
        health_check_type: c.health_check.as_ref().map(|_| "docker".to_string()),
        // `secrets`, then `logConfiguration.secretOptions` as Amazon ECS
        // sends them: secrets of target LOG_DRIVER without a type (the Go
        // agent's apicontainer.SecretTargetLogDriver and its engine tests'
        // payload secrets; the ACS model's SecretTarget enum).
        secrets: c
            .secrets
            .iter()
            .map(|s| payload_secret(s, region, "CONTAINER"))
            .chain(
                c.log_configuration
                    .iter()
                    .flat_map(|l| l.secret_options.iter())
                    .map(|s| payload_secret(s, region, "LOG_DRIVER")),
            )
            .collect(),
        // As Amazon ECS sends them (the Go agent's v28/environmentFiles
        // checkpoint keeps them as received: `{"type": "s3", "value": ARN}`).
        environment_files: c
            .environment_files
            .iter()
            .map(|f| acs::EnvironmentFile {
                value: f.value.clone(),
                kind: Some(f.kind.clone().unwrap_or_else(|| "s3".to_string())),
            })
            .collect(),
        registry_authentication: registry_auth(c, region, ecr, v.execution_role_arn.is_some()),
        // The ACS model's `AuthStrategy` (ecs-agent/acs/model/api/api-2.json:
        // enum ["ExecutionRole"], absent otherwise): awslogs containers of a
        // task with an execution role, which only instances advertising
        // execution-role-awslogs are given (see requires.rs).
        logs_auth_strategy: c
            .log_configuration
            .as_ref()
            .filter(|l| l.log_driver.as_deref() == Some("awslogs") && has_exec_role)
            .map(|_| "ExecutionRole".to_string()),
        restart_policy: c.restart_policy.as_ref().map(|p| acs::RestartPolicy {
            enabled: p.enabled,
            ignored_exit_codes: p.ignored_exit_codes.clone(),
            restart_attempt_period: p.restart_attempt_period,
        }),
        docker_config: Some(acs::DockerConfig {
            version: Some(docker_api_version(c, v).to_string()),
            config: Some(Value::Object(docker_config(c)).to_string()),
            host_config: Some(Value::Object(docker_host_config(c, v)).to_string()),
        }),
        ..Default::default()
    }
}

/// One secret of the payload: `target` CONTAINER (an environment variable,
/// type ENVIRONMENT_VARIABLE) or LOG_DRIVER (a secretOption, no type).
fn payload_secret(s: &super::taskdef::SecretDef, region: &str, target: &str) -> acs::Secret {
    let value_from = s.value_from.clone().unwrap_or_default();
    let provider = super::requires::secret_provider(&value_from);
    let secret_region = value_from
        .split(':')
        .nth(3)
        .filter(|r| !r.is_empty())
        .unwrap_or(region);
    acs::Secret {
        name: s.name.clone(),
        value_from: Some(value_from.clone()),
        kind: (target == "CONTAINER").then(|| "ENVIRONMENT_VARIABLE".to_string()),
        provider: Some(provider.to_string()),
        region: Some(secret_region.to_string()),
        target: Some(target.to_string()),
        ..Default::default()
    }
}

/// `awslogs-stream-prefix` becomes `awslogs-stream: prefix/container-name/task-id`,
/// the stream Amazon ECS documents for it. Sent resolved because the Go
/// agent hands LogConfig to Docker unchanged and Docker's awslogs driver
/// knows no `awslogs-stream-prefix` option (it would refuse it), so the
/// payload Amazon ECS sends can only carry the resolved stream.
fn awslogs_stream_resolved(c: &ContainerDef, task_id: &str) -> ContainerDef {
    let mut c = c.clone();
    if let Some(l) = c.log_configuration.as_mut() {
        if l.log_driver.as_deref() == Some("awslogs") {
            if let Some(prefix) = l.options.remove("awslogs-stream-prefix") {
                l.options.insert(
                    "awslogs-stream".into(),
                    format!(
                        "{prefix}/{}/{task_id}",
                        c.name.as_deref().unwrap_or_default()
                    ),
                );
            }
        }
    }
    c
}

/// `repositoryCredentials` (type asm) or a private ECR image (type ecr).
fn registry_auth(
    c: &ContainerDef,
    region: &str,
    ecr: &super::ecr::EcrRegistries,
    execution_role: bool,
) -> Option<acs::RegistryAuthenticationData> {
    if let Some(param) = c
        .repository_credentials
        .as_ref()
        .and_then(|r| r.credentials_parameter.clone())
    {
        let r = param
            .split(':')
            .nth(3)
            .filter(|r| !r.is_empty())
            .unwrap_or(region)
            .to_string();
        return Some(acs::RegistryAuthenticationData {
            kind: Some("asm".to_string()),
            asm_auth_data: Some(acs::AsmAuthData {
                credentials_parameter: Some(param),
                region: Some(r),
            }),
            ..Default::default()
        });
    }
    super::ecr::registry_auth(c.image.as_deref()?, region, ecr, execution_role)
}

/// The Docker remote API version a container's dockerConfig is written for,
/// as Amazon ECS picks it: the newest that one of its features needs. Levels
/// seen in the Go agent's checkpoint fixtures (agent/statemanager/testdata):
/// 1.18 awsvpc (v11/task-networking), 1.19 a LogConfig (v23/firelens,
/// v24/firelens), 1.24 a health check (v10/container-health-check), 1.25 EFS
/// (v27/efs); and the levels ECS requires of instances for a feature
/// (`docker-remote-api.1.N` in requiresAttributes): 1.21 memoryReservation,
/// 1.25 initProcessEnabled, sharedMemorySize and tmpfs.
fn docker_api_version(c: &ContainerDef, v: &TaskDefView) -> &'static str {
    let linux = c.linux_parameters.as_ref();
    let levels = [
        (v.network_mode.as_deref() == Some("awsvpc"), "1.18"),
        (c.log_configuration.is_some(), "1.19"),
        (c.memory_reservation.is_some(), "1.21"),
        (c.health_check.is_some(), "1.24"),
        (
            v.volumes
                .iter()
                .any(|d| d.efs_volume_configuration.is_some()),
            "1.25",
        ),
        (
            linux.is_some_and(|l| {
                l.init_process_enabled.is_some()
                    || l.shared_memory_size.is_some()
                    || !l.tmpfs.is_empty()
            }),
            "1.25",
        ),
    ];
    levels
        .iter()
        .filter(|(used, _)| *used)
        .map(|(_, level)| *level)
        .max_by_key(|level| level.split('.').nth(1).and_then(|m| m.parse::<u32>().ok()))
        .unwrap_or(DOCKER_CONFIG_VERSION)
}

/// Docker create `Config` fields ECS carries in dockerConfig.config.
fn docker_config(c: &ContainerDef) -> Map<String, Value> {
    let mut m = Map::new();
    if !c.docker_labels.is_empty() {
        m.insert("Labels".into(), json!(c.docker_labels));
    }
    if let Some(u) = &c.user {
        m.insert("User".into(), json!(u));
    }
    if let Some(w) = &c.working_directory {
        m.insert("WorkingDir".into(), json!(w));
    }
    if let Some(h) = &c.hostname {
        m.insert("Hostname".into(), json!(h));
    }
    if let Some(d) = c.disable_networking {
        m.insert("NetworkDisabled".into(), json!(d));
    }
    if let Some(t) = c.pseudo_terminal {
        m.insert("Tty".into(), json!(t));
    }
    if let Some(i) = c.interactive {
        m.insert("OpenStdin".into(), json!(i));
    }
    if let Some(h) = &c.health_check {
        // ECS task definitions give seconds; Docker wants nanoseconds.
        let secs = |v: Option<i64>, default: i64| v.unwrap_or(default) * NANOS_PER_SEC;
        // Spelled as Amazon ECS spells it (the Go agent's fixture
        // v10/container-health-check), not as Docker's struct does
        // (`Healthcheck`); Go's decoder matches either.
        let mut check = json!({
            "Test": h.command,
            "Interval": secs(h.interval, 30),
            "Timeout": secs(h.timeout, 5),
            "Retries": h.retries.unwrap_or(3),
        });
        if let Some(p) = h.start_period {
            check["StartPeriod"] = json!(p * NANOS_PER_SEC);
        }
        m.insert("HealthCheck".into(), check);
    }
    m
}

/// Docker `HostConfig` fields ECS carries in dockerConfig.hostConfig. As in
/// every payload the Go agent's fixtures keep, `CapAdd` and `CapDrop` are
/// always there (empty unless linuxParameters.capabilities says otherwise),
/// and a network mode the task definition names is repeated as `NetworkMode`
/// (v13/1 and v23/firelens: bridge; v11/task-networking and v27/efs: awsvpc).
fn docker_host_config(c: &ContainerDef, v: &TaskDefView) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(mode) = v.network_mode.as_deref().filter(|m| !m.is_empty()) {
        m.insert("NetworkMode".into(), json!(mode));
    }
    m.insert("CapAdd".into(), json!([]));
    m.insert("CapDrop".into(), json!([]));
    if !c.ulimits.is_empty() {
        let u: Vec<Value> = c
            .ulimits
            .iter()
            .map(|u| json!({"Name": u.name, "Soft": u.soft_limit, "Hard": u.hard_limit}))
            .collect();
        m.insert("Ulimits".into(), Value::Array(u));
    }
    if let Some(r) = c.readonly_root_filesystem {
        m.insert("ReadonlyRootfs".into(), json!(r));
    }
    if let Some(r) = c.memory_reservation {
        m.insert("MemoryReservation".into(), json!(r * MIB));
    }
    if let Some(l) = &c.log_configuration {
        m.insert(
            "LogConfig".into(),
            json!({"Type": l.log_driver, "Config": l.options}),
        );
    }
    if !c.dns_servers.is_empty() {
        m.insert("Dns".into(), json!(c.dns_servers));
    }
    if !c.dns_search_domains.is_empty() {
        m.insert("DnsSearch".into(), json!(c.dns_search_domains));
    }
    if !c.extra_hosts.is_empty() {
        let hosts: Vec<String> = c
            .extra_hosts
            .iter()
            .map(|h| {
                format!(
                    "{}:{}",
                    h.hostname.as_deref().unwrap_or(""),
                    h.ip_address.as_deref().unwrap_or("")
                )
            })
            .collect();
        m.insert("ExtraHosts".into(), json!(hosts));
    }
    if !c.docker_security_options.is_empty() {
        m.insert("SecurityOpt".into(), json!(c.docker_security_options));
    }
    if !c.system_controls.is_empty() {
        let s: BTreeMap<String, String> = c
            .system_controls
            .iter()
            .filter_map(|s| Some((s.namespace.clone()?, s.value.clone().unwrap_or_default())))
            .collect();
        m.insert("Sysctls".into(), json!(s));
    }
    if let Some(l) = &c.linux_parameters {
        if let Some(k) = &l.capabilities {
            if !k.add.is_empty() {
                m.insert("CapAdd".into(), json!(k.add));
            }
            if !k.drop.is_empty() {
                m.insert("CapDrop".into(), json!(k.drop));
            }
        }
        if !l.devices.is_empty() {
            let d: Vec<Value> = l
                .devices
                .iter()
                .map(|d| {
                    let perms = if d.permissions.is_empty() {
                        "rwm".to_string()
                    } else {
                        d.permissions
                            .iter()
                            .filter_map(|p| p.chars().next())
                            .collect()
                    };
                    json!({
                        "PathOnHost": d.host_path,
                        "PathInContainer": d.container_path.clone().or_else(|| d.host_path.clone()),
                        "CgroupPermissions": perms,
                    })
                })
                .collect();
            m.insert("Devices".into(), Value::Array(d));
        }
        if let Some(i) = l.init_process_enabled {
            m.insert("Init".into(), json!(i));
        }
        if let Some(s) = l.shared_memory_size {
            m.insert("ShmSize".into(), json!(s * MIB));
        }
        if !l.tmpfs.is_empty() {
            let t: BTreeMap<String, String> = l
                .tmpfs
                .iter()
                .filter_map(|t| {
                    let mut opts = vec![format!("size={}m", t.size.unwrap_or(0))];
                    opts.extend(t.mount_options.iter().cloned());
                    Some((t.container_path.clone()?, opts.join(",")))
                })
                .collect();
            m.insert("Tmpfs".into(), json!(t));
        }
        if let Some(s) = l.max_swap {
            let hard = c.memory.unwrap_or(0);
            m.insert("MemorySwap".into(), json!((hard + s) * MIB));
        }
        if let Some(s) = l.swappiness {
            m.insert("MemorySwappiness".into(), json!(s));
        }
    }
    m
}

#[cfg(test)]
#[path = "payload_tests.rs"]
mod tests;
