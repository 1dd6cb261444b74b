//! ecs-local's settings (from its command line) and its one clock read.
//! Its own file so that the API handlers, the auth layer and the app state can
//! all use them without importing each other.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub region: String,
    /// The (access key, secret) pairs a request may be signed with (`--auth`,
    /// repeatable: each pair is one principal); none: nothing is checked.
    pub auth: Vec<(String, String)>,
    pub heartbeat: Duration,
    pub resend: Duration,
    /// How often each connected agent gets a TaskManifestMessage.
    pub manifest: Duration,
    /// Lifetime of the task role credentials ecs-local mints.
    pub credentials_ttl: Duration,
    /// `waitTimeoutMs` of the AttachTaskNetworkInterfacesMessages it sends:
    /// how long the agent has to report an ENI ATTACHED before the task is
    /// stopped.
    pub eni_attach_timeout: Duration,
    /// `--ecr-registry HOST=REGISTRY_ID[,ENDPOINT]`: registries treated as private ECR
    /// registries of ecs-local's region (see `ecr`).
    pub ecr_registries: Arc<Vec<crate::local::ecr::EcrMapping>>,
}

impl Config {
    /// Whether requests must be signed (`--auth` given).
    pub fn auth_on(&self) -> bool {
        !self.auth.is_empty()
    }

    /// The secret of an `--auth` access key.
    pub fn secret_of(&self, access_key: &str) -> Option<&str> {
        self.auth
            .iter()
            .find(|(ak, _)| ak == access_key)
            .map(|(_, sk)| sk.as_str())
    }
}

/// Like an STS role session: 6 hours.
pub const DEFAULT_CREDENTIALS_TTL: Duration = Duration::from_secs(6 * 3600);
/// `waitTimeoutMs` of an ENI attachment unless `--eni-attach-timeout-secs`
/// says otherwise (the value ecs-local always sent before).
pub const DEFAULT_ENI_ATTACH_TIMEOUT: Duration = Duration::from_secs(60);
/// Refreshes happen at least a second before expiry, so shorter makes no sense.
pub const MIN_CREDENTIALS_TTL: Duration = Duration::from_secs(2);

/// Unix time in seconds, as the ECS API's timestamps carry it. Handlers get it
/// passed in through `Ctx` rather than calling this.
pub fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
impl Config {
    /// What the unit tests of the router and the sessions run with: an
    /// unused address, us-east-1, the given `--auth` principals and fixed
    /// timings.
    pub fn for_tests(auth: Vec<(String, String)>) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 1)),
            region: "us-east-1".into(),
            auth,
            heartbeat: Duration::from_secs(30),
            resend: Duration::from_secs(5),
            manifest: Duration::from_secs(60),
            credentials_ttl: Duration::from_secs(3600),
            eni_attach_timeout: Duration::from_secs(60),
            ecr_registries: Arc::default(),
        }
    }
}
