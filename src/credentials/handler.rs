//! `GET /v2/credentials/<id>` and `GET /v1/credentials?id=<id>`, with the Go
//! agent's bodies and status codes, a source-address check, a rate limit and
//! an audit line per request.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Query, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;

use crate::config::RpsLimit;
use crate::token_bucket::TokenBuckets;

use super::store::{CredentialsStore, Lookup};
use super::{V1_PATH, V2_PATH};

/// tollbooth's default message, which the Go agent's limiter returns.
const LIMIT_MESSAGE: &str = "You have reached maximum request limit.";

/// Buckets kept before full ones are dropped.
const MAX_TRACKED_CALLERS: usize = 1024;

/// A bucket per caller address and path, the keys of the Go agent's
/// tollbooth limiter, so one noisy task cannot starve the others.
pub(crate) type Limiter = TokenBuckets<(Option<IpAddr>, String)>;

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: String,
    /// Go's ErrorMessage has this field untagged, so it is in every body.
    #[serde(rename = "HTTPErrorCode")]
    http_error_code: u16,
}

#[derive(Clone)]
struct App {
    store: CredentialsStore,
    limiter: Arc<Limiter>,
}

/// Takes one token from the caller's bucket for this path, if there is one.
pub(crate) fn try_acquire_at(
    limiter: &Limiter,
    caller: Option<IpAddr>,
    path: &str,
    now: std::time::Instant,
) -> bool {
    limiter.allow_at((caller.map(|c| c.to_canonical()), path.to_string()), now)
}

/// The credentials routes. Serve with
/// `into_make_service_with_connect_info::<SocketAddr>()` so the source check
/// sees the caller; without it, tasks with sources set are refused.
pub fn router(store: CredentialsStore, limit: RpsLimit) -> Router {
    let app = App {
        store,
        limiter: Arc::new(Limiter::new(limit, MAX_TRACKED_CALLERS)),
    };
    let a1 = app.clone();
    let a2 = app.clone();
    let a3 = app;
    Router::new()
        .route(V1_PATH, get(move |req: Request| v1(a1.clone(), req)))
        .route(
            &format!("{V2_PATH}/"),
            get(move |req: Request| v2(a2.clone(), req)),
        )
        .route(
            &format!("{V2_PATH}/{{*id}}"),
            get(move |req: Request| v2(a3.clone(), req)),
        )
}

fn caller_of(req: &Request) -> Option<SocketAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}

async fn v1(app: App, req: Request) -> Response {
    let id = Query::<HashMap<String, String>>::try_from_uri(req.uri())
        .ok()
        .and_then(|q| q.0.get("id").cloned())
        .unwrap_or_default();
    serve(
        &app,
        &id,
        caller_of(&req),
        req.uri().path(),
        "CredentialsV1Request: ",
    )
}

async fn v2(app: App, req: Request) -> Response {
    let id = req
        .uri()
        .path()
        .strip_prefix(V2_PATH)
        .and_then(|r| r.strip_prefix('/'))
        .unwrap_or_default()
        .to_string();
    serve(
        &app,
        &id,
        caller_of(&req),
        req.uri().path(),
        "CredentialsV2Request: ",
    )
}

fn json(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn error(status: StatusCode, code: &str, message: String) -> Response {
    let body = serde_json::to_vec(&ErrorBody {
        code,
        message,
        http_error_code: status.as_u16(),
    })
    .unwrap_or_else(|_| b"{}".to_vec());
    json(status, body)
}

fn audit(id: &str, task: &str, role_type: &str, caller: Option<SocketAddr>, status: StatusCode) {
    let caller = caller
        .map(|c| c.to_string())
        .unwrap_or_else(|| "unknown".into());
    tracing::info!(target: "ecs::audit", credentials = %super::fingerprint(id), task = %task, role_type,
        caller = %caller, status = status.as_u16(), "credentials request");
}

fn serve(app: &App, id: &str, caller: Option<SocketAddr>, path: &str, prefix: &str) -> Response {
    // tokio's clock, so that tests under a paused clock see it move.
    let now = tokio::time::Instant::now().into_std();
    if !try_acquire_at(&app.limiter, caller.map(|c| c.ip()), path, now) {
        audit(id, "", "", caller, StatusCode::TOO_MANY_REQUESTS);
        return (StatusCode::TOO_MANY_REQUESTS, LIMIT_MESSAGE).into_response();
    }
    if id.is_empty() {
        audit(id, "", "", caller, StatusCode::BAD_REQUEST);
        return error(
            StatusCode::BAD_REQUEST,
            "NoIdInRequest",
            format!("{prefix}No Credential ID in the request"),
        );
    }
    let ip: Option<IpAddr> = caller.map(|c| c.ip());
    match app.store.lookup(id, ip) {
        Lookup::NotFound => {
            audit(id, "", "", caller, StatusCode::BAD_REQUEST);
            error(
                StatusCode::BAD_REQUEST,
                "InvalidIdInRequest",
                format!("{prefix}Credentials not found"),
            )
        }
        Lookup::Uninitialized { task_arn } => {
            audit(id, &task_arn, "", caller, StatusCode::SERVICE_UNAVAILABLE);
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "CredentialsUninitialized",
                format!("{prefix}Credentials uninitialized for ID"),
            )
        }
        Lookup::Denied {
            task_arn,
            role_type,
        } => {
            audit(
                id,
                &task_arn,
                role_type.as_str(),
                caller,
                StatusCode::FORBIDDEN,
            );
            error(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                format!("{prefix}Credentials not available to this caller"),
            )
        }
        Lookup::Found { task_arn, creds } => match serde_json::to_vec(&creds.body()) {
            Ok(body) => {
                audit(
                    id,
                    &task_arn,
                    creds.role_type.as_str(),
                    caller,
                    StatusCode::OK,
                );
                json(StatusCode::OK, body)
            }
            Err(_) => {
                audit(
                    id,
                    &task_arn,
                    creds.role_type.as_str(),
                    caller,
                    StatusCode::INTERNAL_SERVER_ERROR,
                );
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalServerError",
                    "Internal server error".into(),
                )
            }
        },
    }
}
