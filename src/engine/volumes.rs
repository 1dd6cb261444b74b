//! Where task volumes live on the host, making them before a container that
//! mounts them is created, and removing a task's at its cleanup.
//!
//! Layout under `ECS_DATADIR/volumes` (Docker keeps its local volumes in
//! `/var/lib/docker/volumes/<name>/_data`):
//! - `tasks/<task id>/v/<name>`: `host` volumes without a sourcePath and
//!   task-scoped docker volumes; gone at task cleanup;
//! - `tasks/<task id>/anon/<container>/<hash of path>`: the anonymous volumes
//!   of image `VOLUME`s; gone at task cleanup, as `docker rm -v` removes them;
//! - `shared/<name>/_data` and `shared/<name>/config.json` (its driverOpts and
//!   labels): shared docker volumes, kept across tasks.
//!
//! Every path is derived from the checkpointed task definition, so a
//! restarted agent finds the same volumes at the same places.

mod local_driver;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::task::container::BindMount;
use crate::task::def::TaskDef;
use crate::task::volumes::{
    plan, ContainerVolumes, DockerVolume, MountSource, PlannedMount, Scope, VolumeKind,
};

/// Mounting and checking mounts is done under this lock, so two containers
/// of a task (or two tasks sharing a volume) never mount one volume twice.
static MOUNTING: Mutex<()> = Mutex::new(());

/// Where volumes go and how to match shared ones.
#[derive(Debug, Clone)]
pub(crate) struct VolumeSettings {
    pub data_dir: PathBuf,
    /// ECS_HOST_DATA_DIR: `data_dir` as the runtime sees it.
    pub host_data_dir: Option<PathBuf>,
    /// ECS_SHARED_VOLUME_MATCH_FULL_CONFIG.
    pub shared_match_full_config: bool,
}

/// The volumes container `i` of a task mounts, planned when its create is
/// decided and made on a blocking thread just before it.
#[derive(Debug)]
pub(crate) struct VolumeRequest {
    settings: VolumeSettings,
    task_id: String,
    volumes: Vec<crate::task::volumes::TaskVolume>,
    mounts: Vec<PlannedMount>,
}

/// The container's volume mounts, in order, and which of them are volumes
/// to fill from the image (Docker copies into a new volume, not into a bind).
#[derive(Debug, Default)]
pub(crate) struct PreparedVolumes {
    pub mounts: Vec<BindMount>,
    pub populate_from_image: Vec<String>,
}

/// The shared volume's record beside its data (Docker's volume options).
#[derive(Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SharedRecord {
    #[serde(default)]
    driver_opts: BTreeMap<String, String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

fn volumes_root(data_dir: &Path) -> PathBuf {
    data_dir.join("volumes")
}

fn task_root(data_dir: &Path, task_id: &str) -> PathBuf {
    volumes_root(data_dir).join("tasks").join(task_id)
}

fn shared_root(data_dir: &Path, name: &str) -> PathBuf {
    volumes_root(data_dir).join("shared").join(name)
}

impl VolumeRequest {
    /// `image_volumes(k)`: the image `VOLUME`s of container `k`, when pulled.
    pub(crate) fn new(
        settings: VolumeSettings,
        def: &TaskDef,
        i: usize,
        image_volumes: &dyn Fn(usize) -> Vec<String>,
    ) -> Option<VolumeRequest> {
        let images: Vec<Vec<String>> = (0..def.containers.len()).map(image_volumes).collect();
        let containers: Vec<ContainerVolumes<'_>> = def
            .containers
            .iter()
            .zip(&images)
            .map(|(c, img)| ContainerVolumes {
                name: &c.name,
                mount_points: &c.mount_points,
                volumes_from: &c.volumes_from,
                image_volumes: img,
            })
            .collect();
        let mounts = plan(&containers, i);
        (!mounts.is_empty()).then(|| VolumeRequest {
            settings,
            task_id: def.id().to_string(),
            volumes: def.volumes.clone(),
            mounts,
        })
    }

    fn host_path(&self, path: &Path) -> PathBuf {
        match (
            &self.settings.host_data_dir,
            path.strip_prefix(&self.settings.data_dir),
        ) {
            (Some(host), Ok(rel)) => host.join(rel),
            _ => path.to_path_buf(),
        }
    }

    /// Blocking. Makes each volume the container mounts (directories,
    /// local-driver mounts, shared volume records) and returns its bind
    /// mounts in order, or a reason naming the volume.
    pub(crate) fn prepare(self) -> Result<PreparedVolumes, String> {
        let mut out = PreparedVolumes::default();
        for m in &self.mounts {
            let is_volume = match &m.source {
                MountSource::Volume(name) => self
                    .volumes
                    .iter()
                    .any(|v| &v.name == name && !matches!(v.kind, VolumeKind::Bind { .. })),
                MountSource::Anonymous { .. } => true,
            };
            if is_volume {
                out.populate_from_image.push(m.destination.clone());
            }
            let source = match &m.source {
                MountSource::Volume(name) => self.volume(name)?,
                MountSource::Anonymous { container, path } => {
                    let dir = task_root(&self.settings.data_dir, &self.task_id)
                        .join("anon")
                        .join(container)
                        .join(&hex::encode(Sha256::digest(path.as_bytes()))[..16]);
                    make_dir(&dir).map_err(|e| {
                        format!("image VOLUME {path:?} of container {container:?}: {e}")
                    })?;
                    self.host_path(&dir)
                }
            };
            out.mounts.push(BindMount {
                source,
                destination: m.destination.clone(),
                read_only: m.read_only,
            });
        }
        Ok(out)
    }

