//! The engine's view of task networking, so engine tests can use a fake.

use std::future::Future;

use super::{NamespaceInfo, NamespaceRequest, NetworkError, NetworkManager};

/// What the engine needs from task networking; `NetworkManager` is the real one.
pub trait TaskNetwork: Send + Sync + 'static {
    /// Create (or return the existing) namespace for `req.key`.
    fn setup(
        &self,
        req: &NamespaceRequest,
    ) -> impl Future<Output = Result<NamespaceInfo, NetworkError>> + Send;

    /// Remove everything of `key`; idempotent, retry on error.
    fn teardown(&self, key: &str) -> impl Future<Output = Result<(), NetworkError>> + Send;
}

impl TaskNetwork for NetworkManager {
    fn setup(
        &self,
        req: &NamespaceRequest,
    ) -> impl Future<Output = Result<NamespaceInfo, NetworkError>> + Send {
        NetworkManager::setup(self, req)
    }

    fn teardown(&self, key: &str) -> impl Future<Output = Result<(), NetworkError>> + Send {
        NetworkManager::teardown(self, key)
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

    use super::super::{Binding, Mode, NamespaceInfo, NamespaceRequest, NetworkError};
    use super::TaskNetwork;

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Call {
        Setup { key: String, mode: Mode },
        Teardown { key: String },
    }

    #[derive(Default)]
    pub struct FakeNetwork {
        pub calls: Mutex<Vec<Call>>,
        pub live: Mutex<BTreeMap<String, NamespaceInfo>>,
        /// When set, `setup` fails with this port conflict.
        pub fail_setup: Mutex<Option<u16>>,
    }

    impl TaskNetwork for FakeNetwork {
        async fn setup(&self, req: &NamespaceRequest) -> Result<NamespaceInfo, NetworkError> {
            self.calls.lock().unwrap().push(Call::Setup {
                key: req.key.clone(),
                mode: req.mode,
            });
            if let Some(port) = *self.fail_setup.lock().unwrap() {
                return Err(NetworkError::PortInUse {
                    port,
                    protocol: super::super::Protocol::Tcp,
                });
            }
            let mut live = self.live.lock().unwrap();
            let n = live.len() as u8 + 2;
            let ip = (req.mode != Mode::None).then_some(Ipv4Addr::new(10, 0, 0, n));
            let bindings = if req.mode == Mode::Bridge {
                req.ports
                    .iter()
                    .map(|p| Binding {
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
            Ok(info)
        }

        async fn teardown(&self, key: &str) -> Result<(), NetworkError> {
            self.calls.lock().unwrap().push(Call::Teardown {
                key: key.to_string(),
            });
            self.live.lock().unwrap().remove(key);
            Ok(())
        }
    }
}
