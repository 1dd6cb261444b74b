//! containerd implementation of `ContainerRuntime`: one file per operation,
//! the OCI spec built by a pure function (`oci`).
//!
//! - `create`: snapshot (under a lease), user lookup in the image's files
//!   (`user`, `rootfs`), OCI spec, container record, task whose stdio goes to
//!   the shim, never through the agent: a `binary://` URI naming our logger
//!   (`crate::logger`, run by the shim with both streams as pipes), or, for a
//!   runtime made without one, `file://` (the shim writes the file itself,
//!   and may lose the end of stderr). Any failure removes what was made.
//!   Containers made with either keep their URI for life; the log file and
//!   its format are the same.
//! - `lifecycle`: start, kill, state, delete an exited task (its shim and
//!   logger end, the record stays), remove (idempotent).
//! - `exec`: a process run in a running container (health check probes),
//!   its output through a FIFO, always deleted from the shim afterwards.
//! - `events`: the exit stream, resubscribing forever and replaying exits of
//!   tasks that stopped while it was down (exits may repeat, never go missing).
//! - `pull`: images fetched from their registry (`crate::image`) into the
//!   content store, unpacked into snapshots and recorded.
//! - `inventory`: what the namespace holds (records, orphaned snapshots),
//!   for the sweep of leftovers at start.
//! - `metrics`: cgroup metrics of running containers (from their cgroup
//!   files, `cgroup_paths` keeping where each one's are) and their pids.
//! - `probe`: asked once at start: containerd's version (`version`: older
//!   than 1.6 is refused), that the socket is containerd at all, that our
//!   namespace and snapshotter can be used.

mod cgroup_paths;
pub mod conn;
mod copy_up;
mod create;
mod devices;
mod error;
mod events;
mod exec;
mod exec_exits;
mod exec_specs;
mod holder;
mod images;
mod inventory;
mod lifecycle;
pub mod metrics;
pub mod oci;
pub mod probe;
pub mod pull;
mod restart;
mod rootfs;
pub mod runner;
mod seccomp;
pub mod user;
pub mod version;

pub use conn::{Conn, ConnError};

use std::collections::HashMap;
use std::path::PathBuf;

use crate::config::RegistryCredentials;
use crate::runtime::metrics::ContainerMetrics;
use crate::runtime::{ContainerRuntime, ContainerState, ErrorKind, ExitEvent, RuntimeError};
use crate::task::container::{ContainerSpec, PulledImage};
use crate::task::image_ref::ImageRef;
use pull::PullOptions;

const SHIM_DIR_RETRIES: u32 = 10;

/// The engine's runtime, driving containerd over gRPC. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ContainerdRuntime {
    conn: Conn,
    pull: PullOptions,
    logger: Option<PathBuf>,
    /// The init mounted into containers with `initProcessEnabled`, and run
    /// as task namespace holders.
    init: Option<PathBuf>,
    /// Held while a namespace holder is looked up or made.
    holders: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Where the FIFOs of exec'd processes' output are made.
    exec_dir: PathBuf,
    /// The process specs probes are exec'd with, per container.
    exec_specs: std::sync::Arc<exec_specs::ExecSpecs>,
    /// Waiters for exec'd processes' exits from the event stream.
    exec_exits: std::sync::Arc<exec_exits::ExecExits>,
    /// The health check runners in containers.
    runners: std::sync::Arc<runner::Runners>,
    /// Where metrics are read from cgroup files; `None`: from containerd.
    cgroupfs: Option<crate::runtime::cgroupfs::CgroupFs>,
    cgroup_paths: std::sync::Arc<cgroup_paths::CgroupPaths>,
    /// The images pulled lately, so a pull of one still current asks
    /// containerd less (`pull::Recent`).
    recent_images: std::sync::Arc<pull::Recent>,
}

