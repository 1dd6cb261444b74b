//! When a private ECR image's token is asked for: only when the image is
//! fetched (Go asks in dockerGoClient.pullImage), so a cached image under
//! ECS_IMAGE_PULL_BEHAVIOR prefer-cached runs without ECR; a token that
//! cannot be had stops the task as the Go agent's CannotPullECRContainerError.
//! The test engine has no AWS clients, so every ECR login here fails.

use crate::config::ImagePullBehavior;
use crate::control::sink::{PayloadTask, TaskSink};
use crate::runtime::fake::{pulled, Call};
use crate::task::def::ContainerDef;
use crate::task::resources::EcrRegistryAuth;
use crate::task::{StateChange, TaskStatus};

use super::test_support::{engine, task_def, Harness, TASK_ARN};

const IMAGE: &str = "123456789012.dkr.ecr.us-west-2.amazonaws.com/app:1";

fn is_status(status: TaskStatus) -> impl Fn(&StateChange) -> bool {
    move |c| c.task_arn == TASK_ARN && c.task_status == Some(status)
}

fn run_ecr(h: &Harness) {
    let mut c = ContainerDef::minimal("app", IMAGE);
    c.aws.ecr_auth = Some(EcrRegistryAuth {
        registry_id: "123456789012".into(),
        region: "us-west-2".into(),
        endpoint_override: None,
        use_execution_role: true,
    });
    h.engine
        .accept(vec![PayloadTask::Run(Box::new(task_def(c)))])
        .expect("NoCheckpoint accepts every task");
}

#[tokio::test(start_paused = true)]
async fn a_token_that_cannot_be_had_stops_the_task_before_any_pull() {
    let h = engine(ImagePullBehavior::Always);
    run_ecr(&h);
    let stopped = h.reporter.wait_for(is_status(TaskStatus::Stopped)).await;
    assert_eq!(
        stopped.reason.as_deref(),
        Some("CannotPullECRContainerError: private ECR images are not available on this agent")
    );
    assert!(
        !h.runtime
            .calls()
            .iter()
            .any(|c| matches!(c, Call::Pull { .. })),
        "{:?}",
        h.runtime.calls()
    );
}

#[tokio::test(start_paused = true)]
async fn a_cached_image_needs_no_token_under_prefer_cached() {
    let h = engine(ImagePullBehavior::PreferCached);
    h.runtime.queue_find_image(Ok(Some(pulled(IMAGE))));
    run_ecr(&h);
    h.reporter.wait_for(is_status(TaskStatus::Running)).await;
    assert!(!h
        .runtime
        .calls()
        .iter()
        .any(|c| matches!(c, Call::Pull { .. })));
}
