//! The container runtime seen by the engine: one narrow trait shaped like what
//! the agent needs, and its containerd implementation.

use std::collections::HashMap;
use std::future::Future;

use crate::config::RegistryCredentials;
use crate::task::container::{ContainerSpec, PulledImage};
use crate::task::image_ref::ImageRef;

pub mod cgroupfs;
pub mod containerd;
mod error;
#[cfg(test)]
pub mod fake;
pub mod images;
pub mod metrics;

/// What containerd says about one container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerState {
    /// Container record exists, no task (process) yet, task created but not
    /// started, or its task was deleted after the exit (`delete_task`).
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
    /// containerd no longer has this container's task and kept no exit for
    /// it (containerd 1.7 and later drop, when they start, a task whose
    /// process ended while they were down): `exit_code` and `exited_at_ms`
    /// mean nothing, the receiver should look at the container's state.
    pub task_gone: bool,
}

pub use error::{ErrorKind, RuntimeError};

/// How a process run in a container ([`ContainerRuntime::exec`]) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutcome {
    /// `None`: it outlived its timeout and was killed.
    pub exit_code: Option<i32>,
    /// stdout and stderr together, the first bytes up to the caller's cap.
    pub output: Vec<u8>,
}

/// The process that holds a task's shared PID and IPC namespaces
/// (`pidMode`/`ipcMode` `task`), as the Go agent's pause container does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceHolder {
    /// Its container id (`crate::task::spec::namespace_holder_id`).
    pub id: String,
    /// The task's cgroup, as for the task's containers.
    pub cgroup_parent: Option<String>,
}

/// The exec id of every health check probe run as an exec: one runs at a
/// time per container, and a leftover of a killed agent is found (and
/// removed) under the same id.
pub const HEALTH_CHECK_EXEC_ID: &str = "ecs-health-check";

/// The runtime as the engine uses it. Implementations must be cheap to clone
/// behind an `Arc` and safe to call concurrently.
pub trait ContainerRuntime: Send + Sync + 'static {
    /// Fetch the image from its registry into the runtime and unpack it.
    /// The reference comes parsed (it was validated with the task).
    fn pull_image(
        &self,
        image: &ImageRef,
        credentials: Option<RegistryCredentials>,
    ) -> impl Future<Output = Result<PulledImage, RuntimeError>> + Send;

    /// The image this runtime last pulled under `image`'s name, as it was
    /// then; no call is made. The engine creates a container from it while
    /// the pull asks the registry whether the name still points at it, and
    /// keeps the container only if it does.
    fn remembered_image(&self, _image: &ImageRef) -> Option<PulledImage> {
        None
    }

    /// The image if it is already present and unpacked, without touching the network.
    fn find_image(
        &self,
        image: &ImageRef,
    ) -> impl Future<Output = Result<Option<PulledImage>, RuntimeError>> + Send;

    /// Create the container (snapshot, record, OCI spec) and its task, not started.
    fn create(&self, spec: &ContainerSpec)
        -> impl Future<Output = Result<(), RuntimeError>> + Send;

    /// Start a created container; returns the pid of its main process.
    fn start(&self, id: &str) -> impl Future<Output = Result<u32, RuntimeError>> + Send;

    /// Send a signal to the container's main process. Not an error if it already exited.
    fn kill(&self, id: &str, signal: i32) -> impl Future<Output = Result<(), RuntimeError>> + Send;

    /// Run an exited container again in place: its old task deleted, a new
    /// one made on the same record and snapshot, logging to `log`, and
    /// started. Returns the new main process's pid.
    fn restart(
        &self,
        id: &str,
        log: &crate::task::container::ContainerLog,
    ) -> impl Future<Output = Result<u32, RuntimeError>> + Send;

    /// Delete the task of a container whose process has exited (or never
    /// started): its shim and logger end, while the container record, its
    /// snapshot and its log stay until [`remove`](Self::remove). Returns once
    /// the logger has written the whole output. Idempotent (no task: `Ok`);
    /// refused while the process runs.
    fn delete_task(&self, id: &str) -> impl Future<Output = Result<(), RuntimeError>> + Send;

    /// Delete the task, the container record and its snapshot. Idempotent.
    /// Also clears an id of [`list`](Self::list) that has only a snapshot.
    fn remove(&self, id: &str) -> impl Future<Output = Result<(), RuntimeError>> + Send;

    /// Current state, `None` when containerd has no such container. A record
    /// without a task is `Created`, also after `delete_task`: whoever deleted
    /// the task knows the exit.
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

    /// Resource usage of the running containers among `ids`, in one call; a
    /// container without a task, or whose sample cannot be read, is left out.
    fn metrics(
        &self,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<metrics::ContainerMetrics>, RuntimeError>> + Send;

    /// Runs `args` inside the running container `id` as its main process
    /// runs (user, environment, working directory), as process `exec_id`
    /// (one at a time per id); keeps the first `output_cap` bytes of its
    /// output; kills it once `timeout` passed. The process is always
    /// removed from the runtime before this returns.
    fn exec(
        &self,
        id: &str,
        exec_id: &str,
        args: &[String],
        timeout: std::time::Duration,
        output_cap: usize,
    ) -> impl Future<Output = Result<ExecOutcome, RuntimeError>> + Send;

    /// One health check probe of `args` in the running container `id`,
    /// with [`exec`](Self::exec)'s semantics; a runtime may run it some
    /// cheaper way than a fresh exec (containerd: a runner in the container).
    fn health_check(
        &self,
        id: &str,
        args: &[String],
        timeout: std::time::Duration,
        output_cap: usize,
    ) -> impl Future<Output = Result<ExecOutcome, RuntimeError>> + Send {
        self.exec(id, HEALTH_CHECK_EXEC_ID, args, timeout, output_cap)
    }

    /// The ids of everything the runtime holds in its namespace: every
    /// container record (namespace holders included) and every writable
    /// snapshot no record uses (a create that died half-way). Sorted.
    fn list(&self) -> impl Future<Output = Result<Vec<String>, RuntimeError>> + Send;

    /// A pid in each running container among `ids` (its main process, or
    /// one read from its cgroup), by container id: whose namespaces to read
    /// the container's network counters in.
    fn pids(
        &self,
        ids: &[String],
    ) -> impl Future<Output = Result<HashMap<String, u32>, RuntimeError>> + Send;

    /// Starts the task's namespace holder, or finds it running; returns its
    /// host pid, whose namespaces the task's containers join. Safe to call
    /// concurrently for one task (one holder is made).
    fn ensure_namespace_holder(
        &self,
        holder: &NamespaceHolder,
    ) -> impl Future<Output = Result<u32, RuntimeError>> + Send;

    /// Stops and removes the holder `id`. Idempotent.
    fn remove_namespace_holder(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<(), RuntimeError>> + Send;
}
