//! The names the Go agent prints for the core's typed values, in task
//! metadata, introspection, the container metadata file and `/metrics`. One
//! place, so that every rendering prints the same bytes for the same value.

use super::view::TaskView;
use crate::task::def::{NetworkMode, Protocol};
use crate::task::{ContainerStatus, DesiredStatus, TaskStatus};

/// Agent-side container status names (`KnownStatus` in task metadata).
pub fn container_status(s: ContainerStatus) -> &'static str {
    match s {
        ContainerStatus::None => "NONE",
        ContainerStatus::Pulled => "PULLED",
        ContainerStatus::Created => "CREATED",
        ContainerStatus::Running => "RUNNING",
        ContainerStatus::Stopped => "STOPPED",
    }
}

pub fn desired_status(s: DesiredStatus) -> &'static str {
    match s {
        DesiredStatus::Running => "RUNNING",
        DesiredStatus::Stopped => "STOPPED",
    }
}

/// The agent-side task status task metadata prints. Our task status is
/// derived from the containers; the Go agent's finer pending states are told
/// apart by them: `CREATED` once a container exists, `NONE` before.
pub fn task_status(task: &TaskView) -> &'static str {
    match task.known_status {
        TaskStatus::Running => "RUNNING",
        TaskStatus::Stopped => "STOPPED",
        TaskStatus::Pending
            if task
                .containers
                .iter()
                .any(|c| c.known_status >= ContainerStatus::Created) =>
        {
            "CREATED"
        }
        TaskStatus::Pending => "NONE",
    }
}

/// A task status as ECS (and introspection) names it: everything before
/// RUNNING is PENDING.
pub fn backend_task_status(s: TaskStatus) -> &'static str {
    s.wire()
}

pub fn protocol(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    }
}

pub fn network_mode(m: NetworkMode) -> &'static str {
    m.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::view::ContainerView;

    #[test]
    fn pending_tasks_are_none_until_a_container_exists() {
        let container = |known_status| ContainerView {
            known_status,
            ..ContainerView::default()
        };
        let mut t = TaskView {
            containers: vec![container(ContainerStatus::Pulled)],
            ..TaskView::default()
        };
        assert_eq!(task_status(&t), "NONE");
        t.containers.push(container(ContainerStatus::Running));
        assert_eq!(task_status(&t), "CREATED");
        assert_eq!(backend_task_status(t.known_status), "PENDING");
        t.known_status = TaskStatus::Stopped;
        assert_eq!(task_status(&t), "STOPPED");
    }
}
