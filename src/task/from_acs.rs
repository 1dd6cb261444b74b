//! Validation at the boundary: an ACS task becomes a typed `TaskDef`, or a
//! reason that names the field, which the engine reports as the task's
//! stoppedReason.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::Duration;

use crate::model::acs;

use super::def::AwsInputs;
use super::def::{
    Condition, ContainerDef, Dependency, NetworkMode, PortMapping, Protocol, TaskDef, TaskLimits,
};
use super::docker_config::{parse_config, parse_host_config, parse_host_config_with};
use super::image_ref::ImageRef;
use super::limits::{too_many_containers, MAX_CONTAINERS, MAX_NAME_LEN};
use super::linux::{check_sysctls, IpcMode, LinuxOptions, PidMode};
use super::log_driver::LogDriver;
use super::net::{parse_mac, Eni};
use super::netopts::net_options;
use super::resources::{
    self, AsmRegistryAuth, EcrRegistryAuth, EnvFileRef, SecretProvider, SecretRef, SecretTarget,
};
use super::volumes::{check_volumes_from, mount_points, task_volumes, volumes_from, TaskVolume};

/// Instance-wide rules a task must follow (from the agent's config).
#[derive(Debug, Clone, Copy, Default)]
pub struct Policy {
    pub disable_privileged: bool,
    /// ECS_ENABLE_TASK_ENI: awsvpc tasks may come with an ENI.
    pub allow_eni: bool,
    /// ECS_APPARMOR_CAPABLE and AppArmor present: `apparmor:PROFILE` applies.
    pub apparmor: bool,
    /// ECS_DISABLE_DOCKER_HEALTH_CHECK: containers with a health check are refused.
    pub disable_health_check: bool,
}

/// Why a task from ACS cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct InvalidTask {
    pub reason: String,
}

fn invalid(reason: impl Into<String>) -> InvalidTask {
    InvalidTask {
        reason: reason.into(),
    }
}

pub fn task_def(t: &acs::Task, policy: Policy) -> Result<TaskDef, InvalidTask> {
    let arn = t
        .arn
        .clone()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| invalid("arn: missing"))?;
    // Bounds first: nothing below may do work in proportion to an
    // unbounded payload.
    if t.containers.len() > MAX_CONTAINERS {
        return Err(invalid(too_many_containers(t.containers.len())));
    }
    if let Some(family) = t.family.as_deref().filter(|f| f.len() > MAX_NAME_LEN) {
        return Err(invalid(format!(
            "family: {} characters; Amazon ECS allows at most {MAX_NAME_LEN}",
            family.len()
        )));
    }
    let network_mode = network_mode(t)?;
    let (eni, eni_attachment_arn) = eni(t, network_mode, policy)?;
    if t.containers.is_empty() {
        return Err(invalid("containers: the task has no containers"));
    }
    let volumes = task_volumes(&t.volumes).map_err(invalid)?;
    for (field, set) in [
        ("proxyConfiguration", t.proxy_configuration.is_some()),
        ("associations", !t.associations.is_empty()),
    ] {
        if set {
            return Err(invalid(format!(
                "{field} is not supported by this agent yet"
            )));
        }
    }
    let shared = task_namespaces(t)?;
    let mut names = BTreeSet::new();
    let mut containers = Vec::with_capacity(t.containers.len());
    for (i, c) in t.containers.iter().enumerate() {
        let mut def = container_def(i, c, network_mode, policy, &volumes)?;
        // As the Go agent does (task.go pidModeOverride/ipcModeOverride): the
        // task's mode, when set, replaces the container's.
        if let Some(pid) = shared.0 {
            def.linux.pid = pid;
        }
        if let Some(ipc) = shared.1 {
            def.linux.ipc = ipc;
        }
        check_sysctls(&def.linux, network_mode != NetworkMode::Host)
            .map_err(|e| invalid(format!("container {:?}: {e}", def.name)))?;
        if !names.insert(def.name.clone()) {
            return Err(invalid(format!(
                "containers[{i}].name {:?} is used twice",
                def.name
            )));
        }
        containers.push(def);
    }
    link_dependencies(&mut containers)?;
    check_dependencies(&containers)?;
    let sources: Vec<(&str, Vec<&str>)> = containers
        .iter()
        .map(|c| {
            let from = c.volumes_from.iter().map(|v| v.source_container.as_str());
            (c.name.as_str(), from.collect())
        })
        .collect();
    check_volumes_from(&sources).map_err(invalid)?;
    if !containers.iter().any(|c| c.essential) {
        return Err(invalid(
            "containers: at least one container must be essential",
        ));
    }
    Ok(TaskDef {
        arn,
        family: t.family.clone().unwrap_or_default(),
        version: t.version.clone().unwrap_or_default(),
        network_mode,
        containers,
        eni,
        eni_attachment_arn,
        credentials_id: credentials_id(t.role_credentials.as_ref()),
        execution_credentials_id: credentials_id(t.execution_role_credentials.as_ref()),
        limits: task_limits(t)?,
        volumes,
    })
}

