//! A container's own name resolution and network switches (dnsServers,
//! dnsSearchDomains, extraHosts, hostname, links, disableNetworking,
//! interactive/pseudoTerminal), checked as Docker checks them for the Go
//! agent and refused by name where Amazon ECS or Docker refuse them.
//!
//! Amazon ECS sends `links` as a field of the container and the rest as
//! Docker create JSON (`dockerConfig.config` Hostname/NetworkDisabled/Tty/
//! OpenStdin, `dockerConfig.hostConfig` Dns/DnsSearch/ExtraHosts).

use std::net::IpAddr;

use super::def::NetworkMode;
use super::docker_config::{DockerCreateConfig, DockerHostConfig};
pub use super::netdef::{HostEntry, Link, NetOptions};

/// What the container definition asks for, validated; `tty` is
/// pseudoTerminal. Errors name the task definition's field.
pub fn net_options(
    config: &DockerCreateConfig,
    host: &DockerHostConfig,
    links: &[String],
    mode: NetworkMode,
) -> Result<(NetOptions, bool), String> {
    // In awsvpc the Go agent's containers join the pause container's
    // network (`container:` mode), where Docker refuses a hostname, DNS
    // servers and extra hosts ("conflicting options: ... and the network
    // mode") and Amazon ECS documents hostname and extraHosts as not
    // supported; a search list would be dropped silently, so it is refused too.
    if mode == NetworkMode::Awsvpc {
        for (field, set) in [
            ("hostname", config.hostname.is_some()),
            ("dnsServers", !host.dns.is_empty()),
            ("dnsSearchDomains", !host.dns_search.is_empty()),
            ("extraHosts", !host.extra_hosts.is_empty()),
        ] {
            if set {
                return Err(format!(
                    "{field}: not supported in awsvpc network mode (the task's \
                     hostname and DNS settings come from its network interface)"
                ));
            }
        }
    }
    if let Some(h) = &config.hostname {
        if !valid_hostname(h) {
            return Err(format!(
                "hostname {h:?}: expected at most 63 letters, digits, hyphens and dots (RFC 1123)"
            ));
        }
    }
    if !links.is_empty() && mode != NetworkMode::Bridge {
        return Err(format!(
            "links: only supported in bridge network mode (networkMode is {})",
            mode.as_str()
        ));
    }
    if config.open_stdin && !config.tty {
        return Err(
            "interactive: supported only with pseudoTerminal (no client attaches to a \
             container's stdin here, so without a terminal it would read end-of-file)"
                .to_string(),
        );
    }
    let dns_servers = host
        .dns
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.trim()
                .parse::<IpAddr>()
                .map_err(|_| format!("dnsServers[{i}] {s:?}: not an IPv4 or IPv6 address"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let dns_search = host
        .dns_search
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let d = s.trim();
            if d == "." || valid_domain(d) {
                Ok(d.trim_end_matches('.').to_string()).map(|d| {
                    if d.is_empty() {
                        ".".to_string()
                    } else {
                        d
                    }
                })
            } else {
                Err(format!("dnsSearchDomains[{i}] {s:?}: not a valid domain"))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let extra_hosts = host
        .extra_hosts
        .iter()
        .enumerate()
        .map(|(i, e)| extra_host(e).map_err(|why| format!("extraHosts[{i}] {e:?}: {why}")))
        .collect::<Result<Vec<_>, _>>()?;
    let links = links
        .iter()
        .enumerate()
        .map(|(i, l)| link(l).map_err(|why| format!("links[{i}] {l:?}: {why}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((
        NetOptions {
            dns_servers,
            dns_search,
            extra_hosts,
            links,
            disabled: config.network_disabled,
        },
        config.tty,
    ))
}

/// Docker's `host:ip` (split at the first colon, so IPv6 addresses work).
fn extra_host(e: &str) -> Result<HostEntry, String> {
    let (name, ip) = e
        .split_once(':')
        .filter(|(n, _)| !n.is_empty())
        .ok_or("expected hostname:address")?;
    if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '#')
    {
        return Err("the hostname must not contain spaces, control characters or #".into());
    }
    if ip == "host-gateway" {
        return Err("host-gateway is not supported by this agent".into());
    }
    let ip = ip
        .trim()
        .parse::<IpAddr>()
        .map_err(|_| format!("{ip:?} is not an IPv4 or IPv6 address"))?;
    Ok(HostEntry {
        hostname: name.to_string(),
        ip,
    })
}

/// `name` or `name:alias`, as the Go agent splits it (`task.go:dockerLinks`).
fn link(l: &str) -> Result<Link, String> {
    let parts: Vec<&str> = l.split(':').collect();
    let (container, alias) = match parts.as_slice() {
        [name] => (*name, *name),
        [name, alias] => (*name, *alias),
        _ => return Err("expected name or name:alias".into()),
    };
    for part in [container, alias] {
        if part.is_empty()
            || part.len() > 255
            || !part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "{part:?}: expected 1-255 letters, digits, hyphens or underscores"
            ));
        }
    }
    Ok(Link {
        container: container.to_string(),
        alias: alias.to_string(),
    })
}

fn valid_label(l: &str) -> bool {
    !l.is_empty()
        && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !l.starts_with('-')
        && !l.ends_with('-')
}

/// Docker's hostname rule (daemon: RFC 1123 labels, at most 63 bytes).
fn valid_hostname(h: &str) -> bool {
    h.len() <= 63 && h.split('.').all(valid_label)
}

