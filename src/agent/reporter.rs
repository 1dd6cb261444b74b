//! The ECS API client as the engine's report sink: the engine owns
//! `StateReporter`, control owns `EcsClient`, and only the agent, which
//! knows both, joins them.

use crate::control::EcsClient;
use crate::engine::{ReportError, StateReporter};
use crate::task::StateChange;

impl StateReporter for EcsClient {
    async fn submit(&self, change: &StateChange) -> Result<(), ReportError> {
        self.submit_change(change).await.map_err(|e| {
            if e.is_retryable() {
                ReportError::Retryable(e.to_string())
            } else {
                ReportError::Refused(e.to_string())
            }
        })
    }
}
