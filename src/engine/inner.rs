//! The engine's shared state and the handle to it: what every part of the
//! engine (the actors, the executor, acceptance, image cleanup, networking)
//! works on. Its own file at the bottom of the engine, so that those parts
//! import it and not each other or the module's front.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc;

use super::checkpoint::Checkpoint;
use super::publish;
use super::reporter::ReportQueue;
use super::settings::EngineSettings;
use crate::credentials::CredentialsStore;
use crate::network::TaskNetwork;
use crate::observe::{AgentMetrics, Published};
use crate::task::failure::Failure;
use crate::task::{Event, StateChange, Task};

/// Messages a task actor receives.
#[derive(Debug)]
pub(crate) enum Msg {
    Event(Event),
    /// Events of one step, applied together: the task is checkpointed and
    /// acted on once after them (a container's image confirmed by its pull,
    /// its network and its creation: one checkpoint, not three, between its
    /// create and its start).
    Events(Vec<Event>),
    /// Boxed: an image's config is large beside the other messages.
    Pulled(
        usize,
        Result<Box<crate::task::container::PulledImage>, Failure>,
    ),
    /// Container `.0` is created from the image its runtime pulled before
    /// while the pull asks the registry (`image_check.rs`).
    PulledProvisionally(usize, Box<crate::task::container::PulledImage>),
    StopTimedOut(usize),
    /// The exit stream was down for a while: ask containerd about running containers.
    Recheck,
    /// Container `.0`'s health check changed its status.
    Health(usize, crate::task::health::HealthState),
}

/// One namespace's setup, begun once by whoever gets to it first (the
/// pull, or the create) and awaited by the others; or marked released
/// before it began (see `netsetup.rs`).
pub(crate) type SetupCell = Arc<std::sync::OnceLock<NetSetup>>;

/// An outcome of a namespace's setup, shared by all who await it.
pub(crate) type NetOutcome = futures_util::future::Shared<
    futures_util::future::BoxFuture<'static, Result<crate::network::NamespaceInfo, String>>,
>;

/// A namespace's setup under way, in its two stages (begun and ended in
/// `netsetup.rs`).
#[derive(Clone)]
pub(crate) struct NetSetup {
    /// The namespace exists and its addresses and ports are allocated: the
    /// container may be created in it (what it is to be told is known).
    pub(crate) reserved: NetOutcome,
    /// Everything is made (links, addresses, routes, rules): the container
    /// may start.
    pub(crate) done: NetOutcome,
    /// Lets the links and rules be made (see `NetSetup::let_wire`).
    pub(crate) wire: Signal,
    /// Tells the network its container is created (see `NetSetup::let_spares`).
    pub(crate) spares: Signal,
}

/// A one-time go from the create to the network setup, shared by the
/// setup's clones.
pub(crate) type Signal = Arc<std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>>;

/// The answer of a pull whose container was begun from `provisional`
/// (used in `image_check.rs`).
pub(crate) struct ImageCheck {
    pub(crate) provisional: crate::task::container::PulledImage,
    pub(crate) outcome:
        tokio::sync::oneshot::Receiver<Result<crate::task::container::PulledImage, Failure>>,
}