/// The task's `pidMode` and `ipcMode` (Go: task.go; `task` shares one
/// namespace among the task's containers, held by a process of the task's
/// own as the Go agent's pause container holds it).
fn task_namespaces(t: &acs::Task) -> Result<(Option<PidMode>, Option<IpcMode>), InvalidTask> {
    let pid = match t.pid_mode.as_deref().unwrap_or("") {
        "" => None,
        "host" => Some(PidMode::Host),
        "task" => Some(PidMode::Task),
        other => return Err(invalid(format!("pidMode {other:?}: expected host or task"))),
    };
    let ipc = match t.ipc_mode.as_deref().unwrap_or("") {
        "" => None,
        "host" => Some(IpcMode::Host),
        "none" => Some(IpcMode::None),
        "task" => Some(IpcMode::Task),
        other => {
            return Err(invalid(format!(
                "ipcMode {other:?}: expected host, task or none"
            )))
        }
    };
    Ok((pid, ipc))
}

/// Task-level cpu (vCPU) and memory (MiB); zero means unset, as in Go.
fn task_limits(t: &acs::Task) -> Result<TaskLimits, InvalidTask> {
    let cpu = match t.cpu {
        Some(c) if !c.is_finite() || c < 0.0 => {
            return Err(invalid(format!("cpu {c}: expected 0 or more vCPU")))
        }
        Some(c) if c > 0.0 => Some(c),
        _ => None,
    };
    let memory_mib = match t.memory {
        Some(m) if m < 0 => return Err(invalid(format!("memory {m}: expected 0 or more MiB"))),
        Some(m) if m > 0 => Some(m),
        _ => None,
    };
    Ok(TaskLimits { cpu, memory_mib })
}

fn credentials_id(c: Option<&acs::IamRoleCredentials>) -> Option<String> {
    c.and_then(|c| c.credentials_id.clone())
        .filter(|id| !id.is_empty())
}

/// The task's ENI: awsvpc only, at most one, and only where the instance
/// takes them (ECS_ENABLE_TASK_ENI).
#[allow(clippy::type_complexity)]
fn eni(
    t: &acs::Task,
    mode: NetworkMode,
    policy: Policy,
) -> Result<(Option<Eni>, Option<String>), InvalidTask> {
    let Some(first) = t.elastic_network_interfaces.first() else {
        return Ok((None, None));
    };
    if mode != NetworkMode::Awsvpc {
        return Err(invalid(format!(
            "elasticNetworkInterfaces: only awsvpc tasks take an ENI (networkMode is {})",
            mode.as_str()
        )));
    }
    if !policy.allow_eni {
        return Err(invalid(
            "elasticNetworkInterfaces: this instance does not run tasks with an ENI \
             (ECS_ENABLE_TASK_ENI is not true)",
        ));
    }
    if t.elastic_network_interfaces.len() > 1 {
        return Err(invalid(format!(
            "elasticNetworkInterfaces: {} given; this agent attaches one per task",
            t.elastic_network_interfaces.len()
        )));
    }
    let eni =
        eni_from_acs(first).map_err(|e| invalid(format!("elasticNetworkInterfaces[0]: {e}")))?;
    Ok((Some(eni), first.attachment_arn.clone()))
}

/// A field of an ACS ENI that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub(crate) struct EniFieldError {
    pub field: &'static str,
    pub reason: String,
}

/// Validates an ENI of the ACS payload (`elasticNetworkInterfaces[]`):
/// the MAC, the IPv4 addresses (primary first) with the prefix of
/// `subnetGatewayIpv4Address` (`"10.0.0.1/24"`), which is also the
/// default gateway, and the DNS servers and search domains.
pub(crate) fn eni_from_acs(e: &acs::ElasticNetworkInterface) -> Result<Eni, EniFieldError> {
    let bad = |field: &'static str, reason: String| EniFieldError { field, reason };
    let mac = e
        .mac_address
        .clone()
        .ok_or_else(|| bad("macAddress", "missing".into()))?;
    parse_mac(&mac).map_err(|e| bad("macAddress", e.to_string()))?;
    let gw_cidr = e
        .subnet_gateway_ipv4_address
        .as_deref()
        .ok_or_else(|| bad("subnetGatewayIpv4Address", "missing".into()))?;
    let (gw, prefix) = gw_cidr
        .split_once('/')
        .and_then(|(a, p)| Some((a.parse::<Ipv4Addr>().ok()?, p.parse::<u8>().ok()?)))
        .filter(|(_, p)| (1..=32).contains(p))
        .ok_or_else(|| {
            bad(
                "subnetGatewayIpv4Address",
                format!("{gw_cidr:?} is not like 10.0.0.1/24"),
            )
        })?;
    let mut addrs: Vec<(bool, Ipv4Addr)> = Vec::new();
    for a in &e.ipv4_addresses {
        let s = a.private_address.as_deref().unwrap_or_default();
        let ip: Ipv4Addr = s.parse().map_err(|_| {
            bad(
                "ipv4Addresses.privateAddress",
                format!("{s:?} is not an IPv4 address"),
            )
        })?;
        addrs.push((a.primary.unwrap_or(false), ip));
    }
    if addrs.is_empty() {
        return Err(bad("ipv4Addresses", "no address".into()));
    }
    addrs.sort_by_key(|(primary, _)| !primary);
    let mut dns = Vec::new();
    for s in &e.domain_name_servers {
        dns.push(
            s.parse::<Ipv4Addr>()
                .map_err(|_| bad("domainNameServers", format!("{s:?} is not an IPv4 address")))?,
        );
    }
    Ok(Eni {
        mac,
        ipv4: addrs.into_iter().map(|(_, ip)| (ip, prefix)).collect(),
        gateway: Some(gw),
        dns,
        dns_search: e.domain_name.clone(),
        private_dns_name: e.private_dns_name.clone().filter(|n| !n.is_empty()),
    })
}

