//! Runs tasks: one actor per task feeds outcomes into the pure `task` state
//! machine and carries out the actions it returns through `ContainerRuntime`.

mod actor;
mod exec;
pub mod reporter;
pub mod settings;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::model::acs;
use crate::runtime::ContainerRuntime;
use crate::task::from_acs::task_def;
use crate::task::{
    ContainerChange, ContainerStatus, DesiredStatus, Event, StateChange, Task, TaskStatus,
};

pub use reporter::{ReportError, ReportQueue, StateReporter};
pub use settings::{EngineSettings, PullBehavior};

/// Messages a task actor receives.
#[derive(Debug)]
pub(crate) enum Msg {
    Event(Event),
    Pulled(usize, Result<crate::runtime::PulledImage, String>),
    StopTimedOut(usize),
}

pub(crate) struct Inner<R> {
    pub(crate) runtime: Arc<R>,
    pub(crate) settings: EngineSettings,
    pub(crate) reports: ReportQueue,
    /// Task ARN -> its actor. Finished tasks stay, so a re-sent payload does not run them again.
    tasks: Mutex<HashMap<String, mpsc::UnboundedSender<Msg>>>,
    /// ARNs of tasks refused at validation (already reported STOPPED).
    rejected: Mutex<HashSet<String>>,
    /// containerd id -> (task ARN, container index), for routing exits.
    routes: Mutex<HashMap<String, (String, usize)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not take the engine down with it.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl<R> Inner<R> {
    pub(crate) fn route(&self, container_id: &str, task_arn: &str, index: usize) {
        lock(&self.routes).insert(container_id.to_string(), (task_arn.to_string(), index));
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
    pub fn new(runtime: Arc<R>, settings: EngineSettings, reports: ReportQueue) -> Engine<R> {
        Engine {
            inner: Arc::new(Inner {
                runtime,
                settings,
                reports,
                tasks: Mutex::new(HashMap::new()),
                rejected: Mutex::new(HashSet::new()),
                routes: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Takes the tasks of one ACS payload. Returns once every task is accepted
    /// (running under an actor, or refused and its STOPPED report queued), so
    /// the caller may then acknowledge the payload.
    pub fn accept_payload(&self, tasks: &[acs::Task]) {
        for t in tasks {
            self.accept_task(t);
        }
    }

    fn accept_task(&self, t: &acs::Task) {
        let Some(arn) = t.arn.clone().filter(|a| !a.is_empty()) else {
            tracing::warn!("payload task without an arn ignored");
            return;
        };
        let desired = t
            .desired_status
            .as_deref()
            .and_then(DesiredStatus::from_wire);
        let mut tasks = lock(&self.inner.tasks);
        if let Some(tx) = tasks.get(&arn) {
            if desired == Some(DesiredStatus::Stopped) {
                tracing::info!(task = %arn, "control plane asks to stop the task");
                // A finished actor has dropped its receiver: nothing left to stop.
                let _ = tx.send(Msg::Event(Event::DesiredStatus {
                    status: DesiredStatus::Stopped,
                    reason: None,
                }));
            }
            return;
        }
        if lock(&self.inner.rejected).contains(&arn) {
            return;
        }
        let Some(desired) = desired else {
            drop(tasks);
            self.reject(
                &arn,
                t,
                format!(
                    "desiredStatus {:?}: expected RUNNING or STOPPED",
                    t.desired_status
                ),
            );
            return;
        };
        if desired == DesiredStatus::Stopped {
            tracing::info!(task = %arn, "asked to stop a task this agent never ran; nothing to do");
            return;
        }
        match task_def(t, self.inner.settings.policy) {
            Ok(def) => {
                tracing::info!(task = %arn, family = %def.family, version = %def.version, containers = def.containers.len(), "task accepted");
                let (tx, rx) = mpsc::unbounded_channel();
                tasks.insert(arn, tx.clone());
                let task = Task::new(def, desired, self.inner.settings.default_stop_timeout);
                tokio::spawn(actor::run(self.inner.clone(), task, tx, rx));
            }
            Err(invalid) => {
                drop(tasks);
                self.reject(&arn, t, invalid.reason);
            }
        }
    }

    /// A task that cannot run is reported STOPPED at once, with the reason.
    fn reject(&self, arn: &str, t: &acs::Task, reason: String) {
        tracing::warn!(task = %arn, reason = %reason, "task refused");
        lock(&self.inner.rejected).insert(arn.to_string());
        let containers = t
            .containers
            .iter()
            .filter_map(|c| c.name.clone())
            .map(|name| ContainerChange {
                name,
                status: ContainerStatus::Stopped,
                exit_code: None,
                reason: Some(reason.clone()),
                runtime_id: None,
                image_digest: None,
            })
            .collect();
        self.inner.reports.push(StateChange {
            task_arn: arn.to_string(),
            task_status: Some(TaskStatus::Stopped),
            reason: Some(reason),
            containers,
            pull_started_at_ms: None,
            pull_stopped_at_ms: None,
            execution_stopped_at_ms: None,
        });
    }

    /// Routes container exits from the runtime to their task actors. Runs until
    /// the runtime's exit stream ends for good.
    pub async fn route_exits(&self) {
        loop {
            match self.inner.runtime.subscribe_exits().await {
                Ok(mut rx) => {
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
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Number of tasks this engine knows (running or finished).
    pub fn task_count(&self) -> usize {
        lock(&self.inner.tasks).len()
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
