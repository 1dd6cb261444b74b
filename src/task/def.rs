//! A task and its containers as the agent runs them: validated, typed values
//! built from the ACS payload (see `from_acs`).

use std::collections::BTreeMap;
use std::time::Duration;

use super::container::Ulimit;
use super::image_ref::ImageRef;

/// When a dependency counts as met (`dependsOn[].condition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Condition {
    /// The dependency has started.
    Start,
    /// The dependency ran to completion, whatever its exit code.
    Complete,
    /// The dependency exited with code 0.
    Success,
    /// The dependency's health check passed (its health is HEALTHY).
    Healthy,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Dependency {
    pub container: String,
    pub condition: Condition,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    /// As ECS and iptables spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PortMapping {
    pub container_port: u16,
    /// `None` means "pick one" (dynamic) in bridge mode.
    pub host_port: Option<u16>,
    pub protocol: Protocol,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ContainerDef {
    pub name: String,
    /// Parsed once, by `from_acs`; checkpointed as written.
    pub image: ImageRef,
    pub essential: bool,
    pub entry_point: Option<Vec<String>>,
    pub command: Option<Vec<String>>,
    pub environment: BTreeMap<String, String>,
    pub working_directory: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    /// CPU units (1024 = one core).
    pub cpu: u32,
    pub memory_mib: Option<u32>,
    pub memory_reservation_mib: Option<u32>,
    pub privileged: bool,
    pub readonly_rootfs: bool,
    pub ulimits: Vec<Ulimit>,
    pub labels: BTreeMap<String, String>,
    pub depends_on: Vec<Dependency>,
    pub stop_timeout: Option<Duration>,
    pub start_timeout: Option<Duration>,
    pub port_mappings: Vec<PortMapping>,
    pub container_arn: Option<String>,
    /// linuxParameters, systemControls, dockerSecurityOptions, pid/ipc mode.
    #[serde(default)]
    pub linux: super::linux::LinuxOptions,
    #[serde(default)]
    pub mount_points: Vec<super::volumes::MountPoint>,
    #[serde(default)]
    pub volumes_from: Vec<super::volumes::VolumesFrom>,
    /// dnsServers, dnsSearchDomains, extraHosts, links, disableNetworking.
    #[serde(default)]
    pub net: super::netdef::NetOptions,
    /// pseudoTerminal: the process runs on a terminal from the shim.
    #[serde(default)]
    pub tty: bool,
    /// `healthCheckType: "docker"` with `dockerConfig.config.HealthCheck`.
    #[serde(default)]
    pub health_check: Option<super::health::HealthCheck>,
    /// `restartPolicy` when `enabled`.
    #[serde(default)]
    pub restart_policy: Option<RestartPolicy>,
    /// `secrets` and `environmentFiles`: references only, fetched with the
    /// execution role when the container is created.
    #[serde(default)]
    pub aws: AwsInputs,
    /// `logConfiguration`: json-file (also with none sent) or none. A
    /// checkpoint from before it was kept reads as json-file.
    #[serde(default)]
    pub log: super::log_driver::LogDriver,
}

/// What a container takes from AWS before it is created (see `resources`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AwsInputs {
    pub secrets: Vec<super::resources::SecretRef>,
    pub env_files: Vec<super::resources::EnvFileRef>,
    /// `registryAuthentication` (`repositoryCredentials`): the pull's
    /// credentials, fetched before the pull.
    #[serde(default)]
    pub registry_auth: Option<super::resources::AsmRegistryAuth>,
    /// `registryAuthentication` of type ecr: the pull asks ECR for a token.
    #[serde(default)]
    pub ecr_auth: Option<super::resources::EcrRegistryAuth>,
}

impl AwsInputs {
    /// Nothing to fetch before the container is created (secrets, files).
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty() && self.env_files.is_empty()
    }
}

/// A container's `restartPolicy` (the Go agent's `restart.RestartPolicy`):
/// restart it in place after an exit unless its code is one of
/// `ignored_exit_codes` or it has run less than `attempt_period` since it
/// started or last restarted.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct RestartPolicy {
    pub ignored_exit_codes: Vec<i32>,
    pub attempt_period: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum NetworkMode {
    Host,
    /// One namespace per container on the agent's bridge, with port mappings.
    Bridge,
    /// One namespace per task, shared by its containers.
    Awsvpc,
    /// One namespace per task with only loopback.
    None,
}