    /// The host path of task volume `name`, made if it is not there yet.
    fn volume(&self, name: &str) -> Result<PathBuf, String> {
        let at = |e: String| format!("volume {name:?}: {e}");
        let Some(v) = self.volumes.iter().find(|v| v.name == name) else {
            return Err(at("not in the task".into()));
        };
        match &v.kind {
            // Docker makes a missing bind source (0755) and mounts what is there.
            VolumeKind::Bind { source_path } => {
                let p = PathBuf::from(source_path);
                if std::fs::symlink_metadata(&p).is_err() {
                    make_dir(&p).map_err(|e| at(format!("host.sourcePath {e}")))?;
                }
                Ok(p)
            }
            VolumeKind::TaskEmpty => {
                let dir = self.task_volume_dir(name);
                make_dir(&dir).map_err(at)?;
                Ok(self.host_path(&dir))
            }
            VolumeKind::Docker(d) if d.scope == Scope::Task => {
                let dir = self.task_volume_dir(name);
                make_dir(&dir).map_err(at)?;
                local_driver::mount_if_needed(&dir, &d.driver_opts).map_err(at)?;
                Ok(self.host_path(&dir))
            }
            VolumeKind::Docker(d) => self.shared(name, d).map_err(at),
        }
    }

    fn task_volume_dir(&self, name: &str) -> PathBuf {
        task_root(&self.settings.data_dir, &self.task_id)
            .join("v")
            .join(name)
    }

    /// A shared volume, as the Go agent's `addSharedVolumes`: found by name;
    /// made only with `autoprovision`; with ECS_SHARED_VOLUME_MATCH_FULL_CONFIG
    /// its driverOpts and labels must match the existing volume's.
    fn shared(&self, name: &str, d: &DockerVolume) -> Result<PathBuf, String> {
        let root = shared_root(&self.settings.data_dir, name);
        let data = root.join("_data");
        let record_path = root.join("config.json");
        let wanted = SharedRecord {
            driver_opts: d.driver_opts.clone(),
            labels: d.labels.clone(),
        };
        let _guard = MOUNTING.lock().unwrap_or_else(|p| p.into_inner());
        match std::fs::read(&record_path) {
            Ok(bytes) => {
                let existing: SharedRecord = serde_json::from_slice(&bytes)
                    .map_err(|e| format!("{}: {e}", record_path.display()))?;
                if self.settings.shared_match_full_config {
                    // Go compares each map unless both are empty.
                    if existing.labels != wanted.labels {
                        return Err(format!(
                            "the shared volume exists with other labels: existing {:?}, expected {:?} (ECS_SHARED_VOLUME_MATCH_FULL_CONFIG)",
                            existing.labels, wanted.labels
                        ));
                    }
                    if existing.driver_opts != wanted.driver_opts {
                        return Err(format!(
                            "the shared volume exists with other driverOpts: existing {:?}, expected {:?} (ECS_SHARED_VOLUME_MATCH_FULL_CONFIG)",
                            existing.driver_opts, wanted.driver_opts
                        ));
                    }
                }
                local_driver::mount_locked(&data, &existing.driver_opts)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !d.autoprovision {
                    return Err(
                        "the shared volume does not exist and autoprovision is set to false".into(),
                    );
                }
                make_dir(&data)?;
                local_driver::mount_locked(&data, &wanted.driver_opts)?;
                let body = serde_json::to_vec_pretty(&wanted).map_err(|e| e.to_string())?;
                write_atomic(&record_path, &body)?;
                tracing::info!(volume = name, path = %data.display(), "shared volume created");
            }
            Err(e) => return Err(format!("{}: {e}", record_path.display())),
        }
        Ok(self.host_path(&data))
    }
}

fn make_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

fn write_atomic(path: &Path, body: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, body)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The /dev/shm the containers of a task with `ipcMode: task` share (as
/// Docker mounts the pause container's into them): a tmpfs in the task's
/// volume directory, so that it is unmounted and removed with the task's
/// volumes at cleanup. Found again when already mounted. Blocking.
pub(crate) fn task_shm(data_dir: &Path, task_id: &str, size_bytes: u64) -> Result<PathBuf, String> {
    // Volume names are letters, digits, `-` and `_`: no volume is called this.
    let dir = task_root(data_dir, task_id).join(".ipc-shm");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let opts = [
        ("type", "tmpfs".to_string()),
        ("device", "shm".to_string()),
        (
            "o",
            format!("nosuid,noexec,nodev,mode=1777,size={size_bytes}"),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    local_driver::mount_if_needed(&dir, &opts)?;
    Ok(dir)
}

/// Removes a task's volumes (at its cleanup). Blocking. Whatever is mounted
/// under them is unmounted first; if something stays mounted, nothing is
/// removed, so a bind-mounted host directory is never emptied.
pub(crate) fn remove_task(data_dir: &Path, task_id: &str) {
    let root = task_root(data_dir, task_id);
    if !root.exists() {
        return;
    }
    let _guard = MOUNTING.lock().unwrap_or_else(|p| p.into_inner());
    if let Err(e) = local_driver::unmount_under(&root) {
        tracing::warn!(task = task_id, path = %root.display(), error = %e, "cannot unmount the task's volumes; leaving them in place");
        return;
    }
    if let Err(e) = std::fs::remove_dir_all(&root) {
        tracing::warn!(task = task_id, path = %root.display(), error = %e, "cannot remove the task's volumes");
    }
}

#[cfg(test)]
#[path = "volumes_tests.rs"]
mod tests;
