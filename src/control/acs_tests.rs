//! The ACS session's connection loop against an in-process control plane on
//! 127.0.0.1 (DiscoverPollEndpoint and the ACS websocket, served by axum),
//! on a paused clock: a connection on which ACS says nothing is closed after
//! the idle timeout, and a new one is made.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::Query;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::acs::AcsSession;
use super::sink::{NoSeqCheckpoint, PayloadTask, TaskSink};
use super::EcsClient;
use crate::credentials::{CredentialsError, RoleCredentials};
use crate::state::StateError;
use crate::task::from_acs::Policy;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the fake ACS saw of one websocket connection.
#[derive(Debug, Clone, Copy)]
struct Connection {
    opened: Instant,
    /// When it ended, and whether the agent sent a close frame first.
    closed: Option<(Instant, bool)>,
}

/// ACS that accepts connections and never says a word on them.
#[derive(Default)]
struct SilentAcs {
    connections: Mutex<Vec<Connection>>,
    changed: Notify,
    /// The `sendCredentials` query parameter of every connect request,
    /// refused ones included, in order.
    send_credentials: Mutex<Vec<String>>,
    /// Connect requests still to refuse (503) before one is accepted.
    refuse: AtomicUsize,
}

impl SilentAcs {
    async fn hold(self: Arc<Self>, mut socket: WebSocket) {
        let index = {
            let mut c = lock(&self.connections);
            c.push(Connection {
                opened: Instant::now(),
                closed: None,
            });
            c.len() - 1
        };
        self.changed.notify_waiters();
        let mut close_frame = false;
        while let Some(Ok(msg)) = socket.recv().await {
            if matches!(msg, Message::Close(_)) {
                close_frame = true;
                break;
            }
        }
        lock(&self.connections)[index].closed = Some((Instant::now(), close_frame));
        self.changed.notify_waiters();
    }

    /// Waits until the connections seen satisfy `done`.
    async fn wait_until(&self, done: impl Fn(&[Connection]) -> bool) -> Vec<Connection> {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let seen = lock(&self.connections).clone();
            if done(&seen) {
                return seen;
            }
            changed.await;
        }
    }
}

/// Serves DiscoverPollEndpoint (pointing back at itself) and the ACS
/// websocket; returns the endpoint URL.
async fn serve(acs: Arc<SilentAcs>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let endpoint = format!("http://{}/", listener.local_addr().expect("its address"));
    let discovered = serde_json::json!({
        "endpoint": endpoint,
        "telemetryEndpoint": endpoint,
    })
    .to_string();
    let app = axum::Router::new()
        .route(
            "/",
            post(move || {
                let body = discovered.clone();
                async move {
                    (
                        [(http::header::CONTENT_TYPE, "application/x-amz-json-1.1")],
                        body,
                    )
                }
            }),
        )
        .route(
            "/ws",
            get(
                move |Query(q): Query<HashMap<String, String>>, ws: WebSocketUpgrade| {
                    let acs = acs.clone();
                    async move {
                        let asked = q.get("sendCredentials").cloned().unwrap_or_default();
                        lock(&acs.send_credentials).push(asked);
                        let refused = acs
                            .refuse
                            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                            .is_ok();
                        if refused {
                            return http::StatusCode::SERVICE_UNAVAILABLE.into_response();
                        }
                        ws.on_upgrade(move |socket| acs.hold(socket))
                    }
                },
            ),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    endpoint
}

/// No task ever arrives on a silent connection.
struct NoTasks;

impl TaskSink for NoTasks {
    fn accept(&self, _: Vec<PayloadTask>) -> Result<(), StateError> {
        Ok(())
    }
    fn stop(&self, _: &[String], _: &str) {}
    fn stop_candidates(&self, _: &HashSet<String>) -> Vec<String> {
        Vec::new()
    }
    fn put_credentials(&self, _: &str, _: RoleCredentials) -> Result<(), CredentialsError> {
        Ok(())
    }
}

async fn session(endpoint: &str) -> AcsSession {
    let keys = aws_credential_types::Credentials::new("AK", "SK", None, None, "test");
    let ecs = EcsClient::new("us-east-1", Some(endpoint), "default", Some(keys)).await;
    AcsSession {
        ecs: Arc::new(ecs),
        sink: Arc::new(NoTasks),
        policy: Policy::default(),
        cluster_arn: "cluster".into(),
        instance_arn: "instance".into(),
        agent_hash: "hash".into(),
        runtime_version: "containerd".into(),
        connected: tokio::sync::watch::channel(false).0,
        seq_checkpoint: Arc::new(NoSeqCheckpoint),
        initial_seq_num: 1,
        metrics: Arc::new(crate::observe::AgentMetrics::new()),
        eni_watcher: Arc::new(super::eni_watcher::EniWatcher::new()),
    }
}

#[tokio::test(start_paused = true)]
async fn a_silent_connection_is_closed_after_the_idle_timeout_and_replaced() {
    let acs = Arc::new(SilentAcs::default());
    let endpoint = serve(acs.clone()).await;
    let running = tokio::spawn(session(&endpoint).await.run());

    let seen = acs
        .wait_until(|c| c.len() >= 2 && c[0].closed.is_some())
        .await;
    running.abort();

    let first = seen[0];
    let (closed, close_frame) = first.closed.expect("the silent connection was closed");
    assert!(close_frame, "the agent closed it with a close frame");
    // The idle timeout is 60s plus up to 30s of jitter.
    let idle = closed - first.opened;
    assert!(
        (Duration::from_secs(60)..=Duration::from_secs(90)).contains(&idle),
        "closed after {idle:?} of silence"
    );
    // The next connection follows after the first reconnect backoff (250ms at most).
    let gap = seen[1].opened - closed;
    assert!(
        gap <= Duration::from_millis(250),
        "reconnected after {gap:?}"
    );
    assert!(seen[1].closed.is_none(), "the new connection stays open");
}

/// Credentials are kept in memory only, so the first connection after a
/// start asks ACS for them all (`sendCredentials=true`), and the ask is
/// dropped only once a connection was made: a first attempt that fails
/// asks again (the Go agent, ecs-agent/acs/session/session.go), and the
/// reconnect after a session that was up does not.
#[tokio::test(start_paused = true)]
async fn credentials_are_asked_for_until_a_connection_is_made() {
    let acs = Arc::new(SilentAcs::default());
    acs.refuse.store(1, Ordering::SeqCst);
    let endpoint = serve(acs.clone()).await;
    let running = tokio::spawn(session(&endpoint).await.run());
    // The accepted connection goes silent, is replaced after the idle
    // timeout, and the replacement is the third connect request.
    acs.wait_until(|c| c.len() >= 2).await;
    running.abort();
    assert_eq!(
        lock(&acs.send_credentials)[..3],
        ["true", "true", "false"],
        "refused, first connection, reconnect"
    );
}
