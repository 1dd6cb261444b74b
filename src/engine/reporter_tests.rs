//! The report queue against a control plane that fails for a while, on a
//! paused clock.

use std::sync::Arc;
use std::time::Duration;

use crate::backoff::Backoff;
use crate::task::{StateChange, TaskStatus};

use super::reporter::{ReportError, ReportQueue};
use super::test_support::{RecordingReporter, TASK_ARN};
use super::NoCheckpoint;

fn change(status: TaskStatus) -> StateChange {
    StateChange {
        task_arn: TASK_ARN.into(),
        task_status: Some(status),
        reason: None,
        containers: Vec::new(),
        pull_started_at_ms: None,
        pull_stopped_at_ms: None,
        execution_stopped_at_ms: None,
    }
}

#[tokio::test(start_paused = true)]
async fn retryable_failures_are_retried_with_doubling_backoff() {
    let reporter = Arc::new(RecordingReporter::default());
    let failures = 4;
    for _ in 0..failures {
        reporter.fail_next(ReportError::Retryable("throttled".into()));
    }
    let queue = ReportQueue::start(reporter.clone(), Arc::new(NoCheckpoint));
    queue.push(None, change(TaskStatus::Running));
    queue.push(None, change(TaskStatus::Stopped));

    reporter
        .wait_for(|c| c.task_status == Some(TaskStatus::Stopped))
        .await;
    let submitted = reporter.submitted();
    assert_eq!(
        submitted.len(),
        failures + 2,
        "RUNNING {} times, then STOPPED once",
        failures + 1
    );
    let (running, stopped) = submitted.split_at(failures + 1);
    assert!(running
        .iter()
        .all(|(_, c)| c.task_status == Some(TaskStatus::Running)));
    assert_eq!(stopped[0].1.task_status, Some(TaskStatus::Stopped));

    // The waits between attempts are the report queue's doubling backoff.
    let mut backoff = Backoff::doubling(Duration::from_millis(500), Duration::from_secs(30));
    for pair in running.windows(2) {
        assert_eq!(pair[1].0 - pair[0].0, backoff.next(0.0));
    }
    // The next change goes as soon as the previous one is taken.
    assert_eq!(stopped[0].0, running[failures].0);
}

#[tokio::test(start_paused = true)]
async fn a_refused_change_is_dropped_without_retrying() {
    let reporter = Arc::new(RecordingReporter::default());
    reporter.fail_next(ReportError::Refused("InvalidParameterException".into()));
    let queue = ReportQueue::start(reporter.clone(), Arc::new(NoCheckpoint));
    queue.push(None, change(TaskStatus::Running));
    queue.push(None, change(TaskStatus::Stopped));

    reporter
        .wait_for(|c| c.task_status == Some(TaskStatus::Stopped))
        .await;
    let statuses: Vec<_> = reporter
        .submitted()
        .into_iter()
        .map(|(_, c)| c.task_status)
        .collect();
    assert_eq!(
        statuses,
        vec![Some(TaskStatus::Running), Some(TaskStatus::Stopped)]
    );
}
