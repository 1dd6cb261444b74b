//! The TCS websocket (/tcs/ws): takes the agent's telemetry and acks it.
//! Frames are a JSON envelope, optionally preceded (as the Go agent sends
//! them) by a signed HTTP header block and a blank line.

use super::app::App;
use super::state::Table;
use super::ws;
use crate::model::tcs::{
    AckPublishHealth, AckPublishInstanceStatus, AckPublishMetric, HeartbeatMessage,
    PublishHealthRequest, PublishMetricsRequest, TcsMessage,
};
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::time::Instant;

pub async fn handler(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let signer = match ws::signer(&app, &method, &uri, &headers) {
        Ok(s) => s,
        Err(refused) => return *refused,
    };
    let instance = query
        .as_ref()
        .ok()
        .and_then(|Query(q)| q.get("containerInstance"));
    if let Some(refused) = bound(&app, signer.as_deref(), instance) {
        return refused;
    }
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => return ws::not_an_upgrade(e),
    };
    let peer = uri.query().unwrap_or("").to_string();
    ws.on_upgrade(move |socket| session(app, socket, peer))
}

/// Under `--auth`, a TCS session is for one registered container instance
/// (the agent's `containerInstance` query parameter) and only its registrant
/// may open it.
fn bound(app: &App, signer: Option<&str>, instance: Option<&String>) -> Option<Response> {
    signer?;
    let instance = instance.cloned().unwrap_or_default();
    let Some(registered_by) =
        app.read(|st| st.instances.get(&instance).map(|i| i.registered_by.clone()))
    else {
        return Some(ws::refuse(
            StatusCode::FORBIDDEN,
            "AccessDeniedException",
            &format!("containerInstance {instance:?} is not a registered container instance"),
        ));
    };
    ws::not_the_registrant(
        signer,
        registered_by.as_deref(),
        &instance,
        "ecs:StartTelemetrySession",
    )
}

/// The JSON part of a frame: after the header block if there is one.
pub fn json_part(frame: &str) -> &str {
    let trimmed = frame.trim_start();
    if trimmed.starts_with('{') {
        return trimmed;
    }
    for sep in ["\r\n\r\n", "\n\n"] {
        if let Some((_, rest)) = trimmed.split_once(sep) {
            return rest.trim_start();
        }
    }
    trimmed
}

/// The reply a frame calls for, if any.
pub fn reply(app: &App, frame: &str) -> Option<TcsMessage> {
    match TcsMessage::decode(json_part(frame)) {
        Ok(TcsMessage::PublishMetrics(m)) => {
            record_metrics(app, &m, json_part(frame));
            tracing::debug!(tasks = m.task_metrics.len(), "metrics received");
            Some(TcsMessage::AckPublishMetric(AckPublishMetric {
                message: Some("ok".into()),
            }))
        }
        Ok(TcsMessage::PublishHealth(h)) => {
            app.tcs_stats.health.fetch_add(1, Ordering::Relaxed);
            let unknown = record_health(app, &h);
            if unknown > 0 {
                app.tcs_stats
                    .unknown_task_health
                    .fetch_add(unknown as u64, Ordering::Relaxed);
                tracing::debug!(unknown, "health for unknown tasks dropped");
            }
            tracing::debug!(tasks = h.tasks.len(), "health received");
            Some(TcsMessage::AckPublishHealth(AckPublishHealth {
                message: Some("ok".into()),
            }))
        }
        Ok(TcsMessage::PublishInstanceStatus(_)) => {
            app.tcs_stats
                .instance_status
                .fetch_add(1, Ordering::Relaxed);
            Some(TcsMessage::AckPublishInstanceStatus(
                AckPublishInstanceStatus {
                    message: Some("ok".into()),
                },
            ))
        }
        Ok(other) => {
            tracing::debug!(type_name = other.type_name(), "TCS message ignored");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "malformed TCS frame ignored");
            None
        }
    }
}