/// Docker's `--dns-search` rule: dot-separated labels with a letter
/// somewhere, a trailing dot allowed, shorter than 255.
fn valid_domain(d: &str) -> bool {
    let d2 = d.strip_suffix('.').unwrap_or(d);
    d.len() < 255 && d.chars().any(|c| c.is_ascii_alphabetic()) && d2.split('.').all(valid_label)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        config: DockerCreateConfig,
        host: DockerHostConfig,
        links: &[&str],
        mode: NetworkMode,
    ) -> Result<(NetOptions, bool), String> {
        let links: Vec<String> = links.iter().map(|s| s.to_string()).collect();
        net_options(&config, &host, &links, mode)
    }

    fn host(dns: &[&str], search: &[&str], extra: &[&str]) -> DockerHostConfig {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect();
        DockerHostConfig {
            dns: v(dns),
            dns_search: v(search),
            extra_hosts: v(extra),
            ..Default::default()
        }
    }

    #[test]
    fn settings_are_validated_and_kept() {
        let (o, tty) = run(
            DockerCreateConfig {
                tty: true,
                open_stdin: true,
                network_disabled: true,
                ..Default::default()
            },
            host(
                &["10.0.0.2", " fd00::53 "],
                &["a.example", "b.example."],
                &["db:10.0.0.9", "v6:fd00::1"],
            ),
            &["db", "cache:kv"],
            NetworkMode::Bridge,
        )
        .unwrap();
        assert!(tty && o.disabled);
        assert_eq!(o.dns_servers[1], "fd00::53".parse::<IpAddr>().unwrap());
        assert_eq!(o.dns_search, vec!["a.example", "b.example"]);
        assert_eq!(o.extra_hosts[1].ip, "fd00::1".parse::<IpAddr>().unwrap());
        assert_eq!(o.extra_hosts[0].hostname, "db");
        assert_eq!(
            o.links,
            vec![
                Link {
                    container: "db".into(),
                    alias: "db".into()
                },
                Link {
                    container: "cache".into(),
                    alias: "kv".into()
                }
            ]
        );
        assert!(o.has_own_files());
    }

    #[test]
    fn bad_values_are_refused_naming_the_field() {
        let bridge = NetworkMode::Bridge;
        let d = DockerCreateConfig::default;
        let e = run(d(), host(&["10.0.0.300"], &[], &[]), &[], bridge).unwrap_err();
        assert_eq!(
            e,
            "dnsServers[0] \"10.0.0.300\": not an IPv4 or IPv6 address"
        );
        let e = run(d(), host(&[], &[], &["a:1.2.3.4", "b:nope"]), &[], bridge).unwrap_err();
        assert!(e.starts_with("extraHosts[1] \"b:nope\": "), "{e}");
        for bad in ["noaddress", ":1.2.3.4", "a b:1.2.3.4", "x:host-gateway"] {
            let e = run(d(), host(&[], &[], &[bad]), &[], bridge).unwrap_err();
            assert!(e.starts_with("extraHosts[0]"), "{bad}: {e}");
        }
        for bad in ["ex ample.com", "-a.example", "a\nnameserver 1.1.1.1", "123"] {
            let e = run(d(), host(&[], &[bad], &[]), &[], bridge).unwrap_err();
            assert!(e.starts_with("dnsSearchDomains[0]"), "{bad}: {e}");
        }
        for bad in ["a:b:c", "a:", ":b", "a b"] {
            let e = run(d(), host(&[], &[], &[]), &[bad], bridge).unwrap_err();
            assert!(e.starts_with("links[0]"), "{bad}: {e}");
        }
        for bad in ["under_score", &"h".repeat(64), "a..b", "-a"] {
            let c = DockerCreateConfig {
                hostname: Some(bad.to_string()),
                ..d()
            };
            let e = run(c, host(&[], &[], &[]), &[], bridge).unwrap_err();
            assert!(e.starts_with("hostname"), "{bad}: {e}");
        }
        let c = DockerCreateConfig {
            open_stdin: true,
            ..d()
        };
        let e = run(c, host(&[], &[], &[]), &[], bridge).unwrap_err();
        assert!(e.starts_with("interactive: "), "{e}");
    }

    #[test]
    fn network_modes_refuse_what_docker_and_ecs_refuse() {
        let d = DockerCreateConfig::default;
        let named = DockerCreateConfig {
            hostname: Some("web".into()),
            ..d()
        };
        let awsvpc = NetworkMode::Awsvpc;
        let e = run(named.clone(), host(&[], &[], &[]), &[], awsvpc).unwrap_err();
        assert!(e.starts_with("hostname: not supported in awsvpc"), "{e}");
        for (h, field) in [
            (host(&["1.1.1.1"], &[], &[]), "dnsServers"),
            (host(&[], &["a.example"], &[]), "dnsSearchDomains"),
            (host(&[], &[], &["a:1.1.1.1"]), "extraHosts"),
        ] {
            let e = run(d(), h, &[], awsvpc).unwrap_err();
            assert!(
                e.starts_with(&format!("{field}: not supported in awsvpc")),
                "{e}"
            );
        }
        for mode in [NetworkMode::Host, NetworkMode::None, awsvpc] {
            let e = run(d(), host(&[], &[], &[]), &["db"], mode).unwrap_err();
            assert!(e.starts_with("links: only supported in bridge"), "{e}");
        }
        // Host and none take the rest, as Docker does.
        for mode in [NetworkMode::Host, NetworkMode::None] {
            run(
                named.clone(),
                host(&["1.1.1.1"], &["a.example"], &["a:1.1.1.1"]),
                &[],
                mode,
            )
            .unwrap();
        }
    }
}
