//! Task networking: network namespaces, the agent's bridge, veth pairs, IPAM,
//! host port mappings, ENIs moved into task namespaces, and the host rules
//! that send 169.254.170.2 to the credentials listener. Netlink through
//! rtnetlink, iptables through the iptables crate; no `ip`, no CNI, no Docker.
//!
//! # How the engine uses it
//!
//! ```text
//! // once, at agent start (root):
//! let net = NetworkManager::new(NetworkConfig {
//!     dynamic_port_range: <ECS_DYNAMIC_HOST_PORT_RANGE or default_dynamic_port_range()>,
//!     reserved_ports_tcp: cfg.reserved_ports, reserved_ports_udp: cfg.reserved_ports_udp,
//!     ..NetworkConfig::with_defaults(data_dir.join("network"))
//! }).await?;
//! net.prepare_host(&HostPrep { skip_localhost_traffic_filter, allow_offhost_introspection, ..Default::default() }).await?;
//!
//! // per task, before creating its containers:
//! //   awsvpc / none: one call, key = task id, every container joins info.netns_path
//! //   bridge: one call per container, key = "<task id>/<container name>", ports = its portMappings
//! let info = net.setup(&NamespaceRequest { key, mode, eni, ports }).await?;
//! spec.network = NetworkAttachment::Namespace(info.netns_path.clone());
//! // or setup_staged(&req, Some(Reserved { info, wire, settled })): `info`
//! // gets the same info once the namespace exists and its addresses and
//! // ports are allocated, so the container can be created in it; the links
//! // and rules are made once `wire` fires (the create under way); the
//! // container starts only after setup_staged returned Ok; no spare
//! // namespace is made until `settled` fires (the create is over).
//! creds.set_task_sources(&task_arn, info.source_ips.iter().map(|ip| (*ip).into()).collect());
//! // report info.bindings as the container's networkBindings (bindIP 0.0.0.0)
//!
//! // after the task's containers are stopped (also for tasks found stopped at restart):
//! net.teardown(&key).await?;   // idempotent; retry on error, the lease is kept until it succeeds
//! ```
//!
//! The engine should hold it as `Arc<impl TaskNetwork>` (`NetworkManager`
//! implements it; `network::fake::FakeNetwork` is a recording fake for the
//! engine's unit tests). The credentials listener must be on
//! 127.0.0.1:`HostPrep::credentials_port` and served with connect info (see
//! `crate::credentials`). Root is needed (netns, netlink, iptables, sysctl).
//!
//! Host side effects: `net.ipv4.ip_forward=1` and `route_localnet=1` on the
//! bridge (first bridge/awsvpc setup), `conf.all.route_localnet=1`
//! (`prepare_host`, as ecs-init). They are left on.
//!
//! At restart, `keys()` lists the leases: tear down those whose task is gone.
//!
//! `setup` is idempotent for a key whose namespace still exists (it returns
//! the recorded info), so after an agent restart it may be called again for
//! running tasks. Leases and port allocations live in
//! `state_dir/network.json` and survive restarts.
//!
//! # Design
//!
//! - Bridge and awsvpc-without-ENI namespaces get `eth0`, a veth whose host
//!   end is on the bridge, an address from the bridge subnet and a default
//!   route via the bridge address. With an ENI, the ENI (found by MAC) becomes
//!   `eth0` with the payload's addresses and gateway, and a veth `ecs-eth0` on
//!   the bridge carries only 169.254.170.2/32 (as the Go agent's ecs-bridge).
//! - 169.254.170.2:80 from a namespace reaches the host over the bridge and
//!   is DNATed to 127.0.0.1:credentials_port by `prepare_host`'s PREROUTING
//!   rule (route_localnet on). The listener sees the task's own address as
//!   the peer, which is what the credentials source check relies on.
//! - Port mappings are DNAT rules in `ECS-DNAT-<bridge>`, hooked from nat
//!   PREROUTING and OUTPUT for local destinations (127.0.0.1 too: the bridge
//!   has route_localnet and `ECS-SNAT-<bridge>` masquerades loopback sources).
//! - All rules live in agent-owned chains, so they are idempotent and removable.
//!
//! - Teardown also deletes the host's conntrack entries from or DNATed to the
//!   task's bridge address (ctnetlink), and ports and addresses are handed
//!   out round-robin so a freed one is reused last.

mod api;
mod conntrack;
mod host_links;
mod ipt;
mod link;
mod manager;
mod netns;
pub(crate) mod rules;
mod saver;
mod spares;
mod state;
mod types;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

use crate::task::def::Protocol;

#[cfg(test)]
pub use api::fake;
pub use api::{NetFuture, TaskNetwork};
pub use host_links::host_macs;
pub use manager::NetworkManager;
pub use rules::CREDENTIALS_IP;
pub use types::{
    default_dynamic_port_range, HostPrep, NamespaceInfo, NamespaceRequest, NetworkConfig, Reserved,
    DEFAULT_BRIDGE, FALLBACK_DYNAMIC_RANGE,
};

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("invalid network config {field}: {reason}")]
    InvalidConfig { field: &'static str, reason: String },
    #[error("invalid namespace request {field}: {reason}")]
    InvalidRequest { field: &'static str, reason: String },
    #[error("host port {port}/{protocol} is already in use")]
    PortInUse { port: u16, protocol: Protocol },
    #[error("no free {protocol} host port left in {}-{}", range.0, range.1)]
    PortsExhausted {
        protocol: Protocol,
        range: (u16, u16),
    },
    #[error("no free address left in {subnet}")]
    AddressesExhausted { subnet: String },
    #[error("no host interface has the ENI's MAC {mac}")]
    EniNotFound { mac: String },
    #[error("netlink: {op}: {reason}")]
    Netlink { op: String, reason: String },
    #[error("iptables {op}: {reason}")]
    Iptables { op: String, reason: String },
    #[error("network namespace {}: {op}: {source}", path.display())]
    Namespace {
        path: PathBuf,
        op: &'static str,
        source: std::io::Error,
    },
    #[error("sysctl {}: {source}", path.display())]
    Sysctl {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("network state {}: {source}", path.display())]
    StateIo {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("network state {} is unusable: {reason}", path.display())]
    StateCorrupt { path: PathBuf, reason: String },
}