fn valid_container_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= MAX_NAME_LEN
        && n.chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
}

/// Keys of the containers' dockerConfig strings that are no field of
/// Docker's API, as `container "NAME": dockerConfig.config.KEY`. The Go agent
/// drops them silently; the caller logs them, once per task.
pub fn ignored_docker_keys(t: &acs::Task) -> Vec<String> {
    let mut keys = Vec::new();
    for c in &t.containers {
        let Some(d) = &c.docker_config else { continue };
        let name = c.name.as_deref().unwrap_or("");
        let config = parse_config(d.config.as_deref()).map(|c| c.unknown_keys);
        let host = parse_host_config(d.host_config.as_deref()).map(|h| h.unknown_keys);
        for k in config.into_iter().chain(host).flatten() {
            keys.push(format!("container {name:?}: {k}"));
        }
    }
    keys
}

/// The task's network mode. Amazon ECS names it in the task and repeats it in
/// each container's `hostConfig.NetworkMode`; a payload that names it only
/// there (as old payloads did) gets it from there, since that is what Docker
/// applied for the Go agent. Neither: bridge, ECS's default on Linux.
fn network_mode(t: &acs::Task) -> Result<NetworkMode, InvalidTask> {
    let from_containers = || {
        t.containers.iter().find_map(|c| {
            let host = c.docker_config.as_ref()?.host_config.as_deref();
            parse_host_config(host).ok()?.network_mode
        })
    };
    let (field, mode) = match t.network_mode.as_deref().filter(|m| !m.is_empty()) {
        Some(m) => ("networkMode", Some(m.to_string())),
        None => ("dockerConfig.hostConfig.NetworkMode", from_containers()),
    };
    Ok(match mode.as_deref() {
        None | Some("bridge") | Some("default") => NetworkMode::Bridge,
        Some("host") => NetworkMode::Host,
        Some("awsvpc") => NetworkMode::Awsvpc,
        Some("none") => NetworkMode::None,
        Some(other) => {
            return Err(invalid(format!(
                "{field} {other:?}: expected host, bridge, awsvpc or none"
            )))
        }
    })
}

