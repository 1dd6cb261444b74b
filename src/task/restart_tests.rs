//! Restart policies as the Go agent's RestartTracker decides them: an exit
//! restarts the container in place (no report, the task stays RUNNING)
//! unless its code is ignored, it ran less than the attempt period, or the
//! task is stopping; a failed restart ends as the exit would have.

use std::time::Duration;

use super::def::{ContainerDef, RestartPolicy, TaskDef};
use super::lifecycle::{Action, Event, Observed, Task};
use super::status::{ContainerStatus, DesiredStatus, TaskStatus};

const STARTED_MS: i64 = 1_000_000;

/// One essential container with a policy (ignores 7, period 10 s), running
/// since STARTED_MS and reported.
fn running() -> Task {
    let td = TaskDef::minimal(
        "arn:aws:ecs:r:0:task/c/t",
        vec![ContainerDef {
            restart_policy: Some(RestartPolicy {
                ignored_exit_codes: vec![7],
                attempt_period: Duration::from_secs(10),
            }),
            ..ContainerDef::minimal("app", "busybox")
        }],
    );
    let mut t = Task::new(td, DesiredStatus::Running, Duration::from_secs(30));
    t.next_actions();
    t.apply(Event::Pulled {
        container: 0,
        result: Ok("d".into()),
    });
    t.apply(Event::Created {
        container: 0,
        result: Ok("id0".into()),
    });
    t.next_actions();
    t.apply(Event::Started {
        container: 0,
        result: Ok(()),
    });
    t.record_started(0, STARTED_MS);
    t.take_report();
    t
}

fn exit(t: &mut Task, code: i32, at_ms: i64) {
    t.apply(Event::Exited {
        container: 0,
        exit_code: code,
        at_ms,
    });
}

#[test]
fn an_exit_after_the_period_is_restarted_in_place_without_a_report() {
    let mut t = running();
    exit(&mut t, 1, STARTED_MS + 10_000);
    assert_eq!(t.next_actions(), vec![Action::Restart(0)]);
    assert_eq!(t.known(), TaskStatus::Running);
    assert_eq!(t.take_report(), None, "a restart is not reported");
    assert_eq!(t.containers()[0].restart_count, 1);
    t.apply(Event::Restarted {
        container: 0,
        result: Ok(()),
    });
    assert_eq!(t.containers()[0].known, ContainerStatus::Running);
    assert_eq!(t.next_actions(), vec![]);
    // The next exit counts from the restart, not from the first start.
    exit(&mut t, 1, STARTED_MS + 15_000);
    assert_eq!(t.containers()[0].known, ContainerStatus::Stopped);
    assert_eq!(t.containers()[0].exit_code, Some(1));
    assert_eq!(t.known(), TaskStatus::Stopped);
}

#[test]
fn an_ignored_code_or_a_short_run_stops_the_container() {
    let mut t = running();
    exit(&mut t, 7, STARTED_MS + 60_000);
    assert_eq!(t.containers()[0].known, ContainerStatus::Stopped);
    assert_eq!(t.containers()[0].restart_count, 0);

    let mut t = running();
    exit(&mut t, 1, STARTED_MS + 9_999);
    assert_eq!(t.containers()[0].known, ContainerStatus::Stopped);
    assert_eq!(t.next_actions(), vec![]);
}

#[test]
fn a_stop_ends_restarts() {
    let mut t = running();
    t.apply(Event::DesiredStatus {
        status: DesiredStatus::Stopped,
        reason: None,
    });
    t.next_actions();
    exit(&mut t, 1, STARTED_MS + 60_000);
    assert_eq!(t.containers()[0].known, ContainerStatus::Stopped);

    // A restart decided but not yet under way (after an agent restart)
    // ends with its exit code when the task is stopped.
    let mut t = running();
    exit(&mut t, 3, STARTED_MS + 60_000);
    t.apply(Event::DesiredStatus {
        status: DesiredStatus::Stopped,
        reason: None,
    });
    assert_eq!(t.next_actions(), vec![]);
    assert_eq!(t.containers()[0].exit_code, Some(3));
    assert_eq!(t.known(), TaskStatus::Stopped);
}

