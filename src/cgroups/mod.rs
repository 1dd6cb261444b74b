//! Task cgroups: the task-level `cpu` and `memory` (and ECS_TASK_PIDS_LIMIT)
//! enforced on a cgroup that all the task's containers live under, as the Go
//! agent does with ECS_ENABLE_TASK_CPU_MEM_LIMIT (agent/taskresource/cgroup,
//! agent/api/task/task_linux.go).
//!
//! # Layout
//!
//! The task's cgroup is `/<prefix>/<task id>` under the cgroup mount
//! (ECS_CGROUP_PATH, `/sys/fs/cgroup` by default), where the prefix is the
//! containerd namespace (`ecs` by default, so `/ecs/<task id>` as the Go agent
//! on cgroup v1). Each container's OCI `linux.cgroupsPath` is
//! `/<prefix>/<task id>/<container id>`: the runc shim containerd starts
//! uses the cgroupfs driver (this agent gives it no `SystemdCgroup` option),
//! for which such a path is a plain directory path in every hierarchy. On
//! cgroup v2 the Go agent asks systemd for `ecstasks-<task id>.slice`
//! instead, because Docker runs there with the systemd driver; with the
//! cgroupfs driver the same path as on v1 is used, and the controllers are
//! enabled in the parents' `cgroup.subtree_control` by this module.
//!
//! # How the engine uses it
//!
//! ```text
//! // before creating the task's first container (idempotent; after an agent
//! // restart the running task's cgroup is found again, not recreated):
//! let parent = cgroups.ensure(task_id, &spec)?;   // "/ecs/<task id>"
//! // when a container exited with 137: did the task's limit kill it?
//! cgroups.oom_kills(task_id)?
//! // at task cleanup, and for leftovers of tasks gone at restart:
//! cgroups.remove(task_id)?; cgroups.list()?
//! ```

mod error;
#[cfg(test)]
pub mod fake;
mod host;
mod spec;

pub use error::CgroupError;
pub use host::{CgroupVersion, HostCgroups};
pub use spec::{CpuLimit, TaskCgroupSpec};

/// Whether `ensure` made the cgroup or found it in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    Created,
    Found,
}

/// What the engine needs of task cgroups; `HostCgroups` is the real one.
/// Plain file system calls, quick but blocking: call them from a blocking
/// context (`crate::blocking::run`, `spawn_blocking`).
pub trait TaskCgroups: Send + Sync + 'static {
    /// The task's cgroup path as runc takes it (`/ecs/<task id>`), the
    /// parent of its containers' `linux.cgroupsPath`.
    fn path(&self, task_id: &str) -> String;

    /// Creates the task's cgroup with `spec`'s limits, or finds it in place
    /// (an agent restart) and leaves it as it is.
    fn ensure(&self, task_id: &str, spec: &TaskCgroupSpec) -> Result<Ensured, CgroupError>;

    /// How many processes of the task the kernel's OOM killer killed (cgroup
    /// v2: the task's `memory.events`, which counts its subtree; v1: the
    /// `memory.oom_control` of the task and its containers, as v1 counts a
    /// kill where the victim is); 0 when the task has no cgroup.
    fn oom_kills(&self, task_id: &str) -> Result<u64, CgroupError>;

    /// Removes the task's cgroup (with any container cgroups left under it);
    /// idempotent.
    fn remove(&self, task_id: &str) -> Result<(), CgroupError>;

    /// The task ids that have a cgroup here (also those of earlier agent
    /// processes), for removing what gone tasks left.
    fn list(&self) -> Result<Vec<String>, CgroupError>;
}
