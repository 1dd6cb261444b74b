//! Docker's health check semantics (moby daemon/health.go), on a clock the
//! tests choose: every time is a number of milliseconds passed in.

use super::*;
use serde_json::json;

fn check(start_period_s: u64, retries: u32) -> HealthCheck {
    HealthCheck {
        shell_form: true,
        args: vec!["true".into()],
        shell: vec![],
        interval: Duration::from_secs(10),
        timeout: Duration::from_secs(2),
        start_period: Duration::from_secs(start_period_s),
        start_interval: DEFAULT_START_INTERVAL,
        retries,
    }
}

fn pass(at_ms: i64) -> CheckResult {
    CheckResult::exited(at_ms, at_ms + 10, 0, b"ok\n")
}

fn fail(at_ms: i64) -> CheckResult {
    CheckResult::exited(at_ms, at_ms + 10, 1, b"down\n")
}

#[test]
fn the_go_agents_fixture_is_read_with_its_nanoseconds() {
    // agent/statemanager/testdata/v10/container-health-check: the shape
    // Amazon ECS sends, its own defaults spelled out.
    let v = json!({"Test":["CMD","echo","hello"],"Interval":30000000000u64,"Timeout":5000000000u64,"Retries":3});
    let c = parse("HealthCheck", &v, vec![]).unwrap().unwrap();
    assert!(!c.shell_form);
    assert_eq!(c.argv(), vec!["echo", "hello"]);
    assert_eq!(c.interval, Duration::from_secs(30));
    assert_eq!(c.timeout, Duration::from_secs(5));
    assert_eq!(c.retries, 3);
    assert_eq!(c.start_period, Duration::ZERO);
}

#[test]
fn docker_defaults_fill_only_absent_keys() {
    let c = parse(
        "h",
        &json!({"test":["CMD-SHELL","exit 0"],"interval":2000000000u64}),
        vec![],
    )
    .unwrap()
    .unwrap();
    assert_eq!(c.interval, Duration::from_secs(2));
    assert_eq!(c.timeout, DEFAULT_TIMEOUT);
    assert_eq!(c.retries, DEFAULT_RETRIES);
    assert_eq!(c.start_interval, DEFAULT_START_INTERVAL);
    assert_eq!(c.argv(), vec!["/bin/sh", "-c", "exit 0"]);
}

#[test]
fn cmd_shell_runs_through_the_containers_shell() {
    let c = parse(
        "h",
        &json!({"Test":["CMD-SHELL","echo hi"]}),
        vec!["/bin/bash".into(), "-ec".into()],
    )
    .unwrap()
    .unwrap();
    assert_eq!(c.argv(), vec!["/bin/bash", "-ec", "echo hi"]);
}

#[test]
fn none_turns_checks_off_and_bad_tests_are_refused_by_name() {
    assert_eq!(parse("h", &json!({"Test":["NONE"]}), vec![]).unwrap(), None);
    for (v, msg) in [
        (json!({"Test":[]}), "h.Test: empty"),
        (json!({"Test":["CMD"]}), "h.Test: CMD without a command"),
        (
            json!({"Test":["SHELL","x"]}),
            "h.Test: \"SHELL\" is not CMD",
        ),
        (
            json!({"Test":"CMD true"}),
            "h.Test: expected a list of strings",
        ),
        (
            json!({"Test":["CMD","true"],"Interval":-1}),
            "h.Interval: -1 is not a duration",
        ),
        (
            json!({"Test":["CMD","true"],"Timeout":500}),
            "h.Timeout: 500 is not a duration",
        ),
        (
            json!({"Test":["CMD","true"],"Retries":-2}),
            "h.Retries: -2 is not",
        ),
        (json!(["CMD"]), "h: expected an object"),
    ] {
        let e = parse("h", &v, vec![]).unwrap_err();
        assert!(e.starts_with(msg), "{v}: {e}");
    }
}

