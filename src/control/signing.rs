//! SigV4 signing of the websocket upgrade requests (service `ecs`), as the Go
//! agent signs them.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("cannot build SigV4 signing parameters: {0}")]
    Params(String),
    #[error("cannot sign the request to {url}: {message}")]
    Sign { url: String, message: String },
}

/// Adds `Authorization`, `X-Amz-Date` (and `X-Amz-Security-Token`) to `req`.
pub fn sign_request(
    req: &mut http::Request<()>,
    credentials: &Credentials,
    region: &str,
    now: SystemTime,
) -> Result<(), SignError> {
    let identity: Identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("ecs")
        .time(now)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| SignError::Params(e.to_string()))?
        .into();
    let url = req.uri().to_string();
    let host = req
        .uri()
        .authority()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let headers = [("host", host.as_str())];
    let signable = SignableRequest::new(
        "GET",
        url.clone(),
        headers.into_iter(),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| SignError::Sign {
        url: url.clone(),
        message: e.to_string(),
    })?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| SignError::Sign {
            url,
            message: e.to_string(),
        })?
        .into_parts();
    instructions.apply_to_request_http1x(req);
    Ok(())
}
