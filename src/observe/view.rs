//! What the endpoints and telemetry know about tasks: plain values the engine
//! fills and publishes. Readers take one published snapshot at a time (an
//! `Arc` clone), so a request never waits on the engine and never sees half
//! an update. Statuses, modes and protocols are the core's own types; the
//! names the Go agent prints for them are in [`super::names`].

use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use crate::task::def::{NetworkMode, Protocol};
use crate::task::{ContainerStatus, DesiredStatus, TaskStatus};

/// One task as the endpoints show it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskView {
    pub arn: String,
    /// Task definition family.
    pub family: String,
    /// Task definition revision, as a string (`"3"`).
    pub revision: String,
    pub desired_status: DesiredStatus,
    /// The Go agent's finer pending statuses (`NONE`, `CREATED`) are told
    /// apart by the containers' statuses: see [`super::names::task_status`].
    pub known_status: TaskStatus,
    /// Task-level limits from the task definition (CPU in vCPU, memory in MiB).
    pub limits: TaskLimits,
    pub pull_started_at: Option<SystemTime>,
    pub pull_stopped_at: Option<SystemTime>,
    pub execution_stopped_at: Option<SystemTime>,
    /// Empty: omitted (ECS_DISABLE_TASK_METADATA_AZ, or unknown).
    pub availability_zone: String,
    /// `EC2` for this agent.
    pub launch_type: String,
    /// Task tags, shown by `/taskWithTags`.
    pub tags: Vec<(String, String)>,
    pub network_mode: NetworkMode,
    /// ECS service that started the task, if any (v4 `ServiceName`).
    pub service_name: String,
    pub containers: Vec<ContainerView>,
}

/// An empty host-mode task: what tests and fallbacks build on.
impl Default for TaskView {
    fn default() -> TaskView {
        TaskView {
            arn: String::new(),
            family: String::new(),
            revision: String::new(),
            desired_status: DesiredStatus::default(),
            known_status: TaskStatus::default(),
            limits: TaskLimits::default(),
            pull_started_at: None,
            pull_stopped_at: None,
            execution_stopped_at: None,
            availability_zone: String::new(),
            launch_type: String::new(),
            tags: Vec::new(),
            network_mode: NetworkMode::Host,
            service_name: String::new(),
            containers: Vec::new(),
        }
    }
}

/// Task-level limits: `None` (or zero) means not set, and the field is omitted.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TaskLimits {
    /// vCPU (task definition `cpu` units / 1024).
    pub cpu: Option<f64>,
    /// MiB.
    pub memory: Option<i64>,
}

/// One container as the endpoints show it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerView {
    /// The random per-container endpoint id in the metadata URIs
    /// (`/v4/<token>`). Persisted by the engine with the task: a container
    /// must keep its token across agent restarts.
    pub token: String,
    /// containerd container id (the Go agent's DockerId). Empty until created.
    pub runtime_id: String,
    /// Name from the task definition.
    pub name: String,
    /// The runtime-unique name (Go: `ecs-<family>-<rev>-<name>-<random>`).
    pub docker_name: String,
    pub image: String,
    /// Image manifest digest (`sha256:...`).
    pub image_id: String,
    pub labels: Vec<(String, String)>,
    pub desired_status: DesiredStatus,
    pub known_status: ContainerStatus,
    pub exit_code: Option<i32>,
    /// Container definition `cpu` units (shown as at least 2, as Go does).
    pub cpu: u32,
    /// Container definition `memory`, MiB (0 when unset).
    pub memory_mib: u32,
    pub created_at: Option<SystemTime>,
    pub started_at: Option<SystemTime>,
    pub finished_at: Option<SystemTime>,
    /// Empty until ECS has assigned one.
    pub container_arn: String,
    pub log_driver: String,
    pub log_options: Vec<(String, String)>,
    /// Known port bindings (after the network layer bound them).
    pub ports: Vec<PortView>,
    pub volumes: Vec<VolumeView>,
    /// Networks the container is attached to. In `awsvpc` mode one entry with
    /// the task ENI's fields; in host/bridge mode one entry per network
    /// (`host` with no address is shown as the Go agent does: `[""]`).
    pub networks: Vec<NetworkView>,
    /// Health check status, when the container has a health check.
    pub health: Option<HealthView>,
    /// `NORMAL` for task containers.
    pub container_type: String,
    /// Restarts by its restart policy; None without one (the Go agent
    /// shows `RestartCount` only for containers with a policy).
    pub restart_count: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortView {
    pub container_port: u16,
    pub host_port: u16,
    pub protocol: Protocol,
    /// Bind address (`0.0.0.0`); empty when unknown.
    pub host_ip: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeView {
    pub docker_name: String,
    pub source: String,
    pub destination: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthView {
    /// `HEALTHY`, `UNHEALTHY`; empty while unknown.
    pub status: String,
    pub since: Option<SystemTime>,
    pub exit_code: i32,
    pub output: String,
}

/// One network attachment of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkView {
    pub mode: NetworkMode,
    pub ipv4_addresses: Vec<String>,
    pub ipv6_addresses: Vec<String>,
    /// `awsvpc` only: the task ENI.
    pub eni: Option<EniView>,
}

impl NetworkView {
    /// An attachment in `mode` with no address known yet.
    pub fn new(mode: NetworkMode) -> NetworkView {
        NetworkView {
            mode,
            ipv4_addresses: Vec::new(),
            ipv6_addresses: Vec::new(),
            eni: None,
        }
    }
}

/// The task ENI fields task metadata v4 shows for `awsvpc` networks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EniView {
    pub mac_address: String,
    /// `10.0.0.0/24`
    pub ipv4_subnet_cidr_block: String,
    pub ipv6_subnet_cidr_block: String,
    pub domain_name_servers: Vec<String>,
    pub domain_name_search_list: Vec<String>,
    pub private_dns_name: String,
    pub subnet_gateway_ipv4_address: String,
}