impl ContainerdRuntime {
    /// Containers are made on `pull.snapshotter`, where images are unpacked.
    /// Without [`with_logger`](Self::with_logger) the shim writes container
    /// logs through `file://`, which can lose the end of stderr.
    pub fn new(conn: Conn, pull: PullOptions) -> ContainerdRuntime {
        ContainerdRuntime {
            conn,
            pull,
            logger: None,
            init: None,
            holders: Default::default(),
            exec_dir: std::env::temp_dir().join("ecs-agent-exec"),
            exec_specs: Default::default(),
            exec_exits: Default::default(),
            runners: Default::default(),
            cgroupfs: None,
            cgroup_paths: Default::default(),
            recent_images: Default::default(),
        }
    }

    /// Container metrics are read from the cgroup file system mounted at
    /// `root` (ECS_CGROUP_PATH) rather than asked of containerd, which asks
    /// every container's shim (see `crate::runtime::cgroupfs`).
    pub fn with_cgroup_root(mut self, root: &std::path::Path) -> ContainerdRuntime {
        self.cgroupfs = Some(crate::runtime::cgroupfs::CgroupFs::at(root));
        self
    }

    /// FIFOs for the output of exec'd processes go in `dir`, a path valid
    /// on the host where the shim runs (under ECS_DATADIR).
    pub fn with_exec_dir(mut self, dir: PathBuf) -> ContainerdRuntime {
        self.exec_dir = dir;
        self
    }

    /// Containers created from now on log through `binary`, an absolute path
    /// valid on the host where the shim runs: `crate::logger::install`'s
    /// result, or any build of `src/bin/ecs-agent-logger`.
    pub fn with_logger(mut self, binary: PathBuf) -> ContainerdRuntime {
        self.logger = Some(binary);
        self
    }

    /// Containers with `initProcessEnabled` get `binary` (a path valid on
    /// the host where runc runs: `crate::logger::install_init`'s result) as
    /// their init; without it they are refused at create.
    pub fn with_init(mut self, binary: PathBuf) -> ContainerdRuntime {
        self.init = Some(binary);
        self
    }

    pub fn conn(&self) -> &Conn {
        &self.conn
    }

    fn execs(&self) -> exec::Execs<'_> {
        exec::Execs {
            conn: &self.conn,
            fifo_dir: &self.exec_dir,
            specs: &self.exec_specs,
            exits: &self.exec_exits,
        }
    }
}

impl ContainerRuntime for ContainerdRuntime {
    async fn pull_image(
        &self,
        image: &ImageRef,
        credentials: Option<RegistryCredentials>,
    ) -> Result<PulledImage, RuntimeError> {
        let r = image.reference();
        Ok(pull::pull_remembered(
            &self.conn,
            r,
            credentials.as_ref(),
            &self.pull,
            &self.recent_images,
        )
        .await?)
    }

    fn remembered_image(&self, image: &ImageRef) -> Option<PulledImage> {
        self.recent_images.get(&image.reference().to_string())
    }

    async fn find_image(&self, image: &ImageRef) -> Result<Option<PulledImage>, RuntimeError> {
        let r = image.reference();
        Ok(pull::find_parsed(&self.conn, r, &self.pull.snapshotter).await?)
    }

