//! What the engine's unit tests share: a recording [`StateReporter`] whose
//! answers a test queues, and an engine on the fake runtime with nothing
//! checkpointed (unless a test passes a store) and no task networking.
//! Test-only.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::checkpoint::Checkpoint;
use super::reporter::{ReportError, ReportQueue, StateReporter};
use super::settings::EngineSettings;
use super::settings::TaskCgroupSettings;
use super::{Engine, EngineServices, NoCheckpoint};
use crate::cgroups::fake::FakeCgroups;
use crate::config::{ImagePullBehavior, RegistryAuth};
use crate::network::TaskNetwork;
use crate::runtime::fake::FakeRuntime;
use crate::task::def::{ContainerDef, NetworkMode, TaskDef};
use crate::task::StateChange;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Records every submitted change with its instant; answers with the queued
/// failures first, then accepts.
#[derive(Default)]
pub struct RecordingReporter {
    failures: Mutex<VecDeque<ReportError>>,
    submitted: Mutex<Vec<(Instant, StateChange)>>,
    changed: Notify,
}

impl RecordingReporter {
    pub fn fail_next(&self, error: ReportError) {
        lock(&self.failures).push_back(error);
    }

    pub fn submitted(&self) -> Vec<(Instant, StateChange)> {
        lock(&self.submitted).clone()
    }

    /// Waits until a submitted change matches `want`, and returns it.
    pub async fn wait_for(&self, want: impl Fn(&StateChange) -> bool) -> StateChange {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some((_, c)) = lock(&self.submitted).iter().find(|(_, c)| want(c)) {
                return c.clone();
            }
            changed.await;
        }
    }
}

impl StateReporter for RecordingReporter {
    async fn submit(&self, change: &StateChange) -> Result<(), ReportError> {
        lock(&self.submitted).push((Instant::now(), change.clone()));
        self.changed.notify_waiters();
        match lock(&self.failures).pop_front() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

pub const TASK_ARN: &str = "arn:aws:ecs:us-east-1:0:task/c/t1";

/// ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION of the test engines (its default), without jitter.
pub const CLEANUP_WAIT: Duration = Duration::from_secs(3 * 3600);

/// A one-container host-mode task.
pub fn task_def(container: ContainerDef) -> TaskDef {
    task_def_in(NetworkMode::Host, container)
}

/// A one-container task in network mode `mode`.
pub fn task_def_in(mode: NetworkMode, container: ContainerDef) -> TaskDef {
    TaskDef {
        arn: TASK_ARN.into(),
        family: "fam".into(),
        version: "1".into(),
        network_mode: mode,
        containers: vec![container],
        eni: None,
        eni_attachment_arn: None,
        credentials_id: None,
        execution_credentials_id: None,
        limits: Default::default(),
        volumes: Vec::new(),
    }
}

pub struct Harness {
    pub engine: Engine<FakeRuntime>,
    pub runtime: Arc<FakeRuntime>,
    pub reporter: Arc<RecordingReporter>,
    /// The data directory; removed when the test ends.
    _data: tempfile::TempDir,
}

/// An engine on the fake runtime, with its exits routed, as the agent runs it,
/// on a host without task networking (host-mode tasks only).
pub fn engine(pull_behavior: ImagePullBehavior) -> Harness {
    engine_with(pull_behavior, None)
}

/// The same, with task namespaces made by `network`.
pub fn engine_with(
    pull_behavior: ImagePullBehavior,
    network: Option<Arc<dyn TaskNetwork>>,
) -> Harness {
    engine_with_services(
        pull_behavior,
        EngineServices {
            network,
            ..EngineServices::default()
        },
    )
}

/// The same, with task cgroups made by `cgroups` (period 100ms, pids.max 64).
pub fn engine_with_cgroups(cgroups: Arc<FakeCgroups>) -> Harness {
    engine_with_services(
        ImagePullBehavior::Default,
        EngineServices {
            cgroups: Some(TaskCgroupSettings {
                cgroups,
                cpu_period: Duration::from_millis(100),
                pids_limit: Some(64),
            }),
            ..EngineServices::default()
        },
    )
}

/// The same, checkpointing into `checkpoint` (and its reports' outbox).
pub fn engine_with_checkpoint(checkpoint: Arc<dyn Checkpoint>) -> Harness {
    build(
        ImagePullBehavior::Default,
        EngineServices::default(),
        checkpoint,
    )
}

fn engine_with_services(pull_behavior: ImagePullBehavior, services: EngineServices) -> Harness {
    build(pull_behavior, services, Arc::new(NoCheckpoint))
}

fn build(
    pull_behavior: ImagePullBehavior,
    services: EngineServices,
    checkpoint: Arc<dyn Checkpoint>,
) -> Harness {
    let runtime = Arc::new(FakeRuntime::new());
    let reporter = Arc::new(RecordingReporter::default());
    let data = tempfile::tempdir().expect("a temporary data directory");
    let settings = EngineSettings {
        cluster_arn: "arn:aws:ecs:us-east-1:0:cluster/c".into(),
        data_dir: data.path().to_path_buf(),
        default_stop_timeout: Duration::from_secs(30),
        start_call_timeout: Duration::from_secs(180),
        cleanup_wait: CLEANUP_WAIT,
        cleanup_jitter: Duration::ZERO,
        pull_behavior,
        registry_auth: RegistryAuth::default(),
        task_iam_role: false,
        task_iam_role_network_host: false,
        container_metadata: false,
        host_data_dir: None,
        shared_volume_match_full_config: false,
    };
    let reports = ReportQueue::start(reporter.clone(), checkpoint.clone());
    let engine = Engine::new(runtime.clone(), settings, reports, checkpoint, services);
    let router = engine.clone();
    tokio::spawn(async move { router.route_exits().await });
    Harness {
        engine,
        runtime,
        reporter,
        _data: data,
    }
}
