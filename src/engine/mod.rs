//! Runs tasks: one actor per task feeds outcomes into the pure `task` state
//! machine and carries out the actions it returns through `ContainerRuntime`.
//! Every decision is checkpointed (through [`Checkpoint`]) before it is acted
//! on or acknowledged, and a restart picks up where the last process stopped.
//! Control hands it tasks through `control::sink::TaskSink`, which it
//! implements in `accept.rs`.

mod accept;
mod actor;
mod cgroups;
pub mod checkpoint;
mod disk_space;
pub mod exec;
mod health;
mod image_check;
pub mod image_gc;
mod inner;
mod leftovers;
mod netsetup;
mod nsholder;
mod publish;
mod reap;
pub mod reporter;
pub mod settings;
mod volumes;

#[cfg(test)]
mod actor_tests;
#[cfg(test)]
mod cgroups_tests;
#[cfg(test)]
mod ecr_pull_tests;
#[cfg(test)]
mod forget_tests;
#[cfg(test)]
mod health_tests;
#[cfg(test)]
mod image_check_tests;
#[cfg(test)]
mod netsetup_tests;
#[cfg(test)]
mod reap_tests;
#[cfg(test)]
mod reporter_tests;
#[cfg(test)]
mod start_timeout_tests;
#[cfg(test)]
mod test_support;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::credentials::CredentialsStore;
use crate::network::TaskNetwork;
use crate::observe::{AgentMetrics, Published};
use crate::runtime::ContainerRuntime;
use crate::task::spec::container_id;
use crate::task::{Event, Task};

pub use checkpoint::{Checkpoint, NoCheckpoint};
pub use inner::Engine;

use inner::{lock, Inner, Msg};
pub use netsetup::CREDENTIALS_URI_ENV;
pub use reporter::{ReportError, ReportQueue, StateReporter};
pub use settings::{EngineSettings, TaskCgroupSettings};

/// The outside services the engine uses besides the runtime.
#[derive(Default)]
pub struct EngineServices {
    pub network: Option<Arc<dyn TaskNetwork>>,
    pub credentials: CredentialsStore,
    /// Task cgroups (ECS_ENABLE_TASK_CPU_MEM_LIMIT); None when off.
    pub cgroups: Option<TaskCgroupSettings>,
    /// Secrets and environment files from AWS; None: containers that name
    /// any fail to be created.
    pub aws: Option<crate::taskres::AwsResources>,
    /// awslogs shipping; None: nothing ships (containers' spools stay local).
    pub log_shipper: Option<Arc<dyn crate::awslogs::LogShipper>>,
    /// The agent's counters, when others (the log shipper) bump them too;
    /// None: the engine makes its own.
    pub metrics: Option<Arc<AgentMetrics>>,
}

impl<R: ContainerRuntime> Engine<R> {
    pub fn new(
        runtime: Arc<R>,
        settings: EngineSettings,
        reports: ReportQueue,
        checkpoint: Arc<dyn Checkpoint>,
        services: EngineServices,
    ) -> Engine<R> {
        let metrics = services
            .metrics
            .clone()
            .unwrap_or_else(|| Arc::new(AgentMetrics::new()));
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
                net_setups: Mutex::new(HashMap::new()),
                image_checks: Mutex::new(HashMap::new()),
                credentials: services.credentials,
                cgroups: services.cgroups,
                aws: services.aws,
                log_shipper: services.log_shipper,
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
            tracing::info!(task = %task.arn(), known = ?task.known(), desired = ?task.desired(), "restoring task");
            self.spawn(task, true);
        }
    }

    fn spawn(&self, mut task: Task, restored: bool) {
        // Checkpoints from before tokens existed: give those containers one now
        // (saved with the actor's first checkpoint).
        task.assign_tokens(exec::tokens::new_token);
        let (tx, rx) = mpsc::unbounded_channel();
        // The images its containers need stay while the task is known.
        let images = task
            .def()
            .containers
            .iter()
            .map(|c| c.image.reference().to_string())
            .collect();
        lock(&self.inner.task_images).insert(task.arn().to_string(), images);
        for (i, c) in task.def().containers.iter().enumerate() {
            self.inner
                .route(&container_id(task.def().id(), i, &c.name), task.arn(), i);
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
                        if exit.task_gone {
                            // No exit to apply: the actor asks containerd.
                            if let Some(tx) = lock(&self.inner.tasks).get(&arn) {
                                let _ = tx.send(Msg::Recheck);
                            }
                            continue;
                        }
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
