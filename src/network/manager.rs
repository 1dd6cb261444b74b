//! `NetworkManager`: sets up and tears down task namespaces. See the module docs.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::saver::Saver;
use super::spares::Owner as SparesOwner;
use super::state::{self, EniLease, Lease, State};
use super::types::{HostPrep, NamespaceInfo, NamespaceRequest, NetworkConfig, Reserved};
use super::{conntrack, ipt, link, netns, rules, NetworkError};
use crate::task::def::{NetworkMode, Protocol};
use crate::task::net::parse_mac;

/// The MAC of an ENI, as the network layer reports a bad one.
fn eni_mac(mac: &str) -> Result<[u8; 6], NetworkError> {
    parse_mac(mac).map_err(|e| NetworkError::InvalidRequest {
        field: "eni.mac",
        reason: e.to_string(),
    })
}

/// The veth end inside an ENI task's namespace (the ENI itself is eth0).
const ENI_BRIDGE_IF: &str = "ecs-eth0";
const TASK_IF: &str = "eth0";

/// Independent tasks set up their networks in parallel: the persisted
/// state is locked only to allocate, record and save; the bridge only
/// while it is made; and each key has a lock of its own, so that a setup
/// and a teardown of one namespace never interleave. Netlink work runs
/// under none of them, and iptables serialises itself (`--wait`, the
/// xtables lock).
pub struct NetworkManager {
    cfg: NetworkConfig,
    state: Mutex<State>,
    /// Writes `state` to disk, in order.
    saver: Saver,
    /// Namespaces made ahead of the setups that take them.
    spares: SparesOwner,
    /// Whether the bridge, its sysctls and chains were made by this manager.
    bridge_ready: Mutex<bool>,
    /// One lock per key in use; dropped from the map when the key is idle.
    key_locks: std::sync::Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

/// Names derived from the key alone, so teardown works without a lease.
pub(super) struct Names {
    pub(super) netns: PathBuf,
    pub(super) veth: String,
    pub(super) peer: String,
}

fn short_hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

impl Names {
    pub(super) fn new(cfg: &NetworkConfig, key: &str) -> Self {
        let clean = key.len() <= 100
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
        let hash = short_hash(&[&cfg.bridge_name, key]);
        let file = if clean {
            format!("ecs-{key}")
        } else {
            let s: String = key
                .chars()
                .take(60)
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            format!("ecs-{s}-{}", &hash[..8])
        };
        Self {
            netns: cfg.netns_dir.join(file),
            veth: format!("ve{}", &hash[..11]),
            peer: format!("vp{}", &hash[..11]),
        }
    }
}

fn write_sysctl(path: &str, value: &str) -> Result<(), NetworkError> {
    std::fs::write(path, value).map_err(|source| NetworkError::Sysctl {
        path: PathBuf::from(path),
        source,
    })
}

/// A bind attempt: is the host port free for this protocol?
fn port_is_free(p: Protocol, port: u16) -> bool {
    let addr = (Ipv4Addr::UNSPECIFIED, port);
    match p {
        Protocol::Tcp => std::net::TcpListener::bind(addr).is_ok(),
        Protocol::Udp => std::net::UdpSocket::bind(addr).is_ok(),
    }
}

fn info_of(lease: &Lease) -> NamespaceInfo {
    let mut source_ips: Vec<Ipv4Addr> = lease.ip.into_iter().collect();
    if let Some(e) = &lease.eni {
        source_ips.extend(e.ipv4.iter().map(|(ip, _)| *ip));
    }
    NamespaceInfo {
        netns_path: lease.netns_path.clone(),
        ipv4: lease
            .eni
            .as_ref()
            .and_then(|e| e.ipv4.first().map(|(ip, _)| *ip))
            .or(lease.ip),
        source_ips,
        bindings: lease.bindings.clone(),
        dns: lease.dns.clone(),
        dns_search: lease.dns_search.clone(),
    }
}

impl NetworkManager {
    /// Validates the config and loads the persisted leases. Touches nothing
    /// on the host yet.
    pub async fn new(cfg: NetworkConfig) -> Result<Self, NetworkError> {
        cfg.validate()?;
        let state = state::load(&cfg.state_dir, &cfg.bridge_name, cfg.bridge_subnet)?;
        Ok(Self {
            saver: Saver::new(cfg.state_dir.clone()),
            spares: SparesOwner::new(),
            cfg,
            state: Mutex::new(state),
            bridge_ready: Mutex::new(false),
            key_locks: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// Serialises the work on one key; other keys go on in parallel.
    async fn lock_key(&self, key: &str) -> KeyGuard<'_> {
        let lock = {
            let mut locks = self.key_locks.lock().unwrap_or_else(|p| p.into_inner());
            locks.entry(key.to_string()).or_default().clone()
        };
        KeyGuard {
            manager: self,
            key: key.to_string(),
            guard: Some(lock.lock_owned().await),
        }
    }

    /// Records the lease and saves the state.
    async fn save_lease(&self, key: &str, lease: &Lease) -> Result<(), NetworkError> {
        let snap = {
            let mut state = self.state.lock().await;
            state.leases.insert(key.to_string(), lease.clone());
            self.saver.take(&state)?
        };
        self.saver.write(snap).await
    }

    /// How many namespaces are made ahead and ready for the next setups.
    pub fn spare_namespaces(&self) -> usize {
        self.spares.ready()
    }

    /// The inode numbers of the spare namespaces (what `/proc/<pid>/ns/net`
    /// and `lsns` show), to tell them from any other namespace held.
    pub fn spare_namespace_ids(&self) -> Vec<u64> {
        self.spares.ids()
    }

    pub fn config(&self) -> &NetworkConfig {
        &self.cfg
    }

    /// Keys with a lease (for reconciliation after a restart).
    pub async fn keys(&self) -> Vec<String> {
        self.state.lock().await.leases.keys().cloned().collect()
    }

    /// ecs-init's host preparation, idempotent: route_localnet, 169.254.170.2:80
    /// to 127.0.0.1:credentials_port (PREROUTING DNAT, OUTPUT REDIRECT), the
    /// localhost traffic filter and the introspection port open only to
    /// loopback and this manager's bridge. The rules live in
    /// ECS-AGENT-{PREROUTING,OUTPUT,INPUT}, rewritten each call.
    pub async fn prepare_host(&self, prep: &HostPrep) -> Result<(), NetworkError> {
        write_sysctl("/proc/sys/net/ipv4/conf/all/route_localnet", "1")?;
        let bridge = &self.cfg.bridge_name;
        let wanted = rules::host_rules(prep, bridge);
        for h in rules::host_hooks() {
            ipt::ensure_hook(&h).await?;
            ipt::sync_chain(h.table, &h.chain, wanted.clone()).await?;
        }
        // The awsvpc tasks' DROPs must stay above the bridge's ACCEPT.
        ipt::ensure_hook_on_top(&rules::input_hook(bridge)).await?;
        tracing::info!(credentials_port = prep.credentials_port, %bridge,
            localhost_filter = !prep.skip_localhost_traffic_filter,
            introspection_blocked = !prep.allow_offhost_introspection, "host prepared for task networking");
        Ok(())
    }

    /// Whether this host lets the agent make task networks: iptables runs
    /// and the sysctls it needs are writable. Touches nothing.
    pub async fn probe() -> Result<(), NetworkError> {
        ipt::probe().await?;
        let path = "/proc/sys/net/ipv4/ip_forward";
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map(|_| ())
            .map_err(|source| NetworkError::Sysctl {
                path: PathBuf::from(path),
                source,
            })
    }

    /// Removes what `prepare_host` added (route_localnet is left on, as other
    /// users may rely on it).
    pub async fn undo_host_prep() -> Result<(), NetworkError> {
        ipt::remove_hooks(&rules::host_hooks()).await
    }

    /// Creates the namespace for `req.key` and everything in it.
    pub async fn setup(&self, req: &NamespaceRequest) -> Result<NamespaceInfo, NetworkError> {
        self.setup_staged(req, None).await
    }

    /// `setup`, which also tells `reserved.info` what the namespace will be
    /// as soon as it exists with its addresses and ports allocated, and makes
    /// its links, addresses, routes and rules once `reserved.wire` fires: a
    /// container may be created in it from the first (runc joins it by
    /// path), and started once this returns `Ok`. An existing namespace, or
    /// a setup that fails first, drops `reserved.info` unsent.
    pub async fn setup_staged(
        &self,
        req: &NamespaceRequest,
        reserved: Option<Reserved>,
    ) -> Result<NamespaceInfo, NetworkError> {
        if req.key.is_empty() || req.key.len() > 255 {
            return Err(NetworkError::InvalidRequest {
                field: "key",
                reason: "must be 1-255 bytes".into(),
            });
        }
        if req.mode == NetworkMode::Host {
            return Err(NetworkError::InvalidRequest {
                field: "mode",
                reason: "host mode has no namespace to set up".into(),
            });
        }
        let eni_mac = match (&req.eni, req.mode) {
            (Some(e), NetworkMode::Awsvpc) => Some(eni_mac(&e.mac)?),
            (Some(_), _) => {
                return Err(NetworkError::InvalidRequest {
                    field: "eni",
                    reason: "an ENI is only for awsvpc mode".into(),
                })
            }
            (None, _) => None,
        };
        // Spares are made only while the network is idle.
        let _working = self.spares.working();
        let _key = self.lock_key(&req.key).await;
        let existing = self.state.lock().await.leases.get(&req.key).cloned();
        if let Some(lease) = existing {
            if netns::is_mounted(&lease.netns_path) {
                return Ok(info_of(&lease));
            }
            self.teardown_key(&req.key).await?;
        }
        let names = Names::new(&self.cfg, &req.key);

        let mut lease = Lease {
            mode: req.mode,
            netns_path: names.netns.clone(),
            ip: None,
            host_veth: None,
            bindings: Vec::new(),
            eni: None,
            dns: Vec::new(),
            dns_search: Vec::new(),
        };
        if let Some(e) = &req.eni {
            lease.eni = Some(EniLease {
                mac: e.mac.to_ascii_lowercase(),
                host_name: String::new(),
                ipv4: e.ipv4.clone(),
            });
            lease.dns = e.dns.clone();
            lease.dns_search = e.dns_search.clone();
        }
        let snap = {
            // Allocated and recorded in one hold of the state lock, so that
            // parallel setups never get the same address or port.
            let mut state = self.state.lock().await;
            if req.mode != NetworkMode::None {
                lease.ip = Some(state.allocate_ip()?);
                lease.host_veth = Some(names.veth.clone());
            }
            if req.mode == NetworkMode::Bridge {
                lease.bindings = state.allocate_ports(
                    &req.ports,
                    self.cfg.dynamic_port_range,
                    (&self.cfg.reserved_ports_tcp, &self.cfg.reserved_ports_udp),
                    port_is_free,
                )?;
            }
            state.leases.insert(req.key.clone(), lease.clone());
            match self.saver.take(&state) {
                Ok(snap) => snap,
                Err(e) => {
                    state.leases.remove(&req.key);
                    return Err(e);
                }
            }
        };
        // The namespace is made while the lease is written, and a container
        // may be created in it at once. What only the lease can find again
        // (the rules, which name the address) comes after the write; a
        // namespace and links left by a crash before it are found by the
        // key's names (`make_namespace`, `teardown`).
        let (tell, wire, settled) = match reserved {
            Some(r) => (Some(r.info), Some(r.wire), Some(r.settled)),
            None => (None, None, None),
        };
        if let Some(settled) = settled {
            let hold = self.spares.hold();
            tokio::spawn(async move {
                // Fired, or dropped by a caller that has gone: either way on.
                let _ = settled.await;
                drop(hold);
            });
        }
        let made = async {
            self.make_namespace(&names).await?;
            if let Some(tx) = tell {
                // Nobody waiting is fine: the caller then awaits the whole setup.
                let _ = tx.send(info_of(&lease));
            }
            Ok::<(), NetworkError>(())
        };
        let (made, saved) = tokio::join!(made, self.saver.write(snap));
        let built = match made.and(saved) {
            Ok(()) => {
                if let Some(wire) = wire {
                    // Fired, or dropped by a caller that has gone: either way on.
                    let _ = wire.await;
                }
                self.build(&names, &mut lease, req, eni_mac).await
            }
            Err(e) => Err(e),
        };

        // The lease saved above is final but for the ENI's host name, which
        // `build` saves itself before it moves the ENI.
        match built {
            Ok(()) => {
                let info = info_of(&lease);
                tracing::info!(key = %req.key, mode = ?req.mode, netns = %info.netns_path.display(),
                    ip = ?info.ipv4, bindings = ?info.bindings, "task network set up");
                Ok(info)
            }
            Err(e) => {
                // Keep what build learned (the ENI's host name) for the undo.
                self.state
                    .lock()
                    .await
                    .leases
                    .insert(req.key.clone(), lease);
                if let Err(undo) = self.teardown_key(&req.key).await {
                    tracing::warn!(key = %req.key, error = %undo, "undoing a failed network setup failed");
                }
                Err(e)
            }
        }
    }

    async fn build(
        &self,
        names: &Names,
        lease: &mut Lease,
        req: &NamespaceRequest,
        eni_mac: Option<[u8; 6]>,
    ) -> Result<(), NetworkError> {
        // Loopback is up already (`netns::create`).
        if req.mode == NetworkMode::None {
            return Ok(());
        }
        let ns = netns::handle_in(&names.netns).await?;
        let ip = lease.ip.ok_or_else(|| NetworkError::InvalidRequest {
            field: "mode",
            reason: "no address was allocated".into(),
        })?;
        let bridge = self.ensure_bridge().await?;
        let host = netns::host_handle()?;
        let ns_file =
            std::fs::File::open(&names.netns).map_err(|source| NetworkError::Namespace {
                path: names.netns.clone(),
                op: "open",
                source,
            })?;
        let subnet = self.cfg.bridge_subnet;
        let gw = subnet.gateway();
        let inner_if = if eni_mac.is_some() {
            ENI_BRIDGE_IF
        } else {
            TASK_IF
        };

        // The iptables rules (a process each, the slow part) are added while
        // the links are made: they name the task's address, not its links.
        // A fresh lease has no rules yet (teardown deletes them before it
        // lets a lease go), so they are appended without a check first; a
        // copy left by a lost state file is harmless, as deletion removes
        // every copy.
        let mut task_rules: Vec<rules::Rule> = lease
            .bindings
            .iter()
            .map(|b| rules::port_rule(&self.cfg.bridge_name, b, ip))
            .collect();
        task_rules.extend(self.introspection_rule(lease.mode, ip));
        let links = async {
            self.make_veth(&host.handle, names, bridge, inner_if, ns_file.as_raw_fd())
                .await?;
            let ii = self.must_index(&ns.handle, inner_if).await?;
            link::set_up(&ns.handle, ii, inner_if).await?;
            link::add_addr(&ns.handle, ii, ip, subnet.prefix(), inner_if).await?;
            if eni_mac.is_some() {
                link::add_route(&ns.handle, rules::CREDENTIALS_IP, 32, gw, ii).await?;
            } else {
                link::add_route(&ns.handle, Ipv4Addr::UNSPECIFIED, 0, gw, ii).await?;
            }
            Ok::<(), NetworkError>(())
        };
        let (linked, ruled) = tokio::join!(links, ipt::append_rules(task_rules));
        linked?;
        ruled?;

        if let (Some(mac), Some(eni)) = (eni_mac, req.eni.as_ref()) {
            let (idx, host_name) = link::by_mac(&host.handle, &mac).await?.ok_or_else(|| {
                NetworkError::EniNotFound {
                    mac: eni.mac.clone(),
                }
            })?;
            if let Some(l) = lease.eni.as_mut() {
                l.host_name = host_name.clone();
            }
            self.save_lease(&req.key, lease).await?;
            link::set_down(&host.handle, idx, &host_name).await?;
            link::flush_addrs(&host.handle, idx, &host_name).await?;
            link::move_to_ns(&host.handle, idx, TASK_IF, ns_file.as_raw_fd(), &host_name).await?;
            let ei = self.must_index(&ns.handle, TASK_IF).await?;
            link::set_up(&ns.handle, ei, TASK_IF).await?;
            for (addr, prefix) in &eni.ipv4 {
                link::add_addr(&ns.handle, ei, *addr, *prefix, TASK_IF).await?;
            }
            if let Some(gw) = eni.gateway {
                link::add_route(&ns.handle, Ipv4Addr::UNSPECIFIED, 0, gw, ei).await?;
            }
        }
        Ok(())
    }

    /// The DROP that keeps an awsvpc task off the introspection port (see
    /// `rules::input_chain`); bridge-mode tasks may reach it, as under ecs-init.
    fn introspection_rule(&self, mode: NetworkMode, ip: Ipv4Addr) -> Option<rules::Rule> {
        let port = self.cfg.introspection_port?;
        (mode == NetworkMode::Awsvpc)
            .then(|| rules::awsvpc_introspection_rule(&self.cfg.bridge_name, ip, port))
    }

    async fn must_index(&self, h: &rtnetlink::Handle, name: &str) -> Result<u32, NetworkError> {
        link::index_of(h, name)
            .await?
            .ok_or_else(|| NetworkError::Netlink {
                op: format!("find link {name}"),
                reason: "not found".into(),
            })
    }

    /// The bridge, its sysctls and its iptables chains: once per manager,
    /// again if the bridge was deleted behind our back.
    async fn ensure_bridge(&self) -> Result<u32, NetworkError> {
        let mut ready = self.bridge_ready.lock().await;
        let host = netns::host_handle()?;
        let name = &self.cfg.bridge_name;
        if *ready {
            if let Some(i) = link::index_of(&host.handle, name).await? {
                return Ok(i);
            }
        }
        let subnet = self.cfg.bridge_subnet;
        let index =
            link::ensure_bridge(&host.handle, name, subnet.gateway(), subnet.prefix()).await?;
        write_sysctl("/proc/sys/net/ipv4/ip_forward", "1")?;
        write_sysctl(
            &format!("/proc/sys/net/ipv4/conf/{name}/route_localnet"),
            "1",
        )?;
        for h in rules::bridge_hooks(name) {
            if h.chain == rules::input_chain(name) {
                ipt::ensure_hook_on_top(&h).await?;
            } else {
                ipt::ensure_hook(&h).await?;
            }
        }
        for r in rules::bridge_rules(name, subnet, self.cfg.credentials_port) {
            ipt::ensure_rule(&r).await?;
        }
        *ready = true;
        tracing::info!(bridge = %name, subnet = %subnet, "task bridge ready");
        Ok(index)
    }

    /// Removes the namespace of `key` and everything set up for it; the
    /// lease is released only when all of it is gone. Unknown keys are fine.
    pub async fn teardown(&self, key: &str) -> Result<(), NetworkError> {
        let _working = self.spares.working();
        let _key = self.lock_key(key).await;
        self.teardown_key(key).await
    }

    /// `teardown`, with the key's lock already held.
    async fn teardown_key(&self, key: &str) -> Result<(), NetworkError> {
        let names = Names::new(&self.cfg, key);
        let lease = self.state.lock().await.leases.get(key).cloned();
        if let Some(l) = &lease {
            if let Some(ip) = l.ip {
                for b in &l.bindings {
                    ipt::delete_rule(&rules::port_rule(&self.cfg.bridge_name, b, ip)).await?;
                }
                if let Some(r) = self.introspection_rule(l.mode, ip) {
                    ipt::delete_rule(&r).await?;
                }
            }
            if let Some(eni) = &l.eni {
                self.return_eni(&l.netns_path, eni).await?;
            }
        }
        let path = lease
            .as_ref()
            .map(|l| l.netns_path.clone())
            .unwrap_or_else(|| names.netns.clone());
        self.cleanup_names(&Names {
            netns: path,
            ..names
        })
        .await?;
        if let Some(ip) = lease.as_ref().and_then(|l| l.ip) {
            // After the veth is gone, so no new entry can appear. Entries
            // expire anyway, so a failure here does not fail the teardown.
            match tokio::task::spawn_blocking(move || conntrack::flush_ip(ip)).await {
                Ok(Ok(n)) => tracing::debug!(key, %ip, deleted = n, "conntrack entries flushed"),
                Ok(Err(e)) => {
                    tracing::warn!(key, %ip, error = %e, "cannot flush conntrack entries")
                }
                Err(e) => tracing::warn!(key, %ip, error = %e, "cannot flush conntrack entries"),
            }
        }
        let snap = {
            let mut state = self.state.lock().await;
            match state.leases.remove(key) {
                Some(_) => Some(self.saver.take(&state)?),
                None => None,
            }
        };
        if let Some(snap) = snap {
            self.saver.write(snap).await?;
            tracing::info!(key, "task network torn down");
        }
        Ok(())
    }

    /// Deletes the host veth (its peer goes with it) and the namespace.
    async fn cleanup_names(&self, names: &Names) -> Result<(), NetworkError> {
        let host = netns::host_handle()?;
        for n in [&names.veth, &names.peer] {
            if let Some(i) = link::index_of(&host.handle, n).await? {
                link::delete(&host.handle, i, n).await?;
            }
        }
        netns::remove(&names.netns)
    }

    /// Creates the key's namespace. Leftovers of an earlier agent that lost
    /// its state file (or crashed before writing it) are cleared only when
    /// they are in the way, so that a setup does not pay for looking.
    async fn make_namespace(&self, names: &Names) -> Result<(), NetworkError> {
        match netns::create(&names.netns, self.spares.take()).await {
            Err(NetworkError::Namespace { ref source, .. })
                if source.kind() == std::io::ErrorKind::AlreadyExists =>
            {
                tracing::info!(netns = %names.netns.display(), "removing a namespace left by an earlier agent");
                self.cleanup_names(names).await?;
                netns::create(&names.netns, None).await
            }
            other => other,
        }
    }

    /// The task's veth (see `link::create_veth_into`); a host end of the
    /// same name left by an earlier agent is deleted and the pair made again.
    async fn make_veth(
        &self,
        host: &rtnetlink::Handle,
        names: &Names,
        bridge: u32,
        inner_if: &str,
        ns_fd: std::os::fd::RawFd,
    ) -> Result<(), NetworkError> {
        let made = link::create_veth_into(host, &names.veth, bridge, inner_if, ns_fd).await;
        let Err(e) = made else { return Ok(()) };
        let Some(i) = link::index_of(host, &names.veth).await? else {
            return Err(e);
        };
        tracing::info!(veth = %names.veth, "removing a veth left by an earlier agent");
        link::delete(host, i, &names.veth).await?;
        link::create_veth_into(host, &names.veth, bridge, inner_if, ns_fd).await
    }

    /// Takes the ENI out of the task namespace: down, addresses flushed, its
    /// host name back. Nothing if the namespace or the ENI is gone.
    async fn return_eni(&self, netns_path: &Path, eni: &EniLease) -> Result<(), NetworkError> {
        if eni.host_name.is_empty() || !netns::is_mounted(netns_path) {
            return Ok(());
        }
        let mac = eni_mac(&eni.mac)?;
        let ns = netns::handle_in(netns_path).await?;
        let Some((idx, name)) = link::by_mac(&ns.handle, &mac).await? else {
            return Ok(());
        };
        link::set_down(&ns.handle, idx, &name).await?;
        link::flush_addrs(&ns.handle, idx, &name).await?;
        let host_ns = netns::host_ns_file()?;
        link::move_to_ns(&ns.handle, idx, &eni.host_name, host_ns.as_raw_fd(), &name).await?;
        tracing::info!(mac = %eni.mac, host_name = %eni.host_name, "ENI returned to the host");
        Ok(())
    }

    /// Deletes the bridge and its chains when no lease is left (tests, or an
    /// operator cleaning up). Returns false and does nothing otherwise.
    pub async fn remove_bridge(&self) -> Result<bool, NetworkError> {
        let mut ready = self.bridge_ready.lock().await;
        let state = self.state.lock().await;
        if !state.leases.is_empty() {
            return Ok(false);
        }
        ipt::remove_hooks(&rules::bridge_hooks(&self.cfg.bridge_name)).await?;
        let host = netns::host_handle()?;
        if let Some(i) = link::index_of(&host.handle, &self.cfg.bridge_name).await? {
            link::delete(&host.handle, i, &self.cfg.bridge_name).await?;
        }
        *ready = false;
        Ok(true)
    }
}

/// Holds one key's lock; forgets the key's entry when nobody else wants it.
struct KeyGuard<'a> {
    manager: &'a NetworkManager,
    key: String,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        let mut locks = self
            .manager
            .key_locks
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        // The guard's own reference goes first: a count of one left means
        // only the map holds the lock (every waiter holds a clone).
        self.guard.take();
        if locks
            .get(&self.key)
            .is_some_and(|l| Arc::strong_count(l) == 1)
        {
            locks.remove(&self.key);
        }
    }
}
