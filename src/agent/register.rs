//! RegisterContainerInstance: what this host offers, and the call, retried
//! while the control plane is unreachable.

use std::time::Duration;

use crate::backoff::Backoff;
use crate::config::Config;
use crate::control::registration::{
    registration, InstanceIdentity, Registration, RegistrationInput,
};
use crate::control::EcsClient;
use crate::state::Saved;

use super::error::AgentError;
use super::host;
use super::imds::Ec2Instance;
use super::networking::Networking;

/// What the agent reports where the Go agent reports Docker's version: the
/// runtime name the Go ACS library itself uses for containerd-based agents
/// (see `control::acs_url::format_docker_version`).
pub const RUNTIME_VERSION: &str = "containerd";
/// The build's commit, when the build knew it.
pub const AGENT_HASH: &str = match option_env!("ECS_AGENT_GIT_HASH") {
    Some(hash) => hash,
    None => "unknown",
};

/// What the agent registers with: the config, the host, the previous
/// instance ARN, what EC2 instance metadata said (`ec2`, None off EC2), and
/// the task features this host can really serve.
pub fn input(
    cfg: &Config,
    net: &Networking,
    saved: &Saved,
    ec2: Option<&Ec2Instance>,
) -> RegistrationInput {
    let net_ok = net.manager.is_some();
    let vpc_subnet = ec2
        .and_then(|e| e.network.as_ref())
        .map(|n| (n.vpc_id.clone(), n.subnet_id.clone()));
    let mut task_eni = cfg.networking.task_eni && net_ok;
    // As the Go agent (agent/app/agent.go): on EC2 an instance whose VPC
    // cannot be found gets no task-eni capability; ECS could not place an
    // ENI in a subnet it does not know.
    if task_eni && ec2.is_some() && vpc_subnet.is_none() {
        tracing::warn!("ECS_ENABLE_TASK_ENI: the instance's VPC and subnet are unknown, so the task-eni capability is not advertised");
        task_eni = false;
    }
    RegistrationInput {
        reserved_memory_mib: u64::from(cfg.reserved_memory_mib),
        reserved_ports: cfg.reserved_ports.clone(),
        reserved_ports_udp: cfg.reserved_ports_udp.clone(),
        disable_privileged: cfg.disable_privileged,
        custom_attributes: cfg.instance_attributes.clone(),
        tags: cfg.container_instance_tags.clone(),
        existing_arn: saved
            .instance
            .as_ref()
            .map(|i| i.container_instance_arn.clone()),
        runtime_version: RUNTIME_VERSION.into(),
        detailed_os_family: cfg.detailed_os_family.clone(),
        logging_drivers: cfg.available_logging_drivers.clone(),
        awslogs_execution_role: cfg.networking.awslogs_execution_role_override,
        // Advertised only where they work: roles need 169.254.170.2 routed
        // here, ENIs need task networking.
        task_iam_role: cfg.networking.task_iam_role && net_ok,
        task_iam_role_network_host: cfg.networking.task_iam_role_network_host && net.host_prepared,
        task_eni,
        instance_identity: ec2.map(|e| InstanceIdentity {
            document: e.document.clone(),
            signature: e.signature.clone(),
        }),
        vpc_subnet,
        // Set by the caller once task cgroups are set up.
        task_cpu_mem_limit: false,
        health_checks: !cfg.disable_health_check,
    }
}

/// Registers this host; (container instance ARN, cluster ARN).
pub async fn register(
    ecs: &EcsClient,
    cfg: &Config,
    input: &RegistrationInput,
) -> Result<(String, String), AgentError> {
    let reg = registration(&host::facts(), input, AGENT_HASH);
    let ids = call(ecs, cfg, &reg).await?;
    tracing::info!(container_instance = %ids.0, cluster = %ids.1, cpu = reg.cpu, memory_mib = reg.memory_mib, "registered");
    Ok(ids)
}

/// As the Go agent does, a missing `default` cluster is created.
async fn call(
    ecs: &EcsClient,
    cfg: &Config,
    reg: &Registration,
) -> Result<(String, String), AgentError> {
    let mut backoff = Backoff::doubling(Duration::from_millis(500), Duration::from_secs(30));
    loop {
        match ecs.register(reg).await {
            Ok(ids) => return Ok(ids),
            Err(e) if e.code() == Some("ClusterNotFoundException") && cfg.cluster == "default" => {
                tracing::info!("cluster \"default\" does not exist; creating it");
                ecs.create_cluster()
                    .await
                    .map_err(AgentError::CreateCluster)?;
            }
            Err(e) if e.is_retryable() => {
                let wait = backoff.next(0.0);
                tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "cannot register yet; retrying");
                tokio::time::sleep(wait).await;
            }
            Err(error) => {
                return Err(AgentError::Register {
                    cluster: cfg.cluster.clone(),
                    error,
                });
            }
        }
    }
}
