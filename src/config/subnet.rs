//! `Ipv4Net`: an IPv4 subnet with its own validation, the one rule for the
//! task bridge's subnet (ECS_TASK_BRIDGE_SUBNET here, the bridge and its IPAM
//! in the network layer).

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The smallest bridge subnet: a /29 leaves the bridge (the tasks' gateway)
/// and five task addresses. ECS_TASK_BRIDGE_SUBNET has always stopped here.
pub const MAX_PREFIX: u8 = 29;
/// The largest: a /8.
pub const MIN_PREFIX: u8 = 8;

/// An IPv4 subnet (`addr/prefix`, host bits zero, prefix 8..=29).
///
/// Serialized as `{"network": "a.b.c.d", "prefix": n}` (network.json keeps it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipv4Net {
    network: Ipv4Addr,
    prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubnetError {
    #[error("{0:?} is not an IPv4 subnet like 169.254.172.0/22")]
    Syntax(String),
    #[error("prefix /{0} must be between /{MIN_PREFIX} and /{MAX_PREFIX}")]
    Prefix(u8),
    #[error("{addr}/{prefix} has host bits set (did you mean {network}/{prefix}?)")]
    HostBits {
        addr: Ipv4Addr,
        prefix: u8,
        network: Ipv4Addr,
    },
}

impl Ipv4Net {
    /// A subnet; host bits of `addr` must be zero and the prefix in 8..=29.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Self, SubnetError> {
        if !(MIN_PREFIX..=MAX_PREFIX).contains(&prefix) {
            return Err(SubnetError::Prefix(prefix));
        }
        let mask = Self::mask_of(prefix);
        if u32::from(addr) & !mask != 0 {
            return Err(SubnetError::HostBits {
                addr,
                prefix,
                network: Ipv4Addr::from(u32::from(addr) & mask),
            });
        }
        Ok(Self {
            network: addr,
            prefix,
        })
    }

    /// For constants known to be valid.
    pub(crate) const fn new_unchecked(network: Ipv4Addr, prefix: u8) -> Self {
        Self { network, prefix }
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
    type Err = SubnetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || SubnetError::Syntax(s.to_string());
        let (a, p) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = a.trim().parse().map_err(|_| bad())?;
        let prefix: u8 = p.trim().parse().map_err(|_| bad())?;
        Self::new(addr, prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn subnet_parsing_and_arithmetic() {
        let n = net("169.254.172.0/22");
        assert_eq!(n, crate::config::DEFAULT_TASK_SUBNET);
        assert_eq!(n.gateway(), Ipv4Addr::new(169, 254, 172, 1));
        assert_eq!(n.broadcast(), Ipv4Addr::new(169, 254, 175, 255));
        assert_eq!(
            n.task_range(),
            (
                u32::from(Ipv4Addr::new(169, 254, 172, 2)),
                u32::from(Ipv4Addr::new(169, 254, 175, 254))
            )
        );
        assert!(n.contains(Ipv4Addr::new(169, 254, 175, 9)));
        assert!(!n.contains(Ipv4Addr::new(169, 254, 176, 1)));
        assert_eq!(n.to_string(), "169.254.172.0/22");
        assert_eq!(net("10.0.0.0/29").prefix(), 29);
        assert_eq!(net("10.0.0.0/8").prefix(), 8);
        for bad in [
            "10.0.0.1/24",
            "10.0.0.0",
            "10.0.0.0/30",
            "10.0.0.0/31",
            "10.0.0.0/7",
            "x/24",
            "10.0.0.0/a",
        ] {
            assert!(bad.parse::<Ipv4Net>().is_err(), "{bad}");
        }
        assert_eq!(
            "10.0.0.1/24".parse::<Ipv4Net>().unwrap_err().to_string(),
            "10.0.0.1/24 has host bits set (did you mean 10.0.0.0/24?)"
        );
    }

    #[test]
    fn serialized_as_network_json_has_it() {
        let n = net("10.1.0.0/24");
        let v = serde_json::to_value(n).unwrap();
        assert_eq!(v, serde_json::json!({"network": "10.1.0.0", "prefix": 24}));
        assert_eq!(serde_json::from_value::<Ipv4Net>(v).unwrap(), n);
    }
}
