//! Why a container failed and why a task stopped, as typed values.
//!
//! The engine hands the state machine a `Failure` (what kind, plus the
//! detail text of the error behind it); the state machine keeps it typed and
//! renders ECS's reason strings (`CannotPullContainerError: …`) only when a
//! report is made. Checkpoints from agents that stored the rendered strings
//! still load: a plain string is read back into its kind by its prefix.

use std::fmt;

/// The step that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum FailureKind {
    /// The image could not be pulled (nor found cached).
    CannotPull,
    /// A private ECR image's authorization token could not be had: the Go
    /// agent's `CannotPullECRContainerError`.
    CannotPullEcr,
    /// A step did not finish in the time it is allowed (an image pull that
    /// never began, or ran past ECS_IMAGE_PULL_TIMEOUT): the Go agent's
    /// `DockerTimeoutError`.
    Timeout,
    /// The container's network namespace could not be set up.
    Network,
    /// The runtime could not create the container, or its files could not be written.
    CannotCreate,
    /// The runtime could not start the container, or not within its start timeout.
    CannotStart,
    /// A `dependsOn` condition can never be met.
    Dependency,
    /// The container was running and is gone from containerd after an agent restart.
    Vanished,
    /// The kernel's OOM killer killed it (the task's memory limit).
    OutOfMemory,
    /// A container's secrets or environment files could not be fetched with
    /// the execution role: the Go agent's resource error, shown as it is
    /// (`fetching secret data from SSM Parameter Store in REGION: ...`).
    Resource,
    /// A reason from an older agent's checkpoint that names no known kind:
    /// shown as it was written.
    Recorded,
}

/// The fixed reason of `FailureKind::Vanished`.
const VANISHED: &str = "the container disappeared from containerd while the agent was down";

/// The reason of a container whose exit containerd lost.
const EXIT_LOST: &str = "the container exited while containerd was down, and containerd dropped its task and exit status when it started again";

/// The fixed reason of `FailureKind::OutOfMemory`: the Go agent's
/// (agent/api/container/container.go, `OutOfMemoryError`).
pub const OUT_OF_MEMORY: &str = "OutOfMemoryError: Container killed due to memory usage";

/// Prefixes of the ECS reason strings, longest first where one contains another.
const PREFIXES: [(FailureKind, &str); 7] = [
    (FailureKind::CannotPull, "CannotPullContainerError: "),
    (FailureKind::CannotPullEcr, "CannotPullECRContainerError: "),
    (FailureKind::Timeout, "DockerTimeoutError: "),
    (
        FailureKind::Network,
        "CannotCreateContainerError: network: ",
    ),
    (FailureKind::CannotCreate, "CannotCreateContainerError: "),
    (FailureKind::CannotStart, "CannotStartContainerError: "),
    (FailureKind::Dependency, "dependsOn: "),
];

/// A container's failure: its kind and the text of what went wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(from = "StoredFailure")]
pub struct Failure {
    pub kind: FailureKind,
    pub detail: String,
}

impl Failure {
    pub fn new(kind: FailureKind, detail: impl Into<String>) -> Failure {
        Failure {
            kind,
            detail: detail.into(),
        }
    }

    pub fn vanished() -> Failure {
        Failure::new(FailureKind::Vanished, "")
    }

    /// A running container's task that containerd dropped with its exit
    /// status, restarting after the process ended.
    pub fn exit_lost() -> Failure {
        Failure::new(FailureKind::Vanished, EXIT_LOST)
    }

    pub fn out_of_memory() -> Failure {
        Failure::new(FailureKind::OutOfMemory, "")
    }

    /// Reads a reason string as older agents stored it.
    fn from_reason(reason: String) -> Failure {
        if reason == VANISHED {
            return Failure::vanished();
        }
        if reason == EXIT_LOST {
            return Failure::exit_lost();
        }
        if reason == OUT_OF_MEMORY {
            return Failure::out_of_memory();
        }
        for (kind, prefix) in PREFIXES {
            if let Some(detail) = reason.strip_prefix(prefix) {
                return Failure::new(kind, detail);
            }
        }
        Failure::new(FailureKind::Recorded, reason)
    }
}

/// The reason string ECS shows for the failure.
impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            FailureKind::Vanished if self.detail.is_empty() => f.write_str(VANISHED),
            FailureKind::Vanished => f.write_str(&self.detail),
            FailureKind::OutOfMemory => f.write_str(OUT_OF_MEMORY),
            FailureKind::Recorded | FailureKind::Resource => f.write_str(&self.detail),
            kind => {
                let prefix = PREFIXES
                    .iter()
                    .find(|(k, _)| *k == kind)
                    .map(|(_, p)| *p)
                    .unwrap_or_default();
                write!(f, "{prefix}{}", self.detail)
            }
        }
    }
}

