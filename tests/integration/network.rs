//! Task networking against the real kernel: namespaces, veths, the bridge,
//! iptables DNAT, an ENI stand-in. Each test has its own bridge, subnet,
//! port range and state dir, so they run in parallel; guards tear everything
//! down even when an assertion fails. Needs root.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ecs::config::Ipv4Net;
use ecs::network::{
    HostPrep, NamespaceInfo, NamespaceRequest, NetworkConfig, NetworkManager, Reserved,
};
use ecs::task::def::{NetworkBinding, NetworkMode, PortMapping, Protocol};
use ecs::task::net::Eni;

use crate::common::needs_root;

/// Tests that change the host-wide ECS-AGENT-* chains take this.
pub static HOST_PREP: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    // Fixed width: no name may be a prefix of another (leftover checks match substrings).
    format!("{prefix}{:04x}{n:03}", std::process::id() & 0xffff)
}

/// A manager on its own bridge; Drop tears down every key it set up and
/// removes the bridge and its chains.
pub struct Net {
    pub mgr: Arc<NetworkManager>,
    pub bridge: String,
    pub subnet: Ipv4Net,
    pub state_dir: tempfile::TempDir,
    keys: std::sync::Mutex<Vec<String>>,
}

impl Net {
    /// `third` picks the subnet 10.213.<third>.0/24 and the port range
    /// 10000 + third*100 .. +99, distinct per test and below the kernel's
    /// ephemeral ports, which `free_port()` hands out to other tests.
    pub async fn new(third: u8) -> Net {
        Net::with_credentials_port(third, 51679).await
    }

    /// Tasks on this bridge reach 169.254.170.2:80 at 127.0.0.1:`port`.
    pub async fn with_credentials_port(third: u8, port: u16) -> Net {
        let state_dir = tempfile::tempdir().unwrap();
        let bridge = unique("ecst");
        let subnet: Ipv4Net = format!("10.213.{third}.0/24").parse().unwrap();
        let lo = 10000 + u16::from(third) * 100;
        let cfg = NetworkConfig {
            bridge_name: bridge.clone(),
            bridge_subnet: subnet,
            dynamic_port_range: (lo, lo + 99),
            reserved_ports_tcp: vec![lo],
            reserved_ports_udp: vec![],
            credentials_port: port,
            ..NetworkConfig::with_defaults(state_dir.path().to_path_buf())
        };
        let mgr = Arc::new(NetworkManager::new(cfg).await.unwrap());
        Net {
            mgr,
            bridge,
            subnet,
            state_dir,
            keys: Default::default(),
        }
    }

    pub fn key(&self, name: &str) -> String {
        let k = unique(&format!("{name}-"));
        self.keys.lock().unwrap().push(k.clone());
        k
    }

    pub async fn setup(
        &self,
        key: &str,
        mode: NetworkMode,
        ports: Vec<PortMapping>,
        eni: Option<Eni>,
    ) -> NamespaceInfo {
        self.mgr
            .setup(&NamespaceRequest {
                key: key.to_string(),
                mode,
                eni,
                ports,
            })
            .await
            .unwrap()
    }

    pub fn lease_file(&self) -> serde_json::Value {
        let s = std::fs::read_to_string(self.state_dir.path().join("network.json")).unwrap();
        serde_json::from_str(&s).unwrap()
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        let mgr = self.mgr.clone();
        let keys = self.keys.lock().unwrap().clone();
        let bridge = self.bridge.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                for k in keys {
                    if let Err(e) = mgr.teardown(&k).await {
                        eprintln!("cleanup teardown {k}: {e}");
                    }
                }
                if let Err(e) = mgr.remove_bridge().await {
                    eprintln!("cleanup bridge {bridge}: {e}");
                }
            });
        })
        .join()
        .ok();
    }
}

/// A process killed on drop.
pub struct Proc(pub Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn ns_name(info: &NamespaceInfo) -> String {
    info.netns_path
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// `ip netns exec NS args...` (busybox 1.35's `wget -T` crashes: use `timeout`). (the test's only use of `ip` for namespaces).
pub fn in_ns(info: &NamespaceInfo, args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip")
        .args(["netns", "exec", &ns_name(info)])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{}: {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// `wget -qO- URL` inside the namespace, at most 5 s.
pub fn wget(info: &NamespaceInfo, url: &str) -> Result<String, String> {
    in_ns(info, &["timeout", "5", "busybox", "wget", "-qO-", url])
}

/// A busybox httpd in the namespace serving `body` at /index.html on `port`.
pub fn httpd(info: &NamespaceInfo, port: u16, body: &str) -> (Proc, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), body).unwrap();
    let child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns_name(info),
            "busybox",
            "httpd",
            "-f",
            "-p",
        ])
        .arg(port.to_string())
        .arg("-h")
        .arg(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (Proc(child), dir)
}

/// GET / over plain TCP from the host; the body, or None.
pub fn http_get(addr: SocketAddr) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(s, "GET / HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.").then(|| body.to_string())
}