fn container_def(
    i: usize,
    c: &acs::Container,
    network_mode: NetworkMode,
    policy: Policy,
    volumes: &[TaskVolume],
) -> Result<ContainerDef, InvalidTask> {
    let name = c.name.clone().unwrap_or_default();
    if !valid_container_name(&name) {
        return Err(invalid(format!(
            "containers[{i}].name {name:?}: expected 1-255 letters, digits, hyphens or underscores"
        )));
    }
    let at = |field: &str| format!("container {name:?}: {field}");
    let image = c.image.clone().unwrap_or_default();
    if image.trim().is_empty() {
        return Err(invalid(at("image: missing")));
    }
    // Parsed here, once: a reference that cannot be pulled stops the task now.
    let image = ImageRef::parse(&image).map_err(|e| invalid(at(&format!("image: {e}"))))?;
    for (field, set) in [
        ("firelensConfiguration", c.firelens_configuration.is_some()),
        ("credentialSpecs", !c.credential_specs.is_empty()),
    ] {
        if set {
            return Err(invalid(at(&format!(
                "{field} is not supported by this agent yet"
            ))));
        }
    }
    let docker = c.docker_config.clone().unwrap_or_default();
    let config = parse_config(docker.config.as_deref()).map_err(|e| invalid(at(&e)))?;
    let log_secrets: Vec<String> = c
        .secrets
        .iter()
        .filter(|s| is_log_driver_secret(s))
        .filter_map(|s| s.name.clone())
        .collect();
    let host = parse_host_config_with(docker.host_config.as_deref(), &log_secrets)
        .map_err(|e| invalid(at(&e)))?;
    if let Some(mode) = host.network_mode.as_deref() {
        // Docker's "default" is its bridge.
        let same = mode == network_mode.as_str()
            || (mode == "default" && network_mode == NetworkMode::Bridge);
        if !same {
            return Err(invalid(at(&format!(
                "dockerConfig.hostConfig.NetworkMode {mode:?} differs from the task's networkMode {:?}",
                network_mode.as_str()
            ))));
        }
    }
    // The Go agent's only health check type (apicontainer.DockerHealthCheckType).
    match c.health_check_type.as_deref() {
        None | Some("") => {}
        Some(t) if t.eq_ignore_ascii_case("docker") => {}
        Some(other) => {
            return Err(invalid(at(&format!(
                "healthCheckType {other:?}: expected \"docker\""
            ))))
        }
    }
    if config.health_check.is_some() && policy.disable_health_check {
        return Err(invalid(at(
            "dockerConfig.config.HealthCheck: health checks are disabled on this instance (ECS_DISABLE_DOCKER_HEALTH_CHECK=true)",
        )));
    }
    let (net, tty) =
        net_options(&config, &host, &c.links, network_mode).map_err(|e| invalid(at(&e)))?;
    let privileged = c.privileged.unwrap_or(false) || host.privileged;
    if privileged && policy.disable_privileged {
        return Err(invalid(at(
            "privileged: privileged containers are disabled on this instance (ECS_DISABLE_PRIVILEGED=true)",
        )));
    }
    let cpu = match c.cpu {
        None => 0,
        Some(n) => u32::try_from(n)
            .map_err(|_| invalid(at(&format!("cpu {n}: expected 0 or more CPU units"))))?,
    };
    let memory_mib = positive_mib(c.memory)
        .map_err(|n| invalid(at(&format!("memory {n}: expected MiB above 0"))))?;
    let memory_reservation_mib = host
        .memory_reservation_bytes
        .map(|b| u32::try_from(b / (1024 * 1024)).unwrap_or(u32::MAX));
    if let (Some(hard), Some(soft)) = (memory_mib, memory_reservation_mib) {
        if soft > hard {
            return Err(invalid(at(&format!(
                "memoryReservation ({soft} MiB) must not be above memory ({hard} MiB)"
            ))));
        }
    }
    check_linux(&host.linux, memory_mib, policy).map_err(|e| invalid(at(&e)))?;
    let command = match override_command(c.overrides.as_deref()).map_err(|e| invalid(at(&e)))? {
        Some(cmd) => Some(cmd),
        None => non_empty(&c.command),
    };
    Ok(ContainerDef {
        essential: c.essential.unwrap_or(true),
        entry_point: non_empty(&c.entry_point),
        command,
        environment: c.environment.clone(),
        working_directory: config.working_dir,
        user: config.user,
        hostname: config.hostname,
        cpu,
        memory_mib,
        memory_reservation_mib,
        privileged,
        readonly_rootfs: host.readonly_rootfs,
        ulimits: host.ulimits,
        labels: config.labels,
        depends_on: dependencies(&name, &c.depends_on)?,
        stop_timeout: seconds(c.stop_timeout)
            .map_err(|n| invalid(at(&format!("stopTimeout {n}: expected seconds, 0 or more"))))?,
        start_timeout: seconds(c.start_timeout).map_err(|n| {
            invalid(at(&format!(
                "startTimeout {n}: expected seconds, 0 or more"
            )))
        })?,
        port_mappings: port_mappings(&name, &c.port_mappings, network_mode)?,
        container_arn: c.container_arn.clone(),
        linux: host.linux,
        mount_points: mount_points(&c.mount_points, volumes).map_err(|e| invalid(at(&e)))?,
        volumes_from: volumes_from(&c.volumes_from),
        health_check: config.health_check,
        restart_policy: restart_policy(c.restart_policy.as_ref()).map_err(|e| invalid(at(&e)))?,
        aws: AwsInputs {
            secrets: secrets(&name, &c.secrets)?,
            env_files: env_files(&name, &c.environment_files)?,
            registry_auth: registry_auth(&name, c.registry_authentication.as_ref())?,
            ecr_auth: ecr_auth(&name, c.registry_authentication.as_ref())?,
        },
        net,
        tty,
        log: with_logs_auth(host.log, c.logs_auth_strategy.as_deref()),
        name,
        image,
    })
}

/// `logsAuthStrategy: "ExecutionRole"` (Amazon ECS sets it on awslogs
/// containers when the agent advertises execution-role-awslogs): the
/// awslogs driver ships with the task execution role (Go:
/// `AWSLogAuthExecutionRole`).
fn with_logs_auth(log: LogDriver, strategy: Option<&str>) -> LogDriver {
    match log {
        LogDriver::Awslogs(mut a) => {
            a.execution_role = strategy == Some("ExecutionRole");
            LogDriver::Awslogs(a)
        }
        // Known once its secretOptions are fetched, at create.
        LogDriver::Pending(mut p) => {
            p.execution_role = strategy == Some("ExecutionRole");
            LogDriver::Pending(p)
        }
        other => other,
    }
}

