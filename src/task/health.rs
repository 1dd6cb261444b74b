//! Container health checks as Docker runs them (moby daemon/health.go), the
//! agent running the probes itself through the runtime's exec: the check as
//! the payload defines it (`dockerConfig.config` key `Healthcheck`, spelled
//! `HealthCheck` by Amazon ECS) and the pure state machine that turns probe
//! results into the container's health. No clock reads: times come in.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::config::go_duration_string;

/// Docker's defaults, used only for a key the payload leaves out (or sets to
/// 0, which Go cannot tell apart from absent). Amazon ECS sends its own
/// defaults (30 s, 5 s, 3) explicitly.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
pub const DEFAULT_RETRIES: u32 = 3;
/// Docker keeps the last 5 results ...
pub const MAX_LOG_ENTRIES: usize = 5;
/// ... each with at most 4096 bytes of output.
pub const MAX_OUTPUT_LEN: usize = 4096;
/// The Go agent keeps 1024 bytes of the last output for task metadata
/// (agent/dockerclient/dockerapi maxHealthCheckOutputLength).
pub const REPORTED_OUTPUT_LEN: usize = 1024;
/// Docker refuses intervals, timeouts and start periods under 1 ms.
const MIN_DURATION: Duration = Duration::from_millis(1);
/// The shell of `CMD-SHELL` when the container sets none (Docker on Linux).
const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

/// A container's health check, validated.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HealthCheck {
    /// `CMD`: the arguments run as they are; `CMD-SHELL`: run by the shell.
    pub shell_form: bool,
    /// The arguments after `CMD` / `CMD-SHELL`.
    pub args: Vec<String>,
    /// The container's `Shell` (`dockerConfig.config.Shell`); empty: `/bin/sh -c`.
    #[serde(default)]
    pub shell: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    /// Interval between probes during the start period while the container
    /// is not yet healthy (Docker 25's `StartInterval`, default 5 s).
    pub start_interval: Duration,
    pub retries: u32,
}

impl HealthCheck {
    /// The argv run inside the container: Docker's cmdProbe.
    pub fn argv(&self) -> Vec<String> {
        if !self.shell_form {
            return self.args.clone();
        }
        let mut argv: Vec<String> = if self.shell.is_empty() {
            DEFAULT_SHELL.iter().map(|s| s.to_string()).collect()
        } else {
            self.shell.clone()
        };
        argv.extend(self.args.iter().cloned());
        argv
    }

    /// How long to wait before the next probe (Docker's `getInterval`): the
    /// start interval while within the start period and not yet healthy.
    pub fn next_delay(&self, status: HealthStatus, since_start: Duration) -> Duration {
        if since_start < self.start_period && status == HealthStatus::Unknown {
            self.start_interval
        } else {
            self.interval
        }
    }
}

/// Reads Docker's `HealthConfig` object (`Test`, `Interval`, `Timeout`,
/// `StartPeriod`, `StartInterval`, `Retries`; keys matched ignoring case as
/// Go does; durations in nanoseconds). `path` names it in errors. `None`:
/// the test is `["NONE"]` (checks off).
pub fn parse(path: &str, v: &Value, shell: Vec<String>) -> Result<Option<HealthCheck>, String> {
    let m = match v {
        Value::Object(m) => m,
        _ => return Err(format!("{path}: expected an object")),
    };
    let test = match field(m, "Test") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| format!("{path}.Test: expected a list of strings"))?,
        Some(_) => return Err(format!("{path}.Test: expected a list of strings")),
    };
    let (kind, args) = match test.split_first() {
        None => {
            return Err(format!(
                "{path}.Test: empty; expected [\"CMD\", ...] or [\"CMD-SHELL\", \"command\"]"
            ))
        }
        Some((k, rest)) => (k.as_str(), rest.to_vec()),
    };
    let shell_form = match kind {
        "NONE" => return Ok(None),
        "CMD" => false,
        "CMD-SHELL" => true,
        other => {
            return Err(format!(
                "{path}.Test: {other:?} is not CMD, CMD-SHELL or NONE"
            ))
        }
    };
    if args.is_empty() || args.iter().all(|a| a.is_empty()) {
        return Err(format!("{path}.Test: {kind} without a command"));
    }
    let duration = |key: &str, default: Duration| -> Result<Duration, String> {
        match field(m, key) {
            None | Some(Value::Null) => Ok(default),
            Some(n) => match n.as_i64() {
                Some(0) => Ok(default),
                Some(ns) if ns > 0 && Duration::from_nanos(ns as u64) >= MIN_DURATION => {
                    Ok(Duration::from_nanos(ns as u64))
                }
                _ => Err(format!(
                    "{path}.{key}: {n} is not a duration in nanoseconds of at least 1ms"
                )),
            },
        }
    };
    let retries = match field(m, "Retries") {
        None | Some(Value::Null) => DEFAULT_RETRIES,
        Some(n) => match n.as_i64() {
            Some(0) => DEFAULT_RETRIES,
            Some(r) if r > 0 => u32::try_from(r).unwrap_or(u32::MAX),
            _ => {
                return Err(format!(
                    "{path}.Retries: {n} is not a positive whole number"
                ))
            }
        },
    };
    Ok(Some(HealthCheck {
        shell_form,
        args,
        shell,
        interval: duration("Interval", DEFAULT_INTERVAL)?,
        timeout: duration("Timeout", DEFAULT_TIMEOUT)?,
        start_period: duration("StartPeriod", Duration::ZERO)?,
        start_interval: duration("StartInterval", DEFAULT_START_INTERVAL)?,
        retries,
    }))
}

