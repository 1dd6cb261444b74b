//! The running control plane: state behind a lock, its store, and the open
//! ACS sessions that must hear about new payloads.

use super::auth::TaskPrincipal;
use super::config::{now_secs, Config};
use super::error::ApiError;
use super::imds::{Imds, Instance};
use super::state::State;
use super::state::ACCOUNT_ID;
use super::store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// Per-request context handed to API handlers (time is passed in so handlers
/// stay deterministic).
#[derive(Debug, Clone)]
pub struct Ctx {
    pub now: f64,
    pub region: String,
    /// `host[:port]` the caller used; endpoints handed to agents use it.
    pub host: String,
    /// Instances whose ACS session should look at the outbox.
    pub notify: Vec<String>,
    /// Seconds minted task role credentials live.
    pub credentials_ttl: f64,
    /// `waitTimeoutMs` of ENI attachments.
    pub eni_attach_timeout_ms: i64,
    /// Set when the caller signed with a task's role keys: the handler holds
    /// the call to that task.
    pub principal: Option<TaskPrincipal>,
    /// The `--auth` access key that signed the call (`None` without
    /// `--auth`, or for task role keys).
    pub signer: Option<String>,
    /// `--ecr-registry` mappings, for the payloads built.
    pub ecr_registries: std::sync::Arc<Vec<crate::local::ecr::EcrMapping>>,
}

#[derive(Default)]
pub struct TcsStats {
    pub metrics: AtomicU64,
    pub health: AtomicU64,
    pub instance_status: AtomicU64,
    /// Task entries across every PublishMetricsRequest.
    pub task_metrics: AtomicU64,
    /// PublishMetricsRequests marked idle.
    pub idle: AtomicU64,
    /// Task entries of metrics (and health) for tasks ecs-local does not
    /// know: dropped, only counted.
    pub unknown_task_metrics: AtomicU64,
    pub unknown_task_health: AtomicU64,
    /// What agents reported per task ARN ecs-local knows, for tests to observe.
    pub tasks: Mutex<HashMap<String, TaskTelemetry>>,
    /// The JSON of the last PublishMetricsRequest.
    pub last_metrics: Mutex<Option<String>>,
}

/// What ecs-local saw of one task's metrics.
#[derive(Debug, Default, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskTelemetry {
    pub frames: u64,
    pub cpu_samples: i64,
    pub cpu_max: f64,
    pub memory_max_mib: f64,
    /// Restarts reported per container (`restartStatsSet.restartCount`
    /// summed: each frame carries the restarts since the last one).
    pub restarts: std::collections::BTreeMap<String, i64>,
}

struct Session {
    generation: u64,
    notify: Arc<Notify>,
    /// Frames the test-only `/debug/acs-frame` hook queued, sent as they are.
    raw: Vec<String>,
}

pub struct App {
    pub cfg: Config,
    state: Mutex<State>,
    store: Store,
    sessions: Mutex<HashMap<String, Session>>,
    next_generation: AtomicU64,
    pub tcs_stats: TcsStats,
    /// The EC2 instance metadata stand-in under /debug/imds.
    pub imds: Imds,
}

impl App {
    pub fn new(cfg: Config, store: Store) -> Result<Self, StoreError> {
        let mut state = store.load()?;
        // Loading may have rewritten records (task definitions stored with
        // their definition inline move it to its own table).
        store.write(&state.take_changes()?)?;
        let mut rng = rand::rng();
        let instance = Instance::generate(&mut rng, ACCOUNT_ID, &cfg.region, now_secs());
        let imds = Imds::new(instance, &mut rng);
        Ok(Self {
            imds,
            cfg,
            state: Mutex::new(state),
            store,
            sessions: Mutex::new(HashMap::new()),
            next_generation: AtomicU64::new(1),
            tcs_stats: TcsStats::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves records that were being edited;
        // they are still the best state we have.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the state and persists what it changed. On a store failure
    /// the in-memory state is reloaded from disk so both stay the same.
    pub fn transact<T>(
        &self,
        ctx: &mut Ctx,
        f: impl FnOnce(&mut State, &mut Ctx) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut st = self.lock();
        let result = f(&mut st, ctx);
        let changes = st
            .take_changes()
            .map_err(|e| ApiError::server(format!("serializing state: {e}")))?;
        if let Err(e) = self.store.write(&changes) {
            tracing::error!(error = %e, "persisting state failed; reloading from disk");
            if let Ok(fresh) = self.store.load() {
                *st = fresh;
            }
            return Err(ApiError::server(format!("persisting state: {e}")));
        }
        drop(st);
        for arn in ctx.notify.drain(..) {
            self.notify(&arn);
        }
        result
    }

    /// Reads the state without changing it.
    pub fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.lock())
    }

    pub fn ctx(&self, host: &str) -> Ctx {
        Ctx {
            now: now_secs(),
            region: self.cfg.region.clone(),
            host: host.to_string(),
            notify: Vec::new(),
            credentials_ttl: self.cfg.credentials_ttl.as_secs_f64(),
            eni_attach_timeout_ms: i64::try_from(self.cfg.eni_attach_timeout.as_millis())
                .unwrap_or(i64::MAX),
            principal: None,
            signer: None,
            ecr_registries: self.cfg.ecr_registries.clone(),
        }
    }

    pub fn notify(&self, instance_arn: &str) {
        let sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = sessions.get(instance_arn) {
            s.notify.notify_one();
        }
    }

    /// Registers a new ACS session for an instance (replacing an older one,
    /// which notices through its generation and ends).
    pub fn open_session(&self, instance_arn: &str) -> (u64, Arc<Notify>) {
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        let notify = Arc::new(Notify::new());
        let old = self
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                instance_arn.to_string(),
                Session {
                    generation,
                    notify: notify.clone(),
                    raw: Vec::new(),
                },
            );
        if let Some(old) = old {
            old.notify.notify_one();
        }
        (generation, notify)
    }

    pub fn session_is_current(&self, instance_arn: &str, generation: u64) -> bool {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(instance_arn)
            .is_some_and(|s| s.generation == generation)
    }

    /// Queues a raw frame for the instance's open ACS session (test-only
    /// `/debug/acs-frame`); false when it has none.
    pub fn push_raw_frame(&self, instance_arn: &str, frame: String) -> bool {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let Some(s) = sessions.get_mut(instance_arn) else {
            return false;
        };
        s.raw.push(frame);
        s.notify.notify_one();
        true
    }

    /// The raw frames queued for this session, if it is still the current one.
    pub fn take_raw_frames(&self, instance_arn: &str, generation: u64) -> Vec<String> {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(instance_arn)
            .filter(|s| s.generation == generation)
            .map(|s| std::mem::take(&mut s.raw))
            .unwrap_or_default()
    }

    /// Forgets the session if it is still the current one; returns whether it was.
    pub fn close_session(&self, instance_arn: &str, generation: u64) -> bool {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if sessions
            .get(instance_arn)
            .is_some_and(|s| s.generation == generation)
        {
            sessions.remove(instance_arn);
            true
        } else {
            false
        }
    }

    pub fn connected_instances(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        v.sort();
        v
    }
}