/// What Docker would refuse at create: swap without a memory limit or below
/// it; and an AppArmor profile where AppArmor is not applied.
fn check_linux(l: &LinuxOptions, memory_mib: Option<u32>, policy: Policy) -> Result<(), String> {
    if let Some(swap) = l.memory_swap_bytes.filter(|s| *s > 0) {
        let Some(mib) = memory_mib else {
            return Err(format!(
                "linuxParameters.maxSwap (dockerConfig.hostConfig.MemorySwap {swap}): needs the container's memory limit (memory)"
            ));
        };
        if swap < i64::from(mib) * 1024 * 1024 {
            return Err(format!(
                "linuxParameters.maxSwap (dockerConfig.hostConfig.MemorySwap {swap}): memory plus swap is below memory ({mib} MiB)"
            ));
        }
    }
    if let Some(p) = &l.apparmor_profile {
        if !policy.apparmor {
            return Err(format!(
                "dockerSecurityOptions \"apparmor:{p}\": this instance does not apply AppArmor profiles (this agent applies none yet; ECS_APPARMOR_CAPABLE has no effect)"
            ));
        }
    }
    Ok(())
}

/// `restartPolicy` when enabled (the Go agent ignores it otherwise). Its
/// exit codes and period arrive as ECS validated them; what no Go int holds
/// sensibly (a negative period, an exit code beyond i32) is refused here.
fn restart_policy(
    p: Option<&crate::model::acs::RestartPolicy>,
) -> Result<Option<super::def::RestartPolicy>, String> {
    let Some(p) = p.filter(|p| p.enabled == Some(true)) else {
        return Ok(None);
    };
    let ignored_exit_codes = p
        .ignored_exit_codes
        .iter()
        .map(|&c| {
            i32::try_from(c)
                .map_err(|_| format!("restartPolicy.ignoredExitCodes: {c} is not an exit code"))
        })
        .collect::<Result<Vec<i32>, String>>()?;
    let period = p.restart_attempt_period.unwrap_or(0);
    let period = u64::try_from(period).map_err(|_| {
        format!("restartPolicy.restartAttemptPeriod {period}: expected seconds, 0 or more")
    })?;
    Ok(Some(super::def::RestartPolicy {
        ignored_exit_codes,
        attempt_period: Duration::from_secs(period),
    }))
}

/// A secret for the log driver (`logConfiguration.secretOptions`, sent as
/// target LOG_DRIVER). As the Go agent's PopulateSecrets decides: a secret
/// of type ENVIRONMENT_VARIABLE is an environment variable whatever its
/// target (Amazon ECS sends secretOptions without a type).
fn is_log_driver_secret(s: &acs::Secret) -> bool {
    s.target.as_deref() == Some("LOG_DRIVER") && s.kind.as_deref() != Some("ENVIRONMENT_VARIABLE")
}

/// `secrets`: environment variables from SSM or Secrets Manager, and the
/// log driver's `secretOptions` (references only, both fetched at create).
fn secrets(container: &str, list: &[acs::Secret]) -> Result<Vec<SecretRef>, InvalidTask> {
    let mut out = Vec::with_capacity(list.len());
    for (i, s) in list.iter().enumerate() {
        let at = |what: &str| invalid(format!("container {container:?}: secrets[{i}].{what}"));
        let name = s
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| at("name: missing"))?;
        let value_from = s
            .value_from
            .clone()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| at("valueFrom: missing"))?;
        match s.kind.as_deref() {
            None | Some("") | Some("ENVIRONMENT_VARIABLE") => {}
            Some(other) => {
                return Err(at(&format!(
                    "type {other:?}: only ENVIRONMENT_VARIABLE is supported"
                )))
            }
        }
        let target = if is_log_driver_secret(s) {
            SecretTarget::LogDriver
        } else {
            match s.target.as_deref() {
                None | Some("") | Some("CONTAINER") | Some("LOG_DRIVER") => SecretTarget::Env,
                Some(other) => {
                    return Err(at(&format!(
                        "target {other:?}: expected CONTAINER or LOG_DRIVER"
                    )))
                }
            }
        };
        let provider = match s.provider.as_deref() {
            Some("ssm") => SecretProvider::Ssm,
            Some("asm") => SecretProvider::Asm,
            other => {
                return Err(at(&format!("provider {other:?}: expected ssm or asm")));
            }
        };
        // Amazon ECS always sends the region; an ARN names its own.
        let region = s
            .region
            .clone()
            .filter(|r| !r.is_empty())
            .or_else(|| resources::arn_region(&value_from).map(str::to_string))
            .ok_or_else(|| at("region: missing"))?;
        if provider == SecretProvider::Asm {
            resources::asm_query(&value_from)
                .map_err(|e| at(&format!("valueFrom {value_from:?}: {e}")))?;
        }
        out.push(SecretRef {
            name,
            value_from,
            provider,
            region,
            target,
        });
    }
    Ok(out)
}

