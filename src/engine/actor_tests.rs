//! The task actor and the executor, driven through the engine's front (the
//! `TaskSink` control hands tasks to) on the fake runtime, with time paused:
//! what a user sees in the runtime's calls and in the reports.

use std::time::Duration;

use crate::config::ImagePullBehavior;
use crate::control::sink::{PayloadTask, TaskSink};
use crate::image::RegistryError;
use crate::runtime::fake::Call;
use crate::runtime::{ErrorKind, RuntimeError};
use crate::task::def::{Condition, ContainerDef, Dependency};
use crate::task::spec::container_id;
use crate::task::{ContainerStatus, StateChange, TaskStatus};

use super::test_support::{engine, task_def, Harness, CLEANUP_WAIT, TASK_ARN};

const SIGTERM: i32 = 15;
const SIGKILL: i32 = 9;

fn app_id() -> String {
    container_id("t1", 0, "app")
}

fn is_status(status: TaskStatus) -> impl Fn(&StateChange) -> bool {
    move |c| c.task_arn == TASK_ARN && c.task_status == Some(status)
}

fn run(h: &Harness, container: ContainerDef) {
    h.engine
        .accept(vec![PayloadTask::Run(Box::new(task_def(container)))])
        .expect("NoCheckpoint accepts every task");
}

#[tokio::test(start_paused = true)]
async fn stop_timeout_sends_sigkill_only_after_it_passed() {
    let h = engine(ImagePullBehavior::Default);
    let stop_timeout = Duration::from_secs(7);
    run(
        &h,
        ContainerDef {
            stop_timeout: Some(stop_timeout),
            ..ContainerDef::minimal("app", "busybox")
        },
    );
    h.reporter.wait_for(is_status(TaskStatus::Running)).await;

    h.engine.stop(&[TASK_ARN.to_string()], "scaled in");
    let id = app_id();
    let is_signal = |sig: i32| {
        let id = id.clone();
        move |c: &Call| {
            *c == Call::Kill {
                id: id.clone(),
                signal: sig,
            }
        }
    };
    let term_at = h.runtime.wait_for(is_signal(SIGTERM)).await;

    // The container ignores SIGTERM: just before the timeout, no SIGKILL yet.
    tokio::time::sleep_until(term_at + stop_timeout - Duration::from_millis(1)).await;
    assert!(
        !h.runtime.calls().iter().any(is_signal(SIGKILL)),
        "SIGKILL sent before stopTimeout passed: {:?}",
        h.runtime.calls()
    );

    let kill_at = h.runtime.wait_for(is_signal(SIGKILL)).await;
    assert_eq!(
        kill_at - term_at,
        stop_timeout,
        "SIGKILL at the stopTimeout"
    );

    // The killed container's exit stops the task, with the code SIGKILL leaves.
    h.runtime.exit(&id, 128 + SIGKILL).await;
    let stopped = h.reporter.wait_for(is_status(TaskStatus::Stopped)).await;
    assert_eq!(stopped.containers[0].exit_code, Some(137));
}

#[tokio::test(start_paused = true)]
async fn pull_failure_is_reported_stopped_with_the_registry_words() {
    let h = engine(ImagePullBehavior::Default);
    h.runtime
        .queue_pull(Err(RuntimeError::Image(RegistryError::Registry {
            reference: "docker.io/library/nosuch:latest".into(),
            registry: "registry-1.docker.io".into(),
            status: 404,
            message: "manifest unknown".into(),
        })));
    run(&h, ContainerDef::minimal("app", "nosuch"));

    let stopped = h.reporter.wait_for(is_status(TaskStatus::Stopped)).await;
    let reason = stopped.containers[0]
        .reason
        .clone()
        .expect("the container's reason");
    assert!(
        reason.starts_with("CannotPullContainerError"),
        "reason: {reason}"
    );
    assert!(reason.contains("manifest unknown"), "reason: {reason}");
    assert!(
        stopped
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("manifest unknown"),
        "task reason: {:?}",
        stopped.reason
    );
    // Default pull behaviour looked for a cached image before giving up,
    // and nothing was created.
    let calls = h.runtime.calls();
    assert!(calls.iter().any(|c| matches!(c, Call::FindImage { .. })));
    assert!(!calls.iter().any(|c| matches!(c, Call::Create { .. })));
}

#[tokio::test(start_paused = true)]
async fn a_pull_timeout_is_reported_as_the_go_agents_docker_timeout_error() {
    let h = engine(ImagePullBehavior::Always);
    h.runtime.queue_pull(Err(RuntimeError::Pull {
        kind: ErrorKind::Timeout,
        message: "Could not transition to pulled; timed out after waiting 2h0m0s".into(),
    }));
    run(&h, ContainerDef::minimal("app", "busybox"));

    let stopped = h.reporter.wait_for(is_status(TaskStatus::Stopped)).await;
    assert_eq!(
        stopped.containers[0].reason.as_deref(),
        Some("DockerTimeoutError: Could not transition to pulled; timed out after waiting 2h0m0s")
    );
}

