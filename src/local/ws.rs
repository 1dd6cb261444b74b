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

/// The refusal for an upgrade request that is not signed like any API call
/// (with an empty body), if it is not.
pub fn unsigned(app: &App, method: &Method, uri: &Uri, headers: &HeaderMap) -> Option<Response> {
    auth::check(&app.cfg, method, uri, headers, b"")
        .err()
        .map(|e| {
            refuse(
                StatusCode::FORBIDDEN,
                "AccessDeniedException",
                &e.to_string(),
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
