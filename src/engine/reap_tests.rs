//! A stopped container gives up its containerd task (shim, logger) as soon
//! as its exit is checkpointed, keeps its record until cleanup, and a
//! restarted agent reaps what the previous process had not.

use std::time::Duration;

use crate::config::ImagePullBehavior;
use crate::control::sink::{PayloadTask, TaskSink};
use crate::runtime::fake::Call;
use crate::runtime::{ContainerState, ErrorKind, RuntimeError};
use crate::task::def::{Condition, ContainerDef, Dependency};
use crate::task::spec::container_id;
use crate::task::{DesiredStatus, Event, Task, TaskStatus};

use super::test_support::{engine, task_def, CLEANUP_WAIT, TASK_ARN};

fn is_stopped(c: &crate::task::StateChange) -> bool {
    c.task_arn == TASK_ARN && c.task_status == Some(TaskStatus::Stopped)
}

#[tokio::test(start_paused = true)]
async fn an_exited_container_gives_up_its_task_at_once_and_its_record_at_cleanup() {
    let h = engine(ImagePullBehavior::Default);
    h.engine
        .accept(vec![PayloadTask::Run(Box::new(task_def(
            ContainerDef::minimal("app", "busybox"),
        )))])
        .expect("accepted");
    h.reporter
        .wait_for(|c| c.task_status == Some(TaskStatus::Running))
        .await;
    let id = container_id("t1", 0, "app");
    assert!(!h
        .runtime
        .calls()
        .contains(&Call::DeleteTask { id: id.clone() }));

    let exited_at = tokio::time::Instant::now();
    h.runtime.exit(&id, 3).await;
    let deleted_at = h
        .runtime
        .wait_for(|c| *c == Call::DeleteTask { id: id.clone() })
        .await;
    assert_eq!(
        deleted_at, exited_at,
        "no wait between the exit and the delete"
    );
    let stopped = h.reporter.wait_for(is_stopped).await;
    assert_eq!(stopped.containers[0].exit_code, Some(3));
    // The record (and its snapshot, its log) stays until the cleanup wait.
    assert!(!h.runtime.calls().contains(&Call::Remove { id: id.clone() }));
    let removed_at = h
        .runtime
        .wait_for(|c| *c == Call::Remove { id: id.clone() })
        .await;
    assert_eq!(removed_at - exited_at, CLEANUP_WAIT);
    let deletes = h
        .runtime
        .calls()
        .into_iter()
        .filter(|c| matches!(c, Call::DeleteTask { .. }))
        .count();
    assert_eq!(deletes, 1, "one delete per exit");
}

/// A container that exits at once: containerd's exit event can come before
/// the start call returns. The task is STOPPED (and done) with the start
/// still in flight, so the delete must wait for the start's answer, not for
/// a next turn of the task that never comes.
#[tokio::test(start_paused = true)]
async fn a_container_that_exits_before_its_start_returns_gives_up_its_task_too() {
    let h = engine(ImagePullBehavior::Default);
    h.runtime.delay_starts(Duration::from_millis(50));
    h.engine
        .accept(vec![PayloadTask::Run(Box::new(task_def(
            ContainerDef::minimal("app", "busybox"),
        )))])
        .expect("accepted");
    let id = container_id("t1", 0, "app");
    let started_at = h
        .runtime
        .wait_for(|c| *c == Call::Start { id: id.clone() })
        .await;
    h.runtime.exit(&id, 0).await;
    let stopped = h.reporter.wait_for(is_stopped).await;
    assert_eq!(stopped.containers[0].exit_code, Some(0));
    let deleted_at = tokio::time::timeout(
        Duration::from_secs(1),
        h.runtime
            .wait_for(|c| *c == Call::DeleteTask { id: id.clone() }),
    )
    .await
    .unwrap_or_else(|_| panic!("no delete of {id}'s task: {:?}", h.runtime.calls()));
    assert_eq!(
        deleted_at - started_at,
        Duration::from_millis(50),
        "deleted as soon as the start returned"
    );
    assert!(!h.runtime.calls().contains(&Call::Remove { id }));
}

