//! Task metadata v3 and v4 routes (`/v3/<token>...`, `/v4/<token>...`), with
//! the Go agent's status codes and error bodies (a JSON string).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{Map, Value};

use super::ratelimit::RateLimiter;
use super::stats::docker::{DockerStats, NetworkRateJson};
use super::tags::{TagsApi, TagsError};
use super::tmds_json::ErrorJson;
use super::tmds_json::{container_json, task_json};
use crate::observe::metadata_json::Version;
use crate::observe::stats::ContainerSample;
use crate::observe::stats_store::StatsStore;
use crate::observe::view::{ContainerView, Snapshot, TaskSource, TaskView};

#[derive(Clone)]
struct Tmds {
    source: Arc<dyn TaskSource>,
    stats: Arc<StatsStore>,
    /// `/taskWithTags` asks the control plane; without it, the configured
    /// instance tags (ECS_CONTAINER_INSTANCE_TAGS) are shown.
    tags: Option<Arc<dyn TagsApi>>,
}

/// The task metadata routes, rate limited by `limiter` (shared with the
/// other routes of the 169.254.170.2 listener). The router has no fallback,
/// so it can be merged with the credentials router.
pub fn metadata_router(
    source: Arc<dyn TaskSource>,
    stats: Arc<StatsStore>,
    limiter: Arc<RateLimiter>,
) -> Router {
    metadata_router_with_tags(source, stats, limiter, None)
}

/// [`metadata_router`] whose `/taskWithTags` asks `tags` (the control
/// plane's ListTagsForResource) for the task's and the instance's tags.
pub fn metadata_router_with_tags(
    source: Arc<dyn TaskSource>,
    stats: Arc<StatsStore>,
    limiter: Arc<RateLimiter>,
    tags: Option<Arc<dyn TagsApi>>,
) -> Router {
    let state = Tmds {
        source,
        stats,
        tags,
    };
    let routes = Router::new()
        .route("/v3/{token}", get(v3_container))
        .route("/v3/{token}/task", get(v3_task))
        .route("/v3/{token}/taskWithTags", get(v3_task_with_tags))
        .route("/v3/{token}/stats", get(v3_container_stats))
        .route("/v3/{token}/task/stats", get(v3_task_stats))
        .route("/v4/{token}", get(v4_container))
        .route("/v4/{token}/task", get(v4_task))
        .route("/v4/{token}/taskWithTags", get(v4_task_with_tags))
        .route("/v4/{token}/stats", get(v4_container_stats))
        .route("/v4/{token}/task/stats", get(v4_task_stats))
        .with_state(state);
    limiter.apply(routes)
}

/// A JSON body; errors are a JSON string, as Go's `json.Marshal(msg)`.
fn json<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            bytes,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode task metadata");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                "{}",
            )
                .into_response()
        }
    }
}

fn no_task_reason(token: &str) -> String {
    format!(
        "unable to get task arn from request: unable to get task Arn from v3 endpoint ID: {token}"
    )
}

fn no_container_reason(token: &str) -> String {
    format!(
        "unable to get container ID from request: unable to get docker ID from v3 endpoint ID: {token}"
    )
}

/// The container a token names, only once the runtime has created it.
fn created_container<'a>(
    snap: &'a Snapshot,
    token: &str,
) -> Option<(&'a TaskView, &'a ContainerView)> {
    snap.by_token(token)
        .filter(|(_, c)| !c.runtime_id.is_empty())
}

fn container(state: &Tmds, token: &str, v: Version) -> Response {
    let snap = state.source.snapshot();
    match created_container(&snap, token) {
        Some((task, c)) => json(StatusCode::OK, &container_json(task, c, v)),
        None => match v {
            Version::V4 => json(
                StatusCode::NOT_FOUND,
                &format!(
                    "V4 container metadata handler: {}",
                    no_container_reason(token)
                ),
            ),
            Version::V3 => json(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!(
                    "V3 container metadata handler: {}",
                    no_container_reason(token)
                ),
            ),
        },
    }
}

fn task(state: &Tmds, token: &str, v: Version, with_tags: bool) -> Response {
    let snap = state.source.snapshot();
    match snap.by_token(token) {
        Some((task, _)) => json(StatusCode::OK, &task_json(&snap.agent, task, v, with_tags)),
        None => match v {
            Version::V4 => json(
                StatusCode::NOT_FOUND,
                &format!("V4 task metadata handler: {}", no_task_reason(token)),
            ),
            Version::V3 => json(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("V3 task metadata handler: {}", no_task_reason(token)),
            ),
        },
    }
}

