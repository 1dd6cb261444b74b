//! Everything a pull into containerd can fail with: the registry side
//! (`image::RegistryError`, shown to users as is) or containerd itself.

use std::time::Duration;

use tonic::Code;

use crate::config::go_duration_string;
use crate::image::RegistryError;

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// Reference, registry, token, manifest or config.
    #[error(transparent)]
    Registry(#[from] RegistryError),

    /// containerd cannot be reached: the caller should retry later.
    #[error("containerd unavailable during {op}: {message}")]
    Unavailable { op: &'static str, message: String },

    /// The pull did not reach `transition` in time: `pullBegin` (the
    /// registry never answered with the manifest) or `pulled` (the whole
    /// pull, ECS_IMAGE_PULL_TIMEOUT). The Go agent's DockerTimeoutError words.
    #[error("Could not transition to {transition}; timed out after waiting {}", go_duration_string(*.after))]
    Timeout {
        transition: &'static str,
        after: Duration,
    },

    /// containerd's Transfer service failed the pull (2.x). `summary` is
    /// the cause in our own pull's words (`manifest unknown`,
    /// `unauthorized`) where containerd's message shows it, so that a
    /// task's stopped reason reads alike on every containerd.
    #[error("{reference}: {summary} (containerd: {message})")]
    Transfer {
        reference: String,
        summary: String,
        code: Code,
        message: String,
    },

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

    /// Whether another attempt may succeed. As in the Go agent, every pull
    /// failure is retried (a registry's 5xx, a broken or stalled download,
    /// even a 404, which a push may yet fix) except what cannot change: a
    /// malformed reference; containerd being unreachable, which the engine
    /// waits out itself; and a full disk under containerd (ours: the Go
    /// agent retries it too, for 14 s of backoff in which nothing frees space,
    /// and only then says so).
    pub fn is_retriable(&self) -> bool {
        !(matches!(
            self,
            PullError::Registry(RegistryError::Reference(_)) | PullError::Unavailable { .. }
        ) || self.is_disk_full())
    }

    /// containerd could not write the content or the unpacked layers: ENOSPC
    /// reaches the client only as this text in an Unknown status.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, PullError::Containerd { message, .. } | PullError::Transfer { message, .. } if message.contains("no space left on device"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_not_retried() {
        // As containerd 1.6 answers a content write on a full filesystem.
        let full = PullError::grpc(
            "content write",
            tonic::Status::unknown(
                "mkdir /var/lib/containerd/io.containerd.content.v1.content/ingest/150f: no space left on device",
            ),
        );
        assert!(full.is_disk_full() && !full.is_retriable(), "{full}");
        let other = PullError::grpc("content write", tonic::Status::unknown("short write"));
        assert!(!other.is_disk_full() && other.is_retriable());
    }
}
