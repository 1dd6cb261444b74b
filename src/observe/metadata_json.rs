//! The part of the Go agent's task metadata JSON that the container
//! metadata file prints too: a container's `Networks` entries (the file
//! shows them as task metadata v3 does). Kept here, below both the endpoints
//! and the engine that writes the file, so both print the same bytes.

use serde::Serialize;

use super::names;
use super::view::{ContainerView, NetworkView, TaskView};
use crate::task::def::NetworkMode;

/// Task metadata version: v4 adds fields to v3's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V3,
    V4,
}

/// One entry of `Networks`. The ENI fields are v4 and `awsvpc` only.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NetworkJson {
    #[serde(rename = "NetworkMode", skip_serializing_if = "String::is_empty")]
    pub network_mode: String,
    #[serde(rename = "IPv4Addresses", skip_serializing_if = "Vec::is_empty")]
    pub ipv4_addresses: Vec<String>,
    #[serde(rename = "IPv6Addresses", skip_serializing_if = "Vec::is_empty")]
    pub ipv6_addresses: Vec<String>,
    #[serde(rename = "AttachmentIndex", skip_serializing_if = "Option::is_none")]
    pub attachment_index: Option<u32>,
    #[serde(rename = "MACAddress", skip_serializing_if = "String::is_empty")]
    pub mac_address: String,
    #[serde(
        rename = "IPv4SubnetCIDRBlock",
        skip_serializing_if = "String::is_empty"
    )]
    pub ipv4_subnet_cidr_block: String,
    #[serde(
        rename = "IPv6SubnetCIDRBlock",
        skip_serializing_if = "String::is_empty"
    )]
    pub ipv6_subnet_cidr_block: String,
    #[serde(rename = "DomainNameServers", skip_serializing_if = "Vec::is_empty")]
    pub domain_name_servers: Vec<String>,
    #[serde(rename = "DomainNameSearchList", skip_serializing_if = "Vec::is_empty")]
    pub domain_name_search_list: Vec<String>,
    #[serde(rename = "PrivateDNSName", skip_serializing_if = "String::is_empty")]
    pub private_dns_name: String,
    #[serde(
        rename = "SubnetGatewayIpv4Address",
        skip_serializing_if = "String::is_empty"
    )]
    pub subnet_gateway_ipv4_address: String,
}

/// The `Networks` entries of container `c` of `task`.
pub fn networks_json(task: &TaskView, c: &ContainerView, v: Version) -> Vec<NetworkJson> {
    let awsvpc = task.network_mode == NetworkMode::Awsvpc;
    let fallback;
    let networks: &[NetworkView] = if c.networks.is_empty() {
        // The Go agent reads these from the runtime's network settings,
        // which always name the mode; do the same from the task's mode.
        fallback = [NetworkView::new(task.network_mode)];
        &fallback
    } else {
        &c.networks
    };
    networks
        .iter()
        .map(|n| {
            let mut j = NetworkJson {
                network_mode: names::network_mode(n.mode).to_string(),
                ipv4_addresses: n.ipv4_addresses.clone(),
                ipv6_addresses: n.ipv6_addresses.clone(),
                attachment_index: None,
                mac_address: String::new(),
                ipv4_subnet_cidr_block: String::new(),
                ipv6_subnet_cidr_block: String::new(),
                domain_name_servers: Vec::new(),
                domain_name_search_list: Vec::new(),
                private_dns_name: String::new(),
                subnet_gateway_ipv4_address: String::new(),
            };
            if awsvpc {
                j.network_mode = "awsvpc".into();
                if v == Version::V4 {
                    let eni = n.eni.clone().unwrap_or_default();
                    j.attachment_index = Some(0);
                    j.mac_address = eni.mac_address;
                    j.ipv4_subnet_cidr_block = eni.ipv4_subnet_cidr_block;
                    j.ipv6_subnet_cidr_block = eni.ipv6_subnet_cidr_block;
                    j.domain_name_servers = eni.domain_name_servers;
                    j.domain_name_search_list = eni.domain_name_search_list;
                    j.private_dns_name = eni.private_dns_name;
                    j.subnet_gateway_ipv4_address = eni.subnet_gateway_ipv4_address;
                }
            } else {
                // Go: `[]string{settings.IPAddress}`, so host mode shows [""].
                if j.ipv4_addresses.is_empty() {
                    j.ipv4_addresses.push(String::new());
                }
                if v == Version::V3 {
                    j.ipv6_addresses.clear();
                }
            }
            j
        })
        .collect()
}