/// `registryAuthentication` of type asm (`repositoryCredentials`): fetched
/// with the execution role before the pull. Type ecr is [`ecr_auth`]'s.
fn registry_auth(
    container: &str,
    auth: Option<&acs::RegistryAuthenticationData>,
) -> Result<Option<AsmRegistryAuth>, InvalidTask> {
    let Some(auth) = auth else { return Ok(None) };
    let at = |what: &str| {
        invalid(format!(
            "container {container:?}: registryAuthentication.{what}"
        ))
    };
    match auth.kind.as_deref() {
        Some("asm") => {}
        Some("ecr") => return Ok(None),
        other => return Err(at(&format!("type {other:?}: expected asm or ecr"))),
    }
    let data = auth
        .asm_auth_data
        .as_ref()
        .ok_or_else(|| at("asmAuthData: missing"))?;
    let credentials_parameter = data
        .credentials_parameter
        .clone()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| at("asmAuthData.credentialsParameter: missing"))?;
    let region = data
        .region
        .clone()
        .filter(|r| !r.is_empty())
        .or_else(|| resources::arn_region(&credentials_parameter).map(str::to_string))
        .ok_or_else(|| at("asmAuthData.region: missing"))?;
    Ok(Some(AsmRegistryAuth {
        credentials_parameter,
        region,
    }))
}

/// `registryAuthentication` of type ecr: the pull asks ECR's
/// GetAuthorizationToken for the registry's login. The Go agent takes the
/// fields as they come and fails at the pull (an empty registry id or region
/// makes the ECR call fail); here a task without them is refused naming the
/// field.
fn ecr_auth(
    container: &str,
    auth: Option<&acs::RegistryAuthenticationData>,
) -> Result<Option<EcrRegistryAuth>, InvalidTask> {
    let Some(auth) = auth.filter(|a| a.kind.as_deref() == Some("ecr")) else {
        return Ok(None);
    };
    let at = |what: &str| {
        invalid(format!(
            "container {container:?}: registryAuthentication.ecrAuthData.{what}"
        ))
    };
    let data = auth.ecr_auth_data.as_ref().ok_or_else(|| {
        invalid(format!(
            "container {container:?}: registryAuthentication.ecrAuthData: missing"
        ))
    })?;
    let non_empty = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
    let registry_id = non_empty(&data.registry_id).ok_or_else(|| at("registryId: missing"))?;
    let region = non_empty(&data.region).ok_or_else(|| at("region: missing"))?;
    Ok(Some(EcrRegistryAuth {
        registry_id,
        region,
        endpoint_override: non_empty(&data.endpoint_override),
        use_execution_role: data.use_execution_role.unwrap_or(false),
    }))
}

/// `environmentFiles`: only type s3 exists.
fn env_files(
    container: &str,
    list: &[acs::EnvironmentFile],
) -> Result<Vec<EnvFileRef>, InvalidTask> {
    list.iter()
        .enumerate()
        .map(|(i, f)| {
            let at = |what: String| {
                invalid(format!(
                    "container {container:?}: environmentFiles[{i}].{what}"
                ))
            };
            match f.kind.as_deref() {
                Some("s3") => {}
                other => return Err(at(format!("type {other:?}: expected s3"))),
            }
            let value = f.value.clone().unwrap_or_default();
            resources::parse_s3_arn(&value).map_err(|e| at(format!("value: {e}")))
        })
        .collect()
}

fn non_empty(v: &[String]) -> Option<Vec<String>> {
    (!v.is_empty()).then(|| v.to_vec())
}

fn positive_mib(v: Option<i64>) -> Result<Option<u32>, i64> {
    match v {
        None | Some(0) => Ok(None),
        Some(n) => u32::try_from(n).map(Some).map_err(|_| n),
    }
}

fn seconds(v: Option<i64>) -> Result<Option<Duration>, i64> {
    match v {
        None | Some(0) => Ok(None),
        Some(n) => u64::try_from(n)
            .map(|s| Some(Duration::from_secs(s)))
            .map_err(|_| n),
    }
}

/// `overrides` is a JSON string; ECS puts a command override there.
fn override_command(text: Option<&str>) -> Result<Option<Vec<String>>, String> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(None);
    };
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("overrides: invalid JSON: {e}"))?;
    match v.get("command") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(cmd) => serde_json::from_value::<Vec<String>>(cmd.clone())
            .map(|c| (!c.is_empty()).then_some(c))
            .map_err(|_| "overrides.command: expected a list of strings".to_string()),
    }
}

