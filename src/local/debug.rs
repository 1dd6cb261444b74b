//! Test hooks under /debug: counters, forgetting a task, registering stand-in
//! ENIs, the credentials minted for a task, a raw ACS frame for a connected
//! agent, and the EC2 instance metadata
//! stand-in (its behaviour in `imds`).

use super::api;
use super::app::App;
use super::config::now_secs;
use super::enis;
use super::imds;
use super::state::{OutMessage, Table, TaskEni};
use super::strict_json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

fn reply(status: StatusCode, body: Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// A refusal in AWS's JSON error shape (`__type`, `message`), with the
/// hooks' own `error` and `field` (when one is to blame) kept beside them.
fn error(status: StatusCode, field: Option<&str>, message: &str) -> Response {
    let type_name = match status {
        StatusCode::BAD_REQUEST => "InvalidParameterException",
        StatusCode::NOT_FOUND => "ResourceNotFoundException",
        _ => "ServerException",
    };
    let mut body = json!({ "__type": type_name, "message": message, "error": message });
    if let Some(f) = field {
        body["field"] = json!(f);
    }
    reply(status, body)
}

/// POST /debug/acs-frame?containerInstanceArn=ARN: sends the body, as it
/// is, as one text frame on the instance's open ACS session. Test-only: it
/// lets a test hand the agent a frame Amazon ECS would never send (a task
/// with a wrong-typed field) and see the agent survive it; under `--auth` it
/// needs a signature like the other hooks.
pub async fn acs_frame(
    State(app): State<Arc<App>>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let Some(instance) = q.get("containerInstanceArn").filter(|s| !s.is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            Some("containerInstanceArn"),
            "containerInstanceArn is required",
        );
    };
    let Ok(frame) = String::from_utf8(body.to_vec()) else {
        return error(
            StatusCode::BAD_REQUEST,
            Some("body"),
            "the frame must be UTF-8 text",
        );
    };
    if app.push_raw_frame(instance, frame) {
        StatusCode::ACCEPTED.into_response()
    } else {
        error(
            StatusCode::NOT_FOUND,
            Some("containerInstanceArn"),
            &format!("no open ACS session for {instance}"),
        )
    }
}

/// GET /debug/stats
pub async fn stats(State(app): State<Arc<App>>) -> Response {
    let body = app.read(|st| {
        let count =
            |f: fn(&OutMessage) -> bool| st.outbox.values().filter(|o| f(&o.message)).count();
        json!({
            "duplicateStateChanges": st.meta.duplicate_state_changes,
            "duplicateStateChangesByCluster": st.meta.duplicates_by_cluster,
            "pendingPayloads": count(|m| matches!(m, OutMessage::Payload(_))),
            "pendingEniAttachments": count(|m| matches!(m, OutMessage::AttachEnis(_))),
            "pendingCredentialRefreshes": count(|m| matches!(m, OutMessage::Credentials(_))),
            "eni_attachment_acks": st.meta.eni_attachment_acks,
            "credential_refresh_acks": st.meta.credential_refresh_acks,
        })
    });
    let mut body = body;
    body["connectedInstances"] = json!(app.connected_instances());
    body["tcs"] = json!({
        "metrics": app.tcs_stats.metrics.load(Ordering::Relaxed),
        "health": app.tcs_stats.health.load(Ordering::Relaxed),
        "instanceStatus": app.tcs_stats.instance_status.load(Ordering::Relaxed),
        "taskMetrics": app.tcs_stats.task_metrics.load(Ordering::Relaxed),
        "idle": app.tcs_stats.idle.load(Ordering::Relaxed),
        "unknownTaskMetrics": app.tcs_stats.unknown_task_metrics.load(Ordering::Relaxed),
        "unknownTaskHealth": app.tcs_stats.unknown_task_health.load(Ordering::Relaxed),
        "tasks": json!(*app.tcs_stats.tasks.lock().unwrap_or_else(|e| e.into_inner())),
        "lastMetrics": app.tcs_stats.last_metrics.lock().unwrap_or_else(|e| e.into_inner())
            .as_deref()
            .and_then(|t| serde_json::from_str::<Value>(t).ok()),
    });
    body["tcs_metrics_received"] = body["tcs"]["metrics"].clone();
    body["tcs_task_metrics_received"] = body["tcs"]["taskMetrics"].clone();
    reply(StatusCode::OK, body)
}

#[derive(serde::Deserialize)]
pub struct ForgetTask {
    task: String,
}

/// POST /debug/forget-task: the control plane loses a task record, as after a
/// control-plane data loss, so that agents' reconciliation through task
/// manifests can be seen.
pub async fn forget_task(
    State(app): State<Arc<App>>,
    axum::Json(req): axum::Json<ForgetTask>,
) -> Response {
    let mut ctx = app.ctx("");
    let found = app.transact(&mut ctx, |st, _| {
        let found = st.tasks.remove(&req.task).is_some();
        if found {
            st.mark(Table::Tasks, &req.task);
        }
        Ok(found)
    });
    match found {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => error(
            StatusCode::NOT_FOUND,
            Some("task"),
            &format!("no task {}", req.task),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, None, &e.to_string()),
    }
}

