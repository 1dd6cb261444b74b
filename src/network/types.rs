//! The network module's public values: configuration, requests and results.

use std::fmt;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::NetworkError;

/// An IPv4 subnet (`addr/prefix`, host bits zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipv4Net {
    network: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Net {
    /// A subnet; host bits of `addr` must be zero and the prefix in 8..=30,
    /// because the bridge needs a gateway and at least one task address.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Self, NetworkError> {
        if !(8..=30).contains(&prefix) {
            return Err(NetworkError::InvalidConfig {
                field: "bridge_subnet",
                reason: format!("prefix /{prefix} must be between /8 and /30"),
            });
        }
        let mask = Self::mask_of(prefix);
        if u32::from(addr) & !mask != 0 {
            return Err(NetworkError::InvalidConfig {
                field: "bridge_subnet",
                reason: format!("{addr}/{prefix} has host bits set"),
            });
        }
        Ok(Self {
            network: addr,
            prefix,
        })
    }

    fn mask_of(prefix: u8) -> u32 {
        u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
    }

    pub fn network(&self) -> Ipv4Addr {
        self.network
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & Self::mask_of(self.prefix) == u32::from(self.network)
    }

    /// The first usable address: the bridge's own (the tasks' gateway).
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }

    /// The broadcast address.
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) | !Self::mask_of(self.prefix))
    }

    /// Addresses handed to tasks: everything but network, gateway and broadcast.
    pub fn task_range(&self) -> (u32, u32) {
        (u32::from(self.network) + 2, u32::from(self.broadcast()) - 1)
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Ipv4Net {
    type Err = NetworkError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || NetworkError::InvalidConfig {
            field: "bridge_subnet",
            reason: format!("{s:?} is not an IPv4 CIDR like 169.254.172.0/22"),
        };
        let (a, p) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = a.trim().parse().map_err(|_| bad())?;
        let prefix: u8 = p.trim().parse().map_err(|_| bad())?;
        Self::new(addr, prefix)
    }
}

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
}

/// Default bridge name.
pub const DEFAULT_BRIDGE: &str = "ecs-br0";
/// Default bridge subnet (see [`NetworkConfig::bridge_subnet`]).
pub const DEFAULT_SUBNET: Ipv4Net = Ipv4Net {
    network: Ipv4Addr::new(169, 254, 172, 0),
    prefix: 22,
};
/// The Go agent's fallback when the kernel's ephemeral range is unreadable.
pub const FALLBACK_DYNAMIC_RANGE: (u16, u16) = (49153, 65535);

