//! The ACS session: a SigV4-signed websocket on which the control plane sends
//! tasks and heartbeats, kept open for as long as the agent runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::backoff::Backoff;
use crate::observe::AgentMetrics;
use crate::task::from_acs::Policy;

use super::acs_reply::{Ended, Reply};
use super::acs_url::{acs_url, AcsQuery};
use super::ecs_client::EcsClient;
use super::signing::connect_signed;
use super::sink::{SeqCheckpoint, TaskSink};

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

pub struct AcsSession {
    pub ecs: Arc<EcsClient>,
    /// Runs the tasks (the engine).
    pub sink: Arc<dyn TaskSink>,
    /// What a task may ask for on this host, checked as payloads arrive.
    pub policy: Policy,
    pub cluster_arn: String,
    pub instance_arn: String,
    pub agent_hash: String,
    pub runtime_version: String,
    /// Reports whether ACS is connected (for health and tests).
    pub connected: tokio::sync::watch::Sender<bool>,
    /// Where the ACS sequence number is checkpointed.
    pub seq_checkpoint: Arc<dyn SeqCheckpoint>,
    /// The last sequence number seen, from the checkpoint.
    pub initial_seq_num: i64,
    /// Heartbeats are recorded here for `/metrics`.
    pub metrics: Arc<AgentMetrics>,
    /// Task ENI attachments waiting to be seen on the host.
    pub eni_watcher: Arc<super::eni_watcher::EniWatcher>,
}

impl AcsSession {
    /// Keeps a session open, reconnecting with jittered backoff. Returns only
    /// when the control plane declares the instance inactive.
    pub async fn run(self) -> String {
        let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(120), 0.3);
        let mut seq_num: i64 = self.initial_seq_num.max(1);
        // Credentials live in memory only: the first connection of this
        // process asks ACS for those of every task, and only a connection
        // that was made clears the ask (as the Go agent: ecs-agent/acs/
        // session/session.go), so a first attempt that fails does not lose it.
        let mut send_credentials = true;
        loop {
            let started = Instant::now();
            match self
                .connect_and_serve(&mut seq_num, &mut send_credentials)
                .await
            {
                Ok(Ended::Inactive(reason)) => {
                    let _ = self.connected.send(false);
                    return reason;
                }
                Ok(Ended::Reconnect) => tracing::info!("ACS connection ended; reconnecting"),
                Err(e) => tracing::warn!(error = %e, "ACS connection failed"),
            }
            let _ = self.connected.send(false);
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
        send_credentials: &mut bool,
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
                send_credentials: *send_credentials,
                docker_version: &self.runtime_version,
            },
        )?;
        let ws = connect_signed::<AcsError>(&self.ecs, url.as_str()).await?;
        tracing::info!(endpoint = %endpoint, send_credentials = *send_credentials, "ACS connected");
        *send_credentials = false;
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
}
