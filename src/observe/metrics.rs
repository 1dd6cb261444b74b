//! The agent's own health counters. The engine, control, image and endpoint
//! code bump an [`AgentMetrics`] shared behind an `Arc`; readers (the
//! Prometheus text in `endpoints`) take a [`MetricsReading`] of them. Task and
//! container counts are not kept here: they are read from the published
//! snapshot when needed, so nobody has to keep them in step.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Counters and gauges; every method is lock-free except [`AgentMetrics::inc_error`].
#[derive(Debug)]
pub struct AgentMetrics {
    acs_connected: AtomicBool,
    /// Unix ms of the last ACS heartbeat; 0 = none yet.
    last_heartbeat_ms: AtomicU64,
    pulls_in_flight: AtomicI64,
    pull_bytes: AtomicU64,
    pulls_completed: AtomicU64,
    pulls_failed: AtomicU64,
    state_changes_pending: AtomicU64,
    state_changes_submitted: AtomicU64,
    metadata_throttled: AtomicU64,
    awslogs_events_shipped: AtomicU64,
    awslogs_lines_dropped: AtomicU64,
    leftovers_removed: AtomicU64,
    tasks_cleaned_up: AtomicU64,
    /// Health check probes by outcome: passed, failed, timed out.
    health_checks: [AtomicU64; 3],
    errors: Mutex<BTreeMap<&'static str, u64>>,
    started_ms: u64,
}

/// The counters as of one moment (each read on its own: a reading is not a
/// transaction across counters, which a scrape does not need).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsReading {
    pub acs_connected: bool,
    /// Unix ms of the last ACS heartbeat; `None` before the first.
    pub last_heartbeat_ms: Option<u64>,
    pub pulls_in_flight: u64,
    pub pull_bytes: u64,
    pub pulls_completed: u64,
    pub pulls_failed: u64,
    pub state_changes_pending: u64,
    pub state_changes_submitted: u64,
    pub metadata_throttled: u64,
    /// awslogs: events CloudWatch accepted.
    pub awslogs_events_shipped: u64,
    /// awslogs non-blocking: lines dropped because CloudWatch fell too far behind.
    pub awslogs_lines_dropped: u64,
    /// Containers, namespace holders and snapshots found at start that no
    /// checkpointed task owned, removed.
    pub leftovers_removed: u64,
    /// Tasks removed once ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION passed.
    pub tasks_cleaned_up: u64,
    /// Health check probes: passed, failed (timeouts included), timed out.
    pub health_checks: [u64; 3],
    /// Errors by kind, sorted by kind.
    pub errors: BTreeMap<&'static str, u64>,
    /// Unix ms when the counters were created (the agent's start).
    pub started_ms: u64,
}

impl Default for AgentMetrics {
    fn default() -> Self {
        AgentMetrics::new()
    }
}

