//! Task cgroups through the engine, on the fake runtime and fake cgroups,
//! with time paused: made before the containers, limits as the Go agent
//! computes them, an OOM kill by the task's limit explained, removed at cleanup.

use std::sync::Arc;
use std::time::Duration;

use crate::cgroups::fake::FakeCgroups;
use crate::cgroups::{CpuLimit, TaskCgroupSpec};
use crate::control::sink::{PayloadTask, TaskSink};
use crate::runtime::fake::Call;
use crate::task::def::{ContainerDef, TaskLimits};
use crate::task::spec::container_id;
use crate::task::{StateChange, TaskStatus};

use super::test_support::{engine_with_cgroups, task_def, CLEANUP_WAIT, TASK_ARN};

fn is_status(status: TaskStatus) -> impl Fn(&StateChange) -> bool {
    move |c| c.task_arn == TASK_ARN && c.task_status == Some(status)
}

#[tokio::test(start_paused = true)]
async fn the_task_cgroup_carries_the_limits_an_oom_kill_is_explained_and_cleanup_removes_it() {
    let cg = Arc::new(FakeCgroups::default());
    let h = engine_with_cgroups(cg.clone());
    let mut def = task_def(ContainerDef::minimal("app", "busybox"));
    // ACS: cpu in vCPU (512 units), memory in MiB.
    def.limits = TaskLimits {
        cpu: Some(0.5),
        memory_mib: Some(64),
    };
    h.engine
        .accept(vec![PayloadTask::Run(Box::new(def))])
        .expect("NoCheckpoint accepts every task");
    h.reporter.wait_for(is_status(TaskStatus::Running)).await;
    assert_eq!(
        cg.spec("t1"),
        Some(TaskCgroupSpec {
            cpu: CpuLimit::Quota {
                quota_us: 50_000,
                period_us: 100_000
            },
            memory_bytes: Some(64 << 20),
            pids_max: Some(64),
        })
    );

    // The kernel killed it for the task's limit: the task cgroup counts it.
    cg.set_oom_kills("t1", 1);
    let id = container_id("t1", 0, "app");
    let exited_at = tokio::time::Instant::now();
    h.runtime.exit(&id, 137).await;
    let stopped = h.reporter.wait_for(is_status(TaskStatus::Stopped)).await;
    assert_eq!(
        stopped.containers[0].reason.as_deref(),
        Some("OutOfMemoryError: Container killed due to memory usage")
    );
    assert_eq!(stopped.containers[0].exit_code, Some(137));

    h.runtime
        .wait_for(|c| *c == Call::Remove { id: id.clone() })
        .await;
    tokio::time::sleep_until(exited_at + CLEANUP_WAIT + Duration::from_millis(1)).await;
    tokio::task::yield_now().await;
    assert_eq!(cg.removed(), vec!["t1".to_string()]);
}

#[tokio::test(start_paused = true)]
async fn a_sigkill_the_task_cgroup_did_not_count_has_no_oom_reason() {
    let cg = Arc::new(FakeCgroups::default());
    let h = engine_with_cgroups(cg.clone());
    h.engine
        .accept(vec![PayloadTask::Run(Box::new(task_def(
            ContainerDef::minimal("app", "busybox"),
        )))])
        .expect("accepted");
    h.reporter.wait_for(is_status(TaskStatus::Running)).await;
    // No task cpu: the containers' shares (0 units count as 2).
    assert_eq!(cg.spec("t1").map(|s| s.cpu), Some(CpuLimit::Shares(2)));
    h.runtime.exit(&container_id("t1", 0, "app"), 137).await;
    let stopped = h.reporter.wait_for(is_status(TaskStatus::Stopped)).await;
    assert_eq!(stopped.containers[0].reason, None);
}

#[tokio::test(start_paused = true)]
async fn a_container_memory_above_the_task_memory_stops_the_task_before_any_create() {
    let cg = Arc::new(FakeCgroups::default());
    let h = engine_with_cgroups(cg.clone());
    let mut def = task_def(ContainerDef {
        memory_mib: Some(128),
        ..ContainerDef::minimal("app", "busybox")
    });
    def.limits.memory_mib = Some(64);
    h.engine
        .accept(vec![PayloadTask::Run(Box::new(def))])
        .expect("accepted");
    let stopped = h.reporter.wait_for(is_status(TaskStatus::Stopped)).await;
    let reason = stopped.containers[0].reason.clone().unwrap_or_default();
    assert_eq!(
        reason,
        "CannotCreateContainerError: task cgroup: container \"app\" sets memory 128 MiB, more than the task's 64 MiB"
    );
    assert!(!h
        .runtime
        .calls()
        .iter()
        .any(|c| matches!(c, Call::Create { .. })));
    assert_eq!(cg.spec("t1"), None);
}
