//! Restart reconciliation: what the runtime reports decides, nothing is run twice.

use std::time::Duration;

use super::def::{ContainerDef, TaskDef};
use super::lifecycle::{Action, Event, Observed, Task};
use super::status::{ContainerStatus, DesiredStatus, TaskStatus};

fn def(name: &str, essential: bool) -> ContainerDef {
    ContainerDef {
        essential,
        ..ContainerDef::minimal(name, "busybox")
    }
}

/// A two-container task with both containers running and reported.
fn running_task() -> Task {
    let td = TaskDef::minimal(
        "arn:aws:ecs:r:0:task/c/t",
        vec![def("app", true), def("side", false)],
    );
    let mut t = Task::new(td, DesiredStatus::Running, Duration::from_secs(30));
    t.next_actions();
    for i in 0..2 {
        t.apply(Event::Pulled {
            container: i,
            result: Ok("d".into()),
        });
        t.apply(Event::Created {
            container: i,
            result: Ok(format!("id{i}")),
        });
    }
    t.next_actions();
    for i in 0..2 {
        t.apply(Event::Started {
            container: i,
            result: Ok(()),
        });
    }
    t.take_report();
    t
}

/// The task as saved, then loaded: serde round trip, as after a restart.
fn reload(t: &Task) -> Task {
    serde_json::from_str(&serde_json::to_string(t).unwrap()).unwrap()
}

#[test]
fn running_containers_are_adopted_without_any_action() {
    let mut t = reload(&running_task());
    let remove = t.reconcile(&[Observed::Running, Observed::Running], 0);
    assert!(remove.is_empty());
    assert_eq!(
        t.next_actions(),
        vec![],
        "nothing is pulled, created or started again"
    );
    assert_eq!(t.take_report(), None, "nothing new to report");
    assert_eq!(t.known, TaskStatus::Running);
}

#[test]
fn exit_while_down_is_reported_with_the_real_exit_code() {
    let mut t = reload(&running_task());
    t.reconcile(&[Observed::Exited { exit_code: 7 }, Observed::Running], 0);
    assert_eq!(
        t.desired,
        DesiredStatus::Stopped,
        "essential container exited"
    );
    assert_eq!(
        t.next_actions(),
        vec![Action::Stop {
            container: 1,
            timeout: Duration::from_secs(30)
        }]
    );
    let r = t.take_report().unwrap();
    assert_eq!(r.containers[0].name, "app");
    assert_eq!(r.containers[0].exit_code, Some(7));
    assert_eq!(r.containers[0].status, ContainerStatus::Stopped);
}

#[test]
fn a_stop_under_way_is_sent_again_after_restart() {
    let mut t = running_task();
    t.apply(Event::DesiredStatus {
        status: DesiredStatus::Stopped,
        reason: None,
    });
    assert_eq!(t.next_actions().len(), 2);
    let mut t = reload(&t);
    t.reconcile(&[Observed::Running, Observed::Running], 0);
    assert_eq!(
        t.next_actions().len(),
        2,
        "the stop timers died with the old agent"
    );
}

#[test]
fn half_created_containers_are_removed_and_redone() {
    let td = TaskDef::minimal(
        "arn:aws:ecs:r:0:task/c/t",
        vec![def("a", true), def("b", true)],
    );
    let mut t = Task::new(td, DesiredStatus::Running, Duration::from_secs(30));
    t.next_actions();
    t.apply(Event::Pulled {
        container: 0,
        result: Ok("d".into()),
    });
    t.apply(Event::Pulled {
        container: 1,
        result: Ok("d".into()),
    });
    assert_eq!(t.next_actions(), vec![Action::Create(0), Action::Create(1)]);
    // Killed mid-create: one container record exists, the other not.
    let mut t = reload(&t);
    let remove = t.reconcile(&[Observed::Created, Observed::Missing], 0);
    assert_eq!(remove, vec![0]);
    assert_eq!(t.next_actions(), vec![Action::Pull(0), Action::Pull(1)]);
}

#[test]
fn created_but_never_started_is_redone_not_lost() {
    let td = TaskDef::minimal("arn:aws:ecs:r:0:task/c/t", vec![def("a", true)]);
    let mut t = Task::new(td, DesiredStatus::Running, Duration::from_secs(30));
    t.next_actions();
    t.apply(Event::Pulled {
        container: 0,
        result: Ok("d".into()),
    });
    t.next_actions();
    t.apply(Event::Created {
        container: 0,
        result: Ok("id0".into()),
    });
    assert_eq!(t.next_actions(), vec![Action::Start(0)]);
    let mut t = reload(&t);
    assert_eq!(t.reconcile(&[Observed::Created], 0), vec![0]);
    assert_eq!(t.next_actions(), vec![Action::Pull(0)]);
}

#[test]
fn a_start_in_flight_that_ran_and_exited_is_reported() {
    let td = TaskDef::minimal("arn:aws:ecs:r:0:task/c/t", vec![def("a", true)]);
    let mut t = Task::new(td, DesiredStatus::Running, Duration::from_secs(30));
    t.next_actions();
    t.apply(Event::Pulled {
        container: 0,
        result: Ok("d".into()),
    });
    t.next_actions();
    t.apply(Event::Created {
        container: 0,
        result: Ok("id0".into()),
    });
    t.next_actions();
    let mut t = reload(&t);
    t.reconcile(&[Observed::Exited { exit_code: 0 }], 0);
    assert_eq!(t.known, TaskStatus::Stopped);
    let r = t.take_report().unwrap();
    assert_eq!(r.task_status, Some(TaskStatus::Stopped));
    assert_eq!(r.containers[0].exit_code, Some(0));
}

