//! The iptables rules, as data: which chains the agent owns, how they are
//! hooked into the built-in chains, and what goes in them. Pure, so the exact
//! rules are unit-tested; `ipt` applies them.

use std::net::Ipv4Addr;

use super::types::HostPrep;
use crate::config::Ipv4Net;
use crate::task::def::NetworkBinding;

/// The credentials endpoint address tasks use.
pub const CREDENTIALS_IP: Ipv4Addr = Ipv4Addr::new(169, 254, 170, 2);

/// Host-wide chains (ecs-init's rules live here instead of the built-ins so
/// they can be flushed and rewritten idempotently).
pub(crate) const HOST_PREROUTING: &str = "ECS-AGENT-PREROUTING";
pub(crate) const HOST_OUTPUT: &str = "ECS-AGENT-OUTPUT";
pub(crate) const HOST_INPUT: &str = "ECS-AGENT-INPUT";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    pub table: &'static str,
    pub chain: String,
    pub spec: String,
}

/// An agent-owned chain and the rule in a built-in chain that jumps to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hook {
    pub table: &'static str,
    pub builtin: &'static str,
    pub chain: String,
    /// The jump rule (ends with `-j <chain>`).
    pub spec: String,
    /// Insert at the top (filter chains, so a DROP earlier cannot shadow us)
    /// rather than append.
    pub first: bool,
}

fn hook(
    table: &'static str,
    builtin: &'static str,
    chain: &str,
    matcher: &str,
    first: bool,
) -> Hook {
    let spec = if matcher.is_empty() {
        format!("-j {chain}")
    } else {
        format!("{matcher} -j {chain}")
    };
    Hook {
        table,
        builtin,
        chain: chain.to_string(),
        spec,
        first,
    }
}

pub(crate) fn host_hooks() -> Vec<Hook> {
    vec![
        hook("nat", "PREROUTING", HOST_PREROUTING, "", false),
        hook("nat", "OUTPUT", HOST_OUTPUT, "", false),
        hook("filter", "INPUT", HOST_INPUT, "", true),
    ]
}

/// ecs-init's rules: 169.254.170.2:80 to the credentials listener from
/// containers (PREROUTING DNAT) and from the host (OUTPUT REDIRECT), the
/// localhost traffic filter and the introspection port closed to all but
/// loopback and the task bridge.
///
/// The INPUT rules come in the order ecs-init leaves them (it inserts each at
/// the top: the localhost filter, then the introspection DROP, then the bridge
/// ACCEPT, ecs-init/exec/iptables/iptables.go `Create`): the bridge's ACCEPT,
/// then `! -i lo` DROP, then the localhost filter. ecs-init names docker0, the
/// bridge of bridge-mode tasks; ours is the agent's task bridge. ecs-init
/// adds no comment to these rules, so neither do we.
pub(crate) fn host_rules(prep: &HostPrep, bridge: &str) -> Vec<Rule> {
    let mut rules = vec![
        Rule {
            table: "nat",
            chain: HOST_PREROUTING.into(),
            spec: format!(
                "-d {CREDENTIALS_IP}/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 127.0.0.1:{}",
                prep.credentials_port
            ),
        },
        Rule {
            table: "nat",
            chain: HOST_OUTPUT.into(),
            spec: format!(
                "-d {CREDENTIALS_IP}/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports {}",
                prep.credentials_port
            ),
        },
    ];
    if !prep.allow_offhost_introspection {
        let port = prep.introspection_port;
        rules.push(Rule {
            table: "filter",
            chain: HOST_INPUT.into(),
            spec: format!("-i {bridge} -p tcp -m tcp --dport {port} -j ACCEPT"),
        });
        rules.push(Rule {
            table: "filter",
            chain: HOST_INPUT.into(),
            spec: format!("! -i {LOOPBACK} -p tcp -m tcp --dport {port} -j DROP"),
        });
    }
    if !prep.skip_localhost_traffic_filter {
        rules.push(Rule {
            table: "filter",
            chain: HOST_INPUT.into(),
            spec: "-d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP"
                .into(),
        });
    }
    rules
}

/// The loopback interface (ecs-init looks it up by its flags; Linux always
/// names it `lo`).
const LOOPBACK: &str = "lo";