/// Keeps each known task's container health statuses (what describe-tasks
/// shows, the task's own derived from them as Amazon ECS derives it);
/// written to the store only when one changed. Returns how many task
/// entries named no task ecs-local knows (dropped, as for metrics).
fn record_health(app: &App, h: &PublishHealthRequest) -> usize {
    let mut ctx = app.ctx("");
    let recorded = app.transact(&mut ctx, |st, _| {
        let mut unknown = 0;
        let mut changed = Vec::new();
        for t in &h.tasks {
            let Some(rec) = t.task_arn.as_deref().and_then(|a| st.tasks.get_mut(a)) else {
                unknown += 1;
                continue;
            };
            let mut any = false;
            for c in &t.containers {
                let (Some(name), Some(status)) =
                    (c.container_name.as_deref(), c.health_status.as_deref())
                else {
                    continue;
                };
                // The model's HealthStatus enum; anything else is not kept.
                if !matches!(status, "HEALTHY" | "UNHEALTHY" | "UNKNOWN") {
                    continue;
                }
                if let Some(rc) = rec.containers.iter_mut().find(|x| x.name == name) {
                    if rc.health_status.as_deref() != Some(status) {
                        rc.health_status = Some(status.to_string());
                        any = true;
                    }
                }
            }
            if any {
                changed.push(rec.arn.clone());
            }
        }
        for arn in &changed {
            st.mark(Table::Tasks, arn);
        }
        Ok(unknown)
    });
    recorded.unwrap_or_else(|e| {
        tracing::warn!(error = ?e, "container health not recorded");
        0
    })
}

/// For each task ARN, whether ecs-local knows the task. Telemetry for
/// other tasks is dropped (and counted): an agent, or anyone who can open the
/// socket, could otherwise make ecs-local keep an entry per made-up ARN.
fn known_tasks<'a>(app: &App, arns: impl Iterator<Item = Option<&'a str>>) -> Vec<bool> {
    app.read(|st| {
        arns.map(|a| a.is_some_and(|a| st.tasks.contains_key(a)))
            .collect()
    })
}

/// Counts a PublishMetricsRequest for /debug/stats, keeping per-task figures
/// only for tasks ecs-local knows.
fn record_metrics(app: &App, m: &PublishMetricsRequest, json: &str) {
    let stats = &app.tcs_stats;
    stats.metrics.fetch_add(1, Ordering::Relaxed);
    stats
        .task_metrics
        .fetch_add(m.task_metrics.len() as u64, Ordering::Relaxed);
    if m.metadata.as_ref().and_then(|md| md.idle) == Some(true) {
        stats.idle.fetch_add(1, Ordering::Relaxed);
    }
    *stats.last_metrics.lock().unwrap_or_else(|e| e.into_inner()) = Some(json.to_string());
    let known = known_tasks(app, m.task_metrics.iter().map(|t| t.task_arn.as_deref()));
    let unknown = known.iter().filter(|k| !**k).count();
    if unknown > 0 {
        stats
            .unknown_task_metrics
            .fetch_add(unknown as u64, Ordering::Relaxed);
        tracing::debug!(unknown, "metrics for unknown tasks dropped");
    }
    let mut tasks = stats.tasks.lock().unwrap_or_else(|e| e.into_inner());
    for (t, _) in m.task_metrics.iter().zip(&known).filter(|(_, k)| **k) {
        let entry = tasks
            .entry(t.task_arn.clone().unwrap_or_default())
            .or_default();
        entry.frames += 1;
        for c in &t.container_metrics {
            if let Some(cpu) = &c.cpu_stats_set {
                entry.cpu_samples += cpu.sample_count.unwrap_or(0);
                entry.cpu_max = entry.cpu_max.max(cpu.max.unwrap_or(0.0));
            }
            if let Some(mem) = &c.memory_stats_set {
                entry.memory_max_mib = entry.memory_max_mib.max(mem.max.unwrap_or(0.0));
            }
            if let Some(n) = c.restart_stats_set.as_ref().and_then(|r| r.restart_count) {
                let name = c.container_name.clone().unwrap_or_default();
                *entry.restarts.entry(name).or_default() += n.max(0);
            }
        }
    }
}

async fn session(app: Arc<App>, socket: WebSocket, peer: String) {
    tracing::info!(query = %peer, "TCS session opened");
    let (mut sink, mut stream) = socket.split();
    let mut heartbeat =
        tokio::time::interval_at(Instant::now() + app.cfg.heartbeat, app.cfg.heartbeat);
    loop {
        tokio::select! {
            msg = stream.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t.as_str().to_string(),
                    Some(Ok(Message::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                if let Some(r) = reply(&app, &text) {
                    if sink.send(Message::Text(r.encode().into())).await.is_err() {
                        break;
                    }
                }
            }
            _ = heartbeat.tick() => {
                let hb = TcsMessage::Heartbeat(HeartbeatMessage { healthy: Some(true) });
                if sink.send(Message::Text(hb.encode().into())).await.is_err() {
                    break;
                }
            }
        }
    }
    tracing::info!(query = %peer, "TCS session closed");
}

#[cfg(test)]
#[path = "tcs_tests.rs"]
mod tests;
