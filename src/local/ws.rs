//! What the ACS and TCS websocket endpoints share: the signature check and the
//! upgrade that open every session, refusals in a shape the agent decodes,
//! and the host the agent addressed.

use super::app::App;
use super::auth;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// A refused websocket upgrade, with a body the agent can decode as an ACS
/// exception frame.
pub fn refuse(status: StatusCode, type_name: &str, message: &str) -> Response {
    tracing::warn!(type_name, message, "websocket refused");
    let body = serde_json::json!({"type": type_name, "message": {"message": message}});
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The access key that signed an upgrade request like any API call (with an
/// empty body; `None` without `--auth`), or the refusal if it is not signed.
pub fn signer(
    app: &App,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Option<String>, Box<Response>> {
    auth::check(&app.cfg, method, uri, headers, b"").map_err(|e| {
        Box::new(refuse(
            StatusCode::FORBIDDEN,
            "AccessDeniedException",
            &e.to_string(),
        ))
    })
}

/// The refusal, under `--auth`, of a session for `instance` signed by anyone
/// but the principal that registered it (`registered_by`): another key pair
/// could otherwise take over the instance's task payloads and credentials, or
/// report for it. `action` is the IAM action the session needs
/// (`ecs:Poll` for ACS, `ecs:StartTelemetrySession` for TCS).
pub fn not_the_registrant(
    signer: Option<&str>,
    registered_by: Option<&str>,
    instance: &str,
    action: &str,
) -> Option<Response> {
    let signer = signer?;
    // Instances registered before ecs-local recorded who registered them
    // have no registrant; any --auth key may open them.
    let owner = registered_by?;
    (signer != owner).then(|| {
        tracing::warn!(instance, signer, "websocket refused: not the instance's registrant");
        refuse(
            StatusCode::FORBIDDEN,
            "AccessDeniedException",
            &format!(
                "User {signer} is not authorized to perform: {action} on resource: {instance} because another principal registered that container instance"
            ),
        )
    })
}

/// The refusal for a request that does not really ask for a websocket.
pub fn not_an_upgrade(e: WebSocketUpgradeRejection) -> Response {
    refuse(
        StatusCode::BAD_REQUEST,
        "BadRequestException",
        &format!("not a websocket upgrade: {e}"),
    )
}

/// `host[:port]` the caller addressed, for endpoints handed back to agents.
pub fn request_host(app: &App, headers: &HeaderMap) -> String {
    headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| app.cfg.listen.to_string())
}
