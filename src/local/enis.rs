//! Test stand-ins for EC2 network interfaces: registration (validated field
//! by field), choosing a free one for an awsvpc task, and the shapes the ENI
//! takes in ACS messages and in describe-tasks. Pure.

use super::state::{EniRec, State, TaskEni, TaskRec};
use crate::model::acs;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// `interfaceAssociationProtocol` of a plain (non-trunked) ENI.
pub const ASSOCIATION_DEFAULT: &str = "default";
/// describe-tasks `attachments[].type`.
pub const ATTACHMENT_TYPE: &str = "ElasticNetworkInterface";
/// Attachment statuses as describe-tasks shows them (ECS's
/// `Attachment.status`): created, agent told; the agent has it, waiting for
/// the ENI on the host; the agent reported it; released with its task.
pub const PRECREATED: &str = "PRECREATED";
pub const ATTACHING: &str = "ATTACHING";
pub const ATTACHED: &str = "ATTACHED";
pub const DELETED: &str = "DELETED";

/// A registration refused, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct EniError {
    pub field: String,
    pub message: String,
}

fn bad(field: &str, message: impl Into<String>) -> EniError {
    EniError {
        field: field.to_string(),
        message: message.into(),
    }
}

/// The body of `POST /debug/enis`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EniRequest {
    pub subnet_id: Option<String>,
    pub mac_address: Option<String>,
    pub private_ipv4_address: Option<String>,
    pub subnet_cidr: Option<String>,
    pub gateway: Option<String>,
    pub dns_servers: Option<Vec<String>>,
    pub private_dns_name: Option<String>,
}

/// Parses the request body, naming the member that does not fit.
pub fn parse_request(body: &[u8]) -> Result<EniRequest, EniError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "body" } else { &path };
        bad(field, e.into_inner().to_string())
    })
}

fn required<'a>(v: &'a Option<String>, field: &str) -> Result<&'a str, EniError> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad(field, "is required"))
}

fn ipv4(s: &str, field: &str) -> Result<Ipv4Addr, EniError> {
    s.parse()
        .map_err(|_| bad(field, format!("{s:?} is not an IPv4 address")))
}

/// `a.b.c.d/prefix` with no host bits set; returns (network, prefix).
pub fn parse_cidr(s: &str, field: &str) -> Result<(Ipv4Addr, u8), EniError> {
    let (addr, prefix) = s
        .split_once('/')
        .ok_or_else(|| bad(field, format!("{s:?} is not a CIDR block like 10.0.0.0/24")))?;
    let addr = ipv4(addr, field)?;
    let prefix: u8 = prefix
        .parse()
        .ok()
        .filter(|p| (1..=30).contains(p))
        .ok_or_else(|| bad(field, format!("{s:?}: the prefix length must be 1 to 30")))?;
    if u32::from(addr) & !mask(prefix) != 0 {
        return Err(bad(
            field,
            format!("{s:?} has host bits set; the network address is expected"),
        ));
    }
    Ok((addr, prefix))
}

fn mask(prefix: u8) -> u32 {
    u32::MAX << (32 - u32::from(prefix))
}

/// A usable host address of the subnet (not its network or broadcast address).
fn host_in(addr: Ipv4Addr, net: Ipv4Addr, prefix: u8) -> bool {
    let (a, n, m) = (u32::from(addr), u32::from(net), mask(prefix));
    a & m == n && a != n && a != (n | !m)
}

fn valid_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn valid_subnet_id(s: &str) -> bool {
    s.strip_prefix("subnet-").is_some_and(|id| {
        !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric())
    })
}

