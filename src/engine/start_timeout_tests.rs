//! The two start bounds the Go agent has, through the engine with time
//! paused: ECS_CONTAINER_START_TIMEOUT on the start call itself, and a
//! dependency's `startTimeout` (counted from its start, kept across an agent
//! restart) on the containers waiting for it.

use std::time::Duration;

use crate::config::ImagePullBehavior;
use crate::control::sink::{PayloadTask, TaskSink};
use crate::runtime::fake::Call;
use crate::runtime::ContainerState;
use crate::task::def::{Condition, ContainerDef, Dependency};
use crate::task::spec::container_id;
use crate::task::{ContainerStatus, DesiredStatus, Event, StateChange, Task, TaskStatus};

use super::inner::now_ms;
use super::test_support::{engine, task_def, TASK_ARN};

/// The harness's ECS_CONTAINER_START_TIMEOUT (the default).
const START_CALL_TIMEOUT: Duration = Duration::from_secs(180);

fn is_status(status: TaskStatus) -> impl Fn(&StateChange) -> bool {
    move |c| c.task_arn == TASK_ARN && c.task_status == Some(status)
}

#[tokio::test(start_paused = true)]
async fn the_start_call_is_bounded_by_ecs_container_start_timeout_not_the_containers_own() {
    let h = engine(ImagePullBehavior::Default);
    h.runtime.delay_starts(Duration::from_secs(600));
    // Its own startTimeout is about containers that depend on it (Go).
    let app = ContainerDef {
        start_timeout: Some(Duration::from_secs(1)),
        ..ContainerDef::minimal("app", "busybox")
    };
    h.engine
        .accept(vec![PayloadTask::Run(Box::new(task_def(app)))])
        .expect("accepted");
    let id = container_id("t1", 0, "app");
    let started_at = h
        .runtime
        .wait_for(|c| *c == Call::Start { id: id.clone() })
        .await;
    let stopped = h.reporter.wait_for(is_status(TaskStatus::Stopped)).await;
    let (at, _) = h
        .reporter
        .submitted()
        .into_iter()
        .find(|(_, c)| is_status(TaskStatus::Stopped)(c))
        .expect("just seen");
    assert_eq!(at - started_at, START_CALL_TIMEOUT);
    assert_eq!(
        stopped.containers[0].reason.as_deref(),
        Some("CannotStartContainerError: start did not finish within 180s (ECS_CONTAINER_START_TIMEOUT)")
    );
}

#[tokio::test(start_paused = true)]
async fn a_restored_dependency_keeps_its_start_timeout_counted_from_its_start() {
    let h = engine(ImagePullBehavior::Default);
    let mut def = task_def(ContainerDef {
        essential: false,
        start_timeout: Some(Duration::from_secs(10)),
        ..ContainerDef::minimal("init", "busybox")
    });
    def.containers.push(ContainerDef {
        depends_on: vec![Dependency {
            container: "init".into(),
            condition: Condition::Success,
        }],
        ..ContainerDef::minimal("app", "busybox")
    });
    // The last process started init 4s ago; app waits for its SUCCESS.
    let mut task = Task::new(def, DesiredStatus::Running, Duration::from_secs(30));
    task.next_actions();
    for i in 0..2 {
        task.apply(Event::Pulled {
            container: i,
            result: Ok("sha256:d".into()),
        });
        task.apply(Event::Created {
            container: i,
            result: Ok(container_id("t1", i, if i == 0 { "init" } else { "app" })),
        });
    }
    task.next_actions();
    task.apply(Event::Started {
        container: 0,
        result: Ok(()),
    });
    task.record_started(0, now_ms() - 4_000);
    assert_eq!(task.containers()[1].known, ContainerStatus::Created);
    // containerd still runs init; app's half-made record is made again.
    h.runtime
        .queue_state(Ok(Some(ContainerState::Running { pid: 7 })));
    h.runtime.queue_state(Ok(Some(ContainerState::Created)));
    let restored_at = tokio::time::Instant::now();
    h.engine.restore(vec![task]);

    let app_stopped = |c: &StateChange| {
        c.containers
            .iter()
            .any(|x| x.name == "app" && x.status == ContainerStatus::Stopped)
    };
    let change = tokio::time::timeout(Duration::from_secs(60), h.reporter.wait_for(app_stopped))
        .await
        .expect("app stops waiting once init's startTimeout has passed");
    let (at, _) = h
        .reporter
        .submitted()
        .into_iter()
        .find(|(_, c)| app_stopped(c))
        .expect("just seen");
    // 10s from init's start, not from the restart: about 6s after it.
    let waited = at - restored_at;
    assert!(
        waited <= Duration::from_secs(6) && waited >= Duration::from_secs(5),
        "app gave up {waited:?} after the restart"
    );
    let app = change.containers.iter().find(|x| x.name == "app").unwrap();
    assert_eq!(app.exit_code, Some(143));
}
