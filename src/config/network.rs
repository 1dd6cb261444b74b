//! Settings of task networking and task credentials: the host preparation
//! ecs-init does for the Go agent, the task bridge, dynamic host ports and
//! task IAM roles.

use std::net::Ipv4Addr;

use super::subnet::{Ipv4Net, SubnetError};
use super::{values, Reader};

pub const DEFAULT_TASK_BRIDGE: &str = "ecs-br0";
/// The Go agent's awsvpc `ecs-bridge` subnet: link-local, so it clashes with
/// neither docker0 (172.17.0.0/16) nor a VPC.
pub const DEFAULT_TASK_SUBNET: Ipv4Net =
    Ipv4Net::new_unchecked(Ipv4Addr::new(169, 254, 172, 0), 22);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Networking {
    /// ECS_HOST_NETWORK_SETUP: route_localnet and the ECS-AGENT-* iptables
    /// chains (what ecs-init does for the Go agent).
    pub host_setup: bool,
    /// ECS_SKIP_LOCALHOST_TRAFFIC_FILTER
    pub skip_localhost_traffic_filter: bool,
    /// ECS_ALLOW_OFFHOST_INTROSPECTION_ACCESS
    pub allow_offhost_introspection: bool,
    /// ECS_DYNAMIC_HOST_PORT_RANGE; None = the kernel's ephemeral range.
    pub dynamic_host_port_range: Option<(u16, u16)>,
    /// ECS_TASK_BRIDGE_NAME
    pub task_bridge: String,
    /// ECS_TASK_BRIDGE_SUBNET
    pub task_subnet: Ipv4Net,
    /// ECS_ENABLE_TASK_IAM_ROLE
    pub task_iam_role: bool,
    /// ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST
    pub task_iam_role_network_host: bool,
    /// ECS_ENABLE_TASK_ENI (forced off on external instances).
    pub task_eni: bool,
    /// ECS_EXTERNAL: an instance outside EC2 (ECS Anywhere).
    pub external: bool,
    /// ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE: awslogs may use the task
    /// execution role (and execution-role-awslogs is advertised).
    pub awslogs_execution_role_override: bool,
}

/// `low-high`, inclusive, 1-65535: ECS_DYNAMIC_HOST_PORT_RANGE (and the
/// kernel's ip_local_port_range once its blank is read as the dash).
pub fn parse_port_range(s: &str) -> Result<(u16, u16), String> {
    let expected = || "a port range like 32768-60999 (low-high, 1-65535)".to_string();
    let (lo, hi) = s.split_once('-').ok_or_else(expected)?;
    let lo: u16 = lo.trim().parse().map_err(|_| expected())?;
    let hi: u16 = hi.trim().parse().map_err(|_| expected())?;
    if lo == 0 || lo > hi {
        return Err(expected());
    }
    Ok((lo, hi))
}

fn parse_bridge_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 15
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(s.to_string())
    } else {
        Err("an interface name of 1-15 characters from A-Z a-z 0-9 _ . -".into())
    }
}

fn parse_subnet(s: &str) -> Result<Ipv4Net, String> {
    s.parse().map_err(|e| match e {
        SubnetError::HostBits {
            network, prefix, ..
        } => format!("the network address: host bits are set (did you mean {network}/{prefix}?)"),
        SubnetError::Syntax(_) | SubnetError::Prefix(_) => format!(
            "an IPv4 subnet like 169.254.172.0/22 (prefix {}-{})",
            super::subnet::MIN_PREFIX,
            super::subnet::MAX_PREFIX
        ),
    })
}

