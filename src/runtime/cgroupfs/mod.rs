//! Container metrics read from the cgroup file system directly, as the runc
//! shim itself reads them for containerd's Tasks.Metrics (containerd/cgroups'
//! `Stat`), into the same plain values. Asking containerd makes it ask every
//! container's shim each poll, and a Go shim keeps the memory that costs
//! (+0.15 MiB per polled shim, BENCHMARKS.md `stack-pss`); the files are
//! the same numbers for a few reads of kernel memory.
//!
//! A controller the container's cgroup lacks leaves its part `None`, as
//! containerd's `IgnoreNotExist` does; a container whose cgroup is not there
//! at all is `None`, for the caller to ask containerd instead.

use std::path::{Component, Path, PathBuf};

use super::metrics::ResourceUsage;

mod parse;
mod v1;
mod v2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// One hierarchy per controller under the root (`cpuacct`, `memory`, ...).
    V1,
    /// One unified hierarchy at the root.
    V2,
}

/// The cgroup file system mounted at `root` (ECS_CGROUP_PATH).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupFs {
    root: PathBuf,
    version: Version,
}

impl CgroupFs {
    /// Which version is mounted at `root`: v2 has `cgroup.controllers` there.
    pub fn at(root: &Path) -> CgroupFs {
        let version = if root.join("cgroup.controllers").exists() {
            Version::V2
        } else {
            Version::V1
        };
        CgroupFs {
            root: root.to_path_buf(),
            version,
        }
    }

    pub fn version(&self) -> Version {
        self.version
    }

    /// The usage of the cgroup at `cgroups_path` (an OCI `linux.cgroupsPath`
    /// of the cgroupfs driver: `/ecs/<task id>/<container id>`), or `None`
    /// when it is not a plain path or its cgroup is not there.
    pub fn read(&self, cgroups_path: &str) -> Option<ResourceUsage> {
        let rel = relative(cgroups_path)?;
        match self.version {
            Version::V1 => v1::read(&self.root, rel),
            Version::V2 => v2::read(&self.root.join(rel)),
        }
    }

    /// A process of the cgroup at `cgroups_path` (the first its
    /// `cgroup.procs` lists), or `None` when there is none or no cgroup.
    pub fn pid(&self, cgroups_path: &str) -> Option<u32> {
        let rel = relative(cgroups_path)?;
        let dir = match self.version {
            Version::V1 => self.root.join("cpuacct").join(rel),
            Version::V2 => self.root.join(rel),
        };
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).ok()?;
        procs.lines().find_map(|l| l.trim().parse().ok())
    }
}

/// `cgroups_path` without its leading `/`, if it is a plain path below the
/// root: not the systemd driver's `slice:prefix:name`, no `..`.
fn relative(cgroups_path: &str) -> Option<&Path> {
    if cgroups_path.contains(':') {
        return None;
    }
    let rel = Path::new(cgroups_path.trim_start_matches('/'));
    let plain = rel.components().all(|c| matches!(c, Component::Normal(_)));
    (plain && rel.components().next().is_some()).then_some(rel)
}

#[cfg(test)]
mod tests;
