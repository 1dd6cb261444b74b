//! Why the agent cannot start or had to stop. Each message names the
//! setting to look at; the inner error's text follows it once.

use crate::control::ControlError;
use crate::logger::InstallError;
use crate::network::NetworkError;
use crate::runtime::containerd::probe::ProbeError;
use crate::runtime::containerd::ConnError;
use crate::state::StateError;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A setting the agent could only complete at start (the region).
    #[error(transparent)]
    Config(crate::config::ConfigError),
    #[error("CONTAINERD_ADDRESS / CONTAINERD_NAMESPACE: {0}")]
    Containerd(ConnError),
    /// Names the variable itself (or says what to upgrade).
    #[error(transparent)]
    ContainerdProbe(ProbeError),
    #[error("ECS_DATADIR: {0}")]
    Logger(InstallError),
    #[error("ECS_DATADIR: {0}")]
    OpenState(StateError),
    #[error("ECS_IMAGE_FILESYSTEM_PATH={}: {error}", .path.display())]
    ImageFilesystem {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    State(#[from] StateError),
    #[error("task networking state in ECS_DATADIR/network: {0}")]
    NetworkState(NetworkError),
    #[error("preparing the host for task networking (set ECS_HOST_NETWORK_SETUP=false to leave host-wide iptables rules to someone else): {0}")]
    HostNetwork(NetworkError),
    #[error("ECS_ENABLE_TASK_CPU_MEM_LIMIT=true, but task cgroups cannot be set up (ECS_CGROUP_PATH): {0}")]
    TaskCgroups(crate::cgroups::CgroupError),
    #[error("creating the default cluster: {0}")]
    CreateCluster(ControlError),
    #[error("registering with cluster {cluster:?} (ECS_CLUSTER): {error}")]
    Register {
        cluster: String,
        error: ControlError,
    },
    #[error("{listener} listener on {addr} ({variable}): {error}")]
    Listen {
        listener: &'static str,
        addr: std::net::SocketAddr,
        variable: &'static str,
        error: std::io::Error,
    },
    #[error("cannot listen for SIGTERM: {0}")]
    Signal(std::io::Error),
    #[error("the control plane no longer accepts this instance: {0}")]
    Inactive(String),
}
