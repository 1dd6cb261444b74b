//! The engine as control's [`TaskSink`]: tasks of an ACS payload, already
//! validated by control, become task actors (checkpointed first), refusals
//! become STOPPED reports, and stop orders reach the actors.

use std::collections::HashSet;

use crate::control::sink::{PayloadTask, TaskSink};
use crate::credentials::{CredentialsError, RoleCredentials};
use crate::runtime::ContainerRuntime;
use crate::state::StateError;
use crate::task::def::NetworkMode;
use crate::task::{
    ContainerChange, ContainerStatus, DesiredStatus, Event, StateChange, Task, TaskDef, TaskStatus,
};

use super::inner::{lock, Engine, Msg};

impl<R: ContainerRuntime> TaskSink for Engine<R> {
    fn accept(&self, tasks: Vec<PayloadTask>) -> Result<(), StateError> {
        let accepted: Vec<Task> = tasks
            .into_iter()
            .filter_map(|t| self.accept_task(t))
            .collect();
        self.inner
            .checkpoint
            .save_tasks(&accepted.iter().collect::<Vec<_>>())?;
        for task in accepted {
            self.spawn(task, false);
        }
        Ok(())
    }

    fn stop(&self, arns: &[String], reason: &str) {
        let tasks = lock(&self.inner.tasks);
        for arn in arns {
            if let Some(tx) = tasks.get(arn) {
                tracing::info!(task = %arn, reason, "stopping task");
                let _ = tx.send(Msg::Event(Event::DesiredStatus {
                    status: DesiredStatus::Stopped,
                    reason: Some(reason.to_string()),
                }));
            }
        }
    }

    fn stop_candidates(&self, manifest: &HashSet<String>) -> Vec<String> {
        let finished = lock(&self.inner.finished);
        lock(&self.inner.tasks)
            .keys()
            .filter(|arn| !manifest.contains(*arn) && !finished.contains(*arn))
            .cloned()
            .collect()
    }

    fn put_credentials(
        &self,
        task_arn: &str,
        credentials: RoleCredentials,
    ) -> Result<(), CredentialsError> {
        self.inner.credentials.put(task_arn, credentials)
    }
}

impl<R: ContainerRuntime> Engine<R> {
    /// A new task to run, or None when the payload entry changes a known task
    /// (or is refused, which is reported here).
    fn accept_task(&self, t: PayloadTask) -> Option<Task> {
        let arn = match &t {
            PayloadTask::Run(def) => def.arn.as_str(),
            PayloadTask::Stop { arn } | PayloadTask::Refuse { arn, .. } => arn.as_str(),
        };
        if let Some(tx) = lock(&self.inner.tasks).get(arn) {
            if matches!(t, PayloadTask::Stop { .. }) {
                tracing::info!(task = %arn, "control plane asks to stop the task");
                // A finished actor has dropped its receiver: nothing left to stop.
                let _ = tx.send(Msg::Event(Event::DesiredStatus {
                    status: DesiredStatus::Stopped,
                    reason: None,
                }));
            }
            return None;
        }
        if lock(&self.inner.rejected).contains(arn) {
            return None;
        }
        match t {
            PayloadTask::Run(def) => Some(self.new_task(*def)),
            PayloadTask::Stop { arn } => {
                tracing::info!(task = %arn, "asked to stop a task this agent never ran; nothing to do");
                None
            }
            PayloadTask::Refuse {
                arn,
                containers,
                reason,
            } => {
                self.reject(&arn, containers, reason);
                None
            }
        }
    }

    fn new_task(&self, def: TaskDef) -> Task {
        tracing::info!(task = %def.arn, family = %def.family, version = %def.version, containers = def.containers.len(), "task accepted");
        if def.network_mode == NetworkMode::Host {
            // Its containers share the host's addresses: any local caller
            // with the id is served, as by the Go agent. Other modes' stay
            // bound until their addresses are known (network setup).
            self.inner.credentials.open_task(&def.arn);
        }
        let mut task = Task::new(
            def,
            DesiredStatus::Running,
            self.inner.settings.default_stop_timeout,
        );
        // Checkpointed with the task before the payload is acknowledged,
        // so a container keeps its metadata URIs across restarts.
        task.assign_tokens(super::exec::tokens::new_token);
        task
    }

    /// A task that cannot run is reported STOPPED at once, with the reason.
    fn reject(&self, arn: &str, containers: Vec<String>, reason: String) {
        tracing::warn!(task = %arn, reason = %reason, "task refused");
        lock(&self.inner.rejected).insert(arn.to_string());
        let containers = containers
            .into_iter()
            .map(|name| ContainerChange {
                name,
                status: ContainerStatus::Stopped,
                exit_code: None,
                reason: Some(reason.clone()),
                runtime_id: None,
                image_digest: None,
                network_bindings: Vec::new(),
            })
            .collect();
        let change = StateChange {
            task_arn: arn.to_string(),
            task_status: Some(TaskStatus::Stopped),
            reason: Some(reason),
            containers,
            pull_started_at_ms: None,
            pull_stopped_at_ms: None,
            execution_stopped_at_ms: None,
        };
        let outbox_id = match self.inner.checkpoint.queue_report(&change) {
            Ok(id) => id,
            Err(e) => {
                tracing::error!(task = %arn, error = %e, "cannot checkpoint the refusal");
                None
            }
        };
        self.inner.reports.push(outbox_id, change);
    }
}
