//! Runs tasks: one actor per task feeds outcomes into the pure `task` state
//! machine and carries out the actions it returns through `ContainerRuntime`.
//! Every decision is checkpointed (through [`Checkpoint`]) before it is acted
//! on or acknowledged, and a restart picks up where the last process stopped.
//! Control hands it tasks through `control::sink::TaskSink`, which it
//! implements in `accept.rs`.

mod accept;
mod actor;
pub mod checkpoint;
pub mod exec;
pub mod image_gc;
mod netsetup;
mod publish;
pub mod reporter;
pub mod settings;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::credentials::CredentialsStore;
use crate::network::TaskNetwork;
use crate::observe::{AgentMetrics, Published};
use crate::runtime::ContainerRuntime;
use crate::task::spec::container_id;
use crate::task::{Event, StateChange, Task};

pub use checkpoint::{Checkpoint, NoCheckpoint};
pub use netsetup::CREDENTIALS_URI_ENV;
pub use reporter::{ReportError, ReportQueue, StateReporter};
pub use settings::EngineSettings;

/// Messages a task actor receives.
#[derive(Debug)]
pub(crate) enum Msg {
    Event(Event),
    Pulled(usize, Result<crate::task::container::PulledImage, String>),
    StopTimedOut(usize),
    /// The exit stream was down for a while: ask containerd about running containers.
    Recheck,
}

pub(crate) struct Inner<R> {
    pub(crate) runtime: Arc<R>,
    pub(crate) settings: EngineSettings,
    pub(crate) reports: ReportQueue,
    pub(crate) checkpoint: Arc<dyn Checkpoint>,
    /// Task ARN -> its actor. Finished tasks stay until cleaned up, so a
    /// re-sent payload does not run them again.
    tasks: Mutex<HashMap<String, mpsc::UnboundedSender<Msg>>>,
    /// ARNs of tasks refused at validation (already reported STOPPED).
    rejected: Mutex<HashSet<String>>,
    /// ARNs of tasks whose STOPPED is reported, awaiting cleanup.
    finished: Mutex<HashSet<String>>,
    /// containerd id -> (task ARN, container index), for routing exits.
    routes: Mutex<HashMap<String, (String, usize)>>,
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
    /// Task role credentials, in memory only.
    pub(crate) credentials: CredentialsStore,
}

/// The outside services the engine uses besides the runtime.
#[derive(Default)]
pub struct EngineServices {
    pub network: Option<Arc<dyn TaskNetwork>>,
    pub credentials: CredentialsStore,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
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

    /// Checkpoints the task with the change it produced, then hands the change
    /// to the reporter. Without checkpointing the change is only kept in memory.
    pub(crate) fn persist_and_report(&self, task: &Task, change: Option<StateChange>) {
        let outbox_id = match self.checkpoint.save_task_with_report(task, change.as_ref()) {
            Ok(id) => id,
            Err(e) => {
                tracing::error!(task = %task.arn(), error = %e, "cannot checkpoint the task");
                None
            }
        };
        if let Some(change) = change {
            self.reports.push(outbox_id, change);
        }
        self.metrics
            .set_state_changes_pending(self.reports.pending() as u64);
    }
}

pub struct Engine<R> {
    inner: Arc<Inner<R>>,
}

impl<R> Clone for Engine<R> {
    fn clone(&self) -> Self {
        Engine {
            inner: self.inner.clone(),
        }
    }
}

impl<R: ContainerRuntime> Engine<R> {
    pub fn new(
        runtime: Arc<R>,
        settings: EngineSettings,
        reports: ReportQueue,
        checkpoint: Arc<dyn Checkpoint>,
        services: EngineServices,
    ) -> Engine<R> {
        let metrics = Arc::new(AgentMetrics::new());
        reports.report_into(metrics.clone());
        Engine {
            inner: Arc::new(Inner {
                runtime,
                settings,
                reports,
                checkpoint,
                tasks: Mutex::new(HashMap::new()),
                rejected: Mutex::new(HashSet::new()),
                finished: Mutex::new(HashSet::new()),
                routes: Mutex::new(HashMap::new()),
                images: image_gc::new_tracker(Vec::new()),
                task_images: Mutex::new(HashMap::new()),
                published: Published::default(),
                metrics,
                network: services.network,
                credentials: services.credentials,
            }),
        }
    }

