//! Request authentication: SigV4 against the one `--auth` key pair, or
//! nothing when ecs-local runs without `--auth`.

use super::app::{now_secs, Config};
use super::error::{ApiError, ErrorKind};
use super::sigv4::{self, SigV4Error, SignedRequest};
use axum::http::{HeaderMap, Method, Uri};

pub fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect()
}

/// Checks the request's signature when `--auth` is set.
pub fn check(
    cfg: &Config,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), ApiError> {
    let Some((ak, sk)) = &cfg.auth else {
        return Ok(());
    };
    let pairs = header_pairs(headers);
    let req = SignedRequest {
        method: method.as_str(),
        raw_path: uri.path(),
        raw_query: uri.query().unwrap_or(""),
        headers: &pairs,
        body,
    };
    let secret_for = |key: &str| (key == ak).then_some(sk.as_str());
    match sigv4::verify(&req, secret_for, now_secs() as i64) {
        Ok(_) => Ok(()),
        Err(e) => {
            let kind = match e {
                SigV4Error::Missing => ErrorKind::MissingAuthenticationToken,
                SigV4Error::Incomplete(_) => ErrorKind::IncompleteSignature,
                SigV4Error::UnknownAccessKey => ErrorKind::UnrecognizedClient,
                SigV4Error::Mismatch | SigV4Error::Expired(_) => ErrorKind::InvalidSignature,
            };
            tracing::warn!(path = %uri.path(), error = %e, "request refused: bad signature");
            Err(ApiError::new(kind, e.to_string()))
        }
    }
}
