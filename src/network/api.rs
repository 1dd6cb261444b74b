//! The engine's view of task networking, so engine tests can use a fake.

use std::future::Future;
use std::pin::Pin;

use super::{NamespaceInfo, NamespaceRequest, NetworkError, NetworkManager, Reserved};

/// A boxed future of the network: the engine holds the network as
/// `Arc<dyn TaskNetwork>`, and async methods of a trait object must be boxed.
pub type NetFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the engine needs from task networking; `NetworkManager` is the real one.
pub trait TaskNetwork: Send + Sync + 'static {
    /// Create (or return the existing) namespace for `req.key`; `reserved`
    /// hears of it as soon as a container may be created in it (see
    /// `NetworkManager::setup_staged`), or is dropped unsent.
    fn setup<'a>(
        &'a self,
        req: &'a NamespaceRequest,
        reserved: Option<Reserved>,
    ) -> NetFuture<'a, Result<NamespaceInfo, NetworkError>>;

    /// Remove everything of `key`; idempotent, retry on error.
    fn teardown<'a>(&'a self, key: &'a str) -> NetFuture<'a, Result<(), NetworkError>>;

    /// The keys of every namespace set up and not yet torn down (also those
    /// of earlier agent processes).
    fn keys(&self) -> NetFuture<'_, Vec<String>>;
}

impl TaskNetwork for NetworkManager {
    fn setup<'a>(
        &'a self,
        req: &'a NamespaceRequest,
        reserved: Option<Reserved>,
    ) -> NetFuture<'a, Result<NamespaceInfo, NetworkError>> {
        Box::pin(NetworkManager::setup_staged(self, req, reserved))
    }

    fn teardown<'a>(&'a self, key: &'a str) -> NetFuture<'a, Result<(), NetworkError>> {
        Box::pin(NetworkManager::teardown(self, key))
    }

    fn keys(&self) -> NetFuture<'_, Vec<String>> {
        Box::pin(NetworkManager::keys(self))
    }
}

/// A recording fake for engine unit tests: hands out 10.0.0.x addresses and
/// host port 30000 + container port for dynamic mappings.
#[cfg(test)]
pub mod fake {
    use std::collections::BTreeMap;
    use std::net::Ipv4Addr;
    use std::path::PathBuf;
    use std::sync::Mutex;

    use super::super::{NamespaceInfo, NamespaceRequest, NetworkError, Reserved};
    use super::{NetFuture, TaskNetwork};
    use crate::task::def::{NetworkBinding, NetworkMode, Protocol};

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Call {
        Setup { key: String, mode: NetworkMode },
        Teardown { key: String },
    }

    #[derive(Default)]
    pub struct FakeNetwork {
        pub calls: Mutex<Vec<Call>>,
        pub live: Mutex<BTreeMap<String, NamespaceInfo>>,
        /// When set, `setup` fails with this port conflict.
        pub fail_setup: Mutex<Option<u16>>,
        /// When set, `setup` reserves the namespace (a container may be
        /// created in it) and then fails making its links with this reason.
        pub fail_links: Mutex<Option<String>>,
    }

    impl FakeNetwork {
        fn setup_now(
            &self,
            req: &NamespaceRequest,
            reserved: Option<Reserved>,
        ) -> Result<NamespaceInfo, NetworkError> {
            self.calls.lock().unwrap().push(Call::Setup {
                key: req.key.clone(),
                mode: req.mode,
            });
            if let Some(port) = *self.fail_setup.lock().unwrap() {
                return Err(NetworkError::PortInUse {
                    port,
                    protocol: Protocol::Tcp,
                });
            }
            let mut live = self.live.lock().unwrap();
            let n = live.len() as u8 + 2;
            let ip = (req.mode != NetworkMode::None).then_some(Ipv4Addr::new(10, 0, 0, n));
            let bindings = if req.mode == NetworkMode::Bridge {
                req.ports
                    .iter()
                    .map(|p| NetworkBinding {
                        container_port: p.container_port,
                        host_port: p
                            .host_port
                            .filter(|h| *h != 0)
                            .unwrap_or(30000 + p.container_port),
                        protocol: p.protocol,
                        bind_ip: Ipv4Addr::UNSPECIFIED,
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let info = NamespaceInfo {
                netns_path: PathBuf::from(format!("/fake/netns/{}", req.key)),
                ipv4: ip,
                source_ips: ip.into_iter().collect(),
                bindings,
                dns: Vec::new(),
                dns_search: Vec::new(),
            };
            live.insert(req.key.clone(), info.clone());
            if let Some(r) = reserved {
                let _ = r.info.send(info.clone());
            }
            if let Some(reason) = self.fail_links.lock().unwrap().clone() {
                // As the manager undoes a failed setup.
                live.remove(&req.key);
                return Err(NetworkError::Netlink {
                    op: "create veth".into(),
                    reason,
                });
            }
            Ok(info)
        }
    }

    impl TaskNetwork for FakeNetwork {
        fn setup<'a>(
            &'a self,
            req: &'a NamespaceRequest,
            reserved: Option<Reserved>,
        ) -> NetFuture<'a, Result<NamespaceInfo, NetworkError>> {
            let result = self.setup_now(req, reserved);
            Box::pin(async move { result })
        }

        fn teardown<'a>(&'a self, key: &'a str) -> NetFuture<'a, Result<(), NetworkError>> {
            self.calls.lock().unwrap().push(Call::Teardown {
                key: key.to_string(),
            });
            self.live.lock().unwrap().remove(key);
            Box::pin(async { Ok(()) })
        }

        fn keys(&self) -> NetFuture<'_, Vec<String>> {
            let keys = self.live.lock().unwrap().keys().cloned().collect();
            Box::pin(async move { keys })
        }
    }
}