#[tokio::test(start_paused = true)]
async fn a_never_started_container_of_a_stopped_task_gives_up_its_task_too() {
    let h = engine(ImagePullBehavior::Default);
    let mut def = task_def(ContainerDef::minimal("init", "busybox"));
    def.containers.push(ContainerDef {
        depends_on: vec![Dependency {
            container: "init".into(),
            condition: Condition::Success,
        }],
        ..ContainerDef::minimal("app", "busybox")
    });
    h.engine
        .accept(vec![PayloadTask::Run(Box::new(def))])
        .expect("accepted");
    let init = container_id("t1", 0, "init");
    let app = container_id("t1", 1, "app");
    h.runtime
        .wait_for(|c| *c == Call::Start { id: init.clone() })
        .await;
    // init fails: the task stops and app, created but never started, too.
    h.runtime.exit(&init, 1).await;
    h.reporter.wait_for(is_stopped).await;
    for id in [&init, &app] {
        tokio::time::timeout(
            Duration::from_secs(1),
            h.runtime
                .wait_for(|c| *c == Call::DeleteTask { id: id.clone() }),
        )
        .await
        .unwrap_or_else(|_| panic!("no delete of {id}'s task: {:?}", h.runtime.calls()));
    }
    assert!(!h.runtime.calls().contains(&Call::Start { id: app.clone() }));
}

#[tokio::test(start_paused = true)]
async fn a_failed_delete_is_retried_while_containerd_is_away_and_otherwise_left_to_cleanup() {
    let h = engine(ImagePullBehavior::Default);
    h.runtime
        .queue_delete_task(Err(RuntimeError::Unavailable("connection refused".into())));
    h.runtime.queue_delete_task(Err(RuntimeError::DeleteTask {
        id: "x".into(),
        kind: ErrorKind::Other,
        message: "refused".into(),
    }));
    h.engine
        .accept(vec![PayloadTask::Run(Box::new(task_def(
            ContainerDef::minimal("app", "busybox"),
        )))])
        .expect("accepted");
    h.reporter
        .wait_for(|c| c.task_status == Some(TaskStatus::Running))
        .await;
    let id = container_id("t1", 0, "app");
    h.runtime.exit(&id, 0).await;
    h.reporter.wait_for(is_stopped).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let deletes = h
        .runtime
        .calls()
        .into_iter()
        .filter(|c| *c == Call::DeleteTask { id: id.clone() })
        .count();
    assert_eq!(deletes, 2, "one retry after containerd came back, no more");
    assert_eq!(h.engine.metrics().errors("delete_task"), 1);
    assert!(!h.runtime.calls().contains(&Call::Remove { id }));
}

/// The last process saved the exit but died before deleting the task (or
/// saw the exit only now): the new one deletes it.
#[tokio::test(start_paused = true)]
async fn a_restored_agent_reaps_what_exited_before_or_while_it_was_down() {
    let h = engine(ImagePullBehavior::Default);
    let mut def = task_def(ContainerDef {
        essential: false,
        ..ContainerDef::minimal("saved", "busybox")
    });
    def.containers
        .push(ContainerDef::minimal("unseen", "busybox"));
    let mut task = Task::new(def, DesiredStatus::Running, Duration::from_secs(30));
    task.next_actions();
    for (i, name) in ["saved", "unseen"].into_iter().enumerate() {
        task.apply(Event::Pulled {
            container: i,
            result: Ok("sha256:d".into()),
        });
        task.apply(Event::Created {
            container: i,
            result: Ok(container_id("t1", i, name)),
        });
    }
    task.next_actions();
    for i in 0..2 {
        task.apply(Event::Started {
            container: i,
            result: Ok(()),
        });
    }
    task.apply(Event::Exited {
        container: 0,
        exit_code: 0,
        at_ms: 1,
    });
    // "saved" is STOPPED in the checkpoint (its state is asked but not
    // used: a record without a task is what a reaped container leaves);
    // "unseen" exited while the agent was down.
    h.runtime.queue_state(Ok(Some(ContainerState::Created)));
    h.runtime
        .queue_state(Ok(Some(ContainerState::Stopped { exit_code: 2 })));
    h.engine.restore(vec![task]);

    let stopped = h.reporter.wait_for(is_stopped).await;
    let unseen = stopped
        .containers
        .iter()
        .find(|c| c.name == "unseen")
        .expect("unseen reported");
    assert_eq!(unseen.exit_code, Some(2));
    for name in ["saved", "unseen"] {
        let id = container_id("t1", if name == "saved" { 0 } else { 1 }, name);
        tokio::time::timeout(
            Duration::from_secs(1),
            h.runtime
                .wait_for(|c| *c == Call::DeleteTask { id: id.clone() }),
        )
        .await
        .unwrap_or_else(|_| panic!("no delete of {id}'s task: {:?}", h.runtime.calls()));
    }
}