pub(crate) struct Inner<R> {
    pub(crate) runtime: Arc<R>,
    pub(crate) settings: EngineSettings,
    pub(crate) reports: ReportQueue,
    pub(crate) checkpoint: Arc<dyn Checkpoint>,
    /// Task ARN -> its actor. Finished tasks stay until cleaned up, so a
    /// re-sent payload does not run them again.
    pub(super) tasks: Mutex<HashMap<String, mpsc::UnboundedSender<Msg>>>,
    /// ARNs of tasks refused at validation (already reported STOPPED).
    pub(super) rejected: Mutex<HashSet<String>>,
    /// ARNs of tasks whose STOPPED is reported, awaiting cleanup.
    pub(super) finished: Mutex<HashSet<String>>,
    /// containerd id -> (task ARN, container index), for routing exits.
    pub(super) routes: Mutex<HashMap<String, (String, usize)>>,
    /// Images the agent pulled (image cleanup's candidates).
    pub(crate) images: Mutex<HashMap<String, crate::state::ImageState>>,
    /// Task ARN -> the images its containers use, until the task is cleaned up.
    pub(crate) task_images: Mutex<HashMap<String, Vec<String>>>,
    /// What the task metadata and introspection endpoints show.
    pub(crate) published: Published,
    pub(crate) metrics: Arc<AgentMetrics>,
    /// Task namespaces; None when the host cannot do task networking
    /// (then only host-mode tasks run).
    pub(crate) network: Option<Arc<dyn TaskNetwork>>,
    /// Namespace key -> its setup, begun alongside the image pull and
    /// awaited by the create; until the task's network is released.
    pub(crate) net_setups: Mutex<HashMap<String, SetupCell>>,
    /// (Task ARN, container) -> the pull of a container created meanwhile
    /// from a provisional image, until its create takes it.
    pub(crate) image_checks: Mutex<HashMap<(String, usize), ImageCheck>>,
    /// Task role credentials, in memory only.
    pub(crate) credentials: CredentialsStore,
    /// Task cgroups; None when ECS_ENABLE_TASK_CPU_MEM_LIMIT is off or the
    /// host cannot do them.
    pub(crate) cgroups: Option<super::settings::TaskCgroupSettings>,
    /// Secrets and environment files from AWS (see `taskres`).
    pub(crate) aws: Option<crate::taskres::AwsResources>,
    pub(crate) log_shipper: Option<Arc<dyn crate::awslogs::LogShipper>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not take the engine down with it.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl<R> Inner<R> {
    pub(crate) fn route(&self, container_id: &str, task_arn: &str, index: usize) {
        lock(&self.routes).insert(container_id.to_string(), (task_arn.to_string(), index));
    }

    pub(crate) fn mark_finished(&self, arn: &str) {
        lock(&self.finished).insert(arn.to_string());
    }

    /// Shows the task's current state to the local endpoints.
    pub(crate) fn publish(&self, task: &Task) {
        self.published
            .publish_task(publish::task_view(task, &self.settings.cluster_arn));
    }

    /// An image was pulled (or found) for a container: it is in use now.
    pub(crate) fn record_image_use(&self, name: &str) {
        let now = now_ms();
        let state = {
            let mut images = lock(&self.images);
            let s = images
                .entry(name.to_string())
                .or_insert(crate::state::ImageState {
                    pulled_at_ms: now,
                    last_used_ms: now,
                });
            s.last_used_ms = now;
            *s
        };
        if let Err(e) = self.checkpoint.save_image(name, &state) {
            tracing::warn!(image = name, error = %e, "cannot checkpoint the image state");
        }
    }

    pub(crate) fn forget_image(&self, name: &str) {
        lock(&self.images).remove(name);
        if let Err(e) = self.checkpoint.delete_image(name) {
            tracing::warn!(image = name, error = %e, "cannot remove the image state");
        }
    }

    /// Forgets a cleaned-up task.
    pub(crate) fn forget(&self, task: &Task) {
        self.credentials.remove_task(task.arn());
        lock(&self.task_images).remove(task.arn());
        self.published.remove_task(task.arn());
        lock(&self.tasks).remove(task.arn());
        lock(&self.finished).remove(task.arn());
        let mut routes = lock(&self.routes);
        routes.retain(|_, (arn, _)| arn != task.arn());
    }

    /// Checkpoints the task with the change it produced, and hands the change
    /// to the reporter as soon as it is queued (the commit's sync goes on
    /// meanwhile). Without checkpointing the change is only kept in memory.
    /// False when the checkpoint could not be written.
    pub(crate) fn persist_and_report(&self, task: &Task, change: Option<StateChange>) -> bool {
        let saved = match self
            .checkpoint
            .save_task_and_send(task, change, &mut |id, change| {
                self.reports.push(id, change)
            }) {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(task = %task.arn(), error = %e, "cannot checkpoint the task");
                false
            }
        };
        self.metrics
            .set_state_changes_pending(self.reports.pending() as u64);
        saved
    }
}

pub struct Engine<R> {
    pub(super) inner: Arc<Inner<R>>,
}

impl<R> Clone for Engine<R> {
    fn clone(&self) -> Self {
        Engine {
            inner: self.inner.clone(),
        }
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
