//! `startTimeout` as the Go agent reads it (agent/engine/dependencygraph/graph.go,
//! `hasDependencyTimedOut`): set on the dependency, counted from its start,
//! and only for the SUCCESS, COMPLETE and HEALTHY conditions; and HEALTHY
//! itself: met once the dependency's health check has passed.

use std::time::Duration;

use super::def::{Condition, ContainerDef, Dependency, TaskDef};
use super::health::{HealthState, HealthStatus};
use super::lifecycle::{Action, Event, Task, DEPENDENCY_TIMEOUT_EXIT_CODE};
use super::status::{ContainerStatus, DesiredStatus, TaskStatus};

/// `init` (startTimeout 5s, not essential) and `app` waiting on it with `condition`.
fn task(condition: Condition) -> Task {
    let init = ContainerDef {
        essential: false,
        start_timeout: Some(Duration::from_secs(5)),
        health_check: (condition == Condition::Healthy).then(|| super::health::HealthCheck {
            shell_form: true,
            args: vec!["test -f /ok".into()],
            shell: vec![],
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            start_period: Duration::ZERO,
            start_interval: Duration::from_secs(5),
            retries: 3,
        }),
        ..ContainerDef::minimal("init", "busybox")
    };
    let app = ContainerDef {
        depends_on: vec![Dependency {
            container: "init".into(),
            condition,
        }],
        ..ContainerDef::minimal("app", "busybox")
    };
    let def = TaskDef::minimal("arn:aws:ecs:us-east-1:0:task/c/t1", vec![init, app]);
    let mut t = Task::new(def, DesiredStatus::Running, Duration::from_secs(30));
    t.next_actions();
    for i in 0..2 {
        t.apply(Event::Pulled {
            container: i,
            result: Ok("sha256:d".into()),
        });
        t.apply(Event::Created {
            container: i,
            result: Ok(format!("id{i}")),
        });
    }
    assert_eq!(t.next_actions(), vec![Action::Start(0)]);
    t.apply(Event::Started {
        container: 0,
        result: Ok(()),
    });
    t
}

#[test]
fn success_dependency_that_outlives_its_start_timeout_stops_the_waiting_container() {
    let mut t = task(Condition::Success);
    assert_eq!(t.next_actions(), vec![], "app waits for init to exit");
    t.apply(Event::StartTimeoutPassed { container: 0 });
    // app is essential: the task stops, and init (still running) is stopped;
    // app itself is never started.
    assert!(matches!(
        t.next_actions().as_slice(),
        [Action::Stop { container: 0, .. }]
    ));

    let app = &t.containers()[1];
    assert_eq!(app.known, ContainerStatus::Stopped);
    assert_eq!(app.exit_code, Some(DEPENDENCY_TIMEOUT_EXIT_CODE));
    // The Go agent's words (graph.go), with its Container.String() for both.
    let want = "CannotStartContainerError: dependency graph: container ordering dependency \
                [init(busybox) (RUNNING->RUNNING)] for target [app(busybox) (CREATED->RUNNING)] \
                has timed out.";
    let report = t.take_report().expect("a report");
    let app_change = report
        .containers
        .iter()
        .find(|c| c.name == "app")
        .expect("app reported");
    assert_eq!(app_change.reason.as_deref(), Some(want));
    assert_eq!(app_change.exit_code, Some(143));
    assert_eq!(t.desired(), DesiredStatus::Stopped);
    assert_eq!(t.stop_reason().as_deref(), Some(want));
}

#[test]
fn complete_dependency_times_out_too() {
    let mut t = task(Condition::Complete);
    t.apply(Event::StartTimeoutPassed { container: 0 });
    t.next_actions();
    assert_eq!(t.containers()[1].known, ContainerStatus::Stopped);
    assert_eq!(t.containers()[1].exit_code, Some(143));
}

#[test]
fn start_condition_ignores_the_start_timeout() {
    let mut t = task(Condition::Start);
    t.apply(Event::StartTimeoutPassed { container: 0 });
    assert_eq!(t.next_actions(), vec![Action::Start(1)]);
}

#[test]
fn a_dependency_that_already_exited_cannot_time_out() {
    let mut t = task(Condition::Success);
    t.apply(Event::Exited {
        container: 0,
        exit_code: 0,
        at_ms: 1,
    });
    // The timer fires after the exit (both were on their way at once).
    t.apply(Event::StartTimeoutPassed { container: 0 });
    assert_eq!(t.next_actions(), vec![Action::Start(1)]);
}

#[test]
fn a_started_target_is_not_stopped_by_a_later_timeout() {
    let mut t = task(Condition::Complete);
    t.apply(Event::Exited {
        container: 0,
        exit_code: 3,
        at_ms: 1,
    });
    assert_eq!(t.next_actions(), vec![Action::Start(1)]);
    t.apply(Event::Started {
        container: 1,
        result: Ok(()),
    });
    t.apply(Event::StartTimeoutPassed { container: 0 });
    assert_eq!(t.next_actions(), vec![]);
    assert_eq!(t.known(), TaskStatus::Running);
}

fn health(status: HealthStatus) -> HealthState {
    HealthState {
        status,
        since_ms: Some(1),
        ..HealthState::default()
    }
}

#[test]
fn healthy_waits_for_the_dependency_s_check_to_pass() {
    let mut t = task(Condition::Healthy);
    assert_eq!(t.next_actions(), vec![], "app waits while init is UNKNOWN");
    t.set_health(0, health(HealthStatus::Unhealthy));
    assert_eq!(t.next_actions(), vec![], "and while it is UNHEALTHY");
    t.set_health(0, health(HealthStatus::Healthy));
    assert_eq!(t.next_actions(), vec![Action::Start(1)]);
    // The status is the task's, checkpointed with it.
    assert_eq!(t.containers()[0].health.status, HealthStatus::Healthy);
}

#[test]
fn healthy_times_out_unless_already_met() {
    let mut t = task(Condition::Healthy);
    t.apply(Event::StartTimeoutPassed { container: 0 });
    t.next_actions();
    assert_eq!(t.containers()[1].known, ContainerStatus::Stopped);
    assert_eq!(t.containers()[1].exit_code, Some(143));

    let mut t = task(Condition::Healthy);
    t.set_health(0, health(HealthStatus::Healthy));
    t.apply(Event::StartTimeoutPassed { container: 0 });
    assert_eq!(t.next_actions(), vec![Action::Start(1)]);
}

#[test]
fn a_dependency_that_stops_before_healthy_fails_the_waiting_container() {
    let mut t = task(Condition::Healthy);
    t.apply(Event::Exited {
        container: 0,
        exit_code: 0,
        at_ms: 1,
    });
    t.next_actions();
    let app = &t.containers()[1];
    assert_eq!(app.known, ContainerStatus::Stopped);
    let reason = app
        .reason
        .as_ref()
        .map(|r| r.to_string())
        .unwrap_or_default();
    assert!(
        reason.contains("stopped before its health check passed"),
        "{reason}"
    );
}

#[test]
fn health_of_a_container_without_a_check_or_not_running_is_ignored() {
    let mut t = task(Condition::Start);
    t.set_health(0, health(HealthStatus::Healthy));
    assert_eq!(t.containers()[0].health, HealthState::default());
    let mut t = task(Condition::Healthy);
    t.set_health(1, health(HealthStatus::Healthy));
    assert_eq!(t.containers()[1].health, HealthState::default());
}
