//! A cleaned-up task leaves nothing behind (issue 18 point 3): every map the
//! engine keeps by task or container, the credentials, the endpoints' view
//! and the checkpoint (task record and report outbox) are empty again. A
//! field that one day keeps something per task fails here, where a process
//! that runs for months would only show it as memory.

use std::sync::Arc;

use crate::config::ImagePullBehavior;
use crate::control::sink::{PayloadTask, TaskSink};
use crate::credentials::{RoleCredentials, RoleType};
use crate::model::acs::IamRoleCredentials;
use crate::observe::TaskSource;
use crate::runtime::fake::Call;
use crate::state::StateStore;
use crate::task::def::ContainerDef;
use crate::task::spec::container_id;
use crate::task::{StateChange, TaskStatus};

use super::inner::lock;
use super::test_support::{engine, engine_with_checkpoint, task_def, Harness, TASK_ARN};

fn stopped(c: &StateChange) -> bool {
    c.task_arn == TASK_ARN && c.task_status == Some(TaskStatus::Stopped)
}

fn credentials(id: &str) -> RoleCredentials {
    RoleCredentials::from_acs(
        &IamRoleCredentials {
            credentials_id: Some(id.into()),
            access_key_id: Some("AKID".into()),
            secret_access_key: Some("secret".into()),
            ..IamRoleCredentials::default()
        },
        RoleType::TaskApplication,
    )
    .expect("valid credentials")
}

/// Runs a task with a task role and an execution role to its cleanup.
async fn run_to_cleanup(h: &Harness) {
    let mut def = task_def(ContainerDef::minimal("app", "busybox"));
    def.credentials_id = Some("creds-task".into());
    def.execution_credentials_id = Some("creds-exec".into());
    h.engine
        .put_credentials(TASK_ARN, credentials("creds-task"))
        .expect("stored");
    h.engine
        .put_credentials(TASK_ARN, {
            let mut c = credentials("creds-exec");
            c.role_type = RoleType::TaskExecution;
            c
        })
        .expect("stored");
    h.engine
        .accept(vec![PayloadTask::Run(Box::new(def))])
        .expect("accepted");
    let id = container_id("t1", 0, "app");
    h.runtime
        .wait_for(|c| matches!(c, Call::Start { .. }))
        .await;
    h.runtime.exit(&id, 0).await;
    h.reporter.wait_for(stopped).await;
    h.runtime
        .wait_for(|c| *c == Call::Remove { id: id.clone() })
        .await;
    // The actor forgets the task right after the removal.
    for _ in 0..100 {
        if h.engine.task_count() == 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
}

fn assert_nothing_kept(h: &Harness) {
    let inner = &h.engine.inner;
    assert_eq!(h.engine.task_count(), 0, "task actors");
    assert!(lock(&inner.finished).is_empty(), "finished tasks");
    assert!(lock(&inner.rejected).is_empty(), "refused tasks");
    assert!(lock(&inner.routes).is_empty(), "exit routes");
    assert!(lock(&inner.task_images).is_empty(), "images by task");
    assert!(lock(&inner.net_setups).is_empty(), "network setups");
    assert!(lock(&inner.image_checks).is_empty(), "image checks");
    assert!(inner.credentials.is_empty(), "credentials");
    assert!(
        inner.published.snapshot().tasks.is_empty(),
        "the endpoints' view"
    );
    assert_eq!(h.engine.reports().pending(), 0, "reports not delivered");
}

#[tokio::test(start_paused = true)]
async fn a_cleaned_up_task_leaves_nothing_in_the_engine() {
    let h = engine(ImagePullBehavior::Default);
    run_to_cleanup(&h).await;
    assert_nothing_kept(&h);
}

#[tokio::test(start_paused = true)]
async fn a_cleaned_up_task_leaves_nothing_in_the_checkpoint() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Arc::new(StateStore::open(dir.path()).expect("a new store"));
    let h = engine_with_checkpoint(store.clone());
    run_to_cleanup(&h).await;
    assert_nothing_kept(&h);
    let saved = store.load().expect("readable");
    assert!(
        saved.tasks.is_empty(),
        "task records: {}",
        saved.tasks.len()
    );
    assert!(saved.outbox.is_empty(), "reports: {:?}", saved.outbox);
}
