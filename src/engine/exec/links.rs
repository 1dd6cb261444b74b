//! Docker's legacy links (`links` in bridge mode): the linking container
//! gets an /etc/hosts line for each linked container and the environment
//! variables Docker sets for it (moby `daemon/links/links.go`).

use std::net::Ipv4Addr;

use crate::task::def::Protocol;

/// A linked container as the linking one sees it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Linked {
    pub alias: String,
    pub ip: Ipv4Addr,
    pub hostname: String,
    /// Its runtime id (Docker: its container name).
    pub id: String,
    /// Its environment, `KEY=VALUE`.
    pub env: Vec<String>,
    /// Its exposed ports: the image's and the port mappings' container ports.
    pub ports: Vec<(u16, Protocol)>,
}

impl Linked {
    /// The names of its /etc/hosts line: the alias, its hostname and,
    /// unless the alias is already that, its name.
    pub(crate) fn host_names(&self) -> String {
        let mut names = format!("{} {}", self.alias, self.hostname);
        if self.alias != self.id {
            names.push(' ');
            names.push_str(&self.id);
        }
        names
    }

    /// `ALIAS_PORT`, `ALIAS_PORT_<n>_<PROTO>[...]`, `ALIAS_NAME`,
    /// `ALIAS_ENV_<KEY>`, as Docker's `Link.ToEnv`; `parent` is the linking
    /// container's id (Docker's link name is `/parent/alias`).
    pub(crate) fn env(&self, parent: &str) -> Vec<String> {
        let alias = self.alias.to_uppercase().replace('-', "_");
        let ip = self.ip;
        let mut ports = self.ports.clone();
        // TCP first, then by number (Docker's withTCPPriority).
        ports.sort_by_key(|(n, p)| (*p != Protocol::Tcp, p.as_str(), *n));
        ports.dedup();
        let mut env = Vec::new();
        let mut start: Option<(u16, Protocol)> = None;
        let mut end: Option<(u16, Protocol)> = None;
        for (i, &(n, p)) in ports.iter().enumerate() {
            let proto = p.as_str();
            let upper = proto.to_uppercase();
            if i == 0 {
                start = Some((n, p));
                end = Some((n, p));
                env.push(format!("{alias}_PORT={proto}://{ip}:{n}"));
            }
            let prefix = format!("{alias}_PORT_{n}_{upper}");
            env.push(format!("{prefix}={proto}://{ip}:{n}"));
            env.push(format!("{prefix}_ADDR={ip}"));
            env.push(format!("{prefix}_PORT={n}"));
            env.push(format!("{prefix}_PROTO={proto}"));
            // Consecutive ports of one protocol also get a range.
            if let (Some((sn, sp)), Some((en, ep))) = (start, end) {
                if u32::from(n) == u32::from(en) + 1 && p == ep {
                    end = Some((n, p));
                    if i + 1 < ports.len() {
                        continue;
                    }
                }
                if let Some((en, ep)) = end.filter(|e| *e != (sn, sp)) {
                    let prefix = format!("{alias}_PORT_{sn}_{}", sp.as_str().to_uppercase());
                    env.push(format!("{prefix}_START={}://{ip}:{sn}", sp.as_str()));
                    env.push(format!("{prefix}_PORT_START={sn}"));
                    env.push(format!("{prefix}_END={}://{ip}:{en}", ep.as_str()));
                    env.push(format!("{prefix}_PORT_END={en}"));
                }
            }
            start = Some((n, p));
            end = Some((n, p));
        }
        env.push(format!("{alias}_NAME=/{parent}/{}", self.alias));
        for e in &self.env {
            let Some((k, v)) = e.split_once('=') else {
                continue;
            };
            // Docker leaves out what the image build sets for everyone.
            if k != "HOME" && k != "PATH" {
                env.push(format!("{alias}_ENV_{k}={v}"));
            }
        }
        env
    }
}

/// An image's `ExposedPorts` key (`80/tcp`, `53/udp`, `8080`: tcp);
/// other protocols (sctp) have no link variables here.
pub(crate) fn exposed_port(key: &str) -> Option<(u16, Protocol)> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let proto = match proto {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        _ => return None,
    };
    Some((port.parse().ok()?, proto))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(ports: Vec<(u16, Protocol)>) -> Linked {
        Linked {
            alias: "my-db".into(),
            ip: Ipv4Addr::new(172, 17, 0, 3),
            hostname: "abcdef012345".into(),
            id: "t-0-db".into(),
            env: vec!["PATH=/bin".into(), "PGDATA=/data".into(), "HOME=/".into()],
            ports,
        }
    }

    #[test]
    fn env_is_docker_s() {
        let env = db(vec![(5432, Protocol::Tcp)]).env("t-1-web");
        assert_eq!(
            env,
            [
                "MY_DB_PORT=tcp://172.17.0.3:5432",
                "MY_DB_PORT_5432_TCP=tcp://172.17.0.3:5432",
                "MY_DB_PORT_5432_TCP_ADDR=172.17.0.3",
                "MY_DB_PORT_5432_TCP_PORT=5432",
                "MY_DB_PORT_5432_TCP_PROTO=tcp",
                "MY_DB_NAME=/t-1-web/my-db",
                "MY_DB_ENV_PGDATA=/data",
            ]
        );
        assert_eq!(
            db(vec![]).env("p"),
            ["MY_DB_NAME=/p/my-db", "MY_DB_ENV_PGDATA=/data"]
        );
    }

    #[test]
    fn ports_sort_tcp_first_and_ranges_are_named() {
        let env = db(vec![
            (53, Protocol::Udp),
            (81, Protocol::Tcp),
            (80, Protocol::Tcp),
        ])
        .env("p");
        assert_eq!(env[0], "MY_DB_PORT=tcp://172.17.0.3:80");
        let range: Vec<&String> = env
            .iter()
            .filter(|e| e.contains("_START") || e.contains("_END"))
            .collect();
        assert_eq!(
            range,
            [
                "MY_DB_PORT_80_TCP_START=tcp://172.17.0.3:80",
                "MY_DB_PORT_80_TCP_PORT_START=80",
                "MY_DB_PORT_80_TCP_END=tcp://172.17.0.3:81",
                "MY_DB_PORT_80_TCP_PORT_END=81",
            ]
        );
        assert!(env.contains(&"MY_DB_PORT_53_UDP_PROTO=udp".to_string()));
        let udp_at = env
            .iter()
            .position(|e| e.starts_with("MY_DB_PORT_53_UDP="))
            .unwrap();
        let tcp_at = env
            .iter()
            .position(|e| e.starts_with("MY_DB_PORT_81_TCP="))
            .unwrap();
        assert!(tcp_at < udp_at);
    }

    #[test]
    fn image_exposed_ports_are_read() {
        assert_eq!(exposed_port("80/tcp"), Some((80, Protocol::Tcp)));
        assert_eq!(exposed_port("53/udp"), Some((53, Protocol::Udp)));
        assert_eq!(exposed_port("8080"), Some((8080, Protocol::Tcp)));
        assert_eq!(exposed_port("9/sctp"), None);
        assert_eq!(exposed_port("x/tcp"), None);
    }

    #[test]
    fn host_names_are_alias_hostname_and_name() {
        assert_eq!(db(vec![]).host_names(), "my-db abcdef012345 t-0-db");
        let mut same = db(vec![]);
        same.alias = "t-0-db".into();
        assert_eq!(same.host_names(), "t-0-db abcdef012345");
    }
}