/// awsvpc tasks share the task bridge with bridge-mode tasks here (ecs-init's
/// docker0 holds only bridge-mode tasks; the Go agent's awsvpc tasks reach the
/// host over their ENI or ecs-bridge, both dropped). This chain, hooked into
/// INPUT above ECS-AGENT-INPUT for packets from the bridge, holds one DROP per
/// awsvpc task address so that the bridge's ACCEPT serves bridge-mode tasks only.
pub(crate) fn input_chain(bridge: &str) -> String {
    format!("ECS-IN-{bridge}")
}

pub(crate) fn input_hook(bridge: &str) -> Hook {
    hook(
        "filter",
        "INPUT",
        &input_chain(bridge),
        &format!("-i {bridge}"),
        true,
    )
}

/// The introspection port closed to one awsvpc task's bridge address.
pub(crate) fn awsvpc_introspection_rule(bridge: &str, task_ip: Ipv4Addr, port: u16) -> Rule {
    Rule {
        table: "filter",
        chain: input_chain(bridge),
        spec: format!("-s {task_ip}/32 -p tcp -m tcp --dport {port} -j DROP"),
    }
}

/// Per-bridge chain names (bridge names are at most 15 bytes, chains 28).
pub(crate) fn dnat_chain(bridge: &str) -> String {
    format!("ECS-DNAT-{bridge}")
}
pub(crate) fn snat_chain(bridge: &str) -> String {
    format!("ECS-SNAT-{bridge}")
}
pub(crate) fn forward_chain(bridge: &str) -> String {
    format!("ECS-FWD-{bridge}")
}
pub(crate) fn credentials_chain(bridge: &str) -> String {
    format!("ECS-CRED-{bridge}")
}

pub(crate) fn bridge_hooks(bridge: &str) -> Vec<Hook> {
    let dnat = dnat_chain(bridge);
    vec![
        // Port mappings apply to traffic for any local address, from outside
        // (PREROUTING) and from the host itself, 127.0.0.1 included (OUTPUT).
        hook(
            "nat",
            "PREROUTING",
            &dnat,
            "-m addrtype --dst-type LOCAL",
            false,
        ),
        hook(
            "nat",
            "OUTPUT",
            &dnat,
            "-m addrtype --dst-type LOCAL",
            false,
        ),
        // 169.254.170.2 from this bridge's tasks goes to this agent's own
        // listener, ahead of the host-wide rule, so agents with separate
        // bridges on one host (tests) each serve their own tasks.
        hook(
            "nat",
            "PREROUTING",
            &credentials_chain(bridge),
            &format!("-i {bridge}"),
            true,
        ),
        hook("nat", "POSTROUTING", &snat_chain(bridge), "", false),
        hook("filter", "FORWARD", &forward_chain(bridge), "", true),
        input_hook(bridge),
    ]
}

pub(crate) fn bridge_rules(bridge: &str, subnet: Ipv4Net, credentials_port: u16) -> Vec<Rule> {
    let snat = snat_chain(bridge);
    let fwd = forward_chain(bridge);
    vec![
        Rule {
            table: "nat",
            chain: credentials_chain(bridge),
            spec: format!(
                "-d {CREDENTIALS_IP}/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 127.0.0.1:{credentials_port}"
            ),
        },
        // Outbound from tasks.
        Rule {
            table: "nat",
            chain: snat.clone(),
            spec: format!("-s {subnet} ! -o {bridge} -j MASQUERADE"),
        },
        // 127.0.0.1:hostPort DNATed into a task: the source must leave loopback.
        Rule {
            table: "nat",
            chain: snat.clone(),
            spec: format!("-s 127.0.0.0/8 -o {bridge} -j MASQUERADE"),
        },
        // A task reaching another task through a host port: without this the
        // reply would go straight back over the bridge with the wrong source.
        Rule {
            table: "nat",
            chain: snat,
            spec: format!("-s {subnet} -o {bridge} -m conntrack --ctstate DNAT -j MASQUERADE"),
        },
        Rule {
            table: "filter",
            chain: fwd.clone(),
            spec: format!("-i {bridge} -j ACCEPT"),
        },
        Rule {
            table: "filter",
            chain: fwd,
            spec: format!("-o {bridge} -j ACCEPT"),
        },
    ]
}

/// The DNAT of one port mapping.
pub(crate) fn port_rule(bridge: &str, b: &NetworkBinding, task_ip: Ipv4Addr) -> Rule {
    let p = b.protocol.as_str();
    Rule {
        table: "nat",
        chain: dnat_chain(bridge),
        spec: format!(
            "-p {p} -m {p} --dport {} -j DNAT --to-destination {task_ip}:{}",
            b.host_port, b.container_port
        ),
    }
}
