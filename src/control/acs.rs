//! The ACS session: a SigV4-signed websocket on which the control plane sends
//! tasks and heartbeats, kept open for as long as the agent runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::credentials::RoleType;
use crate::engine::Engine;
use crate::model::acs::{
    AckRequest, AcsMessage, HeartbeatAckRequest, IamRoleCredentialsAckRequest, TaskIdentifier,
    TaskStopVerificationMessage,
};
use crate::runtime::ContainerRuntime;

use super::acs_url::{acs_url, AcsQuery};
use super::ecs_client::EcsClient;
use super::signing::connect_signed;
use crate::backoff::Backoff;

/// Without any message for this long (plus jitter) the connection is deemed
/// dead and replaced, as the Go agent does with its heartbeat timeout.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// A connection that lasted this long resets the reconnect backoff.
const HEALTHY_CONNECTION: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum AcsError {
    #[error(transparent)]
    Control(#[from] super::ecs_client::ControlError),
    #[error(transparent)]
    Url(#[from] super::acs_url::UrlError),
    #[error(transparent)]
    Sign(#[from] super::signing::SignError),
    #[error("websocket: {0}")]
    Websocket(#[from] tokio_tungstenite::tungstenite::Error),
}

/// Why a connection ended.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    /// Closed or idle: connect again.
    Reconnect,
    /// The control plane says this instance is gone; reconnecting cannot help.
    Inactive(String),
}

pub struct AcsSession<R> {
    pub ecs: Arc<EcsClient>,
    pub engine: Engine<R>,
    pub cluster_arn: String,
    pub instance_arn: String,
    pub agent_hash: String,
    pub runtime_version: String,
    /// Reports whether ACS is connected (for health and tests).
    pub connected: tokio::sync::watch::Sender<bool>,
    /// Where the ACS sequence number is checkpointed.
    pub store: Option<Arc<crate::state::StateStore>>,
    /// The last sequence number seen, from the checkpoint.
    pub initial_seq_num: i64,
    /// Heartbeats are recorded here for `/metrics`.
    pub metrics: Arc<crate::observe::AgentMetrics>,
}

impl<R: ContainerRuntime> AcsSession<R> {
    /// Keeps a session open, reconnecting with jittered backoff. Returns only
    /// when the control plane declares the instance inactive.
    pub async fn run(self) -> String {
        let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(120), 0.3);
        let mut seq_num: i64 = self.initial_seq_num.max(1);
        let mut send_credentials = true;
        loop {
            let started = Instant::now();
            match self.connect_and_serve(&mut seq_num, send_credentials).await {
                Ok(Ended::Inactive(reason)) => {
                    let _ = self.connected.send(false);
                    return reason;
                }
                Ok(Ended::Reconnect) => tracing::info!("ACS connection ended; reconnecting"),
                Err(e) => tracing::warn!(error = %e, "ACS connection failed"),
            }
            let _ = self.connected.send(false);
            send_credentials = false;
            if started.elapsed() >= HEALTHY_CONNECTION {
                backoff.reset();
            }
            let wait = backoff.next(rand::random::<f64>());
            tracing::info!(retry_in_ms = wait.as_millis() as u64, "reconnecting to ACS");
            tokio::time::sleep(wait).await;
        }
    }

    async fn connect_and_serve(
        &self,
        seq_num: &mut i64,
        send_credentials: bool,
    ) -> Result<Ended, AcsError> {
        let (endpoint, _telemetry) = self.ecs.discover(&self.instance_arn).await?;
        let url = acs_url(
            &endpoint,
            &AcsQuery {
                cluster_arn: &self.cluster_arn,
                container_instance_arn: &self.instance_arn,
                agent_version: super::registration::AGENT_VERSION,
                agent_hash: &self.agent_hash,
                seq_num: *seq_num,
                send_credentials,
                docker_version: &self.runtime_version,
            },
        )?;
        let ws = connect_signed::<AcsError>(&self.ecs, url.as_str()).await?;
        tracing::info!(endpoint = %endpoint, "ACS connected");
        let _ = self.connected.send(true);
        let (mut write, mut read) = ws.split();
        let idle = IDLE_TIMEOUT + Duration::from_secs_f64(30.0 * rand::random::<f64>());
        loop {
            let frame = match tokio::time::timeout(idle, read.next()).await {
                Err(_) => {
                    tracing::warn!(
                        idle_s = idle.as_secs(),
                        "no message from ACS; replacing the connection"
                    );
                    let _ = write.close().await;
                    return Ok(Ended::Reconnect);
                }
                Ok(None) => return Ok(Ended::Reconnect),
                Ok(Some(frame)) => frame?,
            };
            let text = match frame {
                Message::Text(t) => t,
                Message::Close(_) => return Ok(Ended::Reconnect),
                _ => continue,
            };
            match self.handle(text.as_str(), seq_num) {
                Reply::None => {}
                Reply::Send(msgs) => {
                    for msg in msgs {
                        write.send(Message::Text(msg.encode().into())).await?;
                    }
                }
                Reply::End(ended) => return Ok(ended),
            }
        }
    }

    fn handle(&self, text: &str, seq_num: &mut i64) -> Reply {
        let msg = match AcsMessage::decode(text) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "malformed ACS message ignored");
                return Reply::None;
            }
        };
        match msg {
            AcsMessage::Payload(p) => {
                tracing::info!(message_id = ?p.message_id, seq_num = ?p.seq_num, tasks = p.tasks.len(), "ACS payload");
                // Acknowledged only once every task is checkpointed: unacked, ACS sends it again.
                if let Err(e) = self.engine.accept_payload(&p.tasks) {
                    tracing::error!(error = %e, message_id = ?p.message_id, "cannot checkpoint the payload; not acknowledging it");
                    return Reply::None;
                }
                if let Some(s) = p.seq_num.filter(|s| *s > *seq_num) {
                    *seq_num = s;
                    if let Some(store) = &self.store {
                        if let Err(e) = store.save_seq_num(s) {
                            tracing::warn!(error = %e, "cannot checkpoint the ACS sequence number");
                        }
                    }
                }
                Reply::Send(vec![AcsMessage::Ack(AckRequest {
                    cluster: Some(self.cluster_arn.clone()),
                    container_instance: Some(self.instance_arn.clone()),
                    message_id: p.message_id,
                })])
            }
            AcsMessage::Heartbeat(h) => {
                tracing::debug!(message_id = ?h.message_id, "ACS heartbeat");
                self.metrics.record_heartbeat();
                Reply::Send(vec![AcsMessage::HeartbeatAck(HeartbeatAckRequest {
                    message_id: h.message_id,
                })])
            }
            AcsMessage::TaskManifest(m) => {
                let listed: std::collections::HashSet<String> =
                    m.tasks.iter().filter_map(|t| t.task_arn.clone()).collect();
                let stopped: Vec<String> = m
                    .tasks
                    .iter()
                    .filter(|t| t.desired_status.as_deref() == Some("STOPPED"))
                    .filter_map(|t| t.task_arn.clone())
                    .collect();
                self.engine
                    .stop_tasks(&stopped, "desired STOPPED in the task manifest");
                let candidates = self.engine.stop_candidates(&listed);
                tracing::info!(message_id = ?m.message_id, listed = listed.len(), candidates = candidates.len(), "task manifest");
                let mut replies = vec![AcsMessage::Ack(AckRequest {
                    cluster: Some(self.cluster_arn.clone()),
                    container_instance: Some(self.instance_arn.clone()),
                    message_id: m.message_id,
                })];
                if !candidates.is_empty() {
                    // The control plane confirms before anything is stopped: a manifest
                    // generated just before a new payload must not stop that task.
                    replies.push(AcsMessage::TaskStopVerification(
                        TaskStopVerificationMessage {
                            message_id: Some(uuid::Uuid::new_v4().to_string()),
                            stop_candidates: candidates
                                .into_iter()
                                .map(|arn| TaskIdentifier {
                                    task_arn: Some(arn),
                                    task_cluster_arn: Some(self.cluster_arn.clone()),
                                    desired_status: Some("STOPPED".into()),
                                })
                                .collect(),
                        },
                    ));
                }
                Reply::Send(replies)
            }
            AcsMessage::TaskStopVerificationAck(a) => {
                let arns: Vec<String> = a
                    .stop_tasks
                    .iter()
                    .filter_map(|t| t.task_arn.clone())
                    .collect();
                tracing::info!(tasks = arns.len(), "control plane confirmed tasks to stop");
                self.engine
                    .stop_tasks(&arns, "the control plane no longer knows this task");
                Reply::None
            }
            AcsMessage::IamRoleCredentials(m) => {
                let credentials_id = m
                    .role_credentials
                    .as_ref()
                    .and_then(|c| c.credentials_id.clone());
                let expiration = m
                    .role_credentials
                    .as_ref()
                    .and_then(|c| c.expiration.clone());
                let stored = match (&m.task_arn, &m.role_credentials, m.role_type.as_deref()) {
                    (Some(arn), Some(creds), Some(role)) => role
                        .parse::<RoleType>()
                        .and_then(|role| self.engine.put_credentials(arn, creds, role))
                        .map_err(|e| e.to_string()),
                    _ => Err("taskArn, roleCredentials and roleType are required".to_string()),
                };
                match stored {
                    Ok(()) => {
                        tracing::info!(message_id = ?m.message_id, task = ?m.task_arn, credentials_id = ?credentials_id, "role credentials refreshed");
                        // The Go agent acknowledges only what it stored: unacked, ACS sends again.
                        Reply::Send(vec![AcsMessage::IamRoleCredentialsAck(
                            IamRoleCredentialsAckRequest {
                                message_id: m.message_id,
                                expiration,
                                credentials_id,
                            },
                        )])
                    }
                    Err(e) => {
                        tracing::warn!(message_id = ?m.message_id, error = %e, "IAMRoleCredentialsMessage ignored");
                        Reply::None
                    }
                }
            }
            AcsMessage::AttachTaskNetworkInterfaces(m) => {
                // The ENIs come again in the task's payload, which is what the
                // agent acts on; the attachment itself only needs acknowledging.
                tracing::info!(message_id = ?m.message_id, task = ?m.task_arn, enis = m.elastic_network_interfaces.len(), "ENI attachment");
                Reply::Send(vec![AcsMessage::Ack(AckRequest {
                    cluster: Some(self.cluster_arn.clone()),
                    container_instance: Some(self.instance_arn.clone()),
                    message_id: m.message_id,
                })])
            }
            AcsMessage::Close(c) => {
                tracing::info!(message = ?c.message, "ACS asked to close the connection");
                Reply::End(Ended::Reconnect)
            }
            AcsMessage::InactiveInstance(e) => {
                let reason = e
                    .message
                    .unwrap_or_else(|| "container instance is inactive".into());
                tracing::error!(reason = %reason, "ACS: this container instance is no longer active");
                Reply::End(Ended::Inactive(reason))
            }
            AcsMessage::Error(e)
            | AcsMessage::AccessDenied(e)
            | AcsMessage::BadRequest(e)
            | AcsMessage::InvalidCluster(e)
            | AcsMessage::InvalidInstance(e)
            | AcsMessage::Server(e) => {
                tracing::warn!(kind = msg_kind(text), message = ?e.message, "ACS reported an error");
                Reply::None
            }
            AcsMessage::Unknown { type_name } => {
                tracing::debug!(type_name = %type_name, "unknown ACS message ignored");
                Reply::None
            }
            other => {
                tracing::info!(
                    type_name = other.type_name(),
                    "ACS message not handled by this agent yet; ignored"
                );
                Reply::None
            }
        }
    }
}

fn msg_kind(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
        .unwrap_or_default()
}

enum Reply {
    None,
    Send(Vec<AcsMessage>),
    End(Ended),
}