/// The agent itself, for `/v1/metadata` and the metadata file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentView {
    /// ECS_CLUSTER as configured (name or ARN).
    pub cluster: String,
    /// `None` until registered (shown as JSON `null`).
    pub container_instance_arn: Option<String>,
    /// Shown as `Version` by `/v1/metadata`.
    pub version: String,
    /// As containerd's Version service said it at start: the
    /// `containerd_version` label of `/metrics`' `ecs_agent_info`.
    pub containerd_version: String,
    /// Images are pulled through containerd's Transfer service (2.x), not
    /// by the agent's own client: the `image_pull` label of `ecs_agent_info`.
    pub pulls_through_transfer: bool,
    /// Shown as `ContainerInstanceTags` by `/taskWithTags`.
    pub container_instance_tags: Vec<(String, String)>,
    /// The instance's VPC, shown as v4 `VPCID` when known.
    pub vpc_id: String,
}

/// Everything the endpoints show, as of one moment.
///
/// Each task's view is shared between snapshots: a task actor publishes
/// after every step of its task, and copying every other task's view each
/// time made a step cost more the more tasks the host knew (0.3 to 1 ms per
/// step with 60 to 180 tasks known, on a start's path four times).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub agent: AgentView,
    pub tasks: Vec<Arc<TaskView>>,
}

impl Snapshot {
    /// The task and container that own a metadata token.
    pub fn by_token(&self, token: &str) -> Option<(&TaskView, &ContainerView)> {
        if token.is_empty() {
            return None;
        }
        self.tasks.iter().find_map(|t| {
            t.containers
                .iter()
                .find(|c| c.token == token)
                .map(|c| (&**t, c))
        })
    }

    pub fn task_by_arn(&self, arn: &str) -> Option<&TaskView> {
        self.tasks.iter().find(|t| t.arn == arn).map(|t| &**t)
    }
}

/// Where the endpoints read tasks from. Must be cheap: it is called on every
/// request and on every stats poll.
pub trait TaskSource: Send + Sync + 'static {
    fn snapshot(&self) -> Arc<Snapshot>;
}

/// The ready-made [`TaskSource`]: the engine publishes whole snapshots, readers
/// clone an `Arc`. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct Published {
    inner: Arc<RwLock<Arc<Snapshot>>>,
}

impl Published {
    pub fn new(agent: AgentView) -> Published {
        Published {
            inner: Arc::new(RwLock::new(Arc::new(Snapshot {
                agent,
                tasks: Vec::new(),
            }))),
        }
    }

    /// Replace the task list (call after every task/container change).
    pub fn publish_tasks(&self, tasks: Vec<TaskView>) {
        self.update(|s| s.tasks = tasks.into_iter().map(Arc::new).collect());
    }

    /// Replace one task (matched by ARN), or add it at the end: for a
    /// publisher that owns one task, such as the engine's task actors.
    pub fn publish_task(&self, task: TaskView) {
        let task = Arc::new(task);
        self.update(|s| match s.tasks.iter_mut().find(|t| t.arn == task.arn) {
            Some(slot) => *slot = task,
            None => s.tasks.push(task),
        });
    }

    /// Forget a task (at cleanup).
    pub fn remove_task(&self, arn: &str) {
        self.update(|s| s.tasks.retain(|t| t.arn != arn));
    }

    /// Replace the agent fields (after registration, for instance).
    pub fn publish_agent(&self, agent: AgentView) {
        self.update(|s| s.agent = agent);
    }

    fn update(&self, f: impl FnOnce(&mut Snapshot)) {
        // A poisoned lock only means a writer panicked mid-clone; the value
        // behind it is an intact Arc, so keep serving it.
        let mut guard = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let mut next = Snapshot::clone(&guard);
        f(&mut next);
        *guard = Arc::new(next);
    }
}

impl TaskSource for Published {
    fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{AgentView, Published, TaskSource, TaskView};

    fn view(arn: &str, family: &str) -> TaskView {
        TaskView {
            arn: arn.into(),
            family: family.into(),
            ..TaskView::default()
        }
    }

    /// A task's publish replaces its own view and shares every other one
    /// with the snapshot before: its cost does not grow with the tasks known.
    #[test]
    fn publishing_a_task_shares_the_other_tasks_views() {
        let published = Published::new(AgentView::default());
        published.publish_task(view("arn:a", "one"));
        published.publish_task(view("arn:b", "one"));
        let before = published.snapshot();
        published.publish_task(view("arn:b", "two"));
        let after = published.snapshot();

        assert!(Arc::ptr_eq(&before.tasks[0], &after.tasks[0]));
        assert_eq!(after.tasks.len(), 2);
        assert_eq!(
            after.task_by_arn("arn:b").map(|t| t.family.as_str()),
            Some("two")
        );
        assert_eq!(
            before.task_by_arn("arn:b").map(|t| t.family.as_str()),
            Some("one")
        );
    }
}