#[test]
fn a_pass_makes_healthy_and_retries_failures_make_unhealthy() {
    let c = check(0, 3);
    let mut h = HealthState::default();
    assert!(h.record(&c, 0, pass(1_000)));
    assert_eq!(h.status, HealthStatus::Healthy);
    assert_eq!(h.since_ms, Some(1_010));
    assert_eq!(h.output, "ok\n");
    assert!(!h.record(&c, 0, fail(2_000)));
    assert!(!h.record(&c, 0, fail(3_000)));
    assert_eq!((h.status, h.failing_streak), (HealthStatus::Healthy, 2));
    assert!(h.record(&c, 0, fail(4_000)));
    assert_eq!(h.status, HealthStatus::Unhealthy);
    assert_eq!((h.exit_code, h.since_ms), (1, Some(4_010)));
    assert_eq!(h.output, "down\n");
    // A later failure changes neither since nor output (the Go agent's SetHealthStatus).
    assert!(!h.record(&c, 0, CheckResult::exited(5_000, 5_010, 2, b"other")));
    assert_eq!(
        (h.exit_code, h.since_ms, h.output.as_str()),
        (1, Some(4_010), "down\n")
    );
    // One pass resets the streak; the exit code stays as the Go agent keeps it.
    assert!(h.record(&c, 0, pass(6_000)));
    assert_eq!(
        (h.status, h.failing_streak, h.exit_code),
        (HealthStatus::Healthy, 0, 1)
    );
}

#[test]
fn failures_in_the_start_period_do_not_count_until_the_first_pass() {
    let c = check(10, 2);
    let mut h = HealthState::default();
    // Started at t=0; a 10 s start period.
    for t in [1_000, 4_000, 9_999] {
        assert!(!h.record(&c, 0, fail(t)));
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Unknown, 0));
    }
    // Past it, failures count.
    assert!(!h.record(&c, 0, fail(10_000)));
    assert!(h.record(&c, 0, fail(11_000)));
    assert_eq!(h.status, HealthStatus::Unhealthy);

    // A pass during the start period makes the container healthy at once,
    // and from then on failures count even within the period.
    let mut h = HealthState::default();
    assert!(h.record(&c, 0, pass(2_000)));
    assert_eq!(h.status, HealthStatus::Healthy);
    assert!(!h.record(&c, 0, fail(3_000)));
    assert_eq!(h.failing_streak, 1);
    assert!(h.record(&c, 0, fail(4_000)));
    assert_eq!(h.status, HealthStatus::Unhealthy);
}

#[test]
fn the_start_interval_applies_only_in_the_start_period_before_healthy() {
    let c = check(20, 3);
    let in_period = Duration::from_secs(5);
    assert_eq!(
        c.next_delay(HealthStatus::Unknown, in_period),
        DEFAULT_START_INTERVAL
    );
    assert_eq!(c.next_delay(HealthStatus::Healthy, in_period), c.interval);
    assert_eq!(
        c.next_delay(HealthStatus::Unknown, Duration::from_secs(20)),
        c.interval
    );
    // Without a start period there is none.
    assert_eq!(
        check(0, 3).next_delay(HealthStatus::Unknown, Duration::ZERO),
        c.interval
    );
}

#[test]
fn the_last_five_results_are_kept_with_docker_s_output_cut() {
    let c = check(0, 100);
    let mut h = HealthState::default();
    for t in 0..8 {
        h.record(&c, 0, CheckResult::exited(t, t + 1, 1, &vec![b'x'; 5000]));
    }
    assert_eq!(h.log.len(), MAX_LOG_ENTRIES);
    assert_eq!(h.log.first().map(|r| r.start_ms), Some(3));
    assert_eq!(h.log.last().map(|r| r.start_ms), Some(7));
    assert!(h.log.iter().all(|r| r.output.len() == MAX_OUTPUT_LEN));
}

#[test]
fn a_timed_out_probe_is_a_failure_with_docker_s_message() {
    let r = CheckResult::timed_out(0, 2_000, Duration::from_secs(2), b"");
    assert_eq!(
        (r.exit_code, r.output.as_str()),
        (-1, "Health check exceeded timeout (2s)")
    );
    let r = CheckResult::timed_out(0, 1_500, Duration::from_millis(1500), b"partial");
    assert_eq!(r.output, "Health check exceeded timeout (1.5s): partial");
    let c = check(0, 1);
    let mut h = HealthState::default();
    assert!(h.record(&c, 0, CheckResult::timed_out(0, 2_000, c.timeout, b"")));
    assert_eq!((h.status, h.exit_code), (HealthStatus::Unhealthy, -1));
}

#[test]
fn reported_output_is_cut_as_the_go_agent_cuts_it() {
    let c = check(0, 1);
    let mut h = HealthState::default();
    let long = "é".repeat(3000);
    assert!(h.record(&c, 0, CheckResult::exited(0, 1, 1, long.as_bytes())));
    assert!(h.output.len() <= REPORTED_OUTPUT_LEN && h.output.len() >= REPORTED_OUTPUT_LEN - 1);
    assert!(h.log[0].output.len() <= MAX_OUTPUT_LEN);
}
