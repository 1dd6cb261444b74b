//! The ACS websocket (/acs/ws): one session per connected agent. It delivers
//! queued messages (payloads, ENI attachments, credential refreshes), re-sending
//! each until the agent acknowledges it, sends heartbeats, and marks the
//! instance connected while open.

use super::api::lifecycle::{self, Acked};
use super::api::lookup_cluster_name;
use super::app::App;
use super::ws::{self, refuse, request_host};
use crate::model::acs::{
    AcsMessage, ExceptionMessage, HeartbeatMessage, TaskIdentifier, TaskManifestMessage,
    TaskStopVerificationAck,
};
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
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
    let Ok(Query(q)) = query else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "BadRequestException",
            "query string is malformed",
        );
    };
    let Some(instance) = q
        .get("containerInstanceArn")
        .filter(|s| !s.is_empty())
        .cloned()
    else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "BadRequestException",
            "containerInstanceArn is required",
        );
    };
    let found = app.read(|st| {
        st.instances.get(&instance).map(|i| {
            (
                i.status.clone(),
                i.cluster_arn.clone(),
                i.registered_by.clone(),
            )
        })
    });
    let Some((status, cluster_arn, registered_by)) = found else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "InvalidInstanceException",
            &format!("containerInstanceArn {instance} is not registered"),
        );
    };
    if let Some(refused) = ws::not_the_registrant(
        signer.as_deref(),
        registered_by.as_deref(),
        &instance,
        "ecs:Poll",
    ) {
        return refused;
    }
    if status == "INACTIVE" {
        return refuse(
            StatusCode::BAD_REQUEST,
            "InactiveInstanceException",
            &format!("container instance {instance} is deregistered"),
        );
    }
    if let Some(c) = q.get("clusterArn").filter(|s| !s.is_empty()) {
        if lookup_cluster_name(Some(c)) != lookup_cluster_name(Some(&cluster_arn)) {
            return refuse(
                StatusCode::BAD_REQUEST,
                "InvalidClusterException",
                &format!("container instance {instance} is not in cluster {c}"),
            );
        }
    }
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => return ws::not_an_upgrade(e),
    };
    tracing::info!(
        instance = %instance,
        agent_version = q.get("agentVersion").map(String::as_str).unwrap_or(""),
        docker_version = q.get("dockerVersion").map(String::as_str).unwrap_or(""),
        seq_num = q.get("seqNum").map(String::as_str).unwrap_or(""),
        host = %request_host(&app, &headers),
        "ACS session opening"
    );
    record_versions(&app, &instance, &q);
    let send_credentials = wants_credentials(&q);
    ws.on_upgrade(move |socket| session(app, socket, instance, send_credentials))
}

