//! The runtime layer's own error: what the engine sees of a failed runtime
//! call. Implementations classify their failures into an [`ErrorKind`], so
//! callers decide on typed data (retry while unavailable, retry a create
//! whose previous shim is still going away), never on message text; the
//! messages are kept for people.

use crate::image::RegistryError;

/// What kind of failure, as far as the agent acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The runtime could not be reached (socket missing, connection refused,
    /// UNAVAILABLE): the same call may succeed later.
    Unavailable,
    /// What the call names does not exist.
    NotFound,
    /// What the call would make exists already.
    AlreadyExists,
    /// The previous shim of the same container id is still going away, so no
    /// new one can start for it yet: the create may be tried again shortly.
    ShimStillExiting,
    /// The container definition cannot run as given.
    InvalidSpec,
    /// The operation did not finish in the time it is allowed (an image
    /// pull past its begin or whole-pull timeout).
    Timeout,
    /// Any other refusal or failure.
    Other,
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The registry side of a pull (reference, registry, token, manifest):
    /// the registry's cause, shown to users as is.
    #[error(transparent)]
    Image(#[from] RegistryError),
    /// The runtime failed while storing or unpacking a pulled image.
    #[error("{message}")]
    Pull { kind: ErrorKind, message: String },
    /// The container definition cannot run as given; names the field.
    #[error("{field} {value:?}: {reason}")]
    InvalidSpec {
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error("creating container {id}: {message}")]
    Create {
        id: String,
        kind: ErrorKind,
        message: String,
    },
    #[error("starting container {id}: {message}")]
    Start {
        id: String,
        kind: ErrorKind,
        message: String,
    },
    #[error("signalling container {id}: {message}")]
    Kill {
        id: String,
        kind: ErrorKind,
        message: String,
    },
    #[error("removing container {id}: {message}")]
    Remove {
        id: String,
        kind: ErrorKind,
        message: String,
    },
    #[error("deleting the exited task of container {id}: {message}")]
    DeleteTask {
        id: String,
        kind: ErrorKind,
        message: String,
    },
    #[error("reading the state of container {id}: {message}")]
    State {
        id: String,
        kind: ErrorKind,
        message: String,
    },
    #[error("running a process in container {id}: {message}")]
    Exec {
        id: String,
        kind: ErrorKind,
        message: String,
    },
    #[error("subscribing to containerd events: {message}")]
    Events { kind: ErrorKind, message: String },
    #[error("reading container metrics: {message}")]
    Metrics { kind: ErrorKind, message: String },
    #[error("listing tasks: {message}")]
    ListTasks { kind: ErrorKind, message: String },
    #[error("listing the namespace's {message}")]
    List { kind: ErrorKind, message: String },
    #[error("asking containerd where it keeps images: {message}")]
    Introspect { kind: ErrorKind, message: String },
    /// containerd's socket is missing, refuses connections or answers UNAVAILABLE.
    #[error("containerd unavailable: {0}")]
    Unavailable(String),
}

impl RuntimeError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            RuntimeError::Unavailable(_) => ErrorKind::Unavailable,
            RuntimeError::InvalidSpec { .. } => ErrorKind::InvalidSpec,
            RuntimeError::Image(_) => ErrorKind::Other,
            RuntimeError::Pull { kind, .. }
            | RuntimeError::Create { kind, .. }
            | RuntimeError::Start { kind, .. }
            | RuntimeError::Kill { kind, .. }
            | RuntimeError::Remove { kind, .. }
            | RuntimeError::DeleteTask { kind, .. }
            | RuntimeError::State { kind, .. }
            | RuntimeError::Exec { kind, .. }
            | RuntimeError::Events { kind, .. }
            | RuntimeError::Metrics { kind, .. }
            | RuntimeError::ListTasks { kind, .. }
            | RuntimeError::List { kind, .. }
            | RuntimeError::Introspect { kind, .. } => *kind,
        }
    }

    /// True when the operation may succeed once containerd is back: the engine
    /// retries instead of failing the task.
    pub fn is_unavailable(&self) -> bool {
        self.kind() == ErrorKind::Unavailable
    }
}