#[test]
fn a_running_container_that_vanished_is_stopped_with_a_reason() {
    let mut t = reload(&running_task());
    t.reconcile(&[Observed::Missing, Observed::Running], 0);
    let r = t.take_report().unwrap();
    assert!(r.containers[0]
        .reason
        .as_deref()
        .unwrap()
        .contains("disappeared"));
    assert_eq!(t.desired, DesiredStatus::Stopped);
}

#[test]
fn a_running_container_whose_exit_containerd_lost_stops_with_no_exit_code() {
    let mut t = running_task();
    t.container_lost(1, super::failure::Failure::exit_lost());
    let r = t.take_report().unwrap();
    assert_eq!(r.containers.len(), 1);
    let side = &r.containers[0];
    assert_eq!(side.exit_code, None, "{side:?}");
    assert!(
        side.reason
            .as_deref()
            .unwrap()
            .contains("containerd dropped its task and exit status"),
        "{side:?}"
    );
    // The reason survives a checkpoint round trip.
    let again = reload(&t);
    assert_eq!(
        again.containers()[1].reason,
        Some(super::failure::Failure::exit_lost())
    );
    // A second word of it changes nothing; a stopped container stays so.
    t.container_lost(1, super::failure::Failure::exit_lost());
    assert_eq!(t.take_report(), None);
    assert_eq!(t.containers()[1].known, ContainerStatus::Stopped);
}

#[test]
fn reported_changes_are_not_reported_again_after_reload() {
    let mut t = running_task();
    t.apply(Event::Exited {
        container: 1,
        exit_code: 0,
        at_ms: 1,
    });
    let first = t.take_report().unwrap();
    assert_eq!(first.containers.len(), 1);
    let mut t = reload(&t);
    t.reconcile(&[Observed::Running, Observed::Exited { exit_code: 0 }], 0);
    assert_eq!(
        t.take_report(),
        None,
        "the sent status survived the restart"
    );
}

#[test]
fn the_exit_of_a_removed_half_made_container_does_not_stop_its_successor() {
    let td = TaskDef::minimal("arn:aws:ecs:r:0:task/c/t", vec![def("a", true)]);
    let mut t = Task::new(td, DesiredStatus::Running, Duration::from_secs(30));
    t.next_actions();
    t.apply(Event::Pulled {
        container: 0,
        result: Ok("d".into()),
    });
    t.next_actions();
    t.apply(Event::Created {
        container: 0,
        result: Ok("id0".into()),
    });
    let mut t = reload(&t);
    assert_eq!(t.reconcile(&[Observed::Created], 0), vec![0]);
    // Removing it kills its never-started process: containerd reports that exit.
    t.apply(Event::Exited {
        container: 0,
        exit_code: 137,
        at_ms: 1,
    });
    assert_eq!(t.containers[0].known, ContainerStatus::None);
    assert_eq!(t.next_actions(), vec![Action::Pull(0)]);
}

/// A checkpoint written before failures were typed holds the reasons as
/// ECS strings: it loads into typed failures, and reports the same strings.
#[test]
fn a_checkpoint_with_reason_strings_loads_and_reports_them_unchanged() {
    use super::failure::{Failure, FailureKind, StopReason};

    let mut t = running_task();
    t.reconcile(&[Observed::Missing, Observed::Running], 0);
    let mut saved = serde_json::to_value(&t).unwrap();
    // Today's shape: typed.
    assert_eq!(
        saved["containers"][0]["reason"],
        serde_json::json!({"kind": "Vanished", "detail": ""})
    );
    // The older shape: the rendered strings.
    let vanished = "the container disappeared from containerd while the agent was down";
    saved["containers"][0]["reason"] = serde_json::json!(vanished);
    saved["containers"][1]["reason"] =
        serde_json::json!("CannotCreateContainerError: network: no iptables");
    saved["stop_reason"] = serde_json::json!(vanished);
    let mut old: Task = serde_json::from_value(saved).unwrap();

    assert_eq!(old.containers[0].reason, Some(Failure::vanished()));
    assert_eq!(
        old.containers[1].reason,
        Some(Failure::new(FailureKind::Network, "no iptables"))
    );
    assert_eq!(
        old.stop_reason,
        Some(StopReason::Failed(Failure::vanished()))
    );
    let r = old.take_report().unwrap();
    assert_eq!(r.containers[0].reason.as_deref(), Some(vanished));
    assert_eq!(old.stop_reason().as_deref(), Some(vanished));

    // A stop the control plane asked for, and an essential exit, stored as text.
    for (text, typed) in [
        (
            "Task stopped by user",
            StopReason::Requested("Task stopped by user".into()),
        ),
        (
            "Essential container in task exited",
            StopReason::EssentialExited,
        ),
    ] {
        let mut saved = serde_json::to_value(&t).unwrap();
        saved["stop_reason"] = serde_json::json!(text);
        let old: Task = serde_json::from_value(saved).unwrap();
        assert_eq!(old.stop_reason, Some(typed));
        assert_eq!(old.stop_reason().as_deref(), Some(text));
    }
}
