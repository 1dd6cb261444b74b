//! What every SDK call here shares: its time bound, its credentials, its
//! error text, and the key fetched secret values are found by.

use std::fmt;
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_sdk_ssm::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::credentials::RoleCredentials;

/// How long one AWS call may take, retries included.
pub(super) const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// A secret's identity among the fetched values (Go: GetSecretResourceCacheKey).
pub(super) fn key(value_from: &str, region: &str) -> String {
    format!("{value_from}_{region}")
}

pub(super) fn sdk_credentials(c: &RoleCredentials) -> Credentials {
    Credentials::new(
        c.access_key_id.clone(),
        c.secret_access_key.clone(),
        Some(c.session_token.clone()).filter(|t| !t.is_empty()),
        None,
        "task-execution-role",
    )
}

/// An SDK error as one line: the service's code and message when it sent
/// them (`AccessDeniedException: ...`), else the whole error chain.
pub(super) fn sdk_error_text<E, R>(e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug,
{
    match (e.code(), e.message()) {
        (Some(code), Some(msg)) => format!("{code}: {msg}"),
        (Some(code), None) => code.to_string(),
        _ => DisplayErrorContext(e).to_string(),
    }
}
