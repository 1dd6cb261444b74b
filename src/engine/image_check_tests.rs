//! Containers created from the image the runtime pulled before, while the
//! pull asks the registry (`image_check.rs`): kept when the registry still
//! has that image, made again when it has another, removed when the pull
//! fails where a failure must stop the task. Fake runtime, paused time.

use std::time::Duration;

use crate::config::ImagePullBehavior;
use crate::control::sink::{PayloadTask, TaskSink};
use crate::image::RegistryError;
use crate::runtime::fake::{pulled, Call};
use crate::runtime::RuntimeError;
use crate::task::container::PulledImage;
use crate::task::def::ContainerDef;
use crate::task::spec::container_id;
use crate::task::{StateChange, TaskStatus};

use super::test_support::{engine, task_def, Harness, TASK_ARN};

const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn image(digest: &str) -> PulledImage {
    PulledImage {
        digest: digest.to_string(),
        chain_id: format!("chain-of-{digest}"),
        ..pulled("busybox")
    }
}

fn is_status(status: TaskStatus) -> impl Fn(&StateChange) -> bool {
    move |c| c.task_arn == TASK_ARN && c.task_status == Some(status)
}

fn run(h: &Harness) {
    h.engine
        .accept(vec![PayloadTask::Run(Box::new(task_def(
            ContainerDef::minimal("app", "busybox"),
        )))])
        .expect("NoCheckpoint accepts every task");
}

fn app_id() -> String {
    container_id("t1", 0, "app")
}

fn at(
    calls: &[(tokio::time::Instant, Call)],
    want: impl Fn(&Call) -> bool,
) -> tokio::time::Instant {
    calls
        .iter()
        .find(|(_, c)| want(c))
        .map(|(t, _)| *t)
        .unwrap_or_else(|| panic!("no such call in {calls:?}"))
}

#[tokio::test(start_paused = true)]
async fn a_container_is_created_while_the_registry_is_asked_and_started_once_it_answers() {
    let h = engine(ImagePullBehavior::Default);
    h.runtime.remember("busybox", image(A));
    h.runtime.queue_pull(Ok(image(A)));
    let registry = Duration::from_secs(5);
    h.runtime.delay_pulls(registry);
    run(&h);
    let running = h.reporter.wait_for(is_status(TaskStatus::Running)).await;

    let calls = h.runtime.timed_calls();
    let pull = at(&calls, |c| matches!(c, Call::Pull { .. }));
    let create = at(&calls, |c| matches!(c, Call::Create { .. }));
    let start = at(&calls, |c| matches!(c, Call::Start { .. }));
    assert!(
        create < pull + registry,
        "created only after the pull: {calls:?}"
    );
    assert!(
        start >= pull + registry,
        "started before the pull answered: {calls:?}"
    );
    assert_eq!(h.runtime.created_images(), [(app_id(), A.to_string())]);
    assert!(!calls.iter().any(|(_, c)| matches!(c, Call::Remove { .. })));
    assert_eq!(running.containers[0].image_digest.as_deref(), Some(A));
}

#[tokio::test(start_paused = true)]
async fn a_tag_that_moved_is_created_again_from_the_image_the_pull_brought() {
    let h = engine(ImagePullBehavior::Default);
    h.runtime.remember("busybox", image(A));
    h.runtime.queue_pull(Ok(image(B)));
    h.runtime.delay_pulls(Duration::from_secs(1));
    run(&h);
    let running = h.reporter.wait_for(is_status(TaskStatus::Running)).await;

    let id = app_id();
    assert_eq!(
        h.runtime.created_images(),
        [(id.clone(), A.to_string()), (id.clone(), B.to_string())]
    );
    let calls: Vec<Call> = h.runtime.calls();
    let pos = |want: &Call| calls.iter().position(|c| c == want);
    let removed = pos(&Call::Remove { id: id.clone() }).expect("the first container removed");
    let started = pos(&Call::Start { id: id.clone() }).expect("started");
    let second = calls
        .iter()
        .rposition(|c| matches!(c, Call::Create { .. }))
        .expect("created again");
    assert!(removed < second && second < started, "{calls:?}");
    assert_eq!(
        calls
            .iter()
            .filter(|c| matches!(c, Call::Start { .. }))
            .count(),
        1,
        "{calls:?}"
    );
    assert_eq!(running.containers[0].image_digest.as_deref(), Some(B));
    // The control plane never hears of the image the container was begun from.
    let reported: Vec<Option<String>> = h
        .reporter
        .submitted()
        .into_iter()
        .flat_map(|(_, c)| c.containers)
        .map(|c| c.image_digest)
        .collect();
    assert!(
        !reported.iter().any(|d| d.as_deref() == Some(A)),
        "{reported:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn under_always_a_failed_pull_stops_the_task_and_removes_the_container_begun() {
    let h = engine(ImagePullBehavior::Always);
    h.runtime.remember("busybox", image(A));
    h.runtime
        .queue_pull(Err(RuntimeError::Image(RegistryError::Registry {
            reference: "docker.io/library/busybox:latest".into(),
            registry: "registry-1.docker.io".into(),
            status: 404,
            message: "manifest unknown".into(),
        })));
    run(&h);
    let stopped = h.reporter.wait_for(is_status(TaskStatus::Stopped)).await;

    let reason = stopped.containers[0].reason.clone().unwrap_or_default();
    assert!(
        reason.starts_with("CannotPullContainerError") && reason.contains("manifest unknown"),
        "{reason}"
    );
    let calls = h.runtime.calls();
    let create = calls.iter().position(|c| matches!(c, Call::Create { .. }));
    let remove = calls
        .iter()
        .position(|c| *c == Call::Remove { id: app_id() });
    assert!(create.is_some() && remove > create, "{calls:?}");
    assert!(
        !calls.iter().any(|c| matches!(c, Call::Start { .. })),
        "{calls:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn under_default_a_failed_pull_keeps_the_container_of_the_cached_image() {
    let h = engine(ImagePullBehavior::Default);
    h.runtime.remember("busybox", image(A));
    h.runtime
        .queue_pull(Err(RuntimeError::Image(RegistryError::Connect {
            registry: "registry-1.docker.io".into(),
            cause: "connection refused".into(),
        })));
    h.runtime.queue_find_image(Ok(Some(image(A))));
    run(&h);
    let running = h.reporter.wait_for(is_status(TaskStatus::Running)).await;

    assert_eq!(h.runtime.created_images(), [(app_id(), A.to_string())]);
    let calls = h.runtime.calls();
    assert!(calls.iter().any(|c| matches!(c, Call::FindImage { .. })));
    assert!(
        !calls.iter().any(|c| matches!(c, Call::Remove { .. })),
        "{calls:?}"
    );
    assert_eq!(running.containers[0].image_digest.as_deref(), Some(A));
}

#[tokio::test(start_paused = true)]
async fn an_image_pulled_only_once_is_not_asked_for_again() {
    let h = engine(ImagePullBehavior::Once);
    h.runtime.remember("busybox", image(A));
    h.runtime.queue_find_image(Ok(Some(image(A))));
    run(&h);
    h.reporter.wait_for(is_status(TaskStatus::Running)).await;

    let calls = h.runtime.calls();
    assert!(
        !calls.iter().any(|c| matches!(c, Call::Pull { .. })),
        "{calls:?}"
    );
    assert_eq!(h.runtime.created_images(), [(app_id(), A.to_string())]);
}