/// The connect query's `sendCredentials`: the Go agent sets it on its first
/// connection after it starts (it keeps credentials in memory only) and
/// clears it for reconnects (ecs-agent/acs/session/session.go, "rely on ACS
/// to send credentials to Agent at its own cadence"); ACS then sends the
/// credentials of every task on the instance at once.
fn wants_credentials(q: &HashMap<String, String>) -> bool {
    q.get("sendCredentials")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The ACS connect query's version parameters and the `versionInfo` member
/// each fills. The Go agent sends no versionInfo with
/// RegisterContainerInstance; Amazon ECS takes it from this query
/// (ecs-agent/acs/session/session.go, `acsURL`).
const VERSION_PARAMS: [(&str, &str); 3] = [
    ("agentVersion", "agentVersion"),
    ("agentHash", "agentHash"),
    ("dockerVersion", "dockerVersion"),
];

/// `versionInfo` updated with what the connect query says; parameters that
/// are missing or empty leave the registered value alone.
pub(crate) fn merge_version_info(
    old: &serde_json::Value,
    q: &HashMap<String, String>,
) -> serde_json::Value {
    let mut m = old.as_object().cloned().unwrap_or_default();
    for (param, member) in VERSION_PARAMS {
        if let Some(v) = q.get(param).filter(|v| !v.is_empty()) {
            m.insert(member.to_string(), serde_json::Value::String(v.clone()));
        }
    }
    serde_json::Value::Object(m)
}

fn record_versions(app: &App, instance: &str, q: &HashMap<String, String>) {
    let mut ctx = app.ctx("");
    let result = app.transact(&mut ctx, |st, _| {
        if let Some(mut i) = st.instances.get(instance).cloned() {
            let merged = merge_version_info(&i.version_info, q);
            if merged != i.version_info {
                i.version_info = merged;
                st.put_instance(i);
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        tracing::error!(instance, error = %e, "recording the agent's versions failed");
    }
}

type Sink = SplitSink<WebSocket, Message>;

fn set_connected(app: &App, instance: &str, connected: bool) {
    let mut ctx = app.ctx("");
    let result = app.transact(&mut ctx, |st, _| {
        if let Some(mut i) = st.instances.get(instance).cloned() {
            if i.agent_connected != connected {
                i.agent_connected = connected;
                st.put_instance(i);
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        tracing::error!(instance, error = %e, "recording agent connection failed");
    }
}

fn resend_credentials(app: &App, instance: &str) {
    let mut ctx = app.ctx("");
    match app.transact(&mut ctx, |st, ctx| {
        Ok(super::refresh::resend_on_connect(st, ctx, instance))
    }) {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            instance,
            credentials = n,
            "re-sending task credentials to the reconnected agent"
        ),
        Err(e) => {
            tracing::error!(instance, error = %e, "queueing credentials for the reconnected agent failed")
        }
    }
}

async fn send(sink: &mut Sink, msg: &AcsMessage) -> bool {
    sink.send(Message::Text(msg.encode().into())).await.is_ok()
}

/// Sends messages not yet sent on this session, and (when `resend_due`) those
/// sent at least `resend` ago and still unacknowledged, in the order queued.
async fn flush_outbox(
    app: &App,
    instance: &str,
    sink: &mut Sink,
    sent: &mut HashMap<String, Instant>,
    resend_due: bool,
) -> bool {
    let mut pending = app.read(|st| {
        st.outbox
            .values()
            .filter(|o| o.instance_arn == instance)
            .map(|o| {
                let seq = o.payload().and_then(|p| p.seq_num);
                ((o.order, seq), o.message_id.clone(), o.message.to_acs())
            })
            .collect::<Vec<_>>()
    });
    pending.sort_by_key(|p| p.0);
    sent.retain(|id, _| pending.iter().any(|(_, p, _)| p == id));
    let now = Instant::now();
    for (_, id, msg) in pending {
        let due = match sent.get(&id) {
            None => true,
            Some(at) => resend_due && now.duration_since(*at) >= app.cfg.resend,
        };
        if !due {
            continue;
        }
        let again = sent.contains_key(&id);
        if !send(sink, &msg).await {
            return false;
        }
        tracing::info!(instance, message_id = %id, type_name = msg.type_name(), resend = again, "message sent");
        sent.insert(id, now);
    }
    true
}

/// Records an acknowledgement (`credentials`: it was an
/// IAMRoleCredentialsAckRequest).
fn record_ack(app: &App, instance: &str, id: &str, credentials: bool) {
    let mut ctx = app.ctx("");
    match app.transact(&mut ctx, |st, _| {
        Ok(lifecycle::ack(st, instance, id, credentials))
    }) {
        Ok(Some(Acked::Payload)) => {
            tracing::info!(instance, message_id = %id, "payload acknowledged")
        }
        Ok(Some(Acked::EniAttachment)) => {
            tracing::info!(instance, message_id = %id, "ENI attachment acknowledged")
        }
        Ok(Some(Acked::Credentials)) => {
            tracing::info!(instance, message_id = %id, "credentials refresh acknowledged")
        }
        Ok(None) => tracing::debug!(instance, message_id = %id, "ack for no pending message"),
        Err(e) => tracing::error!(instance, error = %e, "recording ack failed"),
    }
}

/// What the control plane believes runs on the instance, so the agent can stop
/// whatever it runs that the control plane no longer knows.
fn manifest(app: &App, instance: &str) -> AcsMessage {
    let (cluster_arn, tasks) = app.read(|st| {
        let cluster = st.instances.get(instance).map(|i| i.cluster_arn.clone());
        let tasks = st
            .tasks
            .values()
            .filter(|t| t.container_instance_arn == instance && t.last_status != "STOPPED")
            .map(|t| TaskIdentifier {
                task_arn: Some(t.arn.clone()),
                task_cluster_arn: Some(t.cluster_arn.clone()),
                desired_status: Some(t.desired_status.clone()),
            })
            .collect();
        (cluster, tasks)
    });
    AcsMessage::TaskManifest(TaskManifestMessage {
        container_instance_arn: Some(instance.to_string()),
        cluster_arn,
        tasks,
        generated_at: Some(now_millis()),
        message_id: Some(uuid::Uuid::new_v4().to_string()),
        timeline: Some(now_millis()),
    })
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The agent proposes tasks to stop; confirm those this control plane does not
/// want running (unknown to it, placed elsewhere, or desired STOPPED).
fn verify_stop(app: &App, instance: &str, candidates: &[TaskIdentifier]) -> Vec<TaskIdentifier> {
    app.read(|st| {
        candidates
            .iter()
            .filter(|c| {
                let Some(arn) = c.task_arn.as_deref() else {
                    return false;
                };
                match st.tasks.get(arn) {
                    None => true,
                    Some(t) => {
                        t.container_instance_arn != instance || t.desired_status == "STOPPED"
                    }
                }
            })
            .cloned()
            .collect()
    })
}

/// Handles one frame from the agent; some need an answer.
fn handle_frame(app: &App, instance: &str, text: &str) -> Option<AcsMessage> {
    match AcsMessage::decode(text) {
        Ok(AcsMessage::TaskStopVerification(v)) => {
            let stop_tasks = verify_stop(app, instance, &v.stop_candidates);
            tracing::info!(
                instance,
                candidates = v.stop_candidates.len(),
                confirmed = stop_tasks.len(),
                "task stop verification"
            );
            return Some(AcsMessage::TaskStopVerificationAck(
                TaskStopVerificationAck {
                    generated_at: Some(now_millis()),
                    message_id: v.message_id,
                    stop_tasks,
                },
            ));
        }
        Ok(AcsMessage::Ack(a)) => {
            let Some(id) = a.message_id else {
                tracing::warn!(instance, "AckRequest without messageId ignored");
                return None;
            };
            record_ack(app, instance, &id, false);
        }
        Ok(AcsMessage::IamRoleCredentialsAck(a)) => {
            let Some(id) = a.message_id else {
                tracing::warn!(
                    instance,
                    "IAMRoleCredentialsAckRequest without messageId ignored"
                );
                return None;
            };
            tracing::debug!(instance, message_id = %id, credentials_id = ?a.credentials_id, expiration = ?a.expiration, "credentials ack");
            record_ack(app, instance, &id, true);
        }
        Ok(AcsMessage::HeartbeatAck(_)) => tracing::trace!(instance, "heartbeat acknowledged"),
        Ok(AcsMessage::Nack(n)) => {
            tracing::warn!(instance, message_id = ?n.message_id, reason = ?n.reason, "agent refused a message")
        }
        Ok(AcsMessage::Unknown { type_name }) => {
            tracing::debug!(instance, type_name, "unknown ACS message ignored")
        }
        Ok(other) => tracing::debug!(
            instance,
            type_name = other.type_name(),
            "ACS message ignored"
        ),
        Err(e) => tracing::warn!(instance, error = %e, "malformed ACS frame ignored"),
    }
    None
}

async fn session(app: Arc<App>, socket: WebSocket, instance: String, send_credentials: bool) {
    let (generation, notify) = app.open_session(&instance);
    set_connected(&app, &instance, true);
    if send_credentials {
        resend_credentials(&app, &instance);
    }
    let (mut sink, mut stream) = socket.split();
    let mut sent: HashMap<String, Instant> = HashMap::new();
    let mut heartbeat =
        tokio::time::interval_at(Instant::now() + app.cfg.heartbeat, app.cfg.heartbeat);
    let tick = app
        .cfg
        .resend
        .min(app.cfg.heartbeat)
        .max(std::time::Duration::from_millis(100));
    let mut resend = tokio::time::interval_at(Instant::now() + tick, tick);
    let mut manifests =
        tokio::time::interval_at(Instant::now() + app.cfg.manifest, app.cfg.manifest);
    let mut open = flush_outbox(&app, &instance, &mut sink, &mut sent, false).await;
    while open {
        tokio::select! {
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    if let Some(reply) = handle_frame(&app, &instance, t.as_str()) {
                        open = send(&mut sink, &reply).await;
                    }
                }
                Some(Ok(Message::Binary(b))) => match std::str::from_utf8(&b) {
                    Ok(t) => {
                        if let Some(reply) = handle_frame(&app, &instance, t) {
                            open = send(&mut sink, &reply).await;
                        }
                    }
                    Err(_) => tracing::warn!(instance = %instance, "non-UTF-8 binary frame ignored"),
                },
                Some(Ok(Message::Close(_))) | None => open = false,
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::info!(instance = %instance, error = %e, "ACS read failed");
                    open = false;
                }
            },
            _ = notify.notified() => {
                if !app.session_is_current(&instance, generation) {
                    tracing::info!(instance = %instance, "ACS session replaced by a newer one");
                    break;
                }
                let inactive = app.read(|st| st.instances.get(&instance).is_none_or(|i| i.status == "INACTIVE"));
                if inactive {
                    let msg = AcsMessage::InactiveInstance(ExceptionMessage {
                        message: Some(format!("container instance {instance} is deregistered")),
                    });
                    let _ = send(&mut sink, &msg).await;
                    break;
                }
                for frame in app.take_raw_frames(&instance, generation) {
                    tracing::info!(instance = %instance, bytes = frame.len(), "raw debug frame sent");
                    open = open && sink.send(Message::Text(frame.into())).await.is_ok();
                }
                open = open && flush_outbox(&app, &instance, &mut sink, &mut sent, false).await;
            }
            _ = heartbeat.tick() => {
                let hb = AcsMessage::Heartbeat(HeartbeatMessage {
                    healthy: Some(true),
                    message_id: Some(uuid::Uuid::new_v4().to_string()),
                });
                open = send(&mut sink, &hb).await;
            }
            _ = manifests.tick() => {
                open = send(&mut sink, &manifest(&app, &instance)).await;
            }
            _ = resend.tick() => {
                open = flush_outbox(&app, &instance, &mut sink, &mut sent, true).await;
            }
        }
    }
    let _ = sink.send(Message::Close(None)).await;
    if app.close_session(&instance, generation) {
        set_connected(&app, &instance, false);
    }
    tracing::info!(instance = %instance, "ACS session closed");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn credentials_are_sent_again_when_the_connect_query_asks() {
        let q = |v: Option<&str>| -> HashMap<String, String> {
            v.map(|v| ("sendCredentials".to_string(), v.to_string()))
                .into_iter()
                .collect()
        };
        // Go's strconv.FormatBool: "true" on the first connection, "false" after.
        assert!(wants_credentials(&q(Some("true"))));
        assert!(!wants_credentials(&q(Some("false"))));
        assert!(!wants_credentials(&q(None)));
    }

    #[test]
    fn version_info_comes_from_the_connect_query() {
        // The query the Go agent 1.105 sends (ecs-agent/acs/session/session.go
        // acsURL, formatDockerVersion): Docker's version behind "DockerVersion: ".
        let q: HashMap<String, String> = [
            ("agentHash", "7ab4c1b0"),
            ("agentVersion", "1.105.0"),
            ("dockerVersion", "DockerVersion: 25.0.8"),
            ("seqNum", "1"),
            ("protocolVersion", "2"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            merge_version_info(&json!({}), &q),
            json!({"agentHash": "7ab4c1b0", "agentVersion": "1.105.0",
                   "dockerVersion": "DockerVersion: 25.0.8"})
        );
        // Missing or empty parameters keep what registration gave.
        let mut partial = HashMap::new();
        partial.insert("agentVersion".to_string(), "2.0.0".to_string());
        partial.insert("agentHash".to_string(), String::new());
        assert_eq!(
            merge_version_info(&json!({"agentHash": "h", "agentVersion": "1"}), &partial),
            json!({"agentHash": "h", "agentVersion": "2.0.0"})
        );
    }
}
