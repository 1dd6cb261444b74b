//! Replaces task role credentials before they expire: new keys under the same
//! credentials id, delivered in an IAMRoleCredentialsMessage (re-sent until
//! the agent's IAMRoleCredentialsAckRequest) and kept with the task.

use super::api::lifecycle::{credentials_of, queue_credentials};
use super::app::{App, Ctx};
use super::config::now_secs;
use super::credentials::{renew, Role};
use super::state::{State, TaskRec};
use std::sync::Arc;
use std::time::Duration;

/// The refresher looks at least this often, so that a task placed meanwhile
/// is refreshed on time even with short lifetimes.
const MAX_SLEEP: Duration = Duration::from_millis(200);
const MIN_SLEEP: Duration = Duration::from_millis(20);

/// Whose credentials want replacing at `now`, and when the next ones will.
pub fn due(st: &State, now: f64) -> (Vec<(String, Role)>, Option<f64>) {
    let mut due = Vec::new();
    let mut next: Option<f64> = None;
    for t in st.tasks.values().filter(|t| refreshable(t)) {
        for role in Role::BOTH {
            let Some(c) = credentials_of(t, role) else {
                continue;
            };
            if c.refresh_at <= now {
                due.push((t.arn.clone(), role));
            } else {
                next = Some(next.map_or(c.refresh_at, |n: f64| n.min(c.refresh_at)));
            }
        }
    }
    (due, next)
}

/// Only tasks meant to run keep getting credentials.
fn refreshable(t: &TaskRec) -> bool {
    t.desired_status == "RUNNING" && t.last_status != "STOPPED"
}

/// Renews the credentials of `role` for the task and queues their delivery.
pub fn refresh(st: &mut State, ctx: &mut Ctx, task_arn: &str, role: Role) {
    let Some(mut t) = st.tasks.get(task_arn).cloned() else {
        return;
    };
    let mut rng = rand::rng();
    let (slot, previous) = match role {
        Role::Task => (&mut t.role_credentials, &mut t.previous_role_credentials),
        Role::Execution => (
            &mut t.execution_role_credentials,
            &mut t.previous_execution_role_credentials,
        ),
    };
    let Some(old) = slot.take() else {
        return;
    };
    *slot = Some(renew(&mut rng, &old, ctx.now, ctx.credentials_ttl));
    *previous = Some(old);
    st.put_task(t);
    queue_credentials(st, ctx, task_arn, role);
}

/// The agent on `instance` connected asking for credentials
/// (`sendCredentials=true`, its first connection since it started: it keeps
/// them in memory only), so ACS sends the current ones of its running tasks
/// again.
pub fn resend_on_connect(st: &mut State, ctx: &mut Ctx, instance: &str) -> usize {
    let tasks: Vec<String> = st
        .tasks
        .values()
        .filter(|t| t.container_instance_arn == instance && refreshable(t))
        .map(|t| t.arn.clone())
        .collect();
    let mut queued = 0;
    for arn in tasks {
        for role in Role::BOTH {
            let has = st
                .tasks
                .get(&arn)
                .is_some_and(|t| credentials_of(t, role).is_some());
            if has {
                queue_credentials(st, ctx, &arn, role);
                queued += 1;
            }
        }
    }
    queued
}

/// One pass: refreshes what is due; returns when to look again.
pub fn tick(app: &App) -> Duration {
    let now = now_secs();
    let (due_now, next) = app.read(|st| due(st, now));
    if !due_now.is_empty() {
        let mut ctx = app.ctx("");
        let result = app.transact(&mut ctx, |st, ctx| {
            for (arn, role) in &due_now {
                refresh(st, ctx, arn, *role);
            }
            Ok(())
        });
        if let Err(e) = result {
            tracing::error!(error = %e, "refreshing task credentials failed; retrying");
            return MAX_SLEEP;
        }
    }
    next.map_or(MAX_SLEEP, |n| {
        Duration::from_secs_f64((n - now).max(0.0)).clamp(MIN_SLEEP, MAX_SLEEP)
    })
}

/// Runs until the process ends.
pub async fn run(app: Arc<App>) {
    loop {
        let wait = tick(&app);
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
#[path = "refresh_tests.rs"]
mod tests;
