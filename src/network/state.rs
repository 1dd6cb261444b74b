//! IPAM leases and port allocations: the pure allocation rules and the
//! `network.json` file they are persisted in (written atomically).

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::NetworkError;
use crate::config::Ipv4Net;
use crate::task::def::{NetworkBinding, NetworkMode, PortMapping, Protocol};

pub(crate) const STATE_FILE: &str = "network.json";
const VERSION: u32 = 1;

/// Everything the manager must remember to undo a namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Lease {
    #[serde(with = "stored::mode")]
    pub mode: NetworkMode,
    pub netns_path: PathBuf,
    /// Bridge address (bridge, awsvpc with or without ENI).
    pub ip: Option<Ipv4Addr>,
    pub host_veth: Option<String>,
    #[serde(with = "stored::bindings")]
    pub bindings: Vec<NetworkBinding>,
    pub eni: Option<EniLease>,
    #[serde(default)]
    pub dns: Vec<Ipv4Addr>,
    #[serde(default)]
    pub dns_search: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EniLease {
    pub mac: String,
    /// Its name on the host, restored when it goes back.
    pub host_name: String,
    pub ipv4: Vec<(Ipv4Addr, u8)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct State {
    pub version: u32,
    pub bridge: String,
    pub subnet: Ipv4Net,
    /// Next address to try: round robin, so a freed address is not reused at once.
    pub ip_cursor: u32,
    /// Next dynamic port to try, likewise (conntrack entries of a freed port age out).
    pub port_cursor: u16,
    pub leases: BTreeMap<String, Lease>,
}

impl State {
    pub fn new(bridge: &str, subnet: Ipv4Net) -> Self {
        Self {
            version: VERSION,
            bridge: bridge.to_string(),
            subnet,
            ip_cursor: 0,
            port_cursor: 0,
            leases: BTreeMap::new(),
        }
    }

    pub fn used_ips(&self) -> HashSet<Ipv4Addr> {
        self.leases.values().filter_map(|l| l.ip).collect()
    }

    pub fn used_ports(&self) -> HashSet<(Protocol, u16)> {
        self.leases
            .values()
            .flat_map(|l| l.bindings.iter().map(|b| (b.protocol, b.host_port)))
            .collect()
    }

    /// Next free task address of the subnet, moving the cursor past it.
    pub fn allocate_ip(&mut self) -> Result<Ipv4Addr, NetworkError> {
        let used = self.used_ips();
        let (lo, hi) = self.subnet.task_range();
        let size = hi - lo + 1;
        let start = if (lo..=hi).contains(&self.ip_cursor) {
            self.ip_cursor
        } else {
            lo
        };
        for i in 0..size {
            let candidate = lo + (start - lo + i) % size;
            let ip = Ipv4Addr::from(candidate);
            if !used.contains(&ip) {
                self.ip_cursor = if candidate == hi { lo } else { candidate + 1 };
                return Ok(ip);
            }
        }
        Err(NetworkError::AddressesExhausted {
            subnet: self.subnet.to_string(),
        })
    }

    /// Host ports for `reqs`: static ones as asked (refused when another lease
    /// or a listening socket holds them), dynamic ones from `range`, never
    /// reserved, leased or bound. `is_free` probes the host (a bind attempt).
    pub fn allocate_ports(
        &mut self,
        reqs: &[PortMapping],
        range: (u16, u16),
        reserved: (&[u16], &[u16]),
        mut is_free: impl FnMut(Protocol, u16) -> bool,
    ) -> Result<Vec<NetworkBinding>, NetworkError> {
        let mut used = self.used_ports();
        let mut out = Vec::with_capacity(reqs.len());
        let reserved_for = |p: Protocol| match p {
            Protocol::Tcp => reserved.0,
            Protocol::Udp => reserved.1,
        };
        // Static ports first, so a dynamic pick never takes one a sibling asked for.
        for r in reqs
            .iter()
            .filter(|r| matches!(r.host_port, Some(p) if p != 0))
        {
            let hp = r.host_port.unwrap_or_default();
            if used.contains(&(r.protocol, hp)) || !is_free(r.protocol, hp) {
                return Err(NetworkError::PortInUse {
                    port: hp,
                    protocol: r.protocol,
                });
            }
            used.insert((r.protocol, hp));
            out.push((r, hp));
        }
        let (lo, hi) = range;
        let size = u32::from(hi - lo) + 1;
        let mut cursor = if (lo..=hi).contains(&self.port_cursor) {
            self.port_cursor
        } else {
            lo
        };
        for r in reqs
            .iter()
            .filter(|r| matches!(r.host_port, None | Some(0)))
        {
            let mut found = None;
            for i in 0..size {
                let port = (u32::from(lo) + (u32::from(cursor - lo) + i) % size) as u16;
                if reserved_for(r.protocol).contains(&port)
                    || used.contains(&(r.protocol, port))
                    || !is_free(r.protocol, port)
                {
                    continue;
                }
                found = Some(port);
                break;
            }
            let port = found.ok_or(NetworkError::PortsExhausted {
                protocol: r.protocol,
                range,
            })?;
            used.insert((r.protocol, port));
            cursor = if port == hi { lo } else { port + 1 };
            out.push((r, port));
        }
        self.port_cursor = cursor;
        // Report in the order asked.
        let mut bindings: Vec<NetworkBinding> = Vec::with_capacity(out.len());
        for r in reqs {
            if let Some(&(_, hp)) = out.iter().find(|(o, _)| std::ptr::eq(*o, r)) {
                bindings.push(NetworkBinding {
                    container_port: r.container_port,
                    host_port: hp,
                    protocol: r.protocol,
                    bind_ip: Ipv4Addr::UNSPECIFIED,
                });
            }
        }
        Ok(bindings)
    }
}

/// How network.json spells the task's types: modes and protocols in lower
/// case (`"bridge"`, `"tcp"`), where the task checkpoint uses the enum names.
/// Both files outlive upgrades, so neither spelling may change.
mod stored {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::task::def::{NetworkBinding, NetworkMode, Protocol};

    #[derive(Serialize, Deserialize)]
    #[serde(remote = "NetworkMode", rename_all = "lowercase")]
    enum ModeDef {
        Host,
        Bridge,
        Awsvpc,
        None,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(remote = "Protocol", rename_all = "lowercase")]
    enum ProtocolDef {
        Tcp,
        Udp,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(remote = "NetworkBinding")]
    struct BindingDef {
        container_port: u16,
        host_port: u16,
        #[serde(with = "ProtocolDef")]
        protocol: Protocol,
        bind_ip: std::net::Ipv4Addr,
    }

    #[derive(Serialize, Deserialize)]
    struct Binding(#[serde(with = "BindingDef")] NetworkBinding);

    pub mod mode {
        use super::*;

        pub fn serialize<S: Serializer>(m: &NetworkMode, s: S) -> Result<S::Ok, S::Error> {
            ModeDef::serialize(m, s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NetworkMode, D::Error> {
            ModeDef::deserialize(d)
        }
    }

    pub mod bindings {
        use super::*;

        pub fn serialize<S: Serializer>(b: &[NetworkBinding], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(b.iter().map(|b| Binding(*b)))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Vec<NetworkBinding>, D::Error> {
            let v = Vec::<Binding>::deserialize(d)?;
            Ok(v.into_iter().map(|b| b.0).collect())
        }
    }
}

/// Loads `dir/network.json`, or a fresh state when there is none.
pub(crate) fn load(dir: &Path, bridge: &str, subnet: Ipv4Net) -> Result<State, NetworkError> {
    let path = dir.join(STATE_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(State::new(bridge, subnet))
        }
        Err(source) => return Err(NetworkError::StateIo { path, source }),
    };
    let state: State = serde_json::from_slice(&bytes).map_err(|e| NetworkError::StateCorrupt {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    if state.bridge != bridge || state.subnet != subnet {
        return Err(NetworkError::StateCorrupt {
            path,
            reason: format!(
                "it belongs to bridge {} {}, not {bridge} {subnet}: use another state_dir",
                state.bridge, state.subnet
            ),
        });
    }
    Ok(state)
}

/// Writes the state to a temporary file, syncs it and renames it over the old one.
#[cfg(test)]
pub(crate) fn save(dir: &Path, state: &State) -> Result<(), NetworkError> {
    write(dir, &encode(dir, state)?)
}

/// The state as `network.json` holds it.
pub(crate) fn encode(dir: &Path, state: &State) -> Result<Vec<u8>, NetworkError> {
    serde_json::to_vec_pretty(state).map_err(|e| NetworkError::StateCorrupt {
        path: dir.join(STATE_FILE),
        reason: e.to_string(),
    })
}

/// Writes encoded state to a temporary file, syncs it and renames it over
/// the old one (blocking).
pub(crate) fn write(dir: &Path, json: &[u8]) -> Result<(), NetworkError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| NetworkError::StateIo { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let path = dir.join(STATE_FILE);
    let tmp = dir.join(format!("{STATE_FILE}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(json).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
