//! Task `volumes`, container `mountPoints` and `volumesFrom`: validated from
//! the ACS payload, and planned into the mounts of one container the way
//! Docker builds them for the Go agent (`task.go:dockerHostBinds`,
//! `:dockerVolumesFrom`, the daemon's volumesFrom and image `VOLUME`s).
//! Pure: where a volume lives on the host is the engine's business.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::acs;

/// A task volume, by its name in the task definition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TaskVolume {
    /// Letters, digits, `-` and `_` (checked: it names a directory).
    pub name: String,
    pub kind: VolumeKind,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum VolumeKind {
    /// `host.sourcePath`: a bind mount of a host directory (made if missing, as Docker does).
    Bind { source_path: String },
    /// `host` without a sourcePath: an agent-managed empty directory that
    /// lives as long as the task (the Go agent's task-scoped local volume).
    TaskEmpty,
    /// `dockerVolumeConfiguration` with the `local` driver.
    Docker(DockerVolume),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Scope {
    /// Made at task start, removed at task cleanup.
    Task,
    /// Named by the volume's own name, kept across tasks.
    Shared,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DockerVolume {
    pub scope: Scope,
    pub autoprovision: bool,
    /// Docker's local driver options (`type`, `device`, `o`).
    pub driver_opts: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

/// `mountPoints[]`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MountPoint {
    pub source_volume: String,
    /// Absolute, without `..`; a trailing `/` is dropped.
    pub container_path: String,
    pub read_only: bool,
}

/// `volumesFrom[]`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VolumesFrom {
    pub source_container: String,
    pub read_only: bool,
}

/// What one container mount comes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum MountSource {
    /// A task volume, by name.
    Volume(String),
    /// An image `VOLUME` of container `container` (by name): Docker's
    /// anonymous volume, at `path` inside that container.
    Anonymous { container: String, path: String },
}

/// One mount of a container, before the engine gives it a host path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedMount {
    pub source: MountSource,
    pub destination: String,
    pub read_only: bool,
}

/// Docker's local driver understands these options and no other
/// (`volume/local/local.go:validOpts`; `size` needs xfs quotas, not done here).
const LOCAL_DRIVER_OPTS: [&str; 3] = ["type", "device", "o"];

fn valid_volume_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= super::limits::MAX_NAME_LEN
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The task's `volumes`, checked. Decoded as the Go agent's
/// `TaskVolume.UnmarshalJSON`: no `type` means `host`; a `host` volume with
/// an empty sourcePath is the agent-managed kind.
pub fn task_volumes(volumes: &[acs::Volume]) -> Result<Vec<TaskVolume>, String> {
    let mut out: Vec<TaskVolume> = Vec::with_capacity(volumes.len());
    for (i, v) in volumes.iter().enumerate() {
        let name = v.name.clone().unwrap_or_default();
        let at = |what: String| format!("volumes[{i}] ({name:?}): {what}");
        if !valid_volume_name(&name) {
            return Err(format!(
                "volumes[{i}].name {name:?}: expected 1-255 letters, digits, hyphens or underscores"
            ));
        }
        if out.iter().any(|o| o.name == name) {
            return Err(format!("volumes[{i}].name {name:?} is used twice"));
        }
        let kind = match v.kind.as_deref().unwrap_or("host") {
            "host" => match v
                .host
                .as_ref()
                .and_then(|h| h.source_path.clone())
                .filter(|p| !p.is_empty())
            {
                Some(p) if !p.starts_with('/') || p.split('/').any(|c| c == "..") => {
                    return Err(at(format!(
                        "host.sourcePath {p:?}: expected an absolute path without '..'"
                    )))
                }
                Some(p) if p.contains('\0') => {
                    return Err(at("host.sourcePath: contains a NUL byte".into()))
                }
                Some(source_path) => VolumeKind::Bind { source_path },
                None => VolumeKind::TaskEmpty,
            },
            "docker" => {
                let d = v.docker_volume_configuration.as_ref().ok_or_else(|| {
                    at("type docker without dockerVolumeConfiguration".to_string())
                })?;
                VolumeKind::Docker(docker_volume(d).map_err(at)?)
            }
            "efs" => {
                return Err(at(
                    "efsVolumeConfiguration is not supported by this agent yet".into(),
                ))
            }
            other => {
                return Err(at(format!(
                    "type {other:?} is not supported by this agent (host or docker)"
                )))
            }
        };
        out.push(TaskVolume { name, kind });
    }
    Ok(out)
}

