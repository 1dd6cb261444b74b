//! Stops tasks whose ENI the agent did not report ATTACHED within the
//! attachment's `waitTimeoutMs`, as Amazon ECS stops a task whose network
//! interface never finishes provisioning, instead of leaving it
//! PROVISIONING for ever.

use super::api::lifecycle::{attach_expired, fail_unattached};
use super::app::App;
use super::config::now_secs;
use std::sync::Arc;
use std::time::Duration;

/// How often deadlines are looked at: a task stops at most this late.
const INTERVAL: Duration = Duration::from_millis(250);

/// One pass: stops the tasks whose deadline passed.
pub fn tick(app: &App) {
    let now = now_secs();
    let expired = app.read(|st| attach_expired(st, now));
    if expired.is_empty() {
        return;
    }
    let mut ctx = app.ctx("");
    let result = app.transact(&mut ctx, |st, ctx| {
        for arn in &expired {
            fail_unattached(st, ctx, arn);
        }
        Ok(())
    });
    if let Err(e) = result {
        tracing::error!(error = %e, "stopping tasks whose ENI was not attached failed; retrying");
    }
}

/// Runs until the process ends.
pub async fn run(app: Arc<App>) {
    loop {
        tick(&app);
        tokio::time::sleep(INTERVAL).await;
    }
}
