//! Health check loops through the engine, time paused: probes run as execs
//! in the container at the check's interval, a hanging probe is cut at its
//! timeout and counts as a failure, the status reaches the published view,
//! a HEALTHY dependency gates its dependent, and the loop stops with the
//! container.

use std::time::Duration;

use crate::config::ImagePullBehavior;
use crate::control::sink::{PayloadTask, TaskSink};
use crate::observe::TaskSource;
use crate::runtime::fake::Call;
use crate::runtime::ExecOutcome;
use crate::task::def::{Condition, ContainerDef, Dependency};
use crate::task::health::HealthCheck;
use crate::task::spec::container_id;

use super::test_support::{engine, task_def, Harness, TASK_ARN};

fn check(retries: u32) -> HealthCheck {
    HealthCheck {
        shell_form: true,
        args: vec!["test -f /ok".into()],
        shell: vec![],
        interval: Duration::from_secs(2),
        timeout: Duration::from_secs(1),
        start_period: Duration::ZERO,
        start_interval: Duration::from_secs(5),
        retries,
    }
}

fn exited(code: i32, output: &str) -> ExecOutcome {
    ExecOutcome {
        exit_code: Some(code),
        output: output.as_bytes().to_vec(),
    }
}

fn execs(h: &Harness) -> Vec<(tokio::time::Instant, Call)> {
    h.runtime
        .timed_calls()
        .into_iter()
        .filter(|(_, c)| matches!(c, Call::Exec { .. }))
        .collect()
}

/// The published health of container `i`, once it has some status.
async fn health_status(h: &Harness, i: usize, want: &str) -> crate::observe::HealthView {
    loop {
        let snap = h.engine.published().snapshot();
        if let Some(v) = snap
            .task_by_arn(TASK_ARN)
            .and_then(|t| t.containers.get(i))
            .and_then(|c| c.health.clone())
            .filter(|v| v.status == want)
        {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn probes_run_at_the_interval_and_a_hang_is_cut_at_the_timeout() {
    let h = engine(ImagePullBehavior::Default);
    // Passes, then hangs twice (retries 2): HEALTHY, then UNHEALTHY.
    h.runtime.queue_exec(Ok(exited(0, "fine\n")));
    h.runtime.queue_exec(Ok(ExecOutcome {
        exit_code: None,
        output: Vec::new(),
    }));
    h.runtime.queue_exec(Ok(ExecOutcome {
        exit_code: None,
        output: b"stuck".to_vec(),
    }));
    let web = ContainerDef {
        health_check: Some(check(2)),
        ..ContainerDef::minimal("web", "busybox")
    };
    h.engine
        .accept(vec![PayloadTask::Run(Box::new(task_def(web)))])
        .expect("accepted");
    let id = container_id("t1", 0, "web");
    let started = h
        .runtime
        .wait_for(|c| *c == Call::Start { id: id.clone() })
        .await;
    let healthy = health_status(&h, 0, "HEALTHY").await;
    assert_eq!(healthy.output, "fine\n");
    assert_eq!(healthy.exit_code, 0);
    let unhealthy = health_status(&h, 0, "UNHEALTHY").await;
    assert_eq!(unhealthy.exit_code, -1);
    assert_eq!(
        unhealthy.output,
        "Health check exceeded timeout (1s): stuck"
    );
    let calls = execs(&h);
    assert_eq!(
        calls[0].1,
        Call::Exec {
            id: id.clone(),
            args: vec!["/bin/sh".into(), "-c".into(), "test -f /ok".into()]
        }
    );
    // Docker's timing: the first probe one interval after the start, each
    // next one an interval after the previous ended (a hang ends at its
    // timeout).
    let at: Vec<Duration> = calls.iter().map(|(t, _)| *t - started).collect();
    assert_eq!(
        at[..3],
        [
            Duration::from_secs(2),
            Duration::from_secs(4),
            Duration::from_secs(7)
        ]
    );
    let m = h.engine.metrics().read();
    assert_eq!(m.health_checks[0], 1, "passed");
    assert!(m.health_checks[1] >= 2, "failed: {:?}", m.health_checks);
    assert!(m.health_checks[2] >= 2, "timed out: {:?}", m.health_checks);

    // The loop stops with its container: no probe after the exit.
    h.runtime.exit(&id, 0).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let n = execs(&h).len();
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(execs(&h).len(), n, "no probe of a stopped container");
}

#[tokio::test(start_paused = true)]
async fn a_healthy_dependency_gates_its_dependent() {
    let h = engine(ImagePullBehavior::Default);
    // Two failing probes (retries 3: still UNKNOWN), then a pass.
    h.runtime.queue_exec(Ok(exited(1, "")));
    h.runtime.queue_exec(Ok(exited(1, "")));
    let mut def = task_def(ContainerDef {
        health_check: Some(check(3)),
        ..ContainerDef::minimal("web", "busybox")
    });
    def.containers.push(ContainerDef {
        depends_on: vec![Dependency {
            container: "web".into(),
            condition: Condition::Healthy,
        }],
        ..ContainerDef::minimal("app", "busybox")
    });
    h.engine
        .accept(vec![PayloadTask::Run(Box::new(def))])
        .expect("accepted");
    let web = container_id("t1", 0, "web");
    let app = container_id("t1", 1, "app");
    let web_started = h
        .runtime
        .wait_for(|c| *c == Call::Start { id: web.clone() })
        .await;
    let app_started = h
        .runtime
        .wait_for(|c| *c == Call::Start { id: app.clone() })
        .await;
    // Started only after the third probe (at 6s) passed.
    assert_eq!(app_started - web_started, Duration::from_secs(6));
    assert_eq!(execs(&h).len(), 3);
}
