//! Errors of the containerd runtime, with the one distinction the engine acts
//! on: is containerd merely unreachable (retry later) or did it refuse.

use tonic::{Code, Status};

use super::pull::PullError;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// Display is the registry's (or unpacker's) cause, shown to users as is.
    #[error(transparent)]
    Pull(#[from] PullError),
    /// The container definition cannot run as given; names the field.
    #[error("{field} {value:?}: {reason}")]
    InvalidSpec {
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error("creating container {id}: {message}")]
    Create { id: String, message: String },
    #[error("starting container {id}: {message}")]
    Start { id: String, message: String },
    #[error("signalling container {id}: {message}")]
    Kill { id: String, message: String },
    #[error("removing container {id}: {message}")]
    Remove { id: String, message: String },
    #[error("reading the state of container {id}: {message}")]
    State { id: String, message: String },
    #[error("subscribing to containerd events: {message}")]
    Events { message: String },
    /// containerd's socket is missing, refuses connections or answers UNAVAILABLE.
    #[error("containerd unavailable: {0}")]
    Unavailable(String),
}

impl RuntimeError {
    /// True when the operation may succeed once containerd is back: the engine
    /// retries instead of failing the task.
    pub fn is_unavailable(&self) -> bool {
        match self {
            RuntimeError::Unavailable(_) => true,
            RuntimeError::Pull(e) => e.is_unavailable(),
            RuntimeError::InvalidSpec { .. }
            | RuntimeError::Create { .. }
            | RuntimeError::Start { .. }
            | RuntimeError::Kill { .. }
            | RuntimeError::Remove { .. }
            | RuntimeError::State { .. }
            | RuntimeError::Events { .. } => false,
        }
    }
}

/// Whether a gRPC failure means containerd could not be reached at all.
pub(crate) fn status_is_unavailable(status: &Status) -> bool {
    match status.code() {
        Code::Unavailable => true,
        // Statuses made by tonic itself (broken connection, refused socket)
        // carry the transport error as source; containerd's own never do.
        Code::Unknown | Code::Cancelled => std::error::Error::source(status).is_some(),
        _ => false,
    }
}

/// Map a failed call to `Unavailable` or to the operation's own error, keeping
/// containerd's message.
pub(crate) fn from_status(status: Status, op: impl FnOnce(String) -> RuntimeError) -> RuntimeError {
    if status_is_unavailable(&status) {
        RuntimeError::Unavailable(describe(&status))
    } else {
        op(describe(&status))
    }
}

/// containerd's message, or the code when it sent none; plus the transport
/// cause for statuses tonic made.
fn describe(status: &Status) -> String {
    let mut msg = if status.message().is_empty() {
        format!("{:?}", status.code())
    } else {
        status.message().to_string()
    };
    let mut source = std::error::Error::source(status);
    while let Some(s) = source {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_code_maps_to_unavailable() {
        let e = from_status(Status::unavailable("connection refused"), |message| {
            RuntimeError::Start {
                id: "c".into(),
                message,
            }
        });
        assert!(e.is_unavailable());
        assert_eq!(e.to_string(), "containerd unavailable: connection refused");
    }

    #[test]
    fn containerd_refusals_keep_their_message() {
        let e = from_status(
            Status::failed_precondition("task must be stopped"),
            |message| RuntimeError::Remove {
                id: "c1".into(),
                message,
            },
        );
        assert!(!e.is_unavailable());
        assert_eq!(e.to_string(), "removing container c1: task must be stopped");
        let e = from_status(Status::unknown("oci runtime failed"), |message| {
            RuntimeError::Create {
                id: "c1".into(),
                message,
            }
        });
        assert!(!e.is_unavailable());
    }
}
