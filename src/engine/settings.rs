//! What the engine needs from the agent's configuration.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::cgroups::TaskCgroups;
use crate::config::{ImagePullBehavior, RegistryAuth, RegistryCredentials};
use crate::task::image_ref::Reference;

#[derive(Debug, Clone)]
pub struct EngineSettings {
    pub cluster_arn: String,
    /// Container logs go under `<data_dir>/logs/<task-id>/`.
    pub data_dir: PathBuf,
    pub default_stop_timeout: Duration,
    /// ECS_CONTAINER_START_TIMEOUT: how long the runtime's start call may take.
    pub start_call_timeout: Duration,
    /// ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION: how long a stopped task's containers and logs are kept.
    pub cleanup_wait: Duration,
    /// ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION_JITTER: a random extra wait up to this.
    pub cleanup_jitter: Duration,
    pub pull_behavior: ImagePullBehavior,
    /// ECS_ENGINE_AUTH_DATA, as the config parsed it.
    pub registry_auth: RegistryAuth,
    /// ECS_ENABLE_TASK_IAM_ROLE: point containers of tasks with a role at their credentials.
    pub task_iam_role: bool,
    /// ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST: also in host network mode.
    pub task_iam_role_network_host: bool,
    /// ECS_ENABLE_CONTAINER_METADATA: write each container's metadata file.
    pub container_metadata: bool,
    /// ECS_HOST_DATA_DIR: `data_dir` as the host sees it, when the agent
    /// runs in a container; the source of files bind-mounted into containers.
    pub host_data_dir: Option<PathBuf>,
    /// ECS_SHARED_VOLUME_MATCH_FULL_CONFIG.
    pub shared_volume_match_full_config: bool,
}

impl EngineSettings {
    /// A container's json-file log, `<data_dir>/logs/<task-id>/<container>-json.log`
    /// (Docker's `<id>-json.log` name; rotated files get `.1`, `.2`, ...),
    /// where `ecs-agent logs` looks for it.
    pub fn log_path(&self, task_id: &str, container: &str) -> PathBuf {
        crate::logger::json_log_path(&self.data_dir, task_id, container)
    }

    /// Credentials for the registry an image reference points at.
    pub fn credentials_for_image(&self, image: &Reference) -> Option<RegistryCredentials> {
        self.registry_auth.get(&image.registry()).cloned()
    }
}

/// The task cgroups and the settings their limits take.
#[derive(Clone)]
pub struct TaskCgroupSettings {
    pub cgroups: Arc<dyn TaskCgroups>,
    /// ECS_CGROUP_CPU_PERIOD.
    pub cpu_period: Duration,
    /// ECS_TASK_PIDS_LIMIT.
    pub pids_limit: Option<u32>,
}