fn dependencies(
    name: &str,
    deps: &[acs::ContainerDependency],
) -> Result<Vec<Dependency>, InvalidTask> {
    deps.iter()
        .enumerate()
        .map(|(j, d)| {
            let container = d.container_name.clone().unwrap_or_default();
            let condition = match d.condition.as_deref() {
                Some("START") => Condition::Start,
                Some("COMPLETE") => Condition::Complete,
                Some("SUCCESS") => Condition::Success,
                Some("HEALTHY") => Condition::Healthy,
                other => {
                    return Err(invalid(format!(
                        "container {name:?}: dependsOn[{j}].condition {:?}: expected START, COMPLETE, SUCCESS or HEALTHY",
                        other.unwrap_or("")
                    )))
                }
            };
            Ok(Dependency { container, condition })
        })
        .collect()
}

fn port_mappings(
    name: &str,
    mappings: &[acs::PortMapping],
    mode: NetworkMode,
) -> Result<Vec<PortMapping>, InvalidTask> {
    mappings
        .iter()
        .enumerate()
        .map(|(j, m)| {
            let at =
                |what: String| invalid(format!("container {name:?}: portMappings[{j}].{what}"));
            let container_port = m
                .container_port
                .and_then(|p| u16::try_from(p).ok())
                .filter(|p| *p > 0)
                .ok_or_else(|| {
                    at(format!(
                        "containerPort {:?}: expected 1-65535",
                        m.container_port
                    ))
                })?;
            let host_port = match m.host_port {
                None | Some(0) => None,
                Some(p) => Some(
                    u16::try_from(p).map_err(|_| at(format!("hostPort {p}: expected 0-65535")))?,
                ),
            };
            if matches!(mode, NetworkMode::Host | NetworkMode::Awsvpc)
                && host_port.is_some_and(|h| h != container_port)
            {
                return Err(at(format!(
                    "hostPort {}: in {} network mode it must equal containerPort {container_port}",
                    host_port.unwrap_or_default(),
                    mode.as_str()
                )));
            }
            let protocol = match m.protocol.as_deref() {
                None | Some("") | Some("tcp") => Protocol::Tcp,
                Some("udp") => Protocol::Udp,
                Some(p) => return Err(at(format!("protocol {p:?}: expected tcp or udp"))),
            };
            Ok(PortMapping {
                container_port,
                host_port,
                protocol,
            })
        })
        .collect()
}

/// A link names another container of the task, which starts first: the Go
/// agent adds a START dependency on it (`task.go:initializeContainerOrdering`),
/// as Docker needs the linked container running.
fn link_dependencies(containers: &mut [ContainerDef]) -> Result<(), InvalidTask> {
    let names: BTreeSet<String> = containers.iter().map(|c| c.name.clone()).collect();
    for c in containers.iter_mut() {
        for (j, l) in c.net.links.iter().enumerate() {
            if l.container == c.name {
                return Err(invalid(format!(
                    "container {:?}: links[{j}] links the container to itself",
                    c.name
                )));
            }
            if !names.contains(&l.container) {
                return Err(invalid(format!(
                    "container {:?}: links[{j}] names container {:?}, which is not in the task",
                    c.name, l.container
                )));
            }
            let container = l.container.clone();
            if !c.depends_on.iter().any(|d| d.container == container) {
                c.depends_on.push(Dependency {
                    container,
                    condition: Condition::Start,
                });
            }
        }
    }
    Ok(())
}

/// Every dependency names another container of the task, and there is no cycle.
fn check_dependencies(containers: &[ContainerDef]) -> Result<(), InvalidTask> {
    let index: BTreeMap<&str, usize> = containers
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_str(), i))
        .collect();
    for c in containers {
        for d in &c.depends_on {
            if d.container == c.name {
                return Err(invalid(format!("container {:?}: dependsOn itself", c.name)));
            }
            let Some(&j) = index.get(d.container.as_str()) else {
                return Err(invalid(format!(
                    "container {:?}: dependsOn container {:?}, which is not in the task",
                    c.name, d.container
                )));
            };
            // It could never be met: the dependency would wait forever.
            if d.condition == Condition::Healthy && containers[j].health_check.is_none() {
                return Err(invalid(format!(
                    "container {:?}: dependsOn container {:?} with condition HEALTHY, but {:?} has no health check",
                    c.name, d.container, d.container
                )));
            }
        }
    }
    match find_cycle(containers, &index) {
        Some(j) => Err(invalid(format!(
            "dependsOn: containers form a cycle through {:?}",
            containers[j].name
        ))),
        None => Ok(()),
    }
}