impl NetworkMode {
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkMode::Host => "host",
            NetworkMode::Bridge => "bridge",
            NetworkMode::Awsvpc => "awsvpc",
            NetworkMode::None => "none",
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TaskDef {
    pub arn: String,
    pub family: String,
    pub version: String,
    pub network_mode: NetworkMode,
    pub containers: Vec<ContainerDef>,
    /// awsvpc: the ENI from the payload, moved into the task's namespace.
    #[serde(default)]
    pub eni: Option<super::net::Eni>,
    /// The ENI's attachment ARN (task metadata shows it).
    #[serde(default)]
    pub eni_attachment_arn: Option<String>,
    /// Id of the task role's credentials (the secret parts are never
    /// checkpointed: they live in the credentials store only).
    #[serde(default)]
    pub credentials_id: Option<String>,
    #[serde(default)]
    pub execution_credentials_id: Option<String>,
    /// Task-level `cpu` and `memory` (task metadata `Limits`).
    #[serde(default)]
    pub limits: TaskLimits,
    /// The task's `volumes` (checkpointed with the task: a restart finds
    /// the same volumes at the same places).
    #[serde(default)]
    pub volumes: Vec<super::volumes::TaskVolume>,
}

/// Task-level limits as ACS sends them; `None` when the task sets none.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TaskLimits {
    /// vCPU (ACS carries the task definition's units / 1024).
    pub cpu: Option<f64>,
    pub memory_mib: Option<i64>,
}

/// A host port forwarded to a container (`networkBindings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NetworkBinding {
    pub container_port: u16,
    pub host_port: u16,
    pub protocol: Protocol,
    pub bind_ip: std::net::Ipv4Addr,
}

/// What the network layer gave a container.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ContainerNetwork {
    /// The namespace's address (bridge IP, or the ENI's primary address).
    pub ipv4: Option<std::net::Ipv4Addr>,
    pub bindings: Vec<NetworkBinding>,
    /// Every address the task's traffic may come from (the credentials
    /// endpoint serves the task's credentials only to these).
    #[serde(default)]
    pub sources: Vec<std::net::Ipv4Addr>,
}

#[cfg(test)]
impl TaskDef {
    /// A host-mode task of family `f`, revision 1, with nothing else set,
    /// for tests.
    pub fn minimal(arn: &str, containers: Vec<ContainerDef>) -> TaskDef {
        TaskDef {
            arn: arn.into(),
            family: "f".into(),
            version: "1".into(),
            network_mode: NetworkMode::Host,
            eni: None,
            eni_attachment_arn: None,
            credentials_id: None,
            execution_credentials_id: None,
            limits: Default::default(),
            volumes: Vec::new(),
            containers,
        }
    }
}

#[cfg(test)]
impl ContainerDef {
    /// An essential container with only a name and an image set, for tests.
    pub fn minimal(name: &str, image: &str) -> ContainerDef {
        ContainerDef {
            name: name.into(),
            image: ImageRef::parse(image).expect("a test image reference"),
            essential: true,
            entry_point: None,
            command: None,
            environment: BTreeMap::new(),
            working_directory: None,
            user: None,
            hostname: None,
            cpu: 0,
            memory_mib: None,
            memory_reservation_mib: None,
            privileged: false,
            readonly_rootfs: false,
            ulimits: vec![],
            labels: BTreeMap::new(),
            depends_on: vec![],
            stop_timeout: None,
            start_timeout: None,
            port_mappings: vec![],
            container_arn: None,
            linux: Default::default(),
            mount_points: vec![],
            volumes_from: vec![],
            health_check: None,
            restart_policy: None,
            aws: AwsInputs::default(),
            net: Default::default(),
            tty: false,
            log: Default::default(),
        }
    }
}

impl TaskDef {
    /// The last part of the ARN: `arn:aws:ecs:r:a:task/cluster/ID` -> `ID`.
    pub fn id(&self) -> &str {
        task_id(&self.arn)
    }
}

pub fn task_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_id_is_last_arn_segment() {
        assert_eq!(task_id("arn:aws:ecs:us-east-1:0:task/c/abc123"), "abc123");
        assert_eq!(task_id("arn:aws:ecs:us-east-1:0:task/abc"), "abc");
        assert_eq!(task_id("plain"), "plain");
    }
}
