use std::collections::HashSet;
use std::net::Ipv4Addr;

use super::manager::Names;
use super::rules;
use super::state::{self, Lease, State};
use super::types::*;
use super::NetworkError;
use crate::config::{parse_port_range, Ipv4Net, DEFAULT_TASK_SUBNET};
use crate::task::def::{NetworkBinding, NetworkMode, PortMapping, Protocol};

fn net(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

#[test]
fn port_range_parsing() {
    // The proc file's blank-separated pair, read by ECS_DYNAMIC_HOST_PORT_RANGE's parser.
    assert_eq!(proc_port_range("32768\t60999\n"), Some((32768, 60999)));
    assert_eq!(parse_port_range("100-200"), Ok((100, 200)));
    for bad in ["", "5", "200-100", "0-10", "1-2-3", "a-b", "1-70000"] {
        assert!(parse_port_range(bad).is_err(), "{bad}");
    }
    for bad in ["", "5", "200 100", "0 10", "1 2 3", "a b", "1 70000"] {
        assert_eq!(proc_port_range(bad), None, "{bad}");
    }
}

#[test]
fn config_validation_names_the_field() {
    let mut c = NetworkConfig::with_defaults("/tmp/x".into());
    assert!(c.validate().is_ok());
    c.bridge_name = "a-very-long-bridge-name".into();
    assert!(c
        .validate()
        .unwrap_err()
        .to_string()
        .contains("bridge_name"));
    c.bridge_name = "br 0".into();
    assert!(c
        .validate()
        .unwrap_err()
        .to_string()
        .contains("bridge_name"));
    c.bridge_name = "ok".into();
    c.dynamic_port_range = (200, 100);
    assert!(c
        .validate()
        .unwrap_err()
        .to_string()
        .contains("dynamic_port_range"));
}

fn lease(ip: Option<Ipv4Addr>, ports: &[(Protocol, u16)]) -> Lease {
    Lease {
        mode: NetworkMode::Bridge,
        netns_path: "/x".into(),
        ip,
        host_veth: None,
        bindings: ports
            .iter()
            .map(|&(protocol, host_port)| NetworkBinding {
                container_port: 80,
                host_port,
                protocol,
                bind_ip: Ipv4Addr::UNSPECIFIED,
            })
            .collect(),
        eni: None,
        dns: vec![],
        dns_search: vec![],
    }
}

#[test]
fn ipam_hands_out_each_address_once_round_robin() {
    let mut s = State::new("br", net("10.1.0.0/29")); // tasks .2-.6
    let a = s.allocate_ip().unwrap();
    assert_eq!(a, Ipv4Addr::new(10, 1, 0, 2));
    s.leases.insert("a".into(), lease(Some(a), &[]));
    let b = s.allocate_ip().unwrap();
    assert_eq!(b, Ipv4Addr::new(10, 1, 0, 3));
    s.leases.insert("b".into(), lease(Some(b), &[]));
    // a released: the next one is still new, not a's.
    s.leases.remove("a");
    assert_eq!(s.allocate_ip().unwrap(), Ipv4Addr::new(10, 1, 0, 4));
    // Fill up: .4 .5 .6 then wrap to .2; .3 stays taken.
    let mut got = HashSet::new();
    for k in 0..4 {
        let ip = s.allocate_ip().unwrap();
        assert!(got.insert(ip), "{ip} twice");
        assert_ne!(ip, b);
        s.leases.insert(format!("k{k}"), lease(Some(ip), &[]));
    }
    let e = s.allocate_ip().unwrap_err();
    assert!(matches!(e, NetworkError::AddressesExhausted { .. }), "{e}");
    let mut one = State::new("br", net("10.2.0.0/29"));
    assert_eq!(one.allocate_ip().unwrap(), Ipv4Addr::new(10, 2, 0, 2));
}

fn req(container_port: u16, host_port: Option<u16>, protocol: Protocol) -> PortMapping {
    PortMapping {
        container_port,
        host_port,
        protocol,
    }
}

#[test]
fn dynamic_ports_skip_reserved_leased_and_bound() {
    let mut s = State::new("br", net("10.1.0.0/24"));
    s.leases.insert(
        "x".into(),
        lease(Some(Ipv4Addr::new(10, 1, 0, 2)), &[(Protocol::Tcp, 1001)]),
    );
    let bound = [1002u16];
    let b = s
        .allocate_ports(
            &[
                req(80, None, Protocol::Tcp),
                req(81, Some(0), Protocol::Tcp),
                req(53, None, Protocol::Udp),
            ],
            (1000, 1010),
            (&[1000], &[]),
            |p, port| !(p == Protocol::Tcp && bound.contains(&port)),
        )
        .unwrap();
    let got: Vec<(u16, u16, Protocol)> = b
        .iter()
        .map(|b| (b.container_port, b.host_port, b.protocol))
        .collect();
    // 1000 reserved, 1001 leased, 1002 bound; UDP has its own space but the cursor moved on.
    assert_eq!(
        got,
        vec![
            (80, 1003, Protocol::Tcp),
            (81, 1004, Protocol::Tcp),
            (53, 1005, Protocol::Udp)
        ]
    );
    assert!(b.iter().all(|b| b.bind_ip == Ipv4Addr::UNSPECIFIED));
    // Round robin: the next call starts after the last one.
    let next = s
        .allocate_ports(
            &[req(80, None, Protocol::Tcp)],
            (1000, 1010),
            (&[1000], &[]),
            |_, _| true,
        )
        .unwrap();
    assert_eq!(next[0].host_port, 1006);
}

#[test]
fn static_ports_are_refused_when_taken() {
    let mut s = State::new("br", net("10.1.0.0/24"));
    s.leases.insert(
        "x".into(),
        lease(Some(Ipv4Addr::new(10, 1, 0, 2)), &[(Protocol::Tcp, 8080)]),
    );
    let e = s
        .allocate_ports(
            &[req(80, Some(8080), Protocol::Tcp)],
            (1000, 1010),
            (&[], &[]),
            |_, _| true,
        )
        .unwrap_err();
    assert!(
        matches!(
            e,
            NetworkError::PortInUse {
                port: 8080,
                protocol: Protocol::Tcp
            }
        ),
        "{e}"
    );
    // Same number, other protocol: fine.
    let ok = s
        .allocate_ports(
            &[req(80, Some(8080), Protocol::Udp)],
            (1000, 1010),
            (&[], &[]),
            |_, _| true,
        )
        .unwrap();
    assert_eq!(ok[0].host_port, 8080);
    // Bound by some process on the host.
    let e = s
        .allocate_ports(
            &[req(80, Some(9090), Protocol::Tcp)],
            (1000, 1010),
            (&[], &[]),
            |_, p| p != 9090,
        )
        .unwrap_err();
    assert!(e.to_string().contains("9090/tcp"), "{e}");
    // Two mappings of one request asking for the same port.
    let e = s
        .allocate_ports(
            &[
                req(80, Some(7070), Protocol::Tcp),
                req(81, Some(7070), Protocol::Tcp),
            ],
            (1000, 1010),
            (&[], &[]),
            |_, _| true,
        )
        .unwrap_err();
    assert!(matches!(e, NetworkError::PortInUse { port: 7070, .. }));
    // A dynamic pick never takes a static port asked for in the same request.
    let b = s
        .allocate_ports(
            &[
                req(80, None, Protocol::Tcp),
                req(81, Some(1000), Protocol::Tcp),
            ],
            (1000, 1001),
            (&[], &[]),
            |_, _| true,
        )
        .unwrap();
    assert_eq!((b[0].host_port, b[1].host_port), (1001, 1000));
}

#[test]
fn ports_exhausted() {
    let mut s = State::new("br", net("10.1.0.0/24"));
    let e = s
        .allocate_ports(
            &[req(80, None, Protocol::Tcp)],
            (1000, 1002),
            (&[1000], &[]),
            |_, p| p != 1001 && p != 1002,
        )
        .unwrap_err();
    assert_eq!(e.to_string(), "no free tcp host port left in 1000-1002");
}

#[test]
fn state_round_trips_and_refuses_another_bridge() {
    let dir = tempfile::tempdir().unwrap();
    let n = net("10.1.0.0/24");
    let fresh = state::load(dir.path(), "br", n).unwrap();
    assert!(fresh.leases.is_empty());
    let mut s = fresh;
    let ip = s.allocate_ip().unwrap();
    s.leases
        .insert("k".into(), lease(Some(ip), &[(Protocol::Udp, 1234)]));
    state::save(dir.path(), &s).unwrap();
    assert_eq!(state::load(dir.path(), "br", n).unwrap(), s);
    assert!(!dir.path().join("network.json.tmp").exists());
    let e = state::load(dir.path(), "other", n).unwrap_err();
    assert!(matches!(e, NetworkError::StateCorrupt { .. }), "{e}");
    std::fs::write(dir.path().join("network.json"), b"{not json").unwrap();
    assert!(matches!(
        state::load(dir.path(), "br", n).unwrap_err(),
        NetworkError::StateCorrupt { .. }
    ));
}

/// A lease is written while its namespace is made, so writes may finish
/// out of order: a late one never puts an older state over a newer one.
#[tokio::test]
async fn a_late_write_never_puts_an_older_state_over_a_newer_one() {
    let dir = tempfile::tempdir().unwrap();
    let n = net("10.1.0.0/24");
    let saver = super::saver::Saver::new(dir.path().to_path_buf());
    let mut s = State::new("br", n);
    s.leases.insert("a".into(), lease(None, &[]));
    let older = saver.take(&s).unwrap();
    s.leases.insert("b".into(), lease(None, &[]));
    let newer = saver.take(&s).unwrap();
    saver.write(newer).await.unwrap();
    saver.write(older).await.unwrap();
    assert_eq!(state::load(dir.path(), "br", n).unwrap(), s);
    // In order, each is written.
    s.leases.remove("a");
    let next = saver.take(&s).unwrap();
    saver.write(next).await.unwrap();
    assert_eq!(state::load(dir.path(), "br", n).unwrap(), s);
}

#[test]
fn host_rules_match_ecs_init() {
    let prep = HostPrep::default();
    let r = rules::host_rules(&prep, "ecs-br0");
    let specs: Vec<(&str, &str, &str)> = r
        .iter()
        .map(|r| (r.table, r.chain.as_str(), r.spec.as_str()))
        .collect();
    assert_eq!(
        specs,
        vec![
            (
                "nat",
                "ECS-AGENT-PREROUTING",
                "-d 169.254.170.2/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 127.0.0.1:51679"
            ),
            ("nat", "ECS-AGENT-OUTPUT", "-d 169.254.170.2/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 51679"),
            // ecs-init/exec/iptables/iptables.go inserts each INPUT rule at the
            // top (localhost filter, `! -i lo` DROP, docker0 ACCEPT), so this
            // is the order it leaves: the bridge's ACCEPT first.
            ("filter", "ECS-AGENT-INPUT", "-i ecs-br0 -p tcp -m tcp --dport 51678 -j ACCEPT"),
            ("filter", "ECS-AGENT-INPUT", "! -i lo -p tcp -m tcp --dport 51678 -j DROP"),
            (
                "filter",
                "ECS-AGENT-INPUT",
                "-d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP"
            ),
        ]
    );
    // Another port: both introspection rules follow it; the filter stays.
    let other = HostPrep {
        introspection_port: 6000,
        skip_localhost_traffic_filter: true,
        ..HostPrep::default()
    };
    let specs: Vec<String> = rules::host_rules(&other, "ecs-t7")
        .into_iter()
        .filter(|r| r.table == "filter")
        .map(|r| r.spec)
        .collect();
    assert_eq!(
        specs,
        vec![
            "-i ecs-t7 -p tcp -m tcp --dport 6000 -j ACCEPT",
            "! -i lo -p tcp -m tcp --dport 6000 -j DROP"
        ]
    );
    let skip = HostPrep {
        skip_localhost_traffic_filter: true,
        allow_offhost_introspection: true,
        credentials_port: 1234,
        ..HostPrep::default()
    };
    let r = rules::host_rules(&skip, "ecs-br0");
    assert_eq!(r.len(), 2);
    assert!(r[0].spec.ends_with("127.0.0.1:1234"));
    let hooks = rules::host_hooks();
    assert!(hooks.iter().all(|h| h.spec == format!("-j {}", h.chain)));
    assert!(hooks.iter().find(|h| h.table == "filter").unwrap().first);
}

#[test]
fn bridge_and_port_rules() {
    let hooks = rules::bridge_hooks("ecs-br0");
    assert!(hooks.iter().all(|h| h.chain.len() <= 28));
    assert!(hooks
        .iter()
        .any(|h| h.builtin == "OUTPUT"
            && h.spec == "-m addrtype --dst-type LOCAL -j ECS-DNAT-ecs-br0"));
    assert!(hooks.iter().any(|h| h.builtin == "PREROUTING"
        && h.first
        && h.spec == "-i ecs-br0 -j ECS-CRED-ecs-br0"));
    let r = rules::bridge_rules("ecs-br0", DEFAULT_TASK_SUBNET, 40001);
    assert!(r.iter().any(|r| r.chain == "ECS-CRED-ecs-br0"
        && r.spec
            == "-d 169.254.170.2/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 127.0.0.1:40001"));
    assert!(r
        .iter()
        .any(|r| r.spec == "-s 169.254.172.0/22 ! -o ecs-br0 -j MASQUERADE"));
    assert!(r
        .iter()
        .any(|r| r.spec == "-s 127.0.0.0/8 -o ecs-br0 -j MASQUERADE"));
    let b = NetworkBinding {
        container_port: 80,
        host_port: 32768,
        protocol: Protocol::Udp,
        bind_ip: Ipv4Addr::UNSPECIFIED,
    };
    let p = rules::port_rule("ecs-br0", &b, Ipv4Addr::new(169, 254, 172, 9));
    assert_eq!(p.table, "nat");
    assert_eq!(p.chain, "ECS-DNAT-ecs-br0");
    assert_eq!(
        p.spec,
        "-p udp -m udp --dport 32768 -j DNAT --to-destination 169.254.172.9:80"
    );
}

#[test]
fn awsvpc_tasks_are_kept_off_the_bridge_introspection_accept() {
    // Hooked first in INPUT, for packets from the bridge only, so its DROPs
    // come before ECS-AGENT-INPUT's ACCEPT of the bridge.
    let h = rules::input_hook("ecs-br0");
    assert_eq!(
        (h.table, h.builtin, h.spec.as_str(), h.first),
        ("filter", "INPUT", "-i ecs-br0 -j ECS-IN-ecs-br0", true)
    );
    assert!(
        rules::bridge_hooks("ecs-br0").contains(&h),
        "removed with the bridge"
    );
    let r = rules::awsvpc_introspection_rule("ecs-br0", Ipv4Addr::new(169, 254, 172, 9), 51678);
    assert_eq!(
        (r.table, r.chain.as_str(), r.spec.as_str()),
        (
            "filter",
            "ECS-IN-ecs-br0",
            "-s 169.254.172.9/32 -p tcp -m tcp --dport 51678 -j DROP"
        )
    );
    assert!(rules::input_chain("abcdefghijklmno").len() <= 28);
}

#[test]
fn derived_names_fit_the_kernel() {
    let cfg = NetworkConfig::with_defaults("/tmp/x".into());
    let a = Names::new(&cfg, "0f3c0a6e-6a8f-4d39-b1a9-3a6c2d0f1e22");
    assert_eq!(
        a.netns,
        std::path::Path::new("/var/run/netns/ecs-0f3c0a6e-6a8f-4d39-b1a9-3a6c2d0f1e22")
    );
    assert!(a.veth.len() <= 15 && a.peer.len() <= 15);
    assert_ne!(a.veth, a.peer);
    let b = Names::new(&cfg, "0f3c0a6e-6a8f-4d39-b1a9-3a6c2d0f1e22/web app");
    let file = b.netns.file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        file.starts_with("ecs-0f3c0a6e-6a8f-4d39-b1a9-3a6c2d0f1e22-web-app-"),
        "{file}"
    );
    assert_ne!(a.veth, b.veth);
    // Same key, same names (teardown works without a lease).
    assert_eq!(Names::new(&cfg, "k").veth, Names::new(&cfg, "k").veth);
}