    /// The tasks as the local endpoints see them, kept current by the task
    /// actors. The agent fields are the caller's to publish.
    pub fn published(&self) -> &Published {
        &self.inner.published
    }

    /// The agent's health counters the engine keeps (pulls, errors, pending
    /// state changes); share them with the other parts that report into them.
    pub fn metrics(&self) -> &Arc<AgentMetrics> {
        &self.inner.metrics
    }

    /// Picks up the tasks of the previous process: each is reconciled with
    /// containerd by its actor before anything else is done for it.
    /// Images the previous process pulled, from the checkpoint.
    pub fn restore_images(&self, images: Vec<(String, crate::state::ImageState)>) {
        lock(&self.inner.images).extend(images);
    }

    pub fn restore(&self, tasks: Vec<Task>) {
        for task in tasks {
            netsetup::restore_credentials(&self.inner.credentials, &task);
            tracing::info!(task = %task.arn(), known = ?task.known, desired = ?task.desired, "restoring task");
            self.spawn(task, true);
        }
    }

    fn spawn(&self, mut task: Task, restored: bool) {
        // Checkpoints from before tokens existed: give those containers one now
        // (saved with the actor's first checkpoint).
        for c in task.containers.iter_mut().filter(|c| c.token.is_empty()) {
            c.token = exec::tokens::new_token();
        }
        let (tx, rx) = mpsc::unbounded_channel();
        // The images its containers need stay while the task is known.
        let images = task
            .def
            .containers
            .iter()
            .map(|c| c.image.reference().to_string())
            .collect();
        lock(&self.inner.task_images).insert(task.arn().to_string(), images);
        for (i, c) in task.def.containers.iter().enumerate() {
            self.inner
                .route(&container_id(task.def.id(), i, &c.name), task.arn(), i);
        }
        lock(&self.inner.tasks).insert(task.arn().to_string(), tx.clone());
        tokio::spawn(actor::run(self.inner.clone(), task, tx, rx, restored));
    }

    /// Routes container exits from the runtime to their task actors. Runs
    /// for as long as the agent does, resubscribing when containerd goes away.
    pub async fn route_exits(&self) {
        // After the first subscription, exits may have happened while the stream was down.
        let mut resubscribed = false;
        loop {
            match self.inner.runtime.subscribe_exits().await {
                Ok(mut rx) => {
                    if resubscribed {
                        for tx in lock(&self.inner.tasks).values() {
                            let _ = tx.send(Msg::Recheck);
                        }
                    }
                    while let Some(exit) = rx.recv().await {
                        let route = lock(&self.inner.routes).get(&exit.container_id).cloned();
                        let Some((arn, index)) = route else { continue };
                        tracing::info!(task = %arn, container = %exit.container_id, exit_code = exit.exit_code, "container exited");
                        if let Some(tx) = lock(&self.inner.tasks).get(&arn) {
                            let _ = tx.send(Msg::Event(Event::Exited {
                                container: index,
                                exit_code: exit.exit_code,
                                at_ms: exit.exited_at_ms,
                            }));
                        }
                    }
                    tracing::warn!("containerd exit stream ended; subscribing again");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot subscribe to containerd events; retrying");
                }
            }
            resubscribed = true;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Number of tasks this engine knows (running, or finished and not yet cleaned up).
    pub fn task_count(&self) -> usize {
        lock(&self.inner.tasks).len()
    }

    pub fn reports(&self) -> &ReportQueue {
        &self.inner.reports
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