impl Reader<'_> {
    pub(super) fn networking(&mut self) -> Networking {
        let flag = |r: &mut Self, name: &'static str, default: bool| {
            r.parse(name, values::parse_bool).unwrap_or(default)
        };
        let external = flag(self, "ECS_EXTERNAL", false);
        let task_eni_set = self.parse("ECS_ENABLE_TASK_ENI", values::parse_bool);
        // ecs-init turns task ENIs off on external instances whatever the
        // config file says ("Task networking is not supported when not
        // running on EC2"); say so when the file said otherwise.
        let task_eni = match (external, task_eni_set) {
            (false, set) => set.unwrap_or(true),
            (true, Some(true)) => {
                self.warn(
                    "ECS_ENABLE_TASK_ENI",
                    "task ENIs are not supported on external instances (ECS_EXTERNAL=true); \
                     turned off as ecs-init does"
                        .into(),
                );
                false
            }
            (true, _) => false,
        };
        Networking {
            host_setup: flag(self, "ECS_HOST_NETWORK_SETUP", true),
            skip_localhost_traffic_filter: flag(self, "ECS_SKIP_LOCALHOST_TRAFFIC_FILTER", false),
            allow_offhost_introspection: flag(
                self,
                "ECS_ALLOW_OFFHOST_INTROSPECTION_ACCESS",
                false,
            ),
            dynamic_host_port_range: self.parse("ECS_DYNAMIC_HOST_PORT_RANGE", parse_port_range),
            task_bridge: self
                .parse("ECS_TASK_BRIDGE_NAME", parse_bridge_name)
                .unwrap_or_else(|| DEFAULT_TASK_BRIDGE.to_string()),
            task_subnet: self
                .parse("ECS_TASK_BRIDGE_SUBNET", parse_subnet)
                .unwrap_or(DEFAULT_TASK_SUBNET),
            // ecs-init's defaults on the ECS-optimized AMI
            // (ecs-init/docker/docker.go getContainerConfig and
            // docker_config.go getPlatformSpecificEnvVariables): this agent
            // does ecs-init's job, so it starts from what ecs-init gives the
            // Go agent, not from the Go agent's own `false`.
            task_iam_role: flag(self, "ECS_ENABLE_TASK_IAM_ROLE", true),
            task_iam_role_network_host: flag(self, "ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST", true),
            task_eni,
            external,
            awslogs_execution_role_override: flag(
                self,
                "ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE",
                true,
            ),
        }
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::config::{test_support, Config, ConfigError};

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        test_support::config(pairs)
    }

    #[test]
    fn defaults_follow_the_go_agent_and_are_documented() {
        let n = cfg(&[]).unwrap().networking;
        assert!(n.host_setup);
        assert!(!n.skip_localhost_traffic_filter);
        assert!(!n.allow_offhost_introspection);
        // ecs-init's defaults (ecs-init/docker/docker.go, docker_config.go).
        assert!(n.task_iam_role && n.task_iam_role_network_host && n.task_eni);
        assert!(n.awslogs_execution_role_override && !n.external);
        assert_eq!(n.dynamic_host_port_range, None);
        assert_eq!(n.task_bridge, "ecs-br0");
        assert_eq!(
            n.task_subnet,
            Ipv4Net::new(Ipv4Addr::new(169, 254, 172, 0), 22).unwrap()
        );
        let doc = test_support::documented_defaults();
        assert_eq!(doc["ECS_TASK_BRIDGE_NAME"], "ecs-br0");
        assert_eq!(doc["ECS_TASK_BRIDGE_SUBNET"], "169.254.172.0/22");
        assert_eq!(doc["ECS_ENABLE_TASK_IAM_ROLE"], "true");
        assert_eq!(doc["ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST"], "true");
        assert_eq!(doc["ECS_ENABLE_TASK_ENI"], "true");
        assert_eq!(doc["ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE"], "true");
        assert_eq!(doc["ECS_EXTERNAL"], "false");
        assert_eq!(doc["ECS_HOST_NETWORK_SETUP"], "true");
    }

    /// ecs-init sets ECS_ENABLE_TASK_ENI=false on external instances after
    /// merging the config file (ecs-init/docker/docker.go), so the file
    /// cannot turn it back on; the explicit `true` earns a warning.
    #[test]
    fn external_instances_have_no_task_enis() {
        let c = cfg(&[("ECS_EXTERNAL", "true")]).unwrap();
        assert!(c.networking.external && !c.networking.task_eni);
        assert!(c.networking.task_iam_role, "roles stay on");
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let c = cfg(&[("ECS_EXTERNAL", "true"), ("ECS_ENABLE_TASK_ENI", "true")]).unwrap();
        assert!(!c.networking.task_eni);
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert_eq!(c.warnings[0].variable, "ECS_ENABLE_TASK_ENI");
        assert!(c.warnings[0].message.contains("ECS_EXTERNAL"));
        let c = cfg(&[
            ("ECS_ENABLE_TASK_ENI", "false"),
            ("ECS_ENABLE_TASK_IAM_ROLE", "false"),
        ])
        .unwrap();
        assert!(!c.networking.task_eni && !c.networking.task_iam_role);
    }

    #[test]
    fn values_are_parsed() {
        let n = cfg(&[
            ("ECS_DYNAMIC_HOST_PORT_RANGE", "40000-40100"),
            ("ECS_TASK_BRIDGE_NAME", "ecs-t1"),
            ("ECS_TASK_BRIDGE_SUBNET", "10.213.4.0/24"),
            ("ECS_ENABLE_TASK_IAM_ROLE", "true"),
            ("ECS_ENABLE_TASK_ENI", "true"),
            ("ECS_HOST_NETWORK_SETUP", "false"),
        ])
        .unwrap()
        .networking;
        assert_eq!(n.dynamic_host_port_range, Some((40000, 40100)));
        assert_eq!(n.task_bridge, "ecs-t1");
        assert_eq!(
            n.task_subnet,
            Ipv4Net::new(Ipv4Addr::new(10, 213, 4, 0), 24).unwrap()
        );
        assert!(n.task_iam_role && n.task_eni && !n.host_setup);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (name, value) in [
            ("ECS_DYNAMIC_HOST_PORT_RANGE", "200-100"),
            ("ECS_DYNAMIC_HOST_PORT_RANGE", "0-100"),
            ("ECS_DYNAMIC_HOST_PORT_RANGE", "100"),
            ("ECS_TASK_BRIDGE_NAME", "a-name-that-is-too-long"),
            ("ECS_TASK_BRIDGE_SUBNET", "10.0.0.1/24"),
            ("ECS_TASK_BRIDGE_SUBNET", "10.0.0.0/31"),
            ("ECS_TASK_BRIDGE_SUBNET", "10.0.0.0"),
            ("ECS_ENABLE_TASK_IAM_ROLE", "yes please"),
            ("ECS_EXTERNAL", "maybe"),
            ("ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE", "on"),
        ] {
            let err = cfg(&[(name, value)]).unwrap_err().to_string();
            assert!(err.contains(name), "{name}={value}: {err}");
        }
    }
}