fn valid_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// Checks every field and builds the record (`id` is the new ENI's id).
/// A MAC address or private address already registered is refused.
pub fn validate(st: &State, req: &EniRequest, id: String, now: f64) -> Result<EniRec, EniError> {
    let subnet_id = required(&req.subnet_id, "subnetId")?;
    if !valid_subnet_id(subnet_id) {
        return Err(bad(
            "subnetId",
            format!("{subnet_id:?} is not a subnet id like subnet-0abc123"),
        ));
    }
    let mac = required(&req.mac_address, "macAddress")?.to_ascii_lowercase();
    if !valid_mac(&mac) {
        return Err(bad(
            "macAddress",
            format!("{mac:?} is not a MAC address like 02:aa:bb:cc:dd:01"),
        ));
    }
    let cidr = required(&req.subnet_cidr, "subnetCidr")?;
    let (net, prefix) = parse_cidr(cidr, "subnetCidr")?;
    let ip_s = required(&req.private_ipv4_address, "privateIpv4Address")?;
    let ip = ipv4(ip_s, "privateIpv4Address")?;
    if !host_in(ip, net, prefix) {
        return Err(bad(
            "privateIpv4Address",
            format!("{ip} is not a host address of subnetCidr {cidr}"),
        ));
    }
    let gw_s = required(&req.gateway, "gateway")?;
    let gw = ipv4(gw_s, "gateway")?;
    if !host_in(gw, net, prefix) {
        return Err(bad(
            "gateway",
            format!("{gw} is not a host address of subnetCidr {cidr}"),
        ));
    }
    if gw == ip {
        return Err(bad(
            "gateway",
            format!("{gw} is the same as privateIpv4Address"),
        ));
    }
    let dns = req.dns_servers.clone().unwrap_or_default();
    if dns.len() > 3 {
        return Err(bad("dnsServers", "at most 3 name servers"));
    }
    for (i, d) in dns.iter().enumerate() {
        ipv4(d, &format!("dnsServers[{i}]"))?;
    }
    if let Some(name) = &req.private_dns_name {
        if !valid_dns_name(name) {
            return Err(bad(
                "privateDnsName",
                format!("{name:?} is not a DNS name like ip-10-0-0-5.ec2.internal"),
            ));
        }
    }
    if let Some(other) = st.enis.values().find(|e| e.mac_address == mac) {
        return Err(bad(
            "macAddress",
            format!(
                "{mac} is already registered as {}",
                other.network_interface_id
            ),
        ));
    }
    if let Some(other) = st
        .enis
        .values()
        .find(|e| e.private_ipv4_address == ip.to_string())
    {
        return Err(bad(
            "privateIpv4Address",
            format!(
                "{ip} is already registered as {}",
                other.network_interface_id
            ),
        ));
    }
    Ok(EniRec {
        network_interface_id: id,
        subnet_id: subnet_id.to_string(),
        mac_address: mac,
        private_ipv4_address: ip.to_string(),
        subnet_cidr: format!("{net}/{prefix}"),
        gateway: gw.to_string(),
        dns_servers: dns,
        private_dns_name: req.private_dns_name.clone(),
        registered_at: now,
    })
}

/// `eni-` and 17 hex digits, as EC2 names interfaces.
pub fn new_eni_id() -> String {
    let hex = uuid::Uuid::new_v4().simple().to_string();
    format!("eni-{}", &hex[..17])
}

/// ENIs held by tasks that are not STOPPED.
pub fn in_use(st: &State) -> BTreeSet<String> {
    st.tasks
        .values()
        .filter(|t| t.last_status != "STOPPED")
        .filter_map(|t| t.eni.as_ref().map(|e| e.eni.network_interface_id.clone()))
        .collect()
}

/// What the named subnets offer an awsvpc task.
#[derive(Debug, Clone, PartialEq)]
pub enum Pool {
    /// No ENI is registered in any of them: the task runs without one.
    Local,
    /// Registered ENIs that are free, in preference order (may be empty).
    Free(Vec<EniRec>),
}

pub fn pool(st: &State, subnets: &[String]) -> Pool {
    let mut registered: Vec<(usize, &EniRec)> = st
        .enis
        .values()
        .filter_map(|e| {
            subnets
                .iter()
                .position(|s| *s == e.subnet_id)
                .map(|i| (i, e))
        })
        .collect();
    if registered.is_empty() {
        return Pool::Local;
    }
    let busy = in_use(st);
    registered.retain(|(_, e)| !busy.contains(&e.network_interface_id));
    registered.sort_by(|(a, x), (b, y)| {
        a.cmp(b)
            .then(x.registered_at.total_cmp(&y.registered_at))
            .then(x.network_interface_id.cmp(&y.network_interface_id))
    });
    Pool::Free(registered.into_iter().map(|(_, e)| e.clone()).collect())
}

