//! Container and task statuses, ordered as the lifecycle moves forward.

/// Where a container is in its life. Ordered: a status never moves backwards.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub enum ContainerStatus {
    #[default]
    None,
    Pulled,
    Created,
    Running,
    Stopped,
}

impl ContainerStatus {
    /// The status as the ECS API names it; `None` for statuses ECS is not told about.
    pub fn wire(self) -> Option<&'static str> {
        match self {
            ContainerStatus::Running => Some("RUNNING"),
            ContainerStatus::Stopped => Some("STOPPED"),
            ContainerStatus::None | ContainerStatus::Pulled | ContainerStatus::Created => None,
        }
    }

    /// The name the Go agent's `ContainerStatus.String()` gives it (in the
    /// reason strings copied from the Go agent).
    pub fn go_name(self) -> &'static str {
        match self {
            ContainerStatus::None => "NONE",
            ContainerStatus::Pulled => "PULLED",
            ContainerStatus::Created => "CREATED",
            ContainerStatus::Running => "RUNNING",
            ContainerStatus::Stopped => "STOPPED",
        }
    }
}

impl ContainerStatus {
    /// The status a container entry of SubmitTaskStateChange carries: as the
    /// Go agent's `BackendStatusString` (ecs-agent/api/container/status/
    /// containerstatus.go), RUNNING, STOPPED, and PENDING for anything before.
    pub fn backend_wire(self) -> &'static str {
        match self {
            ContainerStatus::Running => "RUNNING",
            ContainerStatus::Stopped => "STOPPED",
            ContainerStatus::None | ContainerStatus::Pulled | ContainerStatus::Created => "PENDING",
        }
    }
}

/// The task's status, derived from its containers'.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub enum TaskStatus {
    #[default]
    Pending,
    Running,
    Stopped,
}

impl TaskStatus {
    pub fn wire(self) -> &'static str {
        match self {
            TaskStatus::Pending => "PENDING",
            TaskStatus::Running => "RUNNING",
            TaskStatus::Stopped => "STOPPED",
        }
    }
}

/// What the control plane wants for a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum DesiredStatus {
    #[default]
    Running,
    Stopped,
}

impl DesiredStatus {
    /// ACS sends `RUNNING` or `STOPPED`; anything else is refused by the caller.
    pub fn from_wire(s: &str) -> Option<DesiredStatus> {
        match s {
            "RUNNING" => Some(DesiredStatus::Running),
            "STOPPED" => Some(DesiredStatus::Stopped),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_ordered_forward() {
        assert!(ContainerStatus::None < ContainerStatus::Pulled);
        assert!(ContainerStatus::Pulled < ContainerStatus::Created);
        assert!(ContainerStatus::Created < ContainerStatus::Running);
        assert!(ContainerStatus::Running < ContainerStatus::Stopped);
        assert!(TaskStatus::Pending < TaskStatus::Running);
        assert!(TaskStatus::Running < TaskStatus::Stopped);
    }

    #[test]
    fn only_running_and_stopped_are_reported_for_containers() {
        assert_eq!(ContainerStatus::Created.wire(), None);
        assert_eq!(ContainerStatus::Running.wire(), Some("RUNNING"));
        assert_eq!(ContainerStatus::Stopped.wire(), Some("STOPPED"));
        // In a task report (the manifest-pulled one) anything before RUNNING is PENDING.
        assert_eq!(ContainerStatus::Pulled.backend_wire(), "PENDING");
        assert_eq!(ContainerStatus::Running.backend_wire(), "RUNNING");
    }

    #[test]
    fn desired_status_from_wire() {
        assert_eq!(
            DesiredStatus::from_wire("STOPPED"),
            Some(DesiredStatus::Stopped)
        );
        assert_eq!(
            DesiredStatus::from_wire("RUNNING"),
            Some(DesiredStatus::Running)
        );
        assert_eq!(DesiredStatus::from_wire("running"), None);
    }
}