/// Milliseconds since the Unix epoch; 0 for times before it.
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl AgentMetrics {
    pub fn new() -> AgentMetrics {
        AgentMetrics {
            acs_connected: AtomicBool::new(false),
            last_heartbeat_ms: AtomicU64::new(0),
            pulls_in_flight: AtomicI64::new(0),
            pull_bytes: AtomicU64::new(0),
            pulls_completed: AtomicU64::new(0),
            pulls_failed: AtomicU64::new(0),
            state_changes_pending: AtomicU64::new(0),
            state_changes_submitted: AtomicU64::new(0),
            metadata_throttled: AtomicU64::new(0),
            awslogs_events_shipped: AtomicU64::new(0),
            awslogs_lines_dropped: AtomicU64::new(0),
            leftovers_removed: AtomicU64::new(0),
            tasks_cleaned_up: AtomicU64::new(0),
            health_checks: Default::default(),
            errors: Mutex::new(BTreeMap::new()),
            started_ms: unix_ms(SystemTime::now()),
        }
    }

    /// control: true once the ACS websocket is connected, false when it drops.
    pub fn set_acs_connected(&self, up: bool) {
        self.acs_connected.store(up, Ordering::Relaxed);
    }

    /// control: on every ACS HeartbeatMessage (and on connect).
    pub fn record_heartbeat(&self) {
        self.record_heartbeat_at(SystemTime::now());
    }

    pub fn record_heartbeat_at(&self, at: SystemTime) {
        self.last_heartbeat_ms.store(unix_ms(at), Ordering::Relaxed);
    }

    /// engine/image: hold the guard for the whole pull; dropping it ends the
    /// pull (counted as failed unless [`PullGuard::succeeded`] was called).
    pub fn pull_started(&self) -> PullGuard<'_> {
        self.pulls_in_flight.fetch_add(1, Ordering::Relaxed);
        PullGuard {
            metrics: self,
            ok: false,
        }
    }

    /// image: bytes fetched from registries (add as blobs are written).
    pub fn add_pull_bytes(&self, n: u64) {
        self.pull_bytes.fetch_add(n, Ordering::Relaxed);
    }

    /// engine: how many task/container state changes wait to be submitted.
    pub fn set_state_changes_pending(&self, n: u64) {
        self.state_changes_pending.store(n, Ordering::Relaxed);
    }

    /// engine: a state change was accepted by the control plane.
    pub fn inc_state_changes_submitted(&self) {
        self.state_changes_submitted.fetch_add(1, Ordering::Relaxed);
    }

    /// endpoints: a metadata request was refused by the rate limit.
    pub fn inc_metadata_throttled(&self) {
        self.metadata_throttled.fetch_add(1, Ordering::Relaxed);
    }

    /// awslogs: `n` events accepted by CloudWatch.
    pub fn add_awslogs_shipped(&self, n: u64) {
        self.awslogs_events_shipped.fetch_add(n, Ordering::Relaxed);
    }

    /// awslogs: `n` lines dropped (non-blocking, the spool rotated past them).
    pub fn add_awslogs_dropped(&self, n: u64) {
        self.awslogs_lines_dropped.fetch_add(n, Ordering::Relaxed);
    }

    /// engine: a leftover of an earlier agent process was removed at start.
    pub fn inc_leftovers_removed(&self) {
        self.leftovers_removed.fetch_add(1, Ordering::Relaxed);
    }

    /// engine: a stopped task was cleaned up (containers, logs, state).
    pub fn inc_tasks_cleaned_up(&self) {
        self.tasks_cleaned_up.fetch_add(1, Ordering::Relaxed);
    }

    /// engine: a health check probe ended: passed (exit 0), or failed,
    /// `timed_out` when it was killed at its timeout.
    pub fn record_health_check(&self, passed: bool, timed_out: bool) {
        let i = if passed { 0 } else { 1 };
        self.health_checks[i].fetch_add(1, Ordering::Relaxed);
        if timed_out {
            self.health_checks[2].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Any component: one error of `kind`. Use a small fixed vocabulary
    /// (`acs`, `tcs`, `pull`, `create`, `start`, `stop`, `state_change`,
    /// `stats`, `metadata_file`, ...): each kind is a time series.
    pub fn inc_error(&self, kind: &'static str) {
        let mut m = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        *m.entry(kind).or_insert(0) += 1;
    }

    pub fn errors(&self, kind: &str) -> u64 {
        let m = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        m.get(kind).copied().unwrap_or(0)
    }

    /// Every counter as of now.
    pub fn read(&self) -> MetricsReading {
        let hb = self.last_heartbeat_ms.load(Ordering::Relaxed);
        MetricsReading {
            acs_connected: self.acs_connected.load(Ordering::Relaxed),
            last_heartbeat_ms: (hb > 0).then_some(hb),
            // A guard dropped between two loads can leave a moment below 0.
            pulls_in_flight: self.pulls_in_flight.load(Ordering::Relaxed).max(0) as u64,
            pull_bytes: self.pull_bytes.load(Ordering::Relaxed),
            pulls_completed: self.pulls_completed.load(Ordering::Relaxed),
            pulls_failed: self.pulls_failed.load(Ordering::Relaxed),
            state_changes_pending: self.state_changes_pending.load(Ordering::Relaxed),
            state_changes_submitted: self.state_changes_submitted.load(Ordering::Relaxed),
            metadata_throttled: self.metadata_throttled.load(Ordering::Relaxed),
            awslogs_events_shipped: self.awslogs_events_shipped.load(Ordering::Relaxed),
            awslogs_lines_dropped: self.awslogs_lines_dropped.load(Ordering::Relaxed),
            leftovers_removed: self.leftovers_removed.load(Ordering::Relaxed),
            tasks_cleaned_up: self.tasks_cleaned_up.load(Ordering::Relaxed),
            health_checks: [0, 1, 2].map(|i| self.health_checks[i].load(Ordering::Relaxed)),
            errors: self
                .errors
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            started_ms: self.started_ms,
        }
    }
}

/// A running image pull; see [`AgentMetrics::pull_started`].
#[must_use = "the pull counts as in flight until the guard is dropped"]
pub struct PullGuard<'a> {
    metrics: &'a AgentMetrics,
    ok: bool,
}

impl PullGuard<'_> {
    pub fn succeeded(mut self) {
        self.ok = true;
    }
}

impl Drop for PullGuard<'_> {
    fn drop(&mut self) {
        self.metrics.pulls_in_flight.fetch_sub(1, Ordering::Relaxed);
        let c = if self.ok {
            &self.metrics.pulls_completed
        } else {
            &self.metrics.pulls_failed
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_sees_every_counter() {
        let m = AgentMetrics::new();
        assert_eq!(m.read().last_heartbeat_ms, None);
        m.record_heartbeat_at(UNIX_EPOCH + std::time::Duration::from_secs(2));
        {
            let pull = m.pull_started();
            assert_eq!(m.read().pulls_in_flight, 1);
            pull.succeeded();
        }
        drop(m.pull_started());
        m.inc_error("pull");
        let r = m.read();
        assert_eq!(r.last_heartbeat_ms, Some(2_000));
        assert_eq!(
            (r.pulls_in_flight, r.pulls_completed, r.pulls_failed),
            (0, 1, 1)
        );
        assert_eq!(r.errors.get("pull"), Some(&1));
        assert_eq!(m.errors("pull"), 1);
    }
}
