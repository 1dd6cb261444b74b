//! The network values of a task that come from the ACS payload: its ENI.
//! Validated by `from_acs`; the network layer moves it into the task's namespace.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

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

/// A MAC address that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a MAC address like 0a:1b:2c:3d:4e:5f")]
pub struct InvalidMac(pub String);

/// Parses `aa:bb:cc:dd:ee:ff` (or with dashes) into bytes.
pub fn parse_mac(s: &str) -> Result<[u8; 6], InvalidMac> {
    let bad = || InvalidMac(s.to_string());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_parsing() {
        assert_eq!(
            parse_mac("0A:e5:14:00:00:01").unwrap(),
            [0x0a, 0xe5, 0x14, 0, 0, 1]
        );
        assert_eq!(
            parse_mac("0a-e5-14-00-00-01").unwrap(),
            [0x0a, 0xe5, 0x14, 0, 0, 1]
        );
        for bad in [
            "",
            "0a:e5:14:00:00",
            "0a:e5:14:00:00:01:02",
            "0a:e5:14:00:00:g1",
            "a:e5:14:00:00:011",
        ] {
            let e = parse_mac(bad).unwrap_err();
            assert!(e.to_string().contains("MAC address"), "{bad}: {e}");
        }
    }
}
