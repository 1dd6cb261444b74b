//! Everything a pull into containerd can fail with: the registry side
//! (`image::RegistryError`, shown to users as is) or containerd itself.

use tonic::Code;

use crate::image::RegistryError;

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// Reference, registry, token, manifest or config.
    #[error(transparent)]
    Registry(#[from] RegistryError),

    /// containerd cannot be reached: the caller should retry later.
    #[error("containerd unavailable during {op}: {message}")]
    Unavailable { op: &'static str, message: String },

    /// containerd refused a call.
    #[error("containerd {op} failed: {code:?}: {message}")]
    Containerd {
        op: &'static str,
        code: Code,
        message: String,
    },
}

impl PullError {
    /// Name the socket in "containerd unavailable" errors: that is what the
    /// operator checks first.
    pub(crate) fn with_socket(self, socket: &std::path::Path) -> PullError {
        match self {
            PullError::Unavailable { op, message } => PullError::Unavailable {
                op,
                message: format!("{message} (socket {})", socket.display()),
            },
            other => other,
        }
    }

    /// True when containerd itself could not be reached, so the pull may
    /// succeed later and the task should not fail because of it.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, PullError::Unavailable { .. })
    }

    /// Map a containerd gRPC status, keeping the codes that callers act on.
    pub(crate) fn grpc(op: &'static str, status: tonic::Status) -> PullError {
        let message = status.message().to_string();
        match status.code() {
            Code::Unavailable => PullError::Unavailable { op, message },
            code => PullError::Containerd { op, code, message },
        }
    }

    pub(crate) fn bad_image(reference: impl ToString, detail: impl ToString) -> PullError {
        PullError::Registry(RegistryError::bad_image(reference, detail))
    }
}
