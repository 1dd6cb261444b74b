//! The network module's public values: configuration, requests and results.
//! The task's own vocabulary (`NetworkMode`, `PortMapping`, `NetworkBinding`,
//! `Eni`) and the bridge subnet (`config::Ipv4Net`) are used as they are.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use crate::config::{parse_port_range, Ipv4Net, DEFAULT_TASK_SUBNET};
use crate::task::def::{NetworkBinding, NetworkMode, PortMapping};
use crate::task::net::Eni;

use super::NetworkError;

/// How the manager is set up. One manager owns one bridge.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// Linux bridge for bridge and awsvpc-without-ENI tasks (max 15 bytes).
    pub bridge_name: String,
    /// Subnet of the bridge. The default, 169.254.172.0/22, is the one the Go
    /// agent uses for its awsvpc `ecs-bridge`: link-local, so it clashes with
    /// neither docker0 (172.17.0.0/16) nor a VPC.
    pub bridge_subnet: Ipv4Net,
    /// ECS_DYNAMIC_HOST_PORT_RANGE, inclusive.
    pub dynamic_port_range: (u16, u16),
    /// ECS_RESERVED_PORTS: never handed out as dynamic ports.
    pub reserved_ports_tcp: Vec<u16>,
    /// ECS_RESERVED_PORTS_UDP
    pub reserved_ports_udp: Vec<u16>,
    /// Where `network.json` (IPAM leases, port allocations) lives.
    pub state_dir: PathBuf,
    /// Where namespace files are bind-mounted; `/var/run/netns` so that
    /// `ip netns` sees them.
    pub netns_dir: PathBuf,
    /// The agent's task metadata/credentials listener on 127.0.0.1, where
    /// 169.254.170.2:80 from the bridge's tasks is sent.
    pub credentials_port: u16,
    /// The introspection port when it is closed off-host: awsvpc tasks on the
    /// bridge get a DROP for it (bridge-mode tasks keep the host's ACCEPT).
    /// `None`: no such rule (off-host access allowed, or no host preparation).
    pub introspection_port: Option<u16>,
}

/// Default bridge name.
pub const DEFAULT_BRIDGE: &str = "ecs-br0";
/// The Go agent's fallback when the kernel's ephemeral range is unreadable.
pub const FALLBACK_DYNAMIC_RANGE: (u16, u16) = (49153, 65535);

impl NetworkConfig {
    /// Defaults for everything but the state directory; the dynamic range is
    /// the kernel's ephemeral range as in the Go agent.
    pub fn with_defaults(state_dir: PathBuf) -> Self {
        Self {
            bridge_name: DEFAULT_BRIDGE.to_string(),
            bridge_subnet: DEFAULT_TASK_SUBNET,
            dynamic_port_range: default_dynamic_port_range(),
            reserved_ports_tcp: vec![22, 2375, 2376, 51678, 51679],
            reserved_ports_udp: Vec::new(),
            state_dir,
            netns_dir: PathBuf::from("/var/run/netns"),
            credentials_port: 51679,
            introspection_port: None,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), NetworkError> {
        let n = &self.bridge_name;
        if n.is_empty()
            || n.len() > 15
            || !n
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        {
            return Err(NetworkError::InvalidConfig {
                field: "bridge_name",
                reason: format!("{n:?} must be 1-15 characters of [A-Za-z0-9_.-]"),
            });
        }
        let (lo, hi) = self.dynamic_port_range;
        if lo == 0 || lo > hi {
            return Err(NetworkError::InvalidConfig {
                field: "dynamic_port_range",
                reason: format!("{lo}-{hi} is not a range of ports 1-65535"),
            });
        }
        Ok(())
    }
}

/// `/proc/sys/net/ipv4/ip_local_port_range`, or the Go agent's fallback.
pub fn default_dynamic_port_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| proc_port_range(&s))
        .unwrap_or(FALLBACK_DYNAMIC_RANGE)
}

/// The proc file's `"32768\t60999\n"`, read by ECS_DYNAMIC_HOST_PORT_RANGE's
/// parser (`low-high`) so that both follow one rule.
pub(crate) fn proc_port_range(s: &str) -> Option<(u16, u16)> {
    let words: Vec<&str> = s.split_whitespace().collect();
    match words.as_slice() {
        [lo, hi] => parse_port_range(&format!("{lo}-{hi}")).ok(),
        _ => None,
    }
}

/// What `prepare_host` does, as ecs-init.
#[derive(Debug, Clone)]
pub struct HostPrep {
    /// The agent's credentials listener on 127.0.0.1 (51679).
    pub credentials_port: u16,
    /// The introspection port (51678): open to loopback and the task bridge,
    /// closed on every other interface.
    pub introspection_port: u16,
    /// ECS_SKIP_LOCALHOST_TRAFFIC_FILTER
    pub skip_localhost_traffic_filter: bool,
    /// ECS_ALLOW_OFFHOST_INTROSPECTION_ACCESS
    pub allow_offhost_introspection: bool,
}

impl Default for HostPrep {
    fn default() -> Self {
        Self {
            credentials_port: 51679,
            introspection_port: 51678,
            skip_localhost_traffic_filter: false,
            allow_offhost_introspection: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NamespaceRequest {
    /// awsvpc/none: the task id. bridge: task id + container name (one
    /// namespace per container, as Docker's bridge mode).
    pub key: String,
    /// Bridge, awsvpc or none; host mode has no namespace to set up.
    pub mode: NetworkMode,
    /// awsvpc only.
    pub eni: Option<Eni>,
    /// bridge only; ignored in the other modes. A `host_port` of `None` (or
    /// `Some(0)`) asks for a dynamic port from the range.
    pub ports: Vec<PortMapping>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceInfo {
    /// Pass as `NetworkAttachment::Namespace(path)` to the runtime.
    pub netns_path: PathBuf,
    /// The task's address: bridge IP, or the ENI's first address.
    pub ipv4: Option<Ipv4Addr>,
    /// Every address the task's traffic may come from (give these to
    /// `CredentialsStore::set_task_sources`).
    pub source_ips: Vec<Ipv4Addr>,
    /// Host ports forwarded into the namespace (bind IP always 0.0.0.0: the
    /// rules match any local address).
    pub bindings: Vec<NetworkBinding>,
    /// From the ENI: for the container's resolv.conf.
    pub dns: Vec<Ipv4Addr>,
    pub dns_search: Vec<String>,
}

/// How a staged setup and its caller meet (see `NetworkManager::setup_staged`).
#[derive(Debug)]
pub struct Reserved {
    /// Gets the namespace's info once the namespace exists and its
    /// addresses and ports are allocated: a container may be created in it.
    pub info: tokio::sync::oneshot::Sender<NamespaceInfo>,
    /// The links, addresses, routes and rules are made once this fires (or
    /// its sender is dropped): the caller lets them go once its container's
    /// create is under way, so that the two do not compete for the CPU
    /// before it. Measured here: the files and spec of a bridge container
    /// took 2.5 ms after the reservation with them, 1 ms without.
    pub wire: tokio::sync::oneshot::Receiver<()>,
    /// No spare namespace is made until this fires (or its sender is
    /// dropped): the caller fires it once its container is created, so that
    /// making one does not compete with the container's create and start.
    /// Measured here: a spare made during a start (as when spares waited
    /// only for the setup's end) made that start 1.5 to 2.9 ms slower.
    pub settled: tokio::sync::oneshot::Receiver<()>,
}