/// POST /debug/task-definitions-unchecked: RegisterTaskDefinition without
/// Amazon ECS's limits (10 containers, 64 KiB), so that a test can hand the
/// agent a task ECS itself would refuse and see the agent refuse it too.
/// Test-only; like the API, it parses the definition before taking the
/// state lock.
pub async fn register_task_definition_unchecked(
    State(app): State<Arc<App>>,
    body: Bytes,
) -> Response {
    let json = match strict_json::parse(&body) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, None, &e.to_string()),
    };
    let req = match api::prepare_task_definition_unchecked(json, &app.cfg.ecr_registries) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let mut ctx = app.ctx("");
    match app.transact(&mut ctx, |st, ctx| {
        api::dispatch_prepared(st, ctx, "RegisterTaskDefinition", req)
    }) {
        Ok(v) => reply(StatusCode::OK, v),
        Err(e) => e.into_response(),
    }
}

/// POST /debug/enis: registers an available ENI in a subnet. 201 with the
/// ENI (its `networkInterfaceId` included); 400 naming the field at fault.
pub async fn register_eni(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let req = match enis::parse_request(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, Some(&e.field), &e.to_string()),
    };
    let mut ctx = app.ctx("");
    let now = ctx.now;
    let result =
        app.transact(&mut ctx, |st, _| {
            Ok(enis::validate(st, &req, enis::new_eni_id(), now)
                .inspect(|rec| st.put_eni(rec.clone())))
        });
    match result {
        Ok(Ok(rec)) => {
            tracing::info!(eni = %rec.network_interface_id, subnet = %rec.subnet_id, mac = %rec.mac_address, ip = %rec.private_ipv4_address, "ENI registered");
            reply(StatusCode::CREATED, enis::render(&rec, None))
        }
        Ok(Err(e)) => error(StatusCode::BAD_REQUEST, Some(&e.field), &e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, None, &e.to_string()),
    }
}

/// GET /debug/enis: every registered ENI with `status` available or in-use
/// (and the `taskArn` holding it).
pub async fn list_enis(State(app): State<Arc<App>>) -> Response {
    let list = app.read(|st| {
        let holders: HashMap<&str, (&str, &TaskEni)> = st
            .tasks
            .values()
            .filter(|t| t.last_status != "STOPPED")
            .filter_map(|t| {
                t.eni
                    .as_ref()
                    .map(|e| (e.eni.network_interface_id.as_str(), (t.arn.as_str(), e)))
            })
            .collect();
        st.enis
            .values()
            .map(|e| enis::render_held(e, holders.get(e.network_interface_id.as_str()).copied()))
            .collect::<Vec<_>>()
    });
    reply(StatusCode::OK, json!({ "enis": list }))
}

/// GET /debug/credentials?taskArn=ARN: the credentials currently minted for
/// the task's roles (secrets included; `null` for a role it does not have).
pub async fn credentials(
    State(app): State<Arc<App>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(arn) = q.get("taskArn").filter(|a| !a.is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            Some("taskArn"),
            "taskArn is required",
        );
    };
    let found = app.read(|st| {
        st.tasks.get(arn).map(|t| {
            json!({
                "taskArn": t.arn,
                "roleCredentials": t.role_credentials.as_ref().map(|c| &c.credentials),
                "executionRoleCredentials": t.execution_role_credentials.as_ref().map(|c| &c.credentials),
            })
        })
    });
    match found {
        Some(body) => reply(StatusCode::OK, body),
        None => error(
            StatusCode::NOT_FOUND,
            Some("taskArn"),
            &format!("no task {arn}"),
        ),
    }
}

fn imds_text(status: StatusCode, body: String) -> Response {
    (status, [("content-type", "text/plain")], body).into_response()
}

fn imds_header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// PUT /debug/imds/latest/api/token
pub async fn imds_token(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let now = now_secs();
    match app.imds.issue(
        imds_header(&headers, imds::TOKEN_TTL_HEADER),
        now,
        &mut rand::rng(),
    ) {
        Ok((token, ttl)) => (
            StatusCode::OK,
            [
                ("content-type", "text/plain".to_string()),
                (imds::TOKEN_TTL_HEADER, ttl.to_string()),
            ],
            token,
        )
            .into_response(),
        Err(message) => imds_text(StatusCode::BAD_REQUEST, message),
    }
}

/// GET /debug/imds/latest/...: 401 without a valid token, 404 for a path the
/// stand-in does not know.
pub async fn imds_get(
    State(app): State<Arc<App>>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !app
        .imds
        .valid(imds_header(&headers, imds::TOKEN_HEADER), now_secs())
    {
        return imds_text(StatusCode::UNAUTHORIZED, "Unauthorized".into());
    }
    match path.strip_prefix("latest/").and_then(|p| app.imds.get(p)) {
        Some(body) => imds_text(StatusCode::OK, body),
        None => imds_text(StatusCode::NOT_FOUND, "Not Found".into()),
    }
}
