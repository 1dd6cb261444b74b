//! Delivers state changes to the control plane in the order they happened,
//! retrying with backoff until each is taken.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

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

/// Handle to the single delivery queue.
#[derive(Clone)]
pub struct ReportQueue {
    tx: mpsc::UnboundedSender<StateChange>,
}

impl ReportQueue {
    /// Starts the delivery loop on the current runtime.
    pub fn start<P: StateReporter>(reporter: Arc<P>) -> ReportQueue {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(deliver(reporter, rx));
        ReportQueue { tx }
    }

    pub fn push(&self, change: StateChange) {
        if self.tx.send(change).is_err() {
            tracing::error!("state change queue closed; the change is lost");
        }
    }
}

const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(30);

async fn deliver<P: StateReporter>(reporter: Arc<P>, mut rx: mpsc::UnboundedReceiver<StateChange>) {
    while let Some(change) = rx.recv().await {
        let mut wait = FIRST_RETRY;
        loop {
            match reporter.submit(&change).await {
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
                    tracing::warn!(task = %change.task_arn, error = %e, retry_in_ms = wait.as_millis() as u64, "state change not delivered; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(MAX_RETRY);
                }
            }
        }
    }
}
