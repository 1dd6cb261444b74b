//! Everything fetching an image from its registry can fail with (reference,
//! registry, token, manifest and config), worded for the user who has to act
//! on it: the engine shows it after `CannotPullContainerError:`. What the
//! runtime adds while storing the image is its own error
//! (`runtime::containerd::pull::PullError`).

use std::time::Duration;

use super::manifest::ManifestError;
use crate::task::image_ref::{Reference, ReferenceError};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
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

    /// The registry sent nothing for the inactivity timeout
    /// (ECS_IMAGE_PULL_INACTIVITY_TIMEOUT) while the pull waited for it.
    /// The words are the Go agent's, which users search for.
    #[error("inactivity time exceeded timeout while pulling image")]
    Inactive { registry: String, after: Duration },

    /// The registry ended a blob before its announced size (the connection
    /// closed or broke part-way).
    #[error("{reference}: content for {digest} from {registry} ended after {received} of {expected} bytes: {cause}")]
    Truncated {
        reference: String,
        registry: String,
        digest: String,
        received: u64,
        expected: u64,
        cause: String,
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
}

impl RegistryError {
    /// A manifest, index or config of `reference` we cannot use.
    pub fn manifest(reference: &Reference, e: ManifestError) -> RegistryError {
        match e {
            ManifestError::NoMatchingPlatform { wanted, available } => {
                RegistryError::NoMatchingPlatform {
                    reference: reference.to_string(),
                    wanted,
                    available,
                }
            }
            other => RegistryError::bad_image(reference, other),
        }
    }

    pub fn bad_image(reference: impl ToString, detail: impl ToString) -> RegistryError {
        RegistryError::BadImage {
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