impl NetworkConfig {
    /// Defaults for everything but the state directory; the dynamic range is
    /// the kernel's ephemeral range as in the Go agent.
    pub fn with_defaults(state_dir: PathBuf) -> Self {
        Self {
            bridge_name: DEFAULT_BRIDGE.to_string(),
            bridge_subnet: DEFAULT_SUBNET,
            dynamic_port_range: default_dynamic_port_range(),
            reserved_ports_tcp: vec![22, 2375, 2376, 51678, 51679],
            reserved_ports_udp: Vec::new(),
            state_dir,
            netns_dir: PathBuf::from("/var/run/netns"),
            credentials_port: 51679,
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
        .and_then(|s| parse_port_range(&s))
        .unwrap_or(FALLBACK_DYNAMIC_RANGE)
}

/// `"32768 60999"` (the proc file) or `"32768-60999"` (ECS_DYNAMIC_HOST_PORT_RANGE).
pub fn parse_port_range(s: &str) -> Option<(u16, u16)> {
    let mut it = s
        .split(|c: char| c == '-' || c.is_whitespace())
        .filter(|p| !p.is_empty());
    let lo: u16 = it.next()?.parse().ok()?;
    let hi: u16 = it.next()?.parse().ok()?;
    if it.next().is_some() || lo == 0 || lo > hi {
        return None;
    }
    Some((lo, hi))
}

/// What `prepare_host` does, as ecs-init.
#[derive(Debug, Clone)]
pub struct HostPrep {
    /// The agent's credentials listener on 127.0.0.1 (51679).
    pub credentials_port: u16,
    /// The introspection port (51678), closed to other hosts.
    pub introspection_port: u16,
    /// ECS_SKIP_LOCALHOST_TRAFFIC_FILTER
    pub skip_localhost_traffic_filter: bool,
    /// ECS_ALLOW_OFFHOST_INTROSPECTION_ACCESS
    pub allow_offhost_introspection: bool,
    /// ECS_OFFHOST_INTROSPECTION_INTERFACE_NAME; `None` = the interface of the
    /// IPv4 default route (falling back to eth0), as ecs-init.
    pub offhost_introspection_interface: Option<String>,
}

impl Default for HostPrep {
    fn default() -> Self {
        Self {
            credentials_port: 51679,
            introspection_port: 51678,
            skip_localhost_traffic_filter: false,
            allow_offhost_introspection: false,
            offhost_introspection_interface: None,
        }
    }
}

/// Task network mode (host mode never reaches this module).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    None,
    Bridge,
    Awsvpc,
}

impl Mode {
    /// The task definition's `networkMode`: `Ok(None)` for `host` (nothing
    /// to set up), `none`/`bridge`/`awsvpc`; an empty mode is `bridge`, the
    /// ECS default on Linux.
    pub fn from_network_mode(s: &str) -> Result<Option<Mode>, NetworkError> {
        match s {
            "host" => Ok(None),
            "none" => Ok(Some(Mode::None)),
            "" | "bridge" => Ok(Some(Mode::Bridge)),
            "awsvpc" => Ok(Some(Mode::Awsvpc)),
            other => Err(NetworkError::InvalidRequest {
                field: "networkMode",
                reason: format!("{other:?} is not host, none, bridge or awsvpc"),
            }),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

impl FromStr for Protocol {
    type Err = NetworkError;

    /// `tcp` or `udp` (any case); empty is `tcp`, as in port mappings.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "" | "tcp" => Ok(Protocol::Tcp),
            "udp" => Ok(Protocol::Udp),
            _ => Err(NetworkError::InvalidRequest {
                field: "portMappings.protocol",
                reason: format!("{s:?} is neither tcp nor udp"),
            }),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One port mapping of a bridge-mode container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRequest {
    pub container_port: u16,
    /// `None` or `Some(0)`: a dynamic port from the range.
    pub host_port: Option<u16>,
    pub protocol: Protocol,
}

/// An ENI from the ACS payload (`elasticNetworkInterfaces`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Eni {
    /// `macAddress`, `aa:bb:cc:dd:ee:ff` (any case).
    pub mac: String,
    /// `ipv4Addresses` with the subnet prefix (from `subnetGatewayIpv4Address`'s CIDR).
    pub ipv4: Vec<(Ipv4Addr, u8)>,
    /// The gateway, without prefix.
    pub gateway: Option<Ipv4Addr>,
    /// `domainNameServers`: the engine writes them into resolv.conf.
    pub dns: Vec<Ipv4Addr>,
    /// `domainNameSearchList`
    pub dns_search: Vec<String>,
    /// `privateDnsName` (`ip-10-0-1-5.ec2.internal`): task metadata shows it
    /// and its first label is the task's hostname.
    #[serde(default)]
    pub private_dns_name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NamespaceRequest {
    /// awsvpc/none: the task id. bridge: task id + container name (one
    /// namespace per container, as Docker's bridge mode).
    pub key: String,
    pub mode: Mode,
    /// awsvpc only.
    pub eni: Option<Eni>,
    /// bridge only; ignored in the other modes.
    pub ports: Vec<PortRequest>,
}

/// A host port forwarded into a namespace: the state change's `networkBindings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    pub container_port: u16,
    pub host_port: u16,
    pub protocol: Protocol,
    /// Always 0.0.0.0 (rules match any local address).
    pub bind_ip: Ipv4Addr,
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
    pub bindings: Vec<Binding>,
    /// From the ENI: for the container's resolv.conf.
    pub dns: Vec<Ipv4Addr>,
    pub dns_search: Vec<String>,
}

/// Parses `aa:bb:cc:dd:ee:ff` (or with dashes) into bytes.
pub fn parse_mac(s: &str) -> Result<[u8; 6], NetworkError> {
    let bad = || NetworkError::InvalidRequest {
        field: "eni.mac",
        reason: format!("{s:?} is not a MAC address like 0a:1b:2c:3d:4e:5f"),
    };
    let parts: Vec<&str> = s.trim().split([':', '-']).collect();
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut out = [0u8; 6];
    for (o, p) in out.iter_mut().zip(parts) {
        if p.len() != 2 {
            return Err(bad());
        }
        *o = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    Ok(out)
}

impl Eni {
    /// Validates an ENI of the ACS payload (`elasticNetworkInterfaces[]`):
    /// the MAC, the IPv4 addresses (primary first) with the prefix of
    /// `subnetGatewayIpv4Address` (`"10.0.0.1/24"`), which is also the
    /// default gateway, and the DNS servers and search domains.
    pub fn from_acs(e: &crate::model::acs::ElasticNetworkInterface) -> Result<Eni, NetworkError> {
        let bad =
            |field: &'static str, reason: String| NetworkError::InvalidRequest { field, reason };
        let mac = e
            .mac_address
            .clone()
            .ok_or_else(|| bad("macAddress", "missing".into()))?;
        parse_mac(&mac)?;
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
                s.parse::<Ipv4Addr>().map_err(|_| {
                    bad("domainNameServers", format!("{s:?} is not an IPv4 address"))
                })?,
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
}