/// `/taskWithTags`: the task, with the tags the control plane has for it
/// and for this instance, looked up now (as the Go agent). A failed lookup
/// leaves its tags out and is described in `Errors`.
async fn task_with_tags(state: &Tmds, token: &str, v: Version) -> Response {
    let Some(api) = state.tags.clone() else {
        return task(state, token, v, true);
    };
    let snap = state.source.snapshot();
    let Some((t, _)) = snap.by_token(token) else {
        return task(state, token, v, true);
    };
    let mut body = task_json(&snap.agent, t, v, true);
    let instance_arn = snap.agent.container_instance_arn.clone();
    let task_arn = t.arn.clone();
    let instance = async {
        match &instance_arn {
            Some(arn) => Some(api.tags(arn.clone()).await),
            None => None,
        }
    };
    let (instance_tags, task_tags) = tokio::join!(instance, api.tags(task_arn.clone()));
    let mut fill = |field: &str, arn: &str, result: Result<Vec<(String, String)>, TagsError>| {
        match result {
            Ok(tags) => Some(tags.into_iter().collect()),
            Err(e) => {
                tracing::warn!(field, resource = %arn, code = %e.code, message = %e.message, "cannot list tags for task metadata");
                body.errors.push(ErrorJson {
                    error_field: field.to_string(),
                    error_code: e.code,
                    error_message: e.message,
                    status_code: e.status,
                    request_id: e.request_id.unwrap_or_default(),
                    resource_arn: arn.to_string(),
                });
                None
            }
        }
    };
    let instance_map = match (instance_tags, &instance_arn) {
        (Some(r), Some(arn)) => fill("ContainerInstanceTags", arn, r),
        _ => None,
    };
    let task_map = fill("TaskTags", &task_arn, task_tags);
    if let Some(m) = instance_map {
        body.container_instance_tags = m;
    } else {
        body.container_instance_tags.clear();
    }
    if let Some(m) = task_map {
        body.task_tags = m;
    }
    json(StatusCode::OK, &body)
}

fn stats_value(sample: &ContainerSample, v: Version) -> Value {
    let mut value = serde_json::to_value(DockerStats::from_sample(sample)).unwrap_or(Value::Null);
    if v == Version::V4 {
        if let (Value::Object(obj), Some(rate)) = (&mut value, sample.network_rate) {
            obj.insert(
                "network_rate_stats".into(),
                serde_json::to_value(NetworkRateJson::from(rate)).unwrap_or(Value::Null),
            );
        }
    }
    value
}

fn container_stats(state: &Tmds, token: &str, v: Version) -> Response {
    let snap = state.source.snapshot();
    let (prefix, lookup_status) = match v {
        Version::V4 => ("V4 container stats handler", StatusCode::NOT_FOUND),
        Version::V3 => ("V3 container stats handler", StatusCode::BAD_REQUEST),
    };
    let Some((_, c)) = snap.by_token(token) else {
        return json(
            lookup_status,
            &format!("{prefix}: {}", no_task_reason(token)),
        );
    };
    if c.runtime_id.is_empty() {
        return json(
            lookup_status,
            &format!("{prefix}: {}", no_container_reason(token)),
        );
    }
    match state.stats.get(&c.runtime_id) {
        Some(s) => json(StatusCode::OK, &stats_value(&s, v)),
        None => {
            let status = match v {
                Version::V4 => StatusCode::INTERNAL_SERVER_ERROR,
                Version::V3 => StatusCode::BAD_REQUEST,
            };
            json(
                status,
                &format!("Unable to get container stats for: {}", c.runtime_id),
            )
        }
    }
}

fn task_stats(state: &Tmds, token: &str, v: Version) -> Response {
    let snap = state.source.snapshot();
    let Some((task, _)) = snap.by_token(token) else {
        let (prefix, status) = match v {
            Version::V4 => ("V4 task stats handler", StatusCode::NOT_FOUND),
            Version::V3 => ("V3 task stats handler", StatusCode::BAD_REQUEST),
        };
        return json(status, &format!("{prefix}: {}", no_task_reason(token)));
    };
    let mut out = Map::new();
    for c in task.containers.iter().filter(|c| !c.runtime_id.is_empty()) {
        // Go: v4 shows `{}` for a container without stats, v3 `null`.
        let value = match (state.stats.get(&c.runtime_id), v) {
            (Some(s), _) => stats_value(&s, v),
            (None, Version::V4) => Value::Object(Map::new()),
            (None, Version::V3) => Value::Null,
        };
        out.insert(c.runtime_id.clone(), value);
    }
    json(StatusCode::OK, &Value::Object(out))
}

async fn v3_container(State(s): State<Tmds>, Path(token): Path<String>) -> Response {
    container(&s, &token, Version::V3)
}
async fn v3_task(State(s): State<Tmds>, Path(token): Path<String>) -> Response {
    task(&s, &token, Version::V3, false)
}
async fn v3_task_with_tags(State(s): State<Tmds>, Path(token): Path<String>) -> Response {
    task_with_tags(&s, &token, Version::V3).await
}
async fn v3_container_stats(State(s): State<Tmds>, Path(token): Path<String>) -> Response {
    container_stats(&s, &token, Version::V3)
}
async fn v3_task_stats(State(s): State<Tmds>, Path(token): Path<String>) -> Response {
    task_stats(&s, &token, Version::V3)
}
async fn v4_container(State(s): State<Tmds>, Path(token): Path<String>) -> Response {
    container(&s, &token, Version::V4)
}
async fn v4_task(State(s): State<Tmds>, Path(token): Path<String>) -> Response {
    task(&s, &token, Version::V4, false)
}
async fn v4_task_with_tags(State(s): State<Tmds>, Path(token): Path<String>) -> Response {
    task_with_tags(&s, &token, Version::V4).await
}
async fn v4_container_stats(State(s): State<Tmds>, Path(token): Path<String>) -> Response {
    container_stats(&s, &token, Version::V4)
}
async fn v4_task_stats(State(s): State<Tmds>, Path(token): Path<String>) -> Response {
    task_stats(&s, &token, Version::V4)
}
