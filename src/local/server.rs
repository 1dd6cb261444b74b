//! The HTTP front: the ECS JSON API on POST /, the websockets, and the
//! /debug test hooks.

use super::acs;
use super::api;
use super::app::App;
use super::auth;
use super::config::now_secs;
use super::debug;
use super::error::{ApiError, ErrorKind};
use super::refusal;
use super::strict_json;
use super::tcs;
use super::ws::request_host;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use std::sync::Arc;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", post(ecs_api).get(root))
        .route("/acs/ws", get(acs::handler))
        .route("/tcs/ws", get(tcs::handler))
        .route("/debug/stats", get(debug::stats))
        .route("/debug/forget-task", post(debug::forget_task))
        .route("/debug/acs-frame", post(debug::acs_frame))
        .route(
            "/debug/enis",
            post(debug::register_eni).get(debug::list_enis),
        )
        .route("/debug/credentials", get(debug::credentials))
        .route(
            "/debug/task-definitions-unchecked",
            post(debug::register_task_definition_unchecked),
        )
        .route("/debug/imds/latest/api/token", put(debug::imds_token))
        .route("/debug/imds/{*path}", get(debug::imds_get))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            debug_auth,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(refusal::BODY_LIMIT))
        .layer(axum::middleware::map_response(refusal::shape))
        .with_state(app)
}

/// Under `--auth`, the /debug hooks are signed like any API call: they hand
/// out task credentials and change state. The IMDS stand-in under
/// /debug/imds stays unsigned, as EC2's instance metadata service is (the
/// agent reads it without AWS credentials).
async fn debug_auth(
    State(app): State<Arc<App>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = req.uri().path();
    if !app.cfg.auth_on() || !path.starts_with("/debug/") || path.starts_with("/debug/imds/") {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, refusal::BODY_LIMIT).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    if let Err(e) = auth::check(&app.cfg, &parts.method, &parts.uri, &parts.headers, &bytes) {
        return e.into_response();
    }
    next.run(axum::extract::Request::from_parts(parts, bytes.into()))
        .await
}

/// No such route: an empty 404, given its JSON body by `refusal::shape`.
async fn not_found() -> StatusCode {
    StatusCode::NOT_FOUND
}

async fn root() -> &'static str {
    "ecs-local\n"
}

async fn ecs_api(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    // Off the async workers: the call parses and serializes up to a 64 KiB
    // definition, takes the state lock and writes the store (an fsync), and
    // the agents' websocket sessions must keep running meanwhile.
    let result = tokio::task::spawn_blocking(move || {
        handle_api(&app, &method, &uri, &headers, &body).map(|v| v.to_string())
    })
    .await
    .unwrap_or_else(|e| Err(ApiError::server(format!("request handler failed: {e}"))));
    let mut resp = match result {
        Ok(v) => {
            let mut r = (StatusCode::OK, v).into_response();
            r.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("application/x-amz-json-1.1"),
            );
            r
        }
        Err(e) => e.into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp
}

fn handle_api(
    app: &App,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<serde_json::Value, ApiError> {
    let caller = auth::authenticate(
        &app.cfg,
        |key| app.read(|st| auth::minted_key(st, key)),
        now_secs(),
        method,
        uri,
        headers,
        body,
    )?;
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::new(ErrorKind::UnknownOperation, "Missing X-Amz-Target header.")
        })?;
    let op = target.strip_prefix(api::TARGET_PREFIX).ok_or_else(|| {
        ApiError::new(
            ErrorKind::UnknownOperation,
            format!(
                "X-Amz-Target {target:?} is not an {}* operation.",
                api::TARGET_PREFIX
            ),
        )
    })?;
    let principal = auth::authorize(&caller, op)?;
    let json: serde_json::Value = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::json!({})
    } else {
        strict_json::parse(body).map_err(|e| {
            ApiError::new(
                ErrorKind::Serialization,
                format!("Request body is not valid JSON: {e}"),
            )
        })?
    };
    if !json.is_object() {
        return Err(ApiError::new(
            ErrorKind::Serialization,
            "Request body must be a JSON object.",
        ));
    }
    let req = api::prepare(op, json, &app.cfg.ecr_registries)?;
    let mut ctx = app.ctx(&request_host(app, headers));
    ctx.principal = principal;
    if let auth::Caller::Operator(signer) = caller {
        ctx.signer = signer;
    }
    let result = app.transact(&mut ctx, |st, ctx| api::dispatch_prepared(st, ctx, op, req));
    match &result {
        Ok(_) => tracing::debug!(op, "api call"),
        Err(e) => tracing::info!(op, error = %e, "api call failed"),
    }
    result
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