/// A container on a dependsOn cycle, if there is one. Depth-first with an
/// explicit stack, not recursion: the depth is the payload's to choose.
/// Every dependency must name a container of `index`.
fn find_cycle(containers: &[ContainerDef], index: &BTreeMap<&str, usize>) -> Option<usize> {
    const UNVISITED: u8 = 0;
    const ON_PATH: u8 = 1;
    const DONE: u8 = 2;
    let mut mark = vec![UNVISITED; containers.len()];
    // (container, how many of its dependencies were followed)
    let mut path: Vec<(usize, usize)> = Vec::new();
    for start in 0..containers.len() {
        if mark[start] != UNVISITED {
            continue;
        }
        mark[start] = ON_PATH;
        path.push((start, 0));
        while let Some((i, next)) = path.last_mut() {
            let i = *i;
            let Some(d) = containers[i].depends_on.get(*next) else {
                mark[i] = DONE;
                path.pop();
                continue;
            };
            *next += 1;
            let j = *index.get(d.container.as_str())?;
            match mark[j] {
                ON_PATH => return Some(j),
                UNVISITED => {
                    mark[j] = ON_PATH;
                    path.push((j, 0));
                }
                _ => {}
            }
        }
    }
    None
}

#[cfg(test)]
mod limits_tests {
    use super::*;

    fn task(cpu: serde_json::Value, memory: serde_json::Value) -> acs::Task {
        serde_json::from_value(serde_json::json!({
            "arn": "arn:aws:ecs:us-east-1:0:task/c/abc", "family": "f", "version": "1",
            "desiredStatus": "RUNNING", "networkMode": "host", "cpu": cpu, "memory": memory,
            "containers": [{"name": "web", "image": "busybox", "essential": true}]
        }))
        .unwrap()
    }

    #[test]
    fn task_cpu_and_memory_are_kept_and_zero_is_unset() {
        let def = task_def(&task(0.25.into(), 512.into()), Policy::default()).unwrap();
        assert_eq!(
            def.limits,
            TaskLimits {
                cpu: Some(0.25),
                memory_mib: Some(512)
            }
        );
        let def = task_def(&task(0.into(), serde_json::Value::Null), Policy::default()).unwrap();
        assert_eq!(def.limits, TaskLimits::default());
    }

    #[test]
    fn negative_limits_are_refused_naming_the_field() {
        let err = task_def(&task((-1.0).into(), 1.into()), Policy::default()).unwrap_err();
        assert!(err.reason.starts_with("cpu -1"), "{}", err.reason);
        let err = task_def(&task(1.into(), (-5).into()), Policy::default()).unwrap_err();
        assert!(err.reason.starts_with("memory -5"), "{}", err.reason);
    }

    fn with_containers(n: usize) -> acs::Task {
        let mut t = task(0.into(), 0.into());
        let one = t.containers[0].clone();
        t.containers = (0..n)
            .map(|i| acs::Container {
                name: Some(format!("c{i}")),
                ..one.clone()
            })
            .collect();
        t
    }

    #[test]
    fn more_containers_than_amazon_ecs_allows_are_refused_naming_the_limit() {
        // 10 per definition and a Service Connect proxy: what ECS can send.
        assert!(task_def(&with_containers(MAX_CONTAINERS), Policy::default()).is_ok());
        let err = task_def(&with_containers(18_000), Policy::default()).unwrap_err();
        assert_eq!(
            err.reason,
            "containers: 18000 given; Amazon ECS allows at most 10 per task definition \
             (11 with a Service Connect proxy)"
        );
        let mut long = with_containers(1);
        long.family = Some("f".repeat(256));
        let err = task_def(&long, Policy::default()).unwrap_err();
        assert!(
            err.reason.starts_with("family: 256 characters"),
            "{}",
            err.reason
        );
    }

    /// `n` containers, each depending on the next: a chain as deep as `n`.
    fn chain(n: usize) -> Vec<ContainerDef> {
        let one = task_def(&with_containers(1), Policy::default()).unwrap();
        let template = one.containers[0].clone();
        (0..n)
            .map(|i| ContainerDef {
                name: format!("c{i}"),
                depends_on: (i + 1 < n)
                    .then(|| Dependency {
                        container: format!("c{}", i + 1),
                        condition: Condition::Start,
                    })
                    .into_iter()
                    .collect(),
                ..template.clone()
            })
            .collect()
    }

    #[test]
    fn a_deep_dependency_chain_is_checked_without_recursion() {
        // The recursive check overflowed the stack near 18,000 containers;
        // 200,000 on a test thread's 2 MiB stack would have aborted the run.
        let mut containers = chain(200_000);
        assert_eq!(check_dependencies(&containers), Ok(()));
        let last = containers.len() - 1;
        containers[last].depends_on.push(Dependency {
            container: "c0".into(),
            condition: Condition::Start,
        });
        let err = check_dependencies(&containers).unwrap_err();
        assert!(err.reason.contains("cycle"), "{}", err.reason);
    }

    #[test]
    fn checkpoints_without_limits_still_load() {
        let def = task_def(&task(1.into(), 256.into()), Policy::default()).unwrap();
        let mut saved = serde_json::to_value(&def).unwrap();
        saved.as_object_mut().unwrap().remove("limits");
        let old: TaskDef = serde_json::from_value(saved).unwrap();
        assert_eq!(old.limits, TaskLimits::default());
    }
}