/// Polls until `f` gives Some, up to 10 s.
pub fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..100 {
        if let Some(v) = f() {
            return v;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

fn sh(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A non-loopback IPv4 address of the host that is not on `bridge`.
fn host_ip(exclude: &Ipv4Net) -> Option<Ipv4Addr> {
    sh("ip", &["-4", "-o", "addr", "show"])
        .lines()
        .find_map(|l| {
            let cidr = l.split_whitespace().skip_while(|w| *w != "inet").nth(1)?;
            let ip: Ipv4Addr = cidr.split('/').next()?.parse().ok()?;
            (!ip.is_loopback() && !exclude.contains(ip)).then_some(ip)
        })
}

/// Host conntrack entries naming `ip` (from /proc/net/nf_conntrack).
pub fn conntrack_mentions(ip: Ipv4Addr) -> Vec<String> {
    let needle = format!("={ip} ");
    std::fs::read_to_string("/proc/net/nf_conntrack")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&needle))
        .map(str::to_string)
        .collect()
}

fn tcp(container_port: u16, host_port: Option<u16>) -> PortMapping {
    PortMapping {
        container_port,
        host_port,
        protocol: Protocol::Tcp,
    }
}

fn leftovers(net: &Net, names: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    let netns = sh("ip", &["netns", "list"]);
    let links = sh("ip", &["-o", "link"]);
    let rules = sh("iptables-save", &[]);
    for n in names {
        if netns.contains(n.as_str()) {
            found.push(format!("netns {n}"));
        }
    }
    for l in rules.lines() {
        if l.contains(&format!("ECS-DNAT-{}", net.bridge)) && l.contains("DNAT --to-destination") {
            found.push(format!("rule {l}"));
        }
    }
    // Our host veths are "ve" + hash; count those enslaved to our bridge.
    for l in links.lines() {
        if l.contains(&format!("master {}", net.bridge)) {
            found.push(format!("link {l}"));
        }
    }
    if !net.lease_file()["leases"].as_object().unwrap().is_empty() {
        found.push(format!("leases {}", net.lease_file()["leases"]));
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_dynamic_port_answers_from_host_and_other_namespace() {
    if !needs_root() {
        return;
    }
    let net = Net::new(11).await;
    let a = net.key("web");
    let b = net.key("client");
    let info = net
        .setup(
            &a,
            NetworkMode::Bridge,
            vec![
                tcp(8080, None),
                tcp(8081, Some(0)),
                PortMapping {
                    container_port: 53,
                    host_port: None,
                    protocol: Protocol::Udp,
                },
            ],
            None,
        )
        .await;
    assert_eq!(info.bindings.len(), 3);
    let hp = info.bindings[0].host_port;
    let (lo, hi) = net.mgr.config().dynamic_port_range;
    for bnd in &info.bindings {
        assert!((lo..=hi).contains(&bnd.host_port), "{bnd:?}");
        assert_ne!(bnd.host_port, lo, "reserved port handed out");
        assert_eq!(bnd.bind_ip, Ipv4Addr::UNSPECIFIED);
    }
    assert_ne!(info.bindings[0].host_port, info.bindings[1].host_port);
    let ip = info.ipv4.unwrap();
    assert!(net.subnet.contains(ip));
    assert_eq!(info.source_ips, vec![ip]);
    let (_p, _d) = httpd(&info, 8080, "hello from a");

    let local = SocketAddr::from((Ipv4Addr::LOCALHOST, hp));
    let body = eventually("127.0.0.1:hostPort", || http_get(local));
    assert_eq!(body, "hello from a");
    let gw = SocketAddr::from((net.subnet.gateway(), hp));
    assert_eq!(
        http_get(gw).as_deref(),
        Some("hello from a"),
        "bridge address"
    );
    if let Some(h) = host_ip(&net.subnet) {
        assert_eq!(
            http_get(SocketAddr::from((h, hp))).as_deref(),
            Some("hello from a"),
            "host address {h}"
        );
    }

    // UDP: a datagram to 127.0.0.1:hostPort reaches a listener in the namespace.
    let udp_hp = info.bindings[2].host_port;
    // busybox nc has no UDP: a socket made on a thread inside the namespace.
    let (tx, rx) = std::sync::mpsc::channel();
    let ns_file = std::fs::File::open(&info.netns_path).unwrap();
    std::thread::spawn(move || {
        use std::os::fd::AsRawFd;
        // SAFETY: this thread only serves the socket below.
        assert_eq!(
            unsafe { libc::setns(ns_file.as_raw_fd(), libc::CLONE_NEWNET) },
            0
        );
        let s = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 53)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
        let mut buf = [0u8; 64];
        if let Ok((n, _)) = s.recv_from(&mut buf) {
            let _ = tx.send(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    });
    let sock = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let mut got_udp = None;
    for _ in 0..30 {
        sock.send_to(b"ping-udp", (Ipv4Addr::LOCALHOST, udp_hp))
            .unwrap();
        if let Ok(m) = rx.recv_timeout(Duration::from_millis(200)) {
            got_udp = Some(m);
            break;
        }
    }
    assert_eq!(
        got_udp.as_deref(),
        Some("ping-udp"),
        "UDP to 127.0.0.1:{udp_hp}"
    );

    // Another namespace on the bridge, through the host port and directly.
    let other = net.setup(&b, NetworkMode::Bridge, vec![], None).await;
    assert_ne!(other.ipv4, info.ipv4);
    let url = format!("http://{}:{hp}/", net.subnet.gateway());
    let got = wget(&other, &url).unwrap();
    assert_eq!(got, "hello from a");
    if let Some(h) = host_ip(&net.subnet) {
        let url = format!("http://{h}:{hp}/");
        assert_eq!(wget(&other, &url).unwrap(), "hello from a");
    }
    let direct = format!("http://{ip}:8080/");
    assert_eq!(wget(&other, &direct).unwrap(), "hello from a");

    // A static port already bound on the host is refused.
    let held = std::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
    let taken = held.local_addr().unwrap().port();
    let c = net.key("clash");
    let err = net
        .mgr
        .setup(&NamespaceRequest {
            key: c,
            mode: NetworkMode::Bridge,
            eni: None,
            ports: vec![tcp(80, Some(taken))],
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains(&taken.to_string()), "{err}");

    net.mgr.teardown(&a).await.unwrap();
    net.mgr.teardown(&b).await.unwrap();
    net.mgr.teardown(&a).await.unwrap(); // idempotent
    assert!(http_get(local).is_none() || http_get(local).as_deref() != Some("hello from a"));
    let left = leftovers(&net, &[ns_name(&info), ns_name(&other)]);
    assert!(left.is_empty(), "left behind: {left:#?}");
    let ct = conntrack_mentions(ip);
    assert!(ct.is_empty(), "conntrack entries left: {ct:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awsvpc_tasks_get_distinct_addresses_and_reach_each_other() {
    if !needs_root() {
        return;
    }
    let net = Net::new(12).await;
    let (a, b) = (net.key("task-a"), net.key("task-b"));
    let ia = net
        .setup(&a, NetworkMode::Awsvpc, vec![tcp(80, None)], None)
        .await;
    let ib = net.setup(&b, NetworkMode::Awsvpc, vec![], None).await;
    assert!(ia.bindings.is_empty(), "awsvpc has no host port mappings");
    assert_ne!(ia.ipv4, ib.ipv4);
    let (_p, _d) = httpd(&ia, 80, "task a");
    let url = format!("http://{}:80/", ia.ipv4.unwrap());
    let got = eventually("b reaches a", || wget(&ib, &url).ok());
    assert_eq!(got, "task a");
    // Containers of one task share the namespace: localhost works.
    assert_eq!(wget(&ia, "http://127.0.0.1:80/").unwrap(), "task a");
    net.mgr.teardown(&a).await.unwrap();
    net.mgr.teardown(&b).await.unwrap();
    assert!(leftovers(&net, &[ns_name(&ia), ns_name(&ib)]).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn none_mode_has_only_loopback() {
    if !needs_root() {
        return;
    }
    let net = Net::new(13).await;
    let k = net.key("none");
    let info = net
        .setup(&k, NetworkMode::None, vec![tcp(80, None)], None)
        .await;
    assert_eq!(info.ipv4, None);
    assert!(info.bindings.is_empty());
    let links = in_ns(&info, &["ip", "-o", "link"]).unwrap();
    assert_eq!(links.lines().count(), 1, "{links}");
    assert!(links.contains("lo:") && links.contains("UP"), "{links}");
    let addrs = in_ns(&info, &["ip", "-o", "-4", "addr"]).unwrap();
    assert!(addrs.contains("127.0.0.1/8"), "{addrs}");
    net.mgr.teardown(&k).await.unwrap();
    assert!(!info.netns_path.exists());
}

/// A veth end standing in for an ENI (this kernel has no dummy driver);
/// the pair is deleted on drop.
struct Dummy(String);
impl Drop for Dummy {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eni_moves_into_the_namespace_and_back() {
    if !needs_root() {
        return;
    }
    let _host = HOST_PREP.lock().await;
    let net = Net::new(14).await;
    let name = unique("eni");
    let mac = "0a:e5:14:00:00:01";
    let st = Command::new("ip")
        .args([
            "link",
            "add",
            &name,
            "address",
            mac,
            "type",
            "veth",
            "peer",
            "name",
            &format!("{name}p"),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let _dummy = Dummy(name.clone());
    let k = net.key("eni-task");
    let eni = Eni {
        mac: mac.to_uppercase(),
        ipv4: vec![(Ipv4Addr::new(10, 214, 14, 5), 24)],
        gateway: Some(Ipv4Addr::new(10, 214, 14, 1)),
        dns: vec![Ipv4Addr::new(10, 214, 14, 2)],
        dns_search: vec!["ec2.internal".into()],
        private_dns_name: None,
    };
    let info = net.setup(&k, NetworkMode::Awsvpc, vec![], Some(eni)).await;
    assert_eq!(info.ipv4, Some(Ipv4Addr::new(10, 214, 14, 5)));
    assert_eq!(info.dns, vec![Ipv4Addr::new(10, 214, 14, 2)]);
    assert_eq!(info.source_ips.len(), 2, "bridge veth and ENI addresses");
    assert!(
        sh("ip", &["-o", "link", "show", &name]).is_empty(),
        "ENI still on the host"
    );
    let eth0 = in_ns(&info, &["ip", "-o", "addr", "show", "dev", "eth0"]).unwrap();
    assert!(eth0.contains("10.214.14.5/24"), "{eth0}");
    let link = in_ns(&info, &["ip", "-o", "link", "show", "dev", "eth0"]).unwrap();
    assert!(link.contains(mac), "{link}");
    let routes = in_ns(&info, &["ip", "route"]).unwrap();
    assert!(
        routes.contains("default via 10.214.14.1 dev eth0"),
        "{routes}"
    );
    assert!(routes.contains("169.254.170.2 via"), "{routes}");
    // Traffic flows over the ENI: the veth peer left on the host plays the subnet.
    let peer = format!("{name}p");
    for args in [
        vec!["addr", "add", "10.214.14.1/24", "dev", &peer],
        vec!["link", "set", &peer, "up"],
    ] {
        assert!(Command::new("ip").args(&args).status().unwrap().success());
    }
    let (_p, _d) = httpd(&info, 80, "via the eni");
    let body = eventually("the task through its ENI", || {
        http_get(SocketAddr::from(([10, 214, 14, 5], 80)))
    });
    assert_eq!(body, "via the eni");

    net.mgr.teardown(&k).await.unwrap();
    let back = sh("ip", &["-o", "addr", "show", "dev", &name]);
    let link = sh("ip", &["-o", "link", "show", "dev", &name]);
    assert!(link.contains(mac), "ENI not back on the host: {link}");
    assert!(!link.contains(",UP"), "ENI should be down: {link}");
    assert!(!back.contains("inet "), "addresses not flushed: {back}");
    assert!(!info.netns_path.exists());
}

/// A one-shot HTTP answerer on 127.0.0.1:port that replies with the peer address.
pub async fn peer_echo_server() -> (u16, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let port = l.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut s, peer)) = l.accept().await else {
                return;
            };
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let body = format!("creds-listener peer={}", peer.ip());
                let resp = format!(
                    "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    (port, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_address_reaches_the_agent_listener_from_namespaces() {
    if !needs_root() {
        return;
    }
    let _host = HOST_PREP.lock().await;
    let (port, server) = peer_echo_server().await;
    let net = Net::with_credentials_port(15, port).await;
    net.mgr
        .prepare_host(&HostPrep {
            credentials_port: port,
            ..HostPrep::default()
        })
        .await
        .unwrap();
    // Idempotent.
    net.mgr
        .prepare_host(&HostPrep {
            credentials_port: port,
            ..HostPrep::default()
        })
        .await
        .unwrap();
    let rules = sh("iptables-save", &[]);
    assert_eq!(
        rules
            .matches(&format!("--to-destination 127.0.0.1:{port}"))
            .count(),
        1,
        "{rules}"
    );
    assert_eq!(
        rules.matches("-j ECS-AGENT-PREROUTING").count(),
        1,
        "{rules}"
    );

    let k = net.key("creds");
    let info = net.setup(&k, NetworkMode::Bridge, vec![], None).await;
    let got = wget(&info, "http://169.254.170.2/v2/credentials/x").unwrap();
    assert_eq!(got, format!("creds-listener peer={}", info.ipv4.unwrap()));
    let k2 = net.key("creds-vpc");
    let info2 = net.setup(&k2, NetworkMode::Awsvpc, vec![], None).await;
    let got = wget(&info2, "http://169.254.170.2/").unwrap();
    assert_eq!(got, format!("creds-listener peer={}", info2.ipv4.unwrap()));
    // From the host itself (OUTPUT REDIRECT); the source is whichever host
    // address the route to 169.254.170.2 picks, as with the Go agent.
    let got = http_get(SocketAddr::from(([169, 254, 170, 2], 80))).unwrap();
    assert!(got.starts_with("creds-listener peer="), "{got}");
    assert!(!got.contains(&format!("={}", info.ipv4.unwrap())), "{got}");

    // The flows to 169.254.170.2 are in the host's conntrack until teardown.
    let ip = info.ipv4.unwrap();
    assert!(
        !conntrack_mentions(ip).is_empty(),
        "expected conntrack entries for {ip}"
    );
    net.mgr.teardown(&k).await.unwrap();
    net.mgr.teardown(&k2).await.unwrap();
    let ct = conntrack_mentions(ip);
    assert!(ct.is_empty(), "conntrack entries left: {ct:#?}");

    NetworkManager::undo_host_prep().await.unwrap();
    assert!(!sh("iptables-save", &[]).contains("ECS-AGENT-"));
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_cycles_leave_nothing_behind_and_leases_persist() {
    if !needs_root() {
        return;
    }
    let net = Net::new(16).await;
    let mut names = Vec::new();
    let mut seen_ports = std::collections::HashSet::new();
    for i in 0..20 {
        let k = net.key(&format!("cycle{i}"));
        let mode = if i % 2 == 0 {
            NetworkMode::Bridge
        } else {
            NetworkMode::Awsvpc
        };
        let info = net
            .setup(&k, mode, vec![tcp(80, None), tcp(81, None)], None)
            .await;
        names.push(ns_name(&info));
        for NetworkBinding { host_port, .. } in &info.bindings {
            seen_ports.insert(*host_port);
        }
        assert_eq!(net.lease_file()["leases"].as_object().unwrap().len(), 1);
        net.mgr.teardown(&k).await.unwrap();
    }
    assert!(
        seen_ports.len() >= 20,
        "ports are handed out round robin: {seen_ports:?}"
    );
    let left = leftovers(&net, &names);
    assert!(left.is_empty(), "left behind: {left:#?}");

    // Leases survive a new manager on the same state dir.
    let k = net.key("persist");
    let first = net
        .setup(&k, NetworkMode::Bridge, vec![tcp(80, None)], None)
        .await;
    let cfg = net.mgr.config().clone();
    let again = NetworkManager::new(cfg).await.unwrap();
    assert_eq!(again.keys().await, vec![k.clone()]);
    let k2 = net.key("persist2");
    let second = again
        .setup(&NamespaceRequest {
            key: k2.clone(),
            mode: NetworkMode::Bridge,
            eni: None,
            ports: vec![tcp(80, None)],
        })
        .await
        .unwrap();
    assert_ne!(first.ipv4, second.ipv4);
    assert_ne!(first.bindings[0].host_port, second.bindings[0].host_port);
    // setup of an existing key returns what it has.
    let same = again
        .setup(&NamespaceRequest {
            key: k2.clone(),
            mode: NetworkMode::Bridge,
            eni: None,
            ports: vec![tcp(80, None)],
        })
        .await
        .unwrap();
    assert_eq!(same, second);
    again.teardown(&k2).await.unwrap();
    again.teardown(&k).await.unwrap();
    drop(again);
    // The first manager still thinks it has `k`; its teardown is a no-op on the kernel side.
    net.mgr.teardown(&k).await.unwrap();
    assert!(net.mgr.remove_bridge().await.unwrap());
    let rules = sh("iptables-save", &[]);
    assert!(!rules.contains(&net.bridge), "chains left: {rules}");
    assert!(sh("ip", &["-o", "link", "show", &net.bridge]).is_empty());
}

/// The inodes of the network namespaces this process holds open.
fn held_namespaces() -> std::collections::HashSet<u64> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            l.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok()
        })
        .collect()
}

fn inode(p: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).unwrap().ino()
}

/// Namespaces are made ahead, once the manager has set one up and the
/// network has been idle: the next setup mounts one of them under its
/// key's name. Spares are held open and mounted nowhere, and go with
/// their manager. Every namespace has loopback up, made ahead or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spare_namespaces_are_made_when_idle_and_taken_by_the_next_setup() {
    if !needs_root() {
        return;
    }
    let net = Net::new(19).await;
    assert_eq!(net.mgr.spare_namespaces(), 0, "none before the first setup");
    let k1 = net.key("first");
    let first = net.setup(&k1, NetworkMode::Awsvpc, vec![], None).await;
    let lo = in_ns(&first, &["ip", "-o", "link", "show", "lo"]).unwrap();
    assert!(lo.contains("LOOPBACK,UP"), "made on the spot: {lo}");

    eventually("two spare namespaces", || {
        (net.mgr.spare_namespaces() == 2).then_some(())
    });
    // Other tests in this process hold namespaces too: this manager's
    // spares are told apart by their inode numbers.
    let ready = net.mgr.spare_namespace_ids();
    assert_eq!(ready.len(), 2, "{ready:?}");
    let held = held_namespaces();
    assert!(
        ready.iter().all(|s| held.contains(s)),
        "spares are held open by the agent: {ready:?} in {held:?}"
    );
    let k2 = net.key("second");
    let second = net
        .setup(&k2, NetworkMode::Bridge, vec![tcp(80, None)], None)
        .await;
    assert!(
        ready.contains(&inode(&second.netns_path)),
        "the setup mounted a spare under {}",
        second.netns_path.display()
    );
    assert!(ns_name(&second).contains(&k2), "named after its key");
    let lo = in_ns(&second, &["ip", "-o", "link", "show", "lo"]).unwrap();
    assert!(lo.contains("LOOPBACK,UP"), "made ahead: {lo}");
    let (_p, _d) = httpd(&second, 80, "from a spare");
    let port = second.bindings[0].host_port;
    assert_eq!(
        eventually("the host port reaches the namespace", || http_get(
            SocketAddr::from((Ipv4Addr::LOCALHOST, port))
        )),
        "from a spare"
    );
    assert_eq!(
        wget(&second, "http://127.0.0.1:80/").unwrap(),
        "from a spare",
        "loopback inside"
    );

    net.mgr.teardown(&k1).await.unwrap();
    net.mgr.teardown(&k2).await.unwrap();
    let names = [ns_name(&first), ns_name(&second)];
    assert!(leftovers(&net, &names).is_empty());
    eventually("the spares made again", || {
        (net.mgr.spare_namespaces() == 2).then_some(())
    });
    let spares = net.mgr.spare_namespace_ids();
    assert!(
        spares.iter().any(|s| !ready.contains(s)),
        "a new spare replaced the one taken: {ready:?} then {spares:?}"
    );
    drop(net);
    let still = held_namespaces();
    assert!(
        spares.iter().all(|s| !still.contains(s)),
        "spares outlived their manager: {spares:?} in {still:?}"
    );
}

/// `setup_staged` of `key` in a task of its own: its outcome, where it tells
/// the namespace, what lets it wire the namespace, and what tells it that
/// the container is created.
struct Staged {
    setup: tokio::task::JoinHandle<Result<NamespaceInfo, ecs::network::NetworkError>>,
    told: tokio::sync::oneshot::Receiver<NamespaceInfo>,
    go: tokio::sync::oneshot::Sender<()>,
    settle: tokio::sync::oneshot::Sender<()>,
}

fn staged(net: &Net, key: &str, mode: NetworkMode, ports: Vec<PortMapping>) -> Staged {
    let (info, told) = tokio::sync::oneshot::channel();
    let (go, wire) = tokio::sync::oneshot::channel();
    let (settle, settled) = tokio::sync::oneshot::channel();
    let req = NamespaceRequest {
        key: key.to_string(),
        mode,
        eni: None,
        ports,
    };
    let mgr = net.mgr.clone();
    let reserved = Reserved {
        info,
        wire,
        settled,
    };
    let setup = tokio::spawn(async move { mgr.setup_staged(&req, Some(reserved)).await });
    Staged {
        setup,
        told,
        go,
        settle,
    }
}

/// A staged setup tells its caller the namespace as soon as it exists and
/// makes the links and rules only once the caller lets it (its container's
/// create under way); a caller that goes away lets it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staged_setup_wires_the_namespace_when_its_caller_lets_it() {
    if !needs_root() {
        return;
    }
    let net = Net::new(20).await;
    let k = net.key("staged");
    let Staged {
        setup, told, go, ..
    } = staged(&net, &k, NetworkMode::Bridge, vec![tcp(80, None)]);
    let info = told.await.expect("told once the namespace exists");
    let links = in_ns(&info, &["ip", "-o", "link"]).unwrap();
    assert!(!links.contains("eth0"), "not wired yet: {links}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!setup.is_finished(), "the setup waits for its caller");
    go.send(()).unwrap();
    let done = setup.await.unwrap().unwrap();
    assert_eq!(done, info, "what it was told is what was made");
    let links = in_ns(&info, &["ip", "-o", "link"]).unwrap();
    assert!(links.contains("eth0"), "wired: {links}");

    // A caller gone before it let the setup go: the setup still ends.
    let k2 = net.key("gone");
    let Staged {
        setup, told, go, ..
    } = staged(&net, &k2, NetworkMode::Awsvpc, vec![]);
    let other = told.await.unwrap();
    drop(go);
    let done = tokio::time::timeout(Duration::from_secs(10), setup)
        .await
        .expect("the setup ends without its caller")
        .unwrap()
        .unwrap();
    assert_eq!(done, other);
    net.mgr.teardown(&k).await.unwrap();
    net.mgr.teardown(&k2).await.unwrap();
    assert!(leftovers(&net, &[ns_name(&info), ns_name(&other)]).is_empty());
}

/// No spare namespace is made while a container is created in a staged
/// setup's namespace (its caller has not settled), however long that takes:
/// making one would compete with the container's create and start. Once
/// the caller settles (or goes away), the spares are made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spares_wait_until_the_container_in_a_staged_namespace_is_created() {
    if !needs_root() {
        return;
    }
    let net = Net::new(21).await;
    let k = net.key("settle");
    let staged = staged(&net, &k, NetworkMode::Awsvpc, vec![]);
    let info = staged.told.await.unwrap();
    staged.go.send(()).unwrap();
    staged.setup.await.unwrap().unwrap();
    // Five times the quiet spell the spares wait for after a setup.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        net.mgr.spare_namespaces(),
        0,
        "a spare was made while the container was being created"
    );
    staged.settle.send(()).unwrap();
    eventually("the spares made once the create is over", || {
        (net.mgr.spare_namespaces() == 2).then_some(())
    });

    // A caller gone without settling does not keep them waiting either.
    let k2 = net.key("gone");
    let other = staged_and_dropped(&net, &k2).await;
    eventually("the spares made again", || {
        (net.mgr.spare_namespaces() == 2).then_some(())
    });
    net.mgr.teardown(&k).await.unwrap();
    net.mgr.teardown(&k2).await.unwrap();
    assert!(leftovers(&net, &[ns_name(&info), ns_name(&other)]).is_empty());
}

/// A staged awsvpc setup of `key` whose caller goes away once it is told.
async fn staged_and_dropped(net: &Net, key: &str) -> NamespaceInfo {
    let Staged {
        setup,
        told,
        go,
        settle,
    } = staged(net, key, NetworkMode::Awsvpc, vec![]);
    let info = told.await.unwrap();
    drop((go, settle));
    setup.await.unwrap().unwrap();
    info
}

/// What an agent that lost `network.json` (or crashed before writing a
/// lease) left behind does not stop the next setup of the key: the
/// namespace still mounted under the key's name, and a host veth of the
/// key's name, are cleared when they are in the way, and the key's network
/// works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leftovers_of_a_lost_state_file_are_cleared_by_the_next_setup() {
    if !needs_root() {
        return;
    }
    let net = Net::new(18).await;
    let k = net.key("lost");
    let first = net.setup(&k, NetworkMode::Awsvpc, vec![], None).await;
    let veth = net.lease_file()["leases"][&k]["host_veth"]
        .as_str()
        .unwrap()
        .to_string();
    let (_p, _d) = httpd(&first, 80, "first");

    // Another manager of the same bridge with an empty state dir: the
    // namespace above is all it finds.
    let lost = tempfile::tempdir().unwrap();
    let cfg = NetworkConfig {
        state_dir: lost.path().to_path_buf(),
        ..net.mgr.config().clone()
    };
    let again = NetworkManager::new(cfg).await.unwrap();
    let second = again
        .setup(&NamespaceRequest {
            key: k.clone(),
            mode: NetworkMode::Awsvpc,
            eni: None,
            ports: vec![],
        })
        .await
        .unwrap();
    assert_eq!(second.netns_path, first.netns_path, "the key's own name");
    // A fresh namespace: the server in the old one went with it.
    assert!(
        wget(&second, "http://127.0.0.1:80/").is_err(),
        "the old namespace is still there"
    );
    let (_p2, _d2) = httpd(&second, 80, "second");
    let url = format!("http://{}:80/", second.ipv4.unwrap());
    assert_eq!(
        eventually("the host reaches the new namespace", || http_get(
            SocketAddr::from((second.ipv4.unwrap(), 80))
        )),
        "second",
        "{url}"
    );
    again.teardown(&k).await.unwrap();

    // A host veth of the key's name whose namespace is gone (its peer
    // stays on the host: there is no namespace to hold it).
    let peer = format!("{veth}x");
    let made = Command::new("ip")
        .args(["link", "add", &veth, "type", "veth", "peer", "name", &peer])
        .status()
        .unwrap();
    assert!(made.success(), "ip link add {veth}: {made}");
    let third = again
        .setup(&NamespaceRequest {
            key: k.clone(),
            mode: NetworkMode::Awsvpc,
            eni: None,
            ports: vec![],
        })
        .await
        .unwrap();
    let links = sh("ip", &["-o", "link", "show", &veth]);
    assert!(
        links.contains(&format!("master {}", net.bridge)),
        "the veth is the task's again: {links}"
    );
    let (_p3, _d3) = httpd(&third, 80, "third");
    assert_eq!(
        eventually(
            "the host reaches the namespace made over a leftover veth",
            || { http_get(SocketAddr::from((third.ipv4.unwrap(), 80))) }
        ),
        "third"
    );
    again.teardown(&k).await.unwrap();
    drop(again);
    // The first manager still has its lease; its teardown finds nothing left.
    net.mgr.teardown(&k).await.unwrap();
    assert!(leftovers(&net, &[ns_name(&first)]).is_empty());
}

/// Independent keys are set up and torn down in parallel (the manager's
/// state is locked only to allocate and save, iptables serialises itself):
/// twelve at once, bridge with two dynamic ports and awsvpc, get twelve
/// distinct addresses and distinct host ports, each DNAT rule exactly once,
/// all of it in the lease file; twelve parallel teardowns leave nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_setups_get_distinct_addresses_ports_and_single_rules() {
    if !needs_root() {
        return;
    }
    let net = Arc::new(Net::new(17).await);
    let keys: Vec<String> = (0..12).map(|i| net.key(&format!("par{i}"))).collect();
    let mut set = tokio::task::JoinSet::new();
    for (i, k) in keys.iter().enumerate() {
        let (net, k) = (net.clone(), k.clone());
        set.spawn(async move {
            let mode = if i % 2 == 0 {
                NetworkMode::Bridge
            } else {
                NetworkMode::Awsvpc
            };
            let ports = if mode == NetworkMode::Bridge {
                vec![tcp(80, None), tcp(81, None)]
            } else {
                vec![]
            };
            net.setup(&k, mode, ports, None).await
        });
    }
    let infos: Vec<NamespaceInfo> = set.join_all().await;
    let ips: std::collections::HashSet<_> = infos.iter().map(|i| i.ipv4.unwrap()).collect();
    assert_eq!(ips.len(), 12, "one address each: {infos:#?}");
    let ports: Vec<u16> = infos
        .iter()
        .flat_map(|i| i.bindings.iter().map(|b| b.host_port))
        .collect();
    let distinct: std::collections::HashSet<_> = ports.iter().collect();
    assert_eq!((ports.len(), distinct.len()), (12, 12), "{ports:?}");
    let rules = sh("iptables-save", &["-t", "nat"]);
    for p in &ports {
        let n = rules
            .lines()
            .filter(|l| {
                l.contains(&format!("ECS-DNAT-{}", net.bridge))
                    && l.contains(&format!("--dport {p} "))
            })
            .count();
        assert_eq!(n, 1, "one DNAT rule for port {p}:\n{rules}");
    }
    assert_eq!(net.lease_file()["leases"].as_object().unwrap().len(), 12);

    let names: Vec<String> = infos.iter().map(ns_name).collect();
    let mut set = tokio::task::JoinSet::new();
    for k in keys {
        let net = net.clone();
        set.spawn(async move { net.mgr.teardown(&k).await });
    }
    for r in set.join_all().await {
        r.unwrap();
    }
    let left = leftovers(&net, &names);
    assert!(left.is_empty(), "left behind: {left:#?}");
}

/// Removes the containerd namespace's tasks, containers, snapshots and images.
struct CtrNs(crate::common::TestEnv, String);
impl Drop for CtrNs {
    fn drop(&mut self) {
        crate::common::cleanup_ns(&self.0, &self.1);
        let snaps =
            crate::common::try_ctr(&self.0, &self.1, &["snapshots", "ls"]).unwrap_or_default();
        for line in snaps.lines().skip(1) {
            if let Some(key) = line.split_whitespace().next() {
                let _ = crate::common::try_ctr(&self.0, &self.1, &["snapshots", "rm", key]);
            }
        }
        let _ = crate::common::try_ctr(&self.0, "default", &["namespaces", "rm", &self.1]);
    }
}

/// The path the engine will use: containerd containers joining the
/// namespaces by path (`NetworkAttachment::Namespace`). Two containers of one
/// awsvpc task talk over localhost and one fetches its credentials from
/// 169.254.170.2 with the relative URI; a bridge container answers at its
/// dynamic host port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containerd_containers_in_task_namespaces() {
    use ecs::config::RpsLimit;
    use ecs::credentials::{CredentialsStore, RoleCredentials, RoleType};
    use ecs::runtime::containerd::pull::PullOptions;
    use ecs::runtime::containerd::{Conn, ContainerdRuntime};
    use ecs::runtime::ContainerRuntime;
    use ecs::task::container::{ContainerSpec, NetworkAttachment};
    use ecs::task::image_ref::ImageRef;
    use std::collections::BTreeMap;

    if !needs_root() {
        return;
    }
    let Some(env) = crate::common::env() else {
        return;
    };
    let _host = HOST_PREP.lock().await;
    let store = CredentialsStore::new();
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = ecs::credentials::router(store.clone(), RpsLimit::default());
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let net = Net::with_credentials_port(31, port).await;
    net.mgr
        .prepare_host(&HostPrep {
            credentials_port: port,
            ..HostPrep::default()
        })
        .await
        .unwrap();

    let ns = crate::common::unique_ns("net-ctr");
    let _ctr_guard = CtrNs(env.clone(), ns.clone());
    let rt = ContainerdRuntime::new(
        Conn::lazy(&env.containerd_sock, &ns).unwrap(),
        PullOptions::default(),
    );
    let image = rt
        .pull_image(
            &ImageRef::parse(&env.image()).expect("image reference"),
            None,
        )
        .await
        .unwrap();
    let logs = tempfile::tempdir().unwrap();
    let spec = |id: &str, args: &[&str], extra_env: &[String], netns: &Path| ContainerSpec {
        id: id.to_string(),
        image: image.clone(),
        args: args.iter().map(|a| a.to_string()).collect(),
        env: image
            .config
            .env
            .iter()
            .cloned()
            .chain(extra_env.iter().cloned())
            .collect(),
        cwd: "/".into(),
        user: String::new(),
        hostname: None,
        cpu_shares: None,
        memory_limit_bytes: None,
        memory_reservation_bytes: None,
        cgroup_parent: None,
        privileged: false,
        readonly_rootfs: false,
        ulimits: Vec::new(),
        labels: BTreeMap::new(),
        log: ecs::task::container::ContainerLog::Plain(logs.path().join(format!("{id}.log"))),
        network: NetworkAttachment::Namespace(netns.to_path_buf()),
        mounts: Vec::new(),
        populate_from_image: Vec::new(),
        namespace_holder: None,
        task_shm: None,
        linux: Default::default(),
        tty: false,
        health_runner: false,
    };
    let web_cmd = [
        "sh",
        "-c",
        "mkdir -p /www && echo web-ok > /www/index.html && exec httpd -f -p 80 -h /www",
    ];

    // awsvpc task: one namespace, two containers.
    let task = net.key("ctr-task");
    let task_arn = format!("arn:aws:ecs:us-east-1:123456789012:task/c/{task}");
    let info = net.setup(&task, NetworkMode::Awsvpc, vec![], None).await;
    store
        .put(
            &task_arn,
            RoleCredentials {
                credentials_id: "ctr-creds-1".into(),
                role_arn: "arn:aws:iam::123456789012:role/app".into(),
                access_key_id: "ASIACTRTEST".into(),
                secret_access_key: "ctr-secret".into(),
                session_token: "ctr-token".into(),
                expiration: "2026-11-23T09:00:00Z".into(),
                role_type: RoleType::TaskApplication,
            },
        )
        .unwrap();
    store.set_task_sources(
        &task_arn,
        info.source_ips.iter().map(|ip| (*ip).into()).collect(),
    );
    let web = spec("web", &web_cmd, &[], &info.netns_path);
    rt.create(&web).await.unwrap();
    rt.start("web").await.unwrap();
    let uri = format!(
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI={}",
        CredentialsStore::relative_uri("ctr-creds-1")
    );
    let client = spec(
        "client",
        &[
            "sh",
            "-c",
            "for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://127.0.0.1:80/ && break; sleep 0.3; done; \
             echo; wget -qO- http://169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        ],
        &[uri],
        &info.netns_path,
    );
    let mut exits = rt.subscribe_exits().await.unwrap();
    rt.create(&client).await.unwrap();
    rt.start("client").await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout_at(deadline, exits.recv()).await {
            Ok(Some(ev)) if ev.container_id == "client" => break,
            Ok(Some(_)) => continue,
            other => panic!("client did not exit: {other:?}"),
        }
    }
    rt.remove("client").await.unwrap();
    let log = std::fs::read_to_string(client.log.path().unwrap()).unwrap_or_default();
    assert!(log.contains("web-ok"), "localhost within the task: {log}");
    assert!(
        log.contains(r#""AccessKeyId":"ASIACTRTEST""#),
        "credentials: {log}"
    );
    assert!(
        log.contains(r#""SecretAccessKey":"ctr-secret""#),
        "credentials: {log}"
    );

    // bridge container with a dynamic host port.
    let bkey = net.key("ctr-bridge");
    let binfo = net
        .setup(&bkey, NetworkMode::Bridge, vec![tcp(80, None)], None)
        .await;
    let bweb = spec("bweb", &web_cmd, &[], &binfo.netns_path);
    rt.create(&bweb).await.unwrap();
    rt.start("bweb").await.unwrap();
    let hp = binfo.bindings[0].host_port;
    let body = eventually("bridge container at its host port", || {
        http_get(SocketAddr::from((Ipv4Addr::LOCALHOST, hp)))
    });
    assert_eq!(body.trim(), "web-ok");

    for id in ["web", "bweb"] {
        rt.kill(id, 9).await.ok();
    }
    drop(_ctr_guard);
    net.mgr.teardown(&task).await.unwrap();
    net.mgr.teardown(&bkey).await.unwrap();
    NetworkManager::undo_host_prep().await.unwrap();
    server.abort();
    assert!(leftovers(&net, &[ns_name(&info), ns_name(&binfo)]).is_empty());
}
