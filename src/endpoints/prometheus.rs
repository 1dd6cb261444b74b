//! The agent's own health as Prometheus text (exposition format 0.0.4),
//! served at `/metrics` on the introspection listener. Beyond the Go agent.
//!
//! The engine, control and image code bump an [`AgentMetrics`] shared behind
//! an `Arc`; task counts are read from the published snapshot at scrape time,
//! so nobody has to keep them in step.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use super::view::Snapshot;

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
    errors: Mutex<BTreeMap<&'static str, u64>>,
    started_ms: u64,
}

impl Default for AgentMetrics {
    fn default() -> Self {
        AgentMetrics::new()
    }
}

fn unix_ms(t: SystemTime) -> u64 {
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

    /// The exposition text. `rss` is the process's resident set in bytes.
    pub fn render(&self, snapshot: &Snapshot, now: SystemTime, rss: Option<u64>) -> String {
        let mut out = String::new();
        let up = u64::from(self.acs_connected.load(Ordering::Relaxed));
        family(
            &mut out,
            "ecs_agent_acs_connected",
            "gauge",
            "1 while the ACS websocket session is connected.",
        );
        sample(&mut out, "ecs_agent_acs_connected", &[], up as f64);

        family(
            &mut out,
            "ecs_agent_acs_last_heartbeat_age_seconds",
            "gauge",
            "Seconds since the last ACS heartbeat (absent before the first).",
        );
        let hb = self.last_heartbeat_ms.load(Ordering::Relaxed);
        if hb > 0 {
            let age = unix_ms(now).saturating_sub(hb) as f64 / 1000.0;
            sample(
                &mut out,
                "ecs_agent_acs_last_heartbeat_age_seconds",
                &[],
                age,
            );
        }

        family(
            &mut out,
            "ecs_agent_tasks",
            "gauge",
            "Tasks on this instance by known status as ECS names it.",
        );
        let mut by_status: BTreeMap<&str, u64> =
            [("PENDING", 0), ("RUNNING", 0), ("STOPPED", 0)].into();
        for t in &snapshot.tasks {
            *by_status
                .entry(super::backend_status(&t.known_status))
                .or_insert(0) += 1;
        }
        for (status, n) in &by_status {
            sample(
                &mut out,
                "ecs_agent_tasks",
                &[("status", status)],
                *n as f64,
            );
        }

        family(
            &mut out,
            "ecs_agent_containers",
            "gauge",
            "Containers on this instance by the agent's known status.",
        );
        let mut containers: BTreeMap<&str, u64> = BTreeMap::new();
        for c in snapshot.tasks.iter().flat_map(|t| &t.containers) {
            *containers.entry(c.known_status.as_str()).or_insert(0) += 1;
        }
        for (status, n) in &containers {
            sample(
                &mut out,
                "ecs_agent_containers",
                &[("status", status)],
                *n as f64,
            );
        }

        let gauges: [(&str, &str, f64); 2] = [
            (
                "ecs_agent_image_pulls_in_flight",
                "Image pulls currently running.",
                self.pulls_in_flight.load(Ordering::Relaxed).max(0) as f64,
            ),
            (
                "ecs_agent_state_changes_pending",
                "Task and container state changes not yet accepted by ECS.",
                self.state_changes_pending.load(Ordering::Relaxed) as f64,
            ),
        ];
        for (name, help, v) in gauges {
            family(&mut out, name, "gauge", help);
            sample(&mut out, name, &[], v);
        }

        let counters: [(&str, &str, u64); 4] = [
            (
                "ecs_agent_image_pull_bytes_total",
                "Bytes fetched from registries by image pulls.",
                self.pull_bytes.load(Ordering::Relaxed),
            ),
            (
                "ecs_agent_state_changes_submitted_total",
                "State changes accepted by ECS.",
                self.state_changes_submitted.load(Ordering::Relaxed),
            ),
            (
                "ecs_agent_task_metadata_throttled_total",
                "Task metadata requests refused by ECS_TASK_METADATA_RPS_LIMIT.",
                self.metadata_throttled.load(Ordering::Relaxed),
            ),
            (
                "ecs_agent_image_pulls_failed_total",
                "Image pulls that ended without an image.",
                self.pulls_failed.load(Ordering::Relaxed),
            ),
        ];
        for (name, help, v) in counters {
            family(&mut out, name, "counter", help);
            sample(&mut out, name, &[], v as f64);
        }
        family(
            &mut out,
            "ecs_agent_image_pulls_completed_total",
            "counter",
            "Image pulls that produced an image.",
        );
        sample(
            &mut out,
            "ecs_agent_image_pulls_completed_total",
            &[],
            self.pulls_completed.load(Ordering::Relaxed) as f64,
        );

        family(
            &mut out,
            "ecs_agent_errors_total",
            "counter",
            "Errors by kind.",
        );
        {
            let errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
            for (kind, n) in errors.iter() {
                sample(
                    &mut out,
                    "ecs_agent_errors_total",
                    &[("kind", kind)],
                    *n as f64,
                );
            }
        }

        family(
            &mut out,
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory of the agent process (VmRSS).",
        );
        if let Some(rss) = rss {
            sample(&mut out, "process_resident_memory_bytes", &[], rss as f64);
        }
        family(
            &mut out,
            "process_start_time_seconds",
            "gauge",
            "Start time of the agent since the Unix epoch, in seconds.",
        );
        sample(
            &mut out,
            "process_start_time_seconds",
            &[],
            self.started_ms as f64 / 1000.0,
        );
        out
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

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], v: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, val)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{}\"", escape_label(val));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {}", format_value(v));
}

fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if v.fract() == 0.0 && v.abs() < 9.0e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Label values escape backslash, double quote and newline.
pub fn escape_label(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// HELP text escapes backslash and newline.
pub fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

/// VmRSS of this process, in bytes.
pub async fn self_rss() -> Option<u64> {
    let text = tokio::fs::read_to_string("/proc/self/status").await.ok()?;
    super::stats::procfs::parse_vm_rss(&text)
}