#[test]
fn conntrack_entries_are_picked_by_address() {
    use super::conntrack;
    fn attr(ty: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(payload);
        v.resize((v.len() + 3) & !3, 0);
        v
    }
    fn tuple(src: [u8; 4], dst: [u8; 4], dport: u16) -> Vec<u8> {
        let ip = [attr(1, &src), attr(2, &dst)].concat();
        let proto = [
            attr(1, &[6]),
            attr(2, &1234u16.to_be_bytes()),
            attr(3, &dport.to_be_bytes()),
        ]
        .concat();
        [attr(0x8000 | 1, &ip), attr(0x8000 | 2, &proto)].concat()
    }
    // 127.0.0.1 -> host port 40001, DNATed to 10.0.0.5:80.
    let orig = tuple([127, 0, 0, 1], [127, 0, 0, 1], 40001);
    let reply = tuple([10, 0, 0, 5], [10, 0, 0, 1], 1234);
    let msg = [
        attr(0x8000 | 1, &orig),
        attr(0x8000 | 2, &reply),
        attr(3, &[0, 0, 0, 8]),
        attr(18, &[0, 0]),
    ]
    .concat();
    let del = conntrack::delete_attrs_if_matching(&msg, Ipv4Addr::new(10, 0, 0, 5)).unwrap();
    let parsed = conntrack::attrs(&del);
    assert_eq!(parsed.len(), 2);
    assert_eq!((parsed[0].0, parsed[0].1), (1, orig.as_slice()));
    assert_eq!(parsed[1].0, 18);
    // The original source matches too; other addresses do not.
    assert!(conntrack::delete_attrs_if_matching(&msg, Ipv4Addr::new(127, 0, 0, 1)).is_some());
    assert!(conntrack::delete_attrs_if_matching(&msg, Ipv4Addr::new(10, 0, 0, 6)).is_none());
    assert!(conntrack::delete_attrs_if_matching(&[1, 2, 3], Ipv4Addr::new(10, 0, 0, 6)).is_none());
}

