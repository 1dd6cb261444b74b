//! The plain values of a container as the runtime creates it: its resolved
//! spec, the image it runs from and its limits. Pure vocabulary, shared by
//! the core (which builds specs), the engine and the runtime (which runs them).

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The parts of an OCI image config that decide how a container runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: String,
    pub labels: BTreeMap<String, String>,
    /// Its `VOLUME`s (the config's `Volumes` keys): Docker gives each an
    /// anonymous volume filled with the image's content there.
    pub volumes: Vec<String>,
    /// `ExposedPorts` keys as the image writes them (`80/tcp`), sorted.
    pub exposed_ports: Vec<String>,
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
    /// A namespace of its own with only loopback, made by runc
    /// (`disableNetworking`).
    Isolated,
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

/// Where a container's stdout and stderr go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerLog {
    /// Both streams as written, into one file.
    Plain(PathBuf),
    /// Docker's json-file records at `path`, rotated when `max_size` (bytes)
    /// is reached, keeping `max_file` files.
    JsonFile {
        path: PathBuf,
        max_size: Option<u64>,
        max_file: u32,
    },
    /// The awslogs spool: json-file records at `path`, moved to `path.1`
    /// at `file_size` bytes only once the shipper has shipped and removed
    /// the previous `path.1`; no file is ever dropped. Meanwhile `path`
    /// grows on (blocking mode) or, with `drop_when_full` (non-blocking),
    /// new lines are dropped and counted by the logger.
    Spool {
        path: PathBuf,
        file_size: u64,
        drop_when_full: bool,
    },
    /// Discarded (`logDriver: none`): no logger, the shim's /dev/null.
    Discard,
}

impl ContainerLog {
    /// The file written, if any.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            ContainerLog::Plain(p)
            | ContainerLog::JsonFile { path: p, .. }
            | ContainerLog::Spool { path: p, .. } => Some(p),
            ContainerLog::Discard => None,
        }
    }
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
    /// The task's cgroup (`/ecs/<task id>`) when task cgroups are on: the
    /// container's cgroup goes under it. None: under the namespace's.
    pub cgroup_parent: Option<String>,
    pub privileged: bool,
    pub readonly_rootfs: bool,
    pub ulimits: Vec<Ulimit>,
    /// dockerLabels plus the agent's own `com.amazonaws.ecs.*` labels.
    pub labels: BTreeMap<String, String>,
    /// Where stdout and stderr of the container go (through the containerd shim).
    pub log: ContainerLog,
    pub network: NetworkAttachment,
    /// Mounted after the default mounts, in order; one whose destination is
    /// a default's (`/etc/hosts`, `/etc/resolv.conf`, ...) replaces it.
    pub mounts: Vec<BindMount>,
    /// Destinations of `mounts` that are volumes (not host binds): one
    /// still empty gets the image's content at that path first, as Docker
    /// fills a new volume.
    pub populate_from_image: Vec<String>,
    /// Capabilities, devices, init, shm, tmpfs, swap, sysctls, security
    /// options, pid/ipc namespaces.
    pub linux: super::linux::LinuxOptions,
    /// Host pid of the task's namespace holder, whose PID and/or IPC
    /// namespace the container joins (`pidMode`/`ipcMode` `task`); set by
    /// the engine once the holder runs.
    pub namespace_holder: Option<u32>,
    /// The host directory mounted at /dev/shm with `ipcMode: task` (a
    /// tmpfs the task's containers share); set by the engine.
    pub task_shm: Option<std::path::PathBuf>,
    /// pseudoTerminal: the shim gives the process a terminal and copies
    /// what it prints to the log.
    pub tty: bool,
    /// The container has a health check: the runtime may mount its check
    /// runner into it.
    pub health_runner: bool,
}