fn docker_volume(d: &acs::DockerVolumeConfiguration) -> Result<DockerVolume, String> {
    match d.driver.as_deref() {
        None | Some("") | Some("local") => {}
        Some(other) => {
            return Err(format!(
                "dockerVolumeConfiguration.driver {other:?}: only the local driver is available on this instance"
            ))
        }
    }
    // The Go agent: scope "task" is task-scoped, anything else shared.
    let scope = match d.scope.as_deref() {
        Some("task") => Scope::Task,
        _ => Scope::Shared,
    };
    for (k, v) in &d.driver_opts {
        if !LOCAL_DRIVER_OPTS.contains(&k.as_str()) {
            return Err(format!(
                "dockerVolumeConfiguration.driverOpts: invalid option key {k:?} for the local driver (type, device, o)"
            ));
        }
        if v.contains('\0') {
            return Err(format!(
                "dockerVolumeConfiguration.driverOpts.{k}: contains a NUL byte"
            ));
        }
    }
    // Docker's local driver: a device or options need a type to mount with.
    let opt = |k: &str| d.driver_opts.get(k).filter(|v| !v.is_empty());
    if opt("type").is_none() && (opt("device").is_some() || opt("o").is_some()) {
        return Err(
            "dockerVolumeConfiguration.driverOpts: device or o given without type".to_string(),
        );
    }
    if opt("type").is_some() && opt("device").is_none() {
        return Err("dockerVolumeConfiguration.driverOpts: type given without device".to_string());
    }
    Ok(DockerVolume {
        scope,
        autoprovision: d.autoprovision.unwrap_or(false),
        driver_opts: d.driver_opts.clone(),
        labels: d.labels.clone(),
    })
}

/// A container path as Docker takes it: absolute, not `/`, no `..`.
fn container_path(p: &str) -> Result<String, String> {
    let trimmed = p.trim_end_matches('/');
    if !p.starts_with('/') {
        return Err(format!("{p:?}: expected an absolute path"));
    }
    if trimmed.is_empty() {
        return Err(format!("{p:?}: cannot mount over /"));
    }
    if p.contains('\0')
        || trimmed
            .split('/')
            .skip(1)
            .any(|c| c.is_empty() || c == "..")
    {
        return Err(format!(
            "{p:?}: expected a clean absolute path (no '..' or '//')"
        ));
    }
    Ok(trimmed.to_string())
}

/// A container's `mountPoints`, checked against the task's volumes.
pub fn mount_points(
    mps: &[acs::MountPoint],
    volumes: &[TaskVolume],
) -> Result<Vec<MountPoint>, String> {
    let mut seen = BTreeSet::new();
    mps.iter()
        .enumerate()
        .map(|(j, m)| {
            let source = m.source_volume.clone().unwrap_or_default();
            if !volumes.iter().any(|v| v.name == source) {
                return Err(format!(
                    "mountPoints[{j}].sourceVolume {source:?}: no such volume in the task"
                ));
            }
            let path = container_path(m.container_path.as_deref().unwrap_or_default())
                .map_err(|e| format!("mountPoints[{j}].containerPath {e}"))?;
            if !seen.insert(path.clone()) {
                return Err(format!(
                    "mountPoints[{j}].containerPath {path:?}: duplicate mount point"
                ));
            }
            Ok(MountPoint {
                source_volume: source,
                container_path: path,
                read_only: m.read_only.unwrap_or(false),
            })
        })
        .collect()
}

