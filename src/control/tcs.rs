//! The TCS session: a SigV4-signed websocket to the telemetry endpoint on
//! which the agent publishes task CPU, memory and storage metrics every
//! [`PUBLISH_INTERVAL`], as the Go agent does. Samples come from the stats
//! store the endpoints' collector keeps fresh; nothing here polls containerd.
//!
//! Health: on the same tick, a PublishHealthRequest per 10 tasks with a
//! running container that has a health check (`tcs_health`), as the Go
//! agent's stats engine sends it; none when no container has one.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::model::tcs::TcsMessage;
use crate::observe::view::TaskSource;
use crate::observe::StatsStore;

use super::ecs_client::EcsClient;
use super::signing::connect_signed;
use super::tcs_frame::signed_frame;
use super::tcs_health::{health_requests, task_health};
use super::tcs_metrics::{publish_requests, Accumulator, Sample};
use super::tcs_url::{tcs_url, TcsQuery};
use crate::backoff::Backoff;

/// How often metrics are published (the Go agent's
/// DefaultContainerMetricsPublishInterval), unless the config's test knob
/// `tcs_publish_interval` shortens it.
pub const PUBLISH_INTERVAL: Duration = Duration::from_secs(20);
/// Without a heartbeat or ack for this long (plus up to as much again of
/// jitter) the connection is deemed dead, as in the Go agent.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(60);
/// A connection that lasted this long resets the reconnect backoff.
const HEALTHY_CONNECTION: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum TcsError {
    #[error(transparent)]
    Control(#[from] super::ecs_client::ControlError),
    #[error("DiscoverPollEndpoint returned no telemetryEndpoint")]
    NoEndpoint,
    #[error(transparent)]
    Url(#[from] super::acs_url::UrlError),
    #[error(transparent)]
    Sign(#[from] super::signing::SignError),
    #[error("websocket: {0}")]
    Websocket(#[from] tokio_tungstenite::tungstenite::Error),
}

pub struct TcsSession {
    pub ecs: Arc<EcsClient>,
    pub cluster_arn: String,
    pub instance_arn: String,
    pub agent_hash: String,
    /// Latest container samples, by containerd id.
    pub stats: Arc<StatsStore>,
    /// Which task and container each sample belongs to.
    pub tasks: Arc<dyn TaskSource>,
    /// How often the store is read: the collector's poll interval.
    pub sample_interval: Duration,
    /// How often metrics are published: [`PUBLISH_INTERVAL`] outside tests.
    pub publish_interval: Duration,
    /// Task metrics are published (not ECS_DISABLE_METRICS).
    pub publish_metrics: bool,
    /// Container health is published (not ECS_DISABLE_DOCKER_HEALTH_CHECK).
    pub publish_health: bool,
}

impl TcsSession {
    /// Samples and publishes for as long as the agent runs, reconnecting
    /// with jittered backoff.
    pub async fn run(self) {
        let acc = Arc::new(Mutex::new(Accumulator::default()));
        let sampler = tokio::spawn(sample_forever(
            self.stats.clone(),
            acc.clone(),
            self.sample_interval,
        ));
        let interval = self.publish_interval;
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60), 0.2);
        loop {
            let started = Instant::now();
            match self.connect_and_serve(&acc, interval).await {
                Ok(()) => tracing::info!("TCS connection ended; reconnecting"),
                Err(e) => tracing::warn!(error = %e, "TCS connection failed"),
            }
            if started.elapsed() >= HEALTHY_CONNECTION {
                backoff.reset();
            }
            let wait = backoff.next(rand::random::<f64>());
            tracing::info!(retry_in_ms = wait.as_millis() as u64, "reconnecting to TCS");
            tokio::time::sleep(wait).await;
            if sampler.is_finished() {
                tracing::error!("TCS sampler stopped; no more metrics");
                return;
            }
        }
    }

    async fn connect_and_serve(
        &self,
        acc: &Mutex<Accumulator>,
        interval: Duration,
    ) -> Result<(), TcsError> {
        let (_, telemetry) = self.ecs.discover(&self.instance_arn).await?;
        let endpoint = telemetry.ok_or(TcsError::NoEndpoint)?;
        let url = tcs_url(
            &endpoint,
            &TcsQuery {
                cluster: &self.cluster_arn,
                container_instance: &self.instance_arn,
                agent_version: super::registration::AGENT_VERSION,
                agent_hash: &self.agent_hash,
            },
        )?;
        let ws = connect_signed::<TcsError>(&self.ecs, url.as_str()).await?;
        tracing::info!(endpoint = %endpoint, publish_interval_ms = interval.as_millis() as u64, "TCS connected");
        let (mut write, mut read) = ws.split();
        let mut publish =
            tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        publish.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let idle = tokio::time::sleep(heartbeat_deadline());
        tokio::pin!(idle);
        loop {
            tokio::select! {
                frame = read.next() => {
                    let frame = match frame {
                        None => return Ok(()),
                        Some(f) => f?,
                    };
                    let text = match frame {
                        Message::Text(t) => t.as_str().to_string(),
                        Message::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
                        Message::Close(_) => return Ok(()),
                        _ => continue,
                    };
                    // Any heartbeat or ack shows the connection is alive.
                    idle.as_mut().reset(tokio::time::Instant::now() + heartbeat_deadline());
                    if handle(&text) {
                        return Ok(());
                    }
                }
                _ = publish.tick() => {
                    let mut frames = if self.publish_metrics {
                        self.metrics_frames(acc)
                    } else {
                        Vec::new()
                    };
                    if self.publish_health {
                        frames.extend(self.health_frames());
                    }
                    if frames.is_empty() {
                        continue;
                    }
                    let credentials = self.ecs.credentials().await?;
                    for payload in frames {
                        let frame = signed_frame(&url, &payload, &credentials, self.ecs.region(), SystemTime::now())?;
                        write.send(Message::Text(frame.into())).await?;
                    }
                }
                _ = &mut idle => {
                    tracing::warn!("no heartbeat from TCS; replacing the connection");
                    let _ = write.close().await;
                    return Ok(());
                }
            }
        }
    }

    /// The encoded PublishHealthRequests of one publish.
    fn health_frames(&self) -> Vec<String> {
        let now = SystemTime::now();
        let tasks = task_health(&self.tasks.snapshot(), now);
        if tasks.is_empty() {
            return Vec::new();
        }
        let message_id = uuid::Uuid::new_v4().to_string();
        let requests = health_requests(
            &self.cluster_arn,
            &self.instance_arn,
            &message_id,
            tasks,
            now,
        );
        tracing::debug!(message_id = %message_id, frames = requests.len(), "publishing container health");
        requests
            .into_iter()
            .map(|r| TcsMessage::PublishHealth(r).encode())
            .collect()
    }

    /// The encoded PublishMetricsRequests of one publish.
    fn metrics_frames(&self, acc: &Mutex<Accumulator>) -> Vec<String> {
        let snapshot = self.tasks.snapshot();
        let (idle, tasks) = {
            let mut acc = acc.lock().unwrap_or_else(|e| e.into_inner());
            (acc.is_idle(), acc.take_task_metrics(&snapshot))
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let message_id = uuid::Uuid::new_v4().to_string();
        let requests = publish_requests(
            &self.cluster_arn,
            &self.instance_arn,
            &message_id,
            idle,
            tasks,
            now,
        );
        tracing::debug!(message_id = %message_id, idle, frames = requests.len(), tasks = requests.iter().map(|r| r.task_metrics.len()).sum::<usize>(), "publishing metrics");
        requests
            .into_iter()
            .map(|r| TcsMessage::PublishMetrics(r).encode())
            .collect()
    }
}

fn heartbeat_deadline() -> Duration {
    HEARTBEAT_TIMEOUT + HEARTBEAT_TIMEOUT.mul_f64(rand::random::<f64>())
}

/// Logs a frame from TCS; true when it ends the session.
fn handle(text: &str) -> bool {
    match TcsMessage::decode(text) {
        Ok(TcsMessage::Heartbeat(h)) => {
            // The Go agent does not answer TCS heartbeats; they only keep
            // the connection alive.
            tracing::debug!(healthy = ?h.healthy, "TCS heartbeat");
            false
        }
        Ok(TcsMessage::AckPublishMetric(_) | TcsMessage::AckPublishHealth(_)) => {
            tracing::debug!("TCS acknowledged a publish");
            false
        }
        Ok(TcsMessage::StopTelemetrySession(m)) => {
            tracing::info!(message = ?m.message, "TCS asked to end the session");
            true
        }
        Ok(
            TcsMessage::BadRequest(e)
            | TcsMessage::ResourceValidation(e)
            | TcsMessage::InvalidParameter(e)
            | TcsMessage::Server(e),
        ) => {
            tracing::warn!(message = ?e.message, "TCS reported an error");
            false
        }
        Ok(other) => {
            tracing::debug!(type_name = other.type_name(), "TCS message ignored");
            false
        }
        Err(e) => {
            tracing::warn!(error = %e, "malformed TCS message ignored");
            false
        }
    }
}

/// Reads the store at the collector's pace into the per-container queues.
async fn sample_forever(stats: Arc<StatsStore>, acc: Arc<Mutex<Accumulator>>, every: Duration) {
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(100)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let all = stats.all();
        let samples: Vec<(&str, Sample)> = all
            .iter()
            .filter_map(|(id, s)| Some((id.as_str(), Sample::from_stats(s)?)))
            .collect();
        acc.lock()
            .unwrap_or_else(|e| e.into_inner())
            .observe(samples);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_frames() {
        assert!(!handle(
            r#"{"type":"HeartbeatMessage","message":{"healthy":true}}"#
        ));
        assert!(!handle(
            r#"{"type":"AckPublishMetric","message":{"message":"ok"}}"#
        ));
        assert!(handle(
            r#"{"type":"StopTelemetrySessionMessage","message":{}}"#
        ));
        assert!(!handle(
            r#"{"type":"ServerException","message":{"message":"x"}}"#
        ));
        assert!(!handle("not json"));
    }

    #[test]
    fn heartbeat_deadline_is_jittered_within_bounds() {
        for _ in 0..20 {
            let d = heartbeat_deadline();
            assert!(
                d >= HEARTBEAT_TIMEOUT && d <= 2 * HEARTBEAT_TIMEOUT,
                "{d:?}"
            );
        }
    }

    #[test]
    fn default_publish_interval_is_the_go_agents() {
        assert_eq!(PUBLISH_INTERVAL, Duration::from_secs(20));
    }
}
