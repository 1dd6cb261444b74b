//! The agent's own health as Prometheus text (exposition format 0.0.4),
//! served at `/metrics` on the introspection listener. Beyond the Go agent.
//!
//! The counters are `observe`'s [`AgentMetrics`]; task counts are read from
//! the published snapshot at scrape time.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::SystemTime;

use crate::heap::HeapStats;
use crate::observe::metrics::{unix_ms, AgentMetrics};
use crate::observe::names;
use crate::observe::view::Snapshot;

/// The exposition text of `metrics` and the task counts of `snapshot`. `rss`
/// is the process's resident set in bytes, `heap` malloc's counts.
pub fn render(
    metrics: &AgentMetrics,
    snapshot: &Snapshot,
    now: SystemTime,
    rss: Option<u64>,
    heap: Option<HeapStats>,
) -> String {
    let m = metrics.read();
    let mut out = String::new();
    // The usual Prometheus "info" pattern: constant 1, facts as labels.
    family(
        &mut out,
        "ecs_agent_info",
        "gauge",
        "Always 1: the agent's version, the containerd version it found at start, and who pulls images (containerd's Transfer service on 2.x, else the agent).",
    );
    let image_pull = if snapshot.agent.pulls_through_transfer {
        "containerd-transfer"
    } else {
        "agent"
    };
    sample(
        &mut out,
        "ecs_agent_info",
        &[
            ("version", env!("CARGO_PKG_VERSION")),
            ("containerd_version", &snapshot.agent.containerd_version),
            ("image_pull", image_pull),
        ],
        1.0,
    );
    let up = u64::from(m.acs_connected);
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
    if let Some(hb) = m.last_heartbeat_ms {
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
            .entry(names::backend_task_status(t.known_status))
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
        *containers
            .entry(names::container_status(c.known_status))
            .or_insert(0) += 1;
    }
    for (status, n) in &containers {
        sample(
            &mut out,
            "ecs_agent_containers",
            &[("status", status)],
            *n as f64,
        );
    }

    family(
        &mut out,
        "ecs_agent_container_health",
        "gauge",
        "Containers with a health check by health status (HEALTHY, UNHEALTHY, UNKNOWN).",
    );
    let mut health: BTreeMap<&str, u64> = [("HEALTHY", 0), ("UNHEALTHY", 0), ("UNKNOWN", 0)].into();
    for h in snapshot
        .tasks
        .iter()
        .flat_map(|t| &t.containers)
        .filter_map(|c| c.health.as_ref())
    {
        let status = match h.status.as_str() {
            "" => "UNKNOWN",
            s => s,
        };
        *health.entry(status).or_insert(0) += 1;
    }
    for (status, n) in &health {
        sample(
            &mut out,
            "ecs_agent_container_health",
            &[("status", status)],
            *n as f64,
        );
    }
    family(
        &mut out,
        "ecs_agent_health_checks_total",
        "counter",
        "Health check probes run in containers, by result (timed_out: killed at their timeout, also counted as failed).",
    );
    for (result, n) in ["passed", "failed", "timed_out"]
        .iter()
        .zip(m.health_checks)
    {
        sample(
            &mut out,
            "ecs_agent_health_checks_total",
            &[("result", result)],
            n as f64,
        );
    }

    let gauges: [(&str, &str, f64); 2] = [
        (
            "ecs_agent_image_pulls_in_flight",
            "Image pulls currently running.",
            m.pulls_in_flight as f64,
        ),
        (
            "ecs_agent_state_changes_pending",
            "Task and container state changes not yet accepted by ECS.",
            m.state_changes_pending as f64,
        ),
    ];
    for (name, help, v) in gauges {
        family(&mut out, name, "gauge", help);
        sample(&mut out, name, &[], v);
    }

    let counters: [(&str, &str, u64); 8] = [
        (
            "ecs_agent_image_pull_bytes_total",
            "Bytes fetched from registries by image pulls.",
            m.pull_bytes,
        ),
        (
            "ecs_agent_state_changes_submitted_total",
            "State changes accepted by ECS.",
            m.state_changes_submitted,
        ),
        (
            "ecs_agent_task_metadata_throttled_total",
            "Task metadata requests refused by ECS_TASK_METADATA_RPS_LIMIT.",
            m.metadata_throttled,
        ),
        (
            "ecs_agent_image_pulls_failed_total",
            "Image pulls that ended without an image.",
            m.pulls_failed,
        ),
        (
            "ecs_agent_awslogs_events_shipped_total",
            "awslogs: log events CloudWatch Logs accepted.",
            m.awslogs_events_shipped,
        ),
        (
            "ecs_agent_awslogs_lines_dropped_total",
            "awslogs non-blocking: lines dropped because CloudWatch Logs fell more than max-buffer-size behind.",
            m.awslogs_lines_dropped,
        ),
        (
            "ecs_agent_leftovers_removed_total",
            "Containers, namespace holders and snapshots no checkpointed task owned, removed at start.",
            m.leftovers_removed,
        ),
        (
            "ecs_agent_tasks_cleaned_up_total",
            "Stopped tasks removed (containers, snapshots, logs, state) after ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION.",
            m.tasks_cleaned_up,
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
        m.pulls_completed as f64,
    );

    family(
        &mut out,
        "ecs_agent_errors_total",
        "counter",
        "Errors by kind.",
    );
    {
        for (kind, n) in m.errors.iter() {
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
        "ecs_agent_heap_bytes",
        "gauge",
        "malloc's heap: bytes in use by the agent, and free bytes malloc keeps from the kernel. A leak grows in_use; held_free growing alone is the allocator's retention.",
    );
    if let Some(h) = heap {
        sample(
            &mut out,
            "ecs_agent_heap_bytes",
            &[("state", "in_use")],
            h.in_use as f64,
        );
        sample(
            &mut out,
            "ecs_agent_heap_bytes",
            &[("state", "held_free")],
            h.held.saturating_sub(h.in_use) as f64,
        );
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
        m.started_ms as f64 / 1000.0,
    );
    out
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