/// A container's `volumesFrom`; the names are checked by [`check_volumes_from`].
pub fn volumes_from(vf: &[acs::VolumeFrom]) -> Vec<VolumesFrom> {
    vf.iter()
        .map(|v| VolumesFrom {
            source_container: v.source_container.clone().unwrap_or_default(),
            read_only: v.read_only.unwrap_or(false),
        })
        .collect()
}

/// Every `volumesFrom` names another container of the task, without a cycle.
/// `containers`: (name, its volumesFrom sources).
pub fn check_volumes_from(containers: &[(&str, Vec<&str>)]) -> Result<(), String> {
    let index: BTreeMap<&str, usize> = containers
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (*n, i))
        .collect();
    for (name, sources) in containers {
        for (j, s) in sources.iter().enumerate() {
            if s == name {
                return Err(format!(
                    "container {name:?}: volumesFrom[{j}].sourceContainer names itself"
                ));
            }
            if !index.contains_key(s) {
                return Err(format!(
                    "container {name:?}: volumesFrom[{j}].sourceContainer {s:?}: no such container in the task"
                ));
            }
        }
    }
    // A cycle would make each wait for the other to be created. Iterative
    // walk: the depth is the payload's to choose.
    for start in 0..containers.len() {
        let mut seen = vec![false; containers.len()];
        let mut stack: Vec<usize> = containers[start]
            .1
            .iter()
            .filter_map(|s| index.get(s).copied())
            .collect();
        while let Some(k) = stack.pop() {
            if k == start {
                return Err(format!(
                    "volumesFrom: containers form a cycle through {:?}",
                    containers[start].0
                ));
            }
            if std::mem::replace(&mut seen[k], true) {
                continue;
            }
            stack.extend(containers[k].1.iter().filter_map(|s| index.get(s).copied()));
        }
    }
    Ok(())
}

/// What the planner needs to know of each container of the task.
pub struct ContainerVolumes<'a> {
    pub name: &'a str,
    pub mount_points: &'a [MountPoint],
    pub volumes_from: &'a [VolumesFrom],
    /// The image's `VOLUME`s (its config's `Volumes`), when known.
    pub image_volumes: &'a [String],
}

/// The mounts of container `i`, as Docker makes them: the `volumesFrom`
/// sources' mounts (read-only when the source's is or `readOnly` says so),
/// then the container's `mountPoints` (over any at the same path), then an
/// anonymous volume for each image `VOLUME` nothing else is mounted on.
/// Sorted by destination so that a parent is mounted before its children.
pub fn plan(containers: &[ContainerVolumes<'_>], i: usize) -> Vec<PlannedMount> {
    let mut by_dest: BTreeMap<String, PlannedMount> = BTreeMap::new();
    // Recursion through volumesFrom sources: `check_volumes_from` refused
    // cycles and a task has at most 11 containers, so the depth is bounded.
    plan_into(containers, i, false, &mut by_dest, 0);
    by_dest.into_values().collect()
}

fn plan_into(
    containers: &[ContainerVolumes<'_>],
    i: usize,
    force_ro: bool,
    out: &mut BTreeMap<String, PlannedMount>,
    depth: usize,
) {
    let Some(c) = containers.get(i) else { return };
    if depth > containers.len() {
        return;
    }
    for vf in c.volumes_from {
        if let Some(k) = containers
            .iter()
            .position(|o| o.name == vf.source_container)
        {
            plan_into(containers, k, force_ro || vf.read_only, out, depth + 1);
        }
    }
    for m in c.mount_points {
        out.insert(
            m.container_path.clone(),
            PlannedMount {
                source: MountSource::Volume(m.source_volume.clone()),
                destination: m.container_path.clone(),
                read_only: m.read_only || force_ro,
            },
        );
    }
    for v in c.image_volumes {
        let Ok(path) = container_path(v) else {
            continue;
        };
        out.entry(path.clone()).or_insert_with(|| PlannedMount {
            source: MountSource::Anonymous {
                container: c.name.to_string(),
                path: path.clone(),
            },
            destination: path,
            read_only: force_ro,
        });
    }
}

#[cfg(test)]
#[path = "volumes_tests.rs"]
mod tests;
