//! The container runtime seen by the engine: one narrow trait shaped like what
//! the agent needs, and its containerd implementation.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;

pub mod containerd;
pub mod images;

/// Credentials for one registry, already resolved from ECS_ENGINE_AUTH_DATA
/// (or, later, ECR / Secrets Manager).
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryCredentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for RegistryCredentials {
    // Never print the secret, not even at trace level.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The parts of an OCI image config that decide how a container runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: String,
    pub labels: BTreeMap<String, String>,
}

/// An image present in containerd: recorded, unpacked, ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledImage {
    /// The containerd image name (the normalized reference, e.g. `docker.io/library/busybox:latest`).
    pub name: String,
    /// Digest of the manifest the image record points at (`sha256:...`).
    pub digest: String,
    /// Chain ID of the top layer: the parent snapshot of every container made from it.
    pub chain_id: String,
    pub config: ImageConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ulimit {
    /// Lower-case name as in ECS (`nofile`, `nproc`, ...).
    pub name: UlimitName,
    pub soft: u64,
    pub hard: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum UlimitName {
    Core,
    Cpu,
    Data,
    Fsize,
    Locks,
    Memlock,
    Msgqueue,
    Nice,
    Nofile,
    Nproc,
    Rss,
    Rtprio,
    Rttime,
    Sigpending,
    Stack,
}

/// Which network namespace the container joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkAttachment {
    /// The host's namespace (`networkMode: host`).
    Host,
    /// An existing namespace made by the network layer, by path (`/var/run/netns/...`).
    Namespace(PathBuf),
}

/// A host file or directory bind-mounted into the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    /// Absolute path as the runtime (containerd, runc) sees it on the host.
    pub source: PathBuf,
    /// Absolute path inside the container.
    pub destination: String,
    pub read_only: bool,
}

/// Everything needed to create one container, already validated and resolved
/// (entrypoint/command merged with the image config, env merged, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerSpec {
    /// containerd container id; also used as the snapshot key.
    pub id: String,
    pub image: PulledImage,
    /// Final argv.
    pub args: Vec<String>,
    /// `KEY=VALUE`, image env first, then the container definition's.
    pub env: Vec<String>,
    /// Absolute path; `/` when neither the definition nor the image sets one.
    pub cwd: String,
    /// As in the task definition or image: `user`, `uid`, `user:group`, `uid:gid`; empty = root.
    pub user: String,
    pub hostname: Option<String>,
    pub cpu_shares: Option<u64>,
    pub memory_limit_bytes: Option<i64>,
    pub memory_reservation_bytes: Option<i64>,
    pub privileged: bool,
    pub readonly_rootfs: bool,
    pub ulimits: Vec<Ulimit>,
    /// dockerLabels plus the agent's own `com.amazonaws.ecs.*` labels.
    pub labels: BTreeMap<String, String>,
    /// stdout and stderr of the container land here, written by the containerd shim.
    pub log_path: PathBuf,
    pub network: NetworkAttachment,
    /// Mounted after the default mounts, in order; one whose destination is
    /// a default's (`/etc/hosts`, `/etc/resolv.conf`, ...) replaces it.
    pub mounts: Vec<BindMount>,
}

/// What containerd says about one container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerState {
    /// Container record exists, no task (process) yet or task created but not started.
    Created,
    Running {
        pid: u32,
    },
    Stopped {
        exit_code: i32,
    },
}

/// A container's main process exited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitEvent {
    pub container_id: String,
    pub exit_code: i32,
    /// Unix time in milliseconds, from containerd.
    pub exited_at_ms: i64,
}

pub use containerd::RuntimeError;

/// The runtime as the engine uses it. Implementations must be cheap to clone
/// behind an `Arc` and safe to call concurrently.
pub trait ContainerRuntime: Send + Sync + 'static {
    /// Fetch `reference` from its registry into the runtime and unpack it.
    fn pull_image(
        &self,
        reference: &str,
        credentials: Option<RegistryCredentials>,
    ) -> impl Future<Output = Result<PulledImage, RuntimeError>> + Send;

    /// The image if it is already present and unpacked, without touching the network.
    fn find_image(
        &self,
        reference: &str,
    ) -> impl Future<Output = Result<Option<PulledImage>, RuntimeError>> + Send;

    /// Create the container (snapshot, record, OCI spec) and its task, not started.
    fn create(&self, spec: &ContainerSpec)
        -> impl Future<Output = Result<(), RuntimeError>> + Send;

    /// Start a created container; returns the pid of its main process.
    fn start(&self, id: &str) -> impl Future<Output = Result<u32, RuntimeError>> + Send;

    /// Send a signal to the container's main process. Not an error if it already exited.
    fn kill(&self, id: &str, signal: i32) -> impl Future<Output = Result<(), RuntimeError>> + Send;

    /// Delete the task, the container record and its snapshot. Idempotent.
    fn remove(&self, id: &str) -> impl Future<Output = Result<(), RuntimeError>> + Send;

    /// Current state, `None` when containerd has no such container.
    fn state(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<ContainerState>, RuntimeError>> + Send;

    /// Exit events for all containers in our namespace. The stream reconnects
    /// by itself; after a reconnect callers should re-check `state` of what they
    /// track, since exits may have been missed while it was down.
    fn subscribe_exits(
        &self,
    ) -> impl Future<Output = Result<tokio::sync::mpsc::Receiver<ExitEvent>, RuntimeError>> + Send;
}
