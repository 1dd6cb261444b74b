//! Task networking: the manager of task namespaces and, unless told
//! otherwise, the host preparation ecs-init does for the Go agent.

use std::sync::Arc;

use crate::config::Config;
use crate::network::{default_dynamic_port_range, HostPrep, NetworkConfig, NetworkManager};

use super::error::AgentError;

/// What this host can do for task networks.
pub struct Networking {
    /// None: iptables or the sysctls are unusable here (an agent in a
    /// container without them); only host-mode tasks run.
    pub manager: Option<Arc<NetworkManager>>,
    /// 169.254.170.2 reaches the agent from the host's namespace.
    pub host_prepared: bool,
}

pub async fn start(cfg: &Config) -> Result<Networking, AgentError> {
    let n = &cfg.networking;
    if let Err(e) = NetworkManager::probe().await {
        tracing::warn!(error = %e, "task networking is unavailable on this host: only host-mode \
            tasks will run, and task roles, ENIs and 169.254.170.2 are not offered");
        return Ok(Networking {
            manager: None,
            host_prepared: false,
        });
    }
    let net_cfg = NetworkConfig {
        bridge_name: n.task_bridge.clone(),
        bridge_subnet: n.task_subnet,
        dynamic_port_range: n
            .dynamic_host_port_range
            .unwrap_or_else(default_dynamic_port_range),
        reserved_ports_tcp: cfg.reserved_ports.clone(),
        reserved_ports_udp: cfg.reserved_ports_udp.clone(),
        credentials_port: cfg.endpoints.credentials_port,
        // Only when the host rules close the port: then awsvpc tasks on the
        // bridge must not get through the bridge's ACCEPT.
        introspection_port: (n.host_setup && !n.allow_offhost_introspection)
            .then_some(cfg.endpoints.introspection_port),
        ..NetworkConfig::with_defaults(cfg.data_dir.join("network"))
    };
    let manager = NetworkManager::new(net_cfg)
        .await
        .map_err(AgentError::NetworkState)?;
    let mut host_prepared = false;
    if n.host_setup {
        let prep = HostPrep {
            credentials_port: cfg.endpoints.credentials_port,
            introspection_port: cfg.endpoints.introspection_port,
            skip_localhost_traffic_filter: n.skip_localhost_traffic_filter,
            allow_offhost_introspection: n.allow_offhost_introspection,
        };
        manager
            .prepare_host(&prep)
            .await
            .map_err(AgentError::HostNetwork)?;
        host_prepared = true;
    } else {
        tracing::info!("host preparation is off (ECS_HOST_NETWORK_SETUP=false)");
    }
    Ok(Networking {
        manager: Some(Arc::new(manager)),
        host_prepared,
    })
}