/// A key of a Docker object, matched as Go matches it: exactly, else
/// ignoring case.
fn field<'v>(m: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    m.get(name).or_else(|| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// A container's health as Amazon ECS names it. Docker's `starting` is `UNKNOWN`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum HealthStatus {
    #[default]
    Unknown,
    Healthy,
    Unhealthy,
}

impl HealthStatus {
    /// The Go agent's `BackendStatus`: what TCS and ECS show.
    pub fn backend(self) -> &'static str {
        match self {
            HealthStatus::Unknown => "UNKNOWN",
            HealthStatus::Healthy => "HEALTHY",
            HealthStatus::Unhealthy => "UNHEALTHY",
        }
    }
}

/// One probe's outcome, as Docker logs it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckResult {
    /// Unix ms when the probe started and ended.
    pub start_ms: i64,
    pub end_ms: i64,
    /// The probe's exit code; -1 when it timed out or could not run.
    pub exit_code: i32,
    /// stdout and stderr together, at most [`MAX_OUTPUT_LEN`] bytes.
    pub output: String,
}

impl CheckResult {
    /// A probe that exited (`output` already cut by the runtime, cut again here).
    pub fn exited(start_ms: i64, end_ms: i64, exit_code: i32, output: &[u8]) -> CheckResult {
        CheckResult {
            start_ms,
            end_ms,
            exit_code,
            output: cut(&String::from_utf8_lossy(output), MAX_OUTPUT_LEN),
        }
    }

    /// A probe killed after `timeout`: Docker's result and message.
    pub fn timed_out(start_ms: i64, end_ms: i64, timeout: Duration, output: &[u8]) -> CheckResult {
        let out = String::from_utf8_lossy(output);
        let msg = if out.is_empty() {
            format!(
                "Health check exceeded timeout ({})",
                go_duration_string(timeout)
            )
        } else {
            format!(
                "Health check exceeded timeout ({}): {out}",
                go_duration_string(timeout)
            )
        };
        CheckResult {
            start_ms,
            end_ms,
            exit_code: -1,
            output: cut(&msg, MAX_OUTPUT_LEN),
        }
    }

    /// A probe that could not be run (the exec failed): the error is the output.
    pub fn failed(start_ms: i64, end_ms: i64, error: &str) -> CheckResult {
        CheckResult {
            start_ms,
            end_ms,
            exit_code: -1,
            output: cut(error, MAX_OUTPUT_LEN),
        }
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// A container's health: what the endpoints and TCS show (the Go agent's
/// `HealthStatus`: status, since, the exit code of the check that made it
/// unhealthy, the output of the check that changed the status) and Docker's
/// bookkeeping (failing streak, last results).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HealthState {
    pub status: HealthStatus,
    /// Unix ms of the last status change.
    #[serde(default)]
    pub since_ms: Option<i64>,
    /// As the Go agent: set when the status becomes UNHEALTHY, kept otherwise.
    #[serde(default)]
    pub exit_code: i32,
    /// Output of the check that changed the status, at most
    /// [`REPORTED_OUTPUT_LEN`] bytes (the Go agent's cut).
    #[serde(default)]
    pub output: String,
    /// Consecutive failures counted (Docker's FailingStreak).
    #[serde(default)]
    pub failing_streak: u32,
    /// The last [`MAX_LOG_ENTRIES`] results, oldest first.
    #[serde(default)]
    pub log: Vec<CheckResult>,
}

impl HealthState {
    /// Docker's handleProbeResult: a pass makes the container healthy; a
    /// failure counts toward `retries` unless the container never passed
    /// and the probe started within the start period. `started_ms`: when
    /// the container started. True when the status changed.
    pub fn record(&mut self, check: &HealthCheck, started_ms: i64, result: CheckResult) -> bool {
        let next = if result.exit_code == 0 {
            self.failing_streak = 0;
            HealthStatus::Healthy
        } else {
            let in_start_period = self.status == HealthStatus::Unknown
                && result.start_ms.saturating_sub(started_ms)
                    < i64::try_from(check.start_period.as_millis()).unwrap_or(i64::MAX);
            if in_start_period {
                self.status
            } else {
                self.failing_streak = self.failing_streak.saturating_add(1);
                if self.failing_streak >= check.retries.max(1) {
                    HealthStatus::Unhealthy
                } else {
                    self.status
                }
            }
        };
        let changed = next != self.status;
        if changed {
            // The Go agent's SetHealthStatus: since, output and (when
            // unhealthy) exit code change only with the status.
            self.status = next;
            self.since_ms = Some(result.end_ms);
            self.output = cut(&result.output, REPORTED_OUTPUT_LEN);
            if next == HealthStatus::Unhealthy {
                self.exit_code = result.exit_code;
            }
        }
        if self.log.len() >= MAX_LOG_ENTRIES {
            self.log.drain(..=self.log.len() - MAX_LOG_ENTRIES);
        }
        self.log.push(result);
        changed
    }
}

#[cfg(test)]
#[path = "health_tests.rs"]
mod tests;
