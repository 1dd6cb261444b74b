//! A container's own name resolution and network switches as the task
//! definition holds them once validated (`netopts` checks them).

use std::net::IpAddr;

/// An `/etc/hosts` line the task definition asks for (`extraHosts`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HostEntry {
    pub hostname: String,
    pub ip: IpAddr,
}

/// A legacy Docker link (`links`: `name` or `name:alias`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Link {
    /// The linked container of the same task.
    pub container: String,
    /// The name it is known by in the linking container.
    pub alias: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NetOptions {
    /// Replace the nameservers of the container's resolv.conf.
    pub dns_servers: Vec<IpAddr>,
    /// Replace its search list (`.` alone: no search list, as Docker).
    pub dns_search: Vec<String>,
    pub extra_hosts: Vec<HostEntry>,
    pub links: Vec<Link>,
    /// disableNetworking: an own network namespace with only loopback.
    pub disabled: bool,
}

impl NetOptions {
    /// Whether the container's hosts or resolv.conf differ from its namespace's.
    pub fn has_own_files(&self) -> bool {
        !self.dns_servers.is_empty()
            || !self.dns_search.is_empty()
            || !self.extra_hosts.is_empty()
            || !self.links.is_empty()
    }
}