    async fn create(&self, spec: &ContainerSpec) -> Result<(), RuntimeError> {
        self.exec_specs.forget(&spec.id);
        self.runners.forget(&spec.id);
        self.cgroup_paths.forget(&spec.id);
        exec::forget_fifos(&self.exec_dir, &spec.id);
        // containerd removes a deleted task's shim directory asynchronously; an
        // id made again right after (a half-made container redone after an
        // agent restart) can meet it still there. A failed create cleans up
        // after itself, so trying again shortly is safe.
        let mut attempts = 0;
        loop {
            let (logger, init) = (self.logger.as_deref(), self.init.as_deref());
            match create::create(&self.conn, &self.pull.snapshotter, logger, init, spec).await {
                Err(e)
                    if attempts < SHIM_DIR_RETRIES && e.kind() == ErrorKind::ShimStillExiting =>
                {
                    attempts += 1;
                    tracing::info!(container = %spec.id, attempts, "previous shim of this id still going away; creating again");
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                other => return other,
            }
        }
    }

    async fn start(&self, id: &str) -> Result<u32, RuntimeError> {
        lifecycle::start(&self.conn, id).await
    }

    async fn kill(&self, id: &str, signal: i32) -> Result<(), RuntimeError> {
        lifecycle::kill(&self.conn, id, signal).await
    }

    async fn restart(
        &self,
        id: &str,
        log: &crate::task::container::ContainerLog,
    ) -> Result<u32, RuntimeError> {
        // The old task's runner went with it.
        self.runners.forget(id);
        // A shim of the old task still going away refuses the new one for a
        // moment, as at create.
        let mut attempts = 0;
        loop {
            let logger = self.logger.as_deref();
            match restart::restart(&self.conn, &self.pull.snapshotter, logger, id, log).await {
                Err(e)
                    if attempts < SHIM_DIR_RETRIES && e.kind() == ErrorKind::ShimStillExiting =>
                {
                    attempts += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                other => return other,
            }
        }
    }

    async fn delete_task(&self, id: &str) -> Result<(), RuntimeError> {
        lifecycle::delete_task(&self.conn, id).await
    }

    async fn remove(&self, id: &str) -> Result<(), RuntimeError> {
        self.exec_specs.forget(id);
        self.runners.forget(id);
        self.cgroup_paths.forget(id);
        exec::forget_fifos(&self.exec_dir, id);
        lifecycle::remove(&self.conn, &self.pull.snapshotter, id).await
    }

    async fn state(&self, id: &str) -> Result<Option<ContainerState>, RuntimeError> {
        lifecycle::state(&self.conn, id).await
    }

    async fn subscribe_exits(
        &self,
    ) -> Result<tokio::sync::mpsc::Receiver<ExitEvent>, RuntimeError> {
        events::subscribe_exits(&self.conn, self.exec_exits.clone()).await
    }

    async fn metrics(&self, ids: &[String]) -> Result<Vec<ContainerMetrics>, RuntimeError> {
        let fs = self.cgroupfs.as_ref();
        metrics::metrics(&self.conn, fs, &self.cgroup_paths, ids).await
    }

    async fn exec(
        &self,
        id: &str,
        exec_id: &str,
        args: &[String],
        timeout: std::time::Duration,
        output_cap: usize,
    ) -> Result<crate::runtime::ExecOutcome, RuntimeError> {
        let execs = self.execs();
        exec::exec(&execs, id, exec_id, args, timeout, output_cap).await
    }

    async fn health_check(
        &self,
        id: &str,
        args: &[String],
        timeout: std::time::Duration,
        output_cap: usize,
    ) -> Result<crate::runtime::ExecOutcome, RuntimeError> {
        let execs = self.execs();
        if let Some(outcome) =
            runner::probe(&execs, &self.runners, id, args, timeout, output_cap).await
        {
            return outcome;
        }
        let exec_id = crate::runtime::HEALTH_CHECK_EXEC_ID;
        exec::exec(&execs, id, exec_id, args, timeout, output_cap).await
    }

    async fn list(&self) -> Result<Vec<String>, RuntimeError> {
        inventory::ids(&self.conn, &self.pull.snapshotter).await
    }

    async fn pids(&self, ids: &[String]) -> Result<HashMap<String, u32>, RuntimeError> {
        let fs = self.cgroupfs.as_ref();
        metrics::pids(&self.conn, fs, &self.cgroup_paths, ids).await
    }

    async fn ensure_namespace_holder(
        &self,
        holder: &crate::runtime::NamespaceHolder,
    ) -> Result<u32, RuntimeError> {
        let Some(init) = self.init.as_deref() else {
            return Err(RuntimeError::InvalidSpec {
                field: "pidMode/ipcMode",
                value: "task".into(),
                reason: "this agent has no init program installed to hold the task's namespaces"
                    .into(),
            });
        };
        // One at a time: the task's containers are created concurrently
        // and must find one holder.
        let _one = self.holders.lock().await;
        holder::ensure(&self.conn, &self.pull.snapshotter, init, holder).await
    }

    async fn remove_namespace_holder(&self, id: &str) -> Result<(), RuntimeError> {
        holder::remove(&self.conn, &self.pull.snapshotter, id).await
    }
}