/// A failure as a checkpoint holds it: typed, or the reason string of an
/// agent from before failures were typed.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum StoredFailure {
    Typed { kind: FailureKind, detail: String },
    Reason(String),
}

impl From<StoredFailure> for Failure {
    fn from(stored: StoredFailure) -> Failure {
        match stored {
            StoredFailure::Typed { kind, detail } => Failure { kind, detail },
            StoredFailure::Reason(reason) => Failure::from_reason(reason),
        }
    }
}

/// The reason ECS shows when an essential container's exit stopped the task.
pub const ESSENTIAL_EXITED: &str = "Essential container in task exited";

/// Why a task is stopping.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "by", content = "detail", from = "StoredStopReason")]
pub enum StopReason {
    /// The control plane (or the agent's acceptance) asked, in its own words.
    Requested(String),
    /// An essential container exited.
    EssentialExited,
    /// An essential container failed.
    Failed(Failure),
}

/// The tagged shape `StopReason` serializes to; a twin so that the untagged
/// `StoredStopReason` can try it before the old plain string.
#[derive(serde::Deserialize)]
#[serde(tag = "by", content = "detail")]
enum TaggedStopReason {
    Requested(String),
    EssentialExited,
    Failed(Failure),
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum StoredStopReason {
    Typed(TaggedStopReason),
    Reason(String),
}

impl From<StoredStopReason> for StopReason {
    fn from(stored: StoredStopReason) -> StopReason {
        match stored {
            StoredStopReason::Typed(TaggedStopReason::Requested(r)) => StopReason::Requested(r),
            StoredStopReason::Typed(TaggedStopReason::EssentialExited) => {
                StopReason::EssentialExited
            }
            StoredStopReason::Typed(TaggedStopReason::Failed(f)) => StopReason::Failed(f),
            // Older agents stored the rendered text; they wrote only these three.
            StoredStopReason::Reason(r) if r == ESSENTIAL_EXITED => StopReason::EssentialExited,
            StoredStopReason::Reason(r) => match Failure::from_reason(r) {
                Failure {
                    kind: FailureKind::Recorded,
                    detail,
                } => StopReason::Requested(detail),
                failure => StopReason::Failed(failure),
            },
        }
    }
}

/// The reason string ECS shows for the stop.
impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Requested(r) => f.write_str(r),
            StopReason::EssentialExited => f.write_str(ESSENTIAL_EXITED),
            StopReason::Failed(failure) => failure.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_renders_the_reason_ecs_shows() {
        let cases = [
            (
                Failure::new(FailureKind::CannotPull, "manifest unknown"),
                "CannotPullContainerError: manifest unknown",
            ),
            (
                Failure::new(
                    FailureKind::Timeout,
                    "Could not transition to pulled; timed out after waiting 2h0m0s",
                ),
                "DockerTimeoutError: Could not transition to pulled; timed out after waiting 2h0m0s",
            ),
            (
                Failure::new(FailureKind::Network, "no iptables"),
                "CannotCreateContainerError: network: no iptables",
            ),
            (
                Failure::new(FailureKind::CannotCreate, "bad user"),
                "CannotCreateContainerError: bad user",
            ),
            (
                Failure::new(FailureKind::CannotStart, "exec failed"),
                "CannotStartContainerError: exec failed",
            ),
            (
                Failure::new(FailureKind::Dependency, "container \"db\" never started"),
                "dependsOn: container \"db\" never started",
            ),
            (Failure::vanished(), VANISHED),
            (
                Failure::new(FailureKind::Recorded, "as written"),
                "as written",
            ),
        ];
        for (failure, reason) in cases {
            assert_eq!(failure.to_string(), reason);
            // An old checkpoint's string reads back to the same failure.
            let old: Failure = serde_json::from_value(serde_json::json!(reason)).unwrap();
            assert_eq!(old, failure, "{reason}");
            let again: Failure =
                serde_json::from_str(&serde_json::to_string(&failure).unwrap()).unwrap();
            assert_eq!(again, failure);
        }
    }

    #[test]
    fn stop_reasons_render_and_read_back_from_old_strings() {
        let cases = [
            (
                StopReason::Requested("Task stopped by user".into()),
                "Task stopped by user",
            ),
            (StopReason::EssentialExited, ESSENTIAL_EXITED),
            (
                StopReason::Failed(Failure::new(FailureKind::CannotStart, "y")),
                "CannotStartContainerError: y",
            ),
        ];
        for (stop, reason) in cases {
            assert_eq!(stop.to_string(), reason);
            let old: StopReason = serde_json::from_value(serde_json::json!(reason)).unwrap();
            assert_eq!(old, stop, "{reason}");
            let again: StopReason =
                serde_json::from_str(&serde_json::to_string(&stop).unwrap()).unwrap();
            assert_eq!(again, stop);
        }
    }
}
