//! SigV4 signing of the websocket upgrade requests (service `ecs`), as the Go
//! agent signs them.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SigningInstructions, SigningSettings,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::ecs_client::{ControlError, EcsClient};

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
    let url = req.uri().to_string();
    let host = req
        .uri()
        .authority()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let instructions = sign_get(&url, &host, &[], credentials, region, now)?;
    instructions.apply_to_request_http1x(req);
    Ok(())
}

/// SigV4 (service `ecs`) of `GET url` with the `host` header and `body`: the
/// headers to add. The websocket upgrade signs an empty body; TCS signs each
/// frame's JSON this way too.
pub(crate) fn sign_get(
    url: &str,
    host: &str,
    body: &[u8],
    credentials: &Credentials,
    region: &str,
    now: SystemTime,
) -> Result<SigningInstructions, SignError> {
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
    let failed = |e: &dyn std::fmt::Display| SignError::Sign {
        url: url.to_string(),
        message: e.to_string(),
    };
    let signable = SignableRequest::new(
        "GET",
        url,
        [("host", host)].into_iter(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| failed(&e))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| failed(&e))?
        .into_parts();
    Ok(instructions)
}

/// Opens the websocket at `url` with its upgrade signed by the agent's
/// credentials (ACS and TCS both).
pub(crate) async fn connect_signed<E>(
    ecs: &EcsClient,
    url: &str,
) -> Result<WebSocketStream<MaybeTlsStream<TcpStream>>, E>
where
    E: From<ControlError> + From<SignError> + From<tokio_tungstenite::tungstenite::Error>,
{
    let mut request = url.into_client_request()?;
    let credentials = ecs.credentials().await?;
    sign_request(&mut request, &credentials, ecs.region(), SystemTime::now())?;
    let (ws, _) = tokio_tungstenite::connect_async(request).await?;
    Ok(ws)
}
