//! ECS_ENABLE_TASK_CPU_MEM_LIMIT at start, as the Go agent (agent_unix.go):
//! on by default when the host allows it; set to true, the agent does not
//! start without it; set to false, off.

use std::sync::Arc;

use crate::cgroups::HostCgroups;
use crate::config::Config;
use crate::engine::TaskCgroupSettings;

use super::error::AgentError;

pub(super) fn start(cfg: &Config) -> Result<Option<TaskCgroupSettings>, AgentError> {
    let t = &cfg.task_limits;
    if !t.enabled {
        if t.pids_limit.is_some() {
            tracing::warn!("ECS_TASK_PIDS_LIMIT has no effect: it needs task cgroups (ECS_ENABLE_TASK_CPU_MEM_LIMIT)");
        }
        tracing::info!(
            "task-level cpu and memory are not enforced (ECS_ENABLE_TASK_CPU_MEM_LIMIT=false)"
        );
        return Ok(None);
    }
    match HostCgroups::init(&t.cgroup_path, &cfg.containerd_namespace) {
        Ok(cg) => {
            tracing::info!(root = %t.cgroup_path.display(), version = ?cg.version(), prefix = %cfg.containerd_namespace, "task cgroups on");
            Ok(Some(TaskCgroupSettings {
                cgroups: Arc::new(cg),
                cpu_period: t.cpu_period,
                pids_limit: t.pids_limit,
            }))
        }
        Err(e) if t.explicit => Err(AgentError::TaskCgroups(e)),
        Err(e) => {
            tracing::warn!(error = %e, "task cgroups unavailable: task-level cpu and memory are not enforced and not advertised (ECS_ENABLE_TASK_CPU_MEM_LIMIT, ECS_CGROUP_PATH)");
            Ok(None)
        }
    }
}
