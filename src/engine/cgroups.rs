//! Task cgroups as the engine uses them (ECS_ENABLE_TASK_CPU_MEM_LIMIT):
//! made before a task's first container, the parent of its containers'
//! cgroups, read when a container is SIGKILLed to tell an OOM kill by the
//! task's memory limit, removed at cleanup and when left by gone tasks.

use std::collections::HashSet;

use crate::cgroups::{Ensured, TaskCgroupSpec};
use crate::runtime::ContainerRuntime;
use crate::task::def::TaskDef;
use crate::task::Task;

use super::inner::Inner;
use super::settings::TaskCgroupSettings;
use super::Engine;

/// What a container create needs to put the container under its task's cgroup.
pub(crate) struct CgroupRequest {
    settings: TaskCgroupSettings,
    task_id: String,
    spec: Result<TaskCgroupSpec, String>,
}

impl CgroupRequest {
    pub(crate) fn new<R>(inner: &Inner<R>, def: &TaskDef) -> Option<CgroupRequest> {
        let settings = inner.cgroups.clone()?;
        let spec = TaskCgroupSpec::for_task(def, settings.cpu_period, settings.pids_limit)
            .map_err(|e| e.to_string());
        Some(CgroupRequest {
            settings,
            task_id: def.id().to_string(),
            spec,
        })
    }

    /// Makes (or finds) the task's cgroup; its path is the container's parent.
    pub(crate) async fn ensure(self) -> Result<String, String> {
        let spec = self.spec.map_err(|e| format!("task cgroup: {e}"))?;
        let CgroupRequest {
            settings, task_id, ..
        } = self;
        tokio::task::spawn_blocking(move || {
            let cg = &settings.cgroups;
            match cg.ensure(&task_id, &spec) {
                Ok(Ensured::Created) => {
                    tracing::info!(task_id = %task_id, path = %cg.path(&task_id), ?spec, "task cgroup created");
                    Ok(cg.path(&task_id))
                }
                Ok(Ensured::Found) => Ok(cg.path(&task_id)),
                Err(e) => Err(format!("task cgroup: {e}")),
            }
        })
        .await
        .map_err(|e| format!("task cgroup: {e}"))?
    }
}

impl<R> Inner<R> {
    /// OOM kills the task's memory limit caused so far; None without task cgroups.
    pub(crate) fn task_oom_kills(&self, task_id: &str) -> Option<u64> {
        let cg = &self.cgroups.as_ref()?.cgroups;
        match crate::blocking::run(|| cg.oom_kills(task_id)) {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::warn!(task_id, error = %e, "cannot read the task cgroup's OOM kills");
                None
            }
        }
    }

    pub(crate) fn remove_task_cgroup(&self, task_id: &str) {
        let Some(s) = &self.cgroups else { return };
        match crate::blocking::run(|| s.cgroups.remove(task_id)) {
            Ok(()) => tracing::info!(task_id, "task cgroup removed"),
            Err(e) => tracing::warn!(task_id, error = %e, "cannot remove the task cgroup"),
        }
    }
}

impl<R: ContainerRuntime> Engine<R> {
    /// At start: removes the cgroups of tasks this agent no longer knows
    /// (their containers are gone; one that still holds processes stays).
    /// Those of known tasks are found again by their actors.
    pub fn remove_stale_cgroups(&self, known_tasks: &[Task]) {
        let Some(s) = &self.inner.cgroups else { return };
        let known: HashSet<&str> = known_tasks.iter().map(|t| t.def().id()).collect();
        let names = match crate::blocking::run(|| s.cgroups.list()) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list task cgroups");
                return;
            }
        };
        for name in names {
            // Container cgroups of tasks run without task cgroups sit beside
            // them, named after their task id: a known task's stay.
            if known.iter().any(|id| name.starts_with(id)) {
                continue;
            }
            match crate::blocking::run(|| s.cgroups.remove(&name)) {
                Ok(()) => {
                    tracing::info!(task_id = %name, "removed the cgroup of a task this agent no longer knows")
                }
                Err(e) => tracing::debug!(name = %name, error = %e, "stale cgroup not removed"),
            }
        }
    }
}