fn prefix_of(cidr: &str) -> &str {
    cidr.split_once('/').map(|(_, p)| p).unwrap_or("32")
}

/// The ENI as ACS carries it (in the payload and in the attach message).
pub fn acs_eni(t: &TaskEni) -> acs::ElasticNetworkInterface {
    let e = &t.eni;
    acs::ElasticNetworkInterface {
        attachment_arn: Some(t.attachment_arn.clone()),
        ec2_id: Some(e.network_interface_id.clone()),
        mac_address: Some(e.mac_address.clone()),
        ipv4_addresses: vec![acs::Ipv4AddressAssignment {
            primary: Some(true),
            private_address: Some(e.private_ipv4_address.clone()),
        }],
        // Amazon ECS sends the gateway with the subnet's prefix length.
        subnet_gateway_ipv4_address: Some(format!("{}/{}", e.gateway, prefix_of(&e.subnet_cidr))),
        domain_name_servers: e.dns_servers.clone(),
        private_dns_name: e.private_dns_name.clone(),
        interface_association_protocol: Some(ASSOCIATION_DEFAULT.to_string()),
        ..Default::default()
    }
}

/// describe-tasks `attachments`: PRECREATED, ATTACHING or ATTACHED (see
/// [`TaskEni::status`]) while the task holds the ENI, DELETED once it is
/// STOPPED and the ENI went back to the pool.
pub fn render_attachments(t: &TaskRec) -> Value {
    let Some(a) = &t.eni else {
        return json!([]);
    };
    let status = if t.last_status == "STOPPED" {
        DELETED
    } else {
        a.status.as_str()
    };
    let mut details = vec![
        json!({"name": "subnetId", "value": a.eni.subnet_id}),
        json!({"name": "networkInterfaceId", "value": a.eni.network_interface_id}),
        json!({"name": "macAddress", "value": a.eni.mac_address}),
    ];
    if let Some(n) = &a.eni.private_dns_name {
        details.push(json!({"name": "privateDnsName", "value": n}));
    }
    details.push(json!({"name": "privateIPv4Address", "value": a.eni.private_ipv4_address}));
    json!([{
        "id": a.attachment_id,
        "type": ATTACHMENT_TYPE,
        "status": status,
        "details": details,
    }])
}

/// describe-tasks `containers[].networkInterfaces`.
pub fn render_container_interfaces(t: &TaskRec) -> Value {
    match &t.eni {
        Some(a) => json!([{
            "attachmentId": a.attachment_id,
            "privateIpv4Address": a.eni.private_ipv4_address,
        }]),
        None => json!([]),
    }
}

/// `GET /debug/enis` view of one ENI: with its holder, the attachment's
/// status and the members of the report that said ATTACHED.
pub fn render_held(e: &EniRec, holder: Option<(&str, &TaskEni)>) -> Value {
    let mut v = render(e, holder.map(|(arn, _)| arn));
    if let (Value::Object(m), Some((_, a))) = (&mut v, holder) {
        m.insert("attachmentArn".into(), json!(a.attachment_arn));
        m.insert("attachmentStatus".into(), json!(a.status));
        if !a.reported_with.is_empty() {
            m.insert("attachedReportMembers".into(), json!(a.reported_with));
        }
    }
    v
}

/// `GET /debug/enis` view of one ENI.
pub fn render(e: &EniRec, holder: Option<&str>) -> Value {
    let mut v = json!(e);
    if let Value::Object(m) = &mut v {
        m.insert(
            "status".into(),
            json!(if holder.is_some() {
                "in-use"
            } else {
                "available"
            }),
        );
        if let Some(h) = holder {
            m.insert("taskArn".into(), json!(h));
        }
    }
    v
}

#[cfg(test)]
#[path = "enis_tests.rs"]
mod tests;