#[tokio::test(start_paused = true)]
async fn create_is_retried_while_containerd_is_unavailable() {
    let h = engine(ImagePullBehavior::Default);
    h.runtime
        .queue_create(Err(RuntimeError::Unavailable("connection refused".into())));
    h.runtime
        .queue_create(Err(RuntimeError::Unavailable("connection refused".into())));
    run(&h, ContainerDef::minimal("app", "busybox"));

    let running = h.reporter.wait_for(is_status(TaskStatus::Running)).await;
    assert_eq!(running.reason, None);

    let creates: Vec<_> = h
        .runtime
        .timed_calls()
        .into_iter()
        .filter(|(_, c)| matches!(c, Call::Create { .. }))
        .map(|(at, _)| at)
        .collect();
    assert_eq!(
        creates.len(),
        3,
        "two refusals, then the create that worked"
    );
    // Waits of the doubling backoff from 250ms.
    assert_eq!(creates[1] - creates[0], Duration::from_millis(250));
    assert_eq!(creates[2] - creates[1], Duration::from_millis(500));
    let started = h
        .runtime
        .calls()
        .into_iter()
        .filter(|c| matches!(c, Call::Start { .. }));
    assert_eq!(started.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_stopped_task_is_cleaned_up_after_the_cleanup_wait() {
    let h = engine(ImagePullBehavior::Default);
    run(&h, ContainerDef::minimal("app", "busybox"));
    h.reporter.wait_for(is_status(TaskStatus::Running)).await;
    assert_eq!(h.engine.task_count(), 1);

    let id = app_id();
    let exited_at = tokio::time::Instant::now();
    h.runtime.exit(&id, 0).await;
    h.reporter.wait_for(is_status(TaskStatus::Stopped)).await;
    // The stopped container stays (for its logs) until the cleanup wait passed.
    tokio::time::sleep_until(exited_at + CLEANUP_WAIT - Duration::from_millis(1)).await;
    assert!(!h.runtime.calls().contains(&Call::Remove { id: id.clone() }));
    assert_eq!(h.engine.task_count(), 1, "the stopped task is still known");
    assert_eq!(h.engine.metrics().read().tasks_cleaned_up, 0);

    let removed_at = h
        .runtime
        .wait_for(|c| *c == Call::Remove { id: id.clone() })
        .await;
    assert_eq!(removed_at - exited_at, CLEANUP_WAIT);
    // Then the agent forgets it, and counts it (the settle watcher gives
    // the memory back once such cleanups stop).
    tokio::task::yield_now().await;
    assert_eq!(h.engine.task_count(), 0);
    assert_eq!(h.engine.metrics().read().tasks_cleaned_up, 1);
}

/// The Go agent's dependency timeout (dependencygraph/graph.go): `init`'s
/// own startTimeout, counted from init's start, ends `app`'s wait on its
/// SUCCESS; `app` is reported STOPPED with 143 and never started.
#[tokio::test(start_paused = true)]
async fn a_dependency_start_timeout_counts_from_its_start() {
    let h = engine(ImagePullBehavior::Default);
    let timeout = Duration::from_secs(5);
    let mut def = task_def(ContainerDef {
        essential: false,
        start_timeout: Some(timeout),
        ..ContainerDef::minimal("init", "busybox")
    });
    def.containers.push(ContainerDef {
        depends_on: vec![Dependency {
            container: "init".into(),
            condition: Condition::Success,
        }],
        ..ContainerDef::minimal("app", "busybox")
    });
    h.engine
        .accept(vec![PayloadTask::Run(Box::new(def))])
        .expect("NoCheckpoint accepts every task");

    let init = container_id("t1", 0, "init");
    let started_at = h
        .runtime
        .wait_for(|c| *c == Call::Start { id: init.clone() })
        .await;
    let app_stopped = |c: &StateChange| {
        c.containers
            .iter()
            .any(|x| x.name == "app" && x.status == ContainerStatus::Stopped)
    };
    let change = h.reporter.wait_for(app_stopped).await;
    let (reported_at, _) = h
        .reporter
        .submitted()
        .into_iter()
        .find(|(_, c)| app_stopped(c))
        .expect("the report just seen");
    assert_eq!(
        reported_at - started_at,
        timeout,
        "startTimeout after init started"
    );
    let app = change.containers.iter().find(|x| x.name == "app").unwrap();
    assert_eq!(app.exit_code, Some(143));
    let reason = app.reason.clone().unwrap_or_default();
    assert!(
        reason.starts_with("CannotStartContainerError: dependency graph: container ordering dependency [init(busybox)")
            && reason.ends_with("has timed out."),
        "{reason}"
    );
    let app_id = container_id("t1", 1, "app");
    assert!(
        !h.runtime.calls().contains(&Call::Start { id: app_id }),
        "app must never start"
    );
    // app was essential: the still running init is sent SIGTERM.
    h.runtime
        .wait_for(|c| {
            *c == Call::Kill {
                id: init.clone(),
                signal: SIGTERM,
            }
        })
        .await;
}

/// pidMode task: the holder of the task's namespaces is ensured before the
/// container is created, and removed once the task stopped.
#[tokio::test(start_paused = true)]
async fn a_task_namespace_holder_runs_before_the_container_and_goes_at_stop() {
    let h = engine(ImagePullBehavior::Default);
    let mut app = ContainerDef::minimal("app", "busybox");
    app.linux.pid = crate::task::linux::PidMode::Task;
    run(&h, app);
    h.reporter.wait_for(is_status(TaskStatus::Running)).await;
    let holder = Call::EnsureNamespaceHolder { id: "t1-ns".into() };
    let id = app_id();
    let calls = h.runtime.calls();
    let at = |want: &Call| calls.iter().position(|c| c == want);
    let ensured = at(&holder).expect("holder ensured");
    assert!(ensured < at(&Call::Create { id: id.clone() }).unwrap());
    assert!(!calls.contains(&Call::RemoveNamespaceHolder { id: "t1-ns".into() }));

    h.runtime.exit(&id, 0).await;
    h.reporter.wait_for(is_status(TaskStatus::Stopped)).await;
    h.runtime
        .wait_for(|c| *c == Call::RemoveNamespaceHolder { id: "t1-ns".into() })
        .await;
}