#[tokio::test]
async fn fake_network_records_calls() {
    use super::fake::{Call, FakeNetwork};
    use super::TaskNetwork;
    let f = FakeNetwork::default();
    let info = f
        .setup(
            &NamespaceRequest {
                key: "t1/web".into(),
                mode: NetworkMode::Bridge,
                eni: None,
                ports: vec![PortMapping {
                    container_port: 80,
                    host_port: None,
                    protocol: Protocol::Tcp,
                }],
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(info.bindings[0].host_port, 30080);
    f.teardown("t1/web").await.unwrap();
    assert_eq!(
        *f.calls.lock().unwrap(),
        vec![
            Call::Setup {
                key: "t1/web".into(),
                mode: NetworkMode::Bridge
            },
            Call::Teardown {
                key: "t1/web".into()
            }
        ]
    );
}

#[test]
fn network_json_keeps_its_lower_case_spelling() {
    let l = lease(Some(Ipv4Addr::new(10, 1, 0, 2)), &[(Protocol::Udp, 1234)]);
    let v = serde_json::to_value(&l).unwrap();
    assert_eq!(v["mode"], "bridge");
    assert_eq!(v["bindings"][0]["protocol"], "udp");
    // A lease written by an earlier agent.
    let old = serde_json::json!({
        "mode": "bridge", "netns_path": "/x", "ip": "10.1.0.2", "host_veth": null,
        "bindings": [{"container_port": 80, "host_port": 1234, "protocol": "udp",
                      "bind_ip": "0.0.0.0"}],
        "eni": null
    });
    assert_eq!(serde_json::from_value::<Lease>(old).unwrap(), l);
}
