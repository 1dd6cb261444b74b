//! The sweep at start on the fake runtime: what no checkpointed task owns
//! goes, what one owns stays, and nothing goes without a checkpoint.

use std::time::Duration;

use crate::runtime::fake::Call;
use crate::runtime::{ErrorKind, RuntimeError};
use crate::task::def::{ContainerDef, TaskDef};
use crate::task::{DesiredStatus, Event, Task};

use super::super::test_support::engine;
use super::leftovers;
use crate::config::ImagePullBehavior;

/// A saved task `t1` (containers `app` and `side`), whose `app` was made
/// under a runtime id of an older naming.
fn saved_task() -> Task {
    let def = TaskDef::minimal(
        "arn:aws:ecs:us-east-1:0:task/c/t1",
        vec![
            ContainerDef::minimal("app", "busybox"),
            ContainerDef::minimal("side", "busybox"),
        ],
    );
    let mut task = Task::new(def, DesiredStatus::Running, Duration::from_secs(30));
    task.next_actions();
    task.apply(Event::Pulled {
        container: 0,
        result: Ok("sha256:d".into()),
    });
    task.apply(Event::Created {
        container: 0,
        result: Ok("ecs-old-naming-app".into()),
    });
    task
}

#[test]
fn what_a_saved_task_owns_stays_and_the_rest_is_a_leftover() {
    let listed = [
        "ecs-old-naming-app", // t1's app, as recorded when it was made
        "t1-1-side",          // t1's side, named as now
        "t1-ns",              // t1's namespace holder
        "t1-9-helper",        // named after t1: kept, never guessed at
        "t2-0-web",           // a task the checkpoint does not know
        "t2-ns",              // its namespace holder
        "t10-0-app",          // t1 is no prefix of t10
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(
        leftovers(listed, &[saved_task()]),
        ["t2-0-web", "t2-ns", "t10-0-app"]
    );
    // No saved task: everything is a leftover.
    assert_eq!(leftovers(vec!["t1-ns".into()], &[]), ["t1-ns"]);
}

#[tokio::test(start_paused = true)]
async fn leftovers_are_removed_and_counted_and_owned_containers_untouched() {
    let h = engine(ImagePullBehavior::Default);
    h.runtime.queue_list(Ok(vec![
        "t1-1-side".into(),
        "t2-0-web".into(),
        "t2-ns".into(),
    ]));
    // The holder's remove fails: counted as an error, the rest goes on.
    h.runtime.queue_remove(Ok(()));
    h.runtime.queue_remove(Err(RuntimeError::Remove {
        id: "t2-ns".into(),
        kind: ErrorKind::Other,
        message: "boom".into(),
    }));
    h.engine
        .remove_leftover_containers(&[saved_task()], true)
        .await;
    let removed: Vec<Call> = h
        .runtime
        .calls()
        .into_iter()
        .filter(|c| matches!(c, Call::Remove { .. } | Call::Kill { .. }))
        .collect();
    assert_eq!(
        removed,
        [
            Call::Remove {
                id: "t2-0-web".into()
            },
            Call::Remove { id: "t2-ns".into() }
        ]
    );
    let m = h.engine.metrics().read();
    assert_eq!(m.leftovers_removed, 1);
    assert_eq!(m.errors.get("leftover"), Some(&1));
}

#[tokio::test(start_paused = true)]
async fn without_a_checkpoint_nothing_is_removed() {
    let h = engine(ImagePullBehavior::Default);
    h.runtime.queue_list(Ok(vec!["t2-0-web".into()]));
    h.engine.remove_leftover_containers(&[], false).await;
    let calls = h.runtime.calls();
    assert!(calls.contains(&Call::List), "{calls:?}");
    assert!(
        !calls.iter().any(|c| matches!(c, Call::Remove { .. })),
        "{calls:?}"
    );
    assert_eq!(h.engine.metrics().read().leftovers_removed, 0);
}

#[tokio::test(start_paused = true)]
async fn a_namespace_that_cannot_be_listed_is_left_as_it_is() {
    let h = engine(ImagePullBehavior::Default);
    h.runtime.queue_list(Err(RuntimeError::List {
        kind: ErrorKind::Unavailable,
        message: "containers: gone".into(),
    }));
    h.engine.remove_leftover_containers(&[], true).await;
    assert!(!h
        .runtime
        .calls()
        .iter()
        .any(|c| matches!(c, Call::Remove { .. })));
    assert_eq!(h.engine.metrics().read().errors.get("leftover"), Some(&1));
}