#[test]
fn a_failed_restart_ends_as_the_exit_would_have() {
    let mut t = running();
    exit(&mut t, 2, STARTED_MS + 60_000);
    t.next_actions();
    t.apply(Event::Restarted {
        container: 0,
        result: Err(super::failure::Failure::new(
            super::failure::FailureKind::CannotStart,
            "no",
        )),
    });
    assert_eq!(t.containers()[0].known, ContainerStatus::Stopped);
    assert_eq!(t.containers()[0].exit_code, Some(2));
    assert_eq!(t.known(), TaskStatus::Stopped);
}

#[test]
fn the_new_process_exiting_before_the_restart_answers_is_not_lost() {
    let mut t = running();
    let first = STARTED_MS + 60_000;
    exit(&mut t, 1, first);
    t.next_actions();
    // The old exit seen again is dropped; the new process's is kept.
    exit(&mut t, 1, first);
    exit(&mut t, 9, first + 5);
    t.apply(Event::Restarted {
        container: 0,
        result: Ok(()),
    });
    // 5 ms after the restart: less than the period, so it stops.
    assert_eq!(t.containers()[0].known, ContainerStatus::Stopped);
    assert_eq!(t.containers()[0].exit_code, Some(9));
}

#[test]
fn an_agent_restart_mid_restart_finishes_it_or_adopts_its_result() {
    let mut t = running();
    exit(&mut t, 1, STARTED_MS + 60_000);
    t.next_actions();
    let mut again: Task = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
    again.reconcile(&[Observed::Created], 0);
    assert_eq!(again.next_actions(), vec![Action::Restart(0)]);

    let mut done: Task = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
    done.reconcile(&[Observed::Running], 0);
    assert_eq!(done.next_actions(), vec![]);
    assert_eq!(done.containers()[0].known, ContainerStatus::Running);
    assert_eq!(done.containers()[0].restart_count, 1);
}

/// The task as saved, then loaded: as after an agent restart.
fn reload(t: &Task) -> Task {
    serde_json::from_str(&serde_json::to_string(t).expect("save")).expect("load")
}

#[test]
fn an_exit_while_the_agent_was_down_is_restarted_when_it_is_found() {
    let mut t = reload(&running());
    let remove = t.reconcile(&[Observed::Exited { exit_code: 1 }], STARTED_MS + 60_000);
    assert!(remove.is_empty());
    assert_eq!(t.next_actions(), vec![Action::Restart(0)]);
    assert_eq!(t.known(), TaskStatus::Running);
    assert_eq!(t.take_report(), None, "a restart is not a state change");
    assert_eq!(t.containers()[0].restart_count, 1);
    t.apply(Event::Restarted {
        container: 0,
        result: Ok(()),
    });
    assert_eq!(t.containers()[0].known, ContainerStatus::Running);
    assert_eq!(t.next_actions(), vec![]);
}

#[test]
fn an_exit_while_down_that_the_policy_does_not_restart_stops_as_before() {
    // Ignored code.
    let mut t = reload(&running());
    t.reconcile(&[Observed::Exited { exit_code: 7 }], STARTED_MS + 60_000);
    assert_eq!(t.containers()[0].known, ContainerStatus::Stopped);
    assert_eq!(t.containers()[0].restart_count, 0);
    // Ran less than the attempt period (found 5 s after its start).
    let mut t = reload(&running());
    t.reconcile(&[Observed::Exited { exit_code: 1 }], STARTED_MS + 5_000);
    assert_eq!(t.containers()[0].known, ContainerStatus::Stopped);
    assert_eq!(t.containers()[0].exit_code, Some(1));
    // The task was being stopped.
    let mut t = running();
    t.apply(Event::DesiredStatus {
        status: DesiredStatus::Stopped,
        reason: None,
    });
    t.next_actions();
    let mut t = reload(&t);
    t.reconcile(&[Observed::Exited { exit_code: 1 }], STARTED_MS + 60_000);
    assert_eq!(t.containers()[0].known, ContainerStatus::Stopped);
}
