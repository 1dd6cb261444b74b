//! Delivers state changes to the control plane in the order they happened,
//! retrying with backoff until each is taken. Each change sits in the store's
//! outbox from the moment it is decided until the control plane accepts it, so
//! a restart redelivers what was not yet taken and nothing twice.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::mpsc;

use super::checkpoint::Checkpoint;
use crate::backoff::Backoff;
use crate::observe::AgentMetrics;
use crate::task::StateChange;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Worth trying again (network, throttling, server error).
    #[error("control plane unavailable: {0}")]
    Retryable(String),
    /// The control plane refused the change; sending it again will not help.
    #[error("control plane refused the state change: {0}")]
    Refused(String),
}

/// The control plane as the engine reports to it.
pub trait StateReporter: Send + Sync + 'static {
    fn submit(&self, change: &StateChange) -> impl Future<Output = Result<(), ReportError>> + Send;
}

/// One change to deliver, with its outbox id when checkpointing is on.
#[derive(Debug)]
pub struct Outgoing {
    pub outbox_id: Option<u64>,
    pub change: StateChange,
}

/// Handle to the single delivery queue.
#[derive(Clone)]
pub struct ReportQueue {
    tx: mpsc::UnboundedSender<Outgoing>,
    pending: Arc<std::sync::atomic::AtomicUsize>,
    /// Set once the engine exists (the queue starts before it).
    metrics: Arc<OnceLock<Arc<AgentMetrics>>>,
}

impl ReportQueue {
    /// Starts the delivery loop on the current runtime.
    pub fn start<P: StateReporter>(
        reporter: Arc<P>,
        checkpoint: Arc<dyn Checkpoint>,
    ) -> ReportQueue {
        let (tx, rx) = mpsc::unbounded_channel();
        let pending = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let metrics = Arc::new(OnceLock::new());
        tokio::spawn(deliver(
            reporter,
            checkpoint,
            rx,
            pending.clone(),
            metrics.clone(),
        ));
        ReportQueue {
            tx,
            pending,
            metrics,
        }
    }

    /// Counts deliveries and failed attempts into `metrics` from now on.
    pub(crate) fn report_into(&self, metrics: Arc<AgentMetrics>) {
        let _ = self.metrics.set(metrics);
    }

    pub fn push(&self, outbox_id: Option<u64>, change: StateChange) {
        self.pending
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self.tx.send(Outgoing { outbox_id, change }).is_err() {
            tracing::error!(
                "state change queue closed; the change stays in the outbox for the next start"
            );
        }
    }

    /// Changes handed over but not yet accepted by the control plane.
    pub fn pending(&self) -> usize {
        self.pending.load(std::sync::atomic::Ordering::Relaxed)
    }
}

const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(30);

async fn deliver<P: StateReporter>(
    reporter: Arc<P>,
    checkpoint: Arc<dyn Checkpoint>,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    pending: Arc<std::sync::atomic::AtomicUsize>,
    metrics: Arc<OnceLock<Arc<AgentMetrics>>>,
) {
    while let Some(Outgoing { outbox_id, change }) = rx.recv().await {
        let mut backoff = Backoff::doubling(FIRST_RETRY, MAX_RETRY);
        loop {
            let result = reporter.submit(&change).await;
            if let Some(m) = metrics.get() {
                match &result {
                    Ok(()) => m.inc_state_changes_submitted(),
                    Err(_) => m.inc_error("state_change"),
                }
            }
            match result {
                Ok(()) => {
                    tracing::info!(
                        task = %change.task_arn,
                        status = change.task_status.map(|s| s.wire()).unwrap_or("-"),
                        containers = change.containers.len(),
                        "state change reported"
                    );
                    break;
                }
                Err(ReportError::Refused(e)) => {
                    tracing::error!(task = %change.task_arn, error = %e, "state change refused; dropping it");
                    break;
                }
                Err(ReportError::Retryable(e)) => {
                    let wait = backoff.next(0.0);
                    tracing::warn!(task = %change.task_arn, error = %e, retry_in_ms = wait.as_millis() as u64, "state change not delivered; retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
        if let Some(id) = outbox_id {
            if let Err(e) = checkpoint.delete_report(id) {
                tracing::error!(error = %e, outbox_id = id, "cannot mark the state change sent; it may be sent again after a restart");
            }
        }
        let left = pending.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(m) = metrics.get() {
            m.set_state_changes_pending(left.saturating_sub(1) as u64);
        }
    }
}
