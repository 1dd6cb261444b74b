//! Everything a pull can fail with, worded for the user who has to act on it:
//! the engine shows it after `CannotPullContainerError:`.

use crate::task::image_ref::ReferenceError;

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(transparent)]
    Reference(#[from] ReferenceError),

    /// The registry could not be reached at all (DNS, TCP, TLS).
    #[error("cannot reach registry {registry}: {cause}")]
    Connect { registry: String, cause: String },

    /// The registry answered with an error; `message` is its own words
    /// (`manifest unknown`, `unauthorized: authentication required`, ...).
    #[error("{reference}: {message} (HTTP {status} from {registry})")]
    Registry {
        reference: String,
        registry: String,
        status: u16,
        message: String,
    },

    /// The token endpoint named by the registry's Bearer challenge refused us.
    #[error("{reference}: token request to {realm} failed: {message}")]
    Token {
        reference: String,
        realm: String,
        message: String,
    },

    /// Data from the registry does not match the digest that names it.
    #[error("{reference}: content for {expected} from {registry} has digest {actual}: refusing corrupted or tampered data")]
    DigestMismatch {
        reference: String,
        registry: String,
        expected: String,
        actual: String,
    },

    /// Data from the registry does not have the announced size.
    #[error(
        "{reference}: content for {digest} from {registry} has {actual} bytes, expected {expected}"
    )]
    SizeMismatch {
        reference: String,
        registry: String,
        digest: String,
        expected: u64,
        actual: u64,
    },

    /// A manifest, index or config we cannot use.
    #[error("{reference}: {detail}")]
    BadImage { reference: String, detail: String },

    /// The index lists no image for our platform.
    #[error(
        "{reference}: no image for platform {wanted} in the manifest list (it has: {available})"
    )]
    NoMatchingPlatform {
        reference: String,
        wanted: String,
        available: String,
    },

    /// containerd cannot be reached: the caller should retry later.
    #[error("containerd unavailable during {op}: {message}")]
    Unavailable { op: &'static str, message: String },

    /// containerd refused a call.
    #[error("containerd {op} failed: {code}: {message}")]
    Containerd {
        op: &'static str,
        code: String,
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
            tonic::Code::Unavailable => PullError::Unavailable { op, message },
            code => PullError::Containerd {
                op,
                code: format!("{code:?}"),
                message,
            },
        }
    }

    pub(crate) fn bad_image(reference: impl ToString, detail: impl ToString) -> PullError {
        PullError::BadImage {
            reference: reference.to_string(),
            detail: detail.to_string(),
        }
    }
}

/// `error` and all its sources in one line: reqwest's own Display hides the
/// part that says why (connection refused, certificate unknown, ...).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
