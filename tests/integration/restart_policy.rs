//! Issue 15, restart policies: a container whose `restartPolicy` is enabled
//! is restarted in place after an exit (same task, same log file), counted
//! in task metadata v4's `RestartCount` (Go: tmds v4 state/response.go); an
//! exit code in `ignoredExitCodes` ends it as any exit does. The wire shape
//! of `restartPolicy` is the ACS model's (acs-api-2.json `RestartPolicy`).

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{self, run_task, sh, task_id, wait_task_status, Agent, Aws, EcsLocal};

const START: Duration = Duration::from_secs(60);

/// Runs three times: the first two exit 1 after 2 s, the third waits for
/// SIGTERM and exits 0.
const FLAKY: &str = "trap 'exit 0' TERM; echo flaky-ran; echo run >> /runs; \
    if [ $(wc -l < /runs) -ge 3 ]; then sleep 3600 & wait; fi; sleep 2 & wait; exit 1";

#[test]
fn a_container_is_restarted_in_place_unless_its_exit_code_is_ignored() {
    let Some(env) = common::env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);
    let td = local.register_task_definition_unchecked(
        &json!({"family": "restarts", "networkMode": "bridge", "containerDefinitions": [
            // Exits 1 after 2 s, twice: restarted each time (it ran longer
            // than the 1 s attempt period); its third run (counted in a file
            // of its own root, which a restart in place keeps) waits for the
            // task's stop and ends with 0.
            {"name": "flaky", "image": env.image(), "memory": 32, "essential": false,
             "restartPolicy": {"enabled": true, "ignoredExitCodes": [7], "restartAttemptPeriod": 1},
             "command": sh(FLAKY)},
            // Reads the task's metadata once flaky has restarted, then exits
            // with its ignored code: not restarted, and the task stops.
            {"name": "ignored", "image": env.image(), "memory": 32, "essential": true,
             "restartPolicy": {"enabled": true, "ignoredExitCodes": [7], "restartAttemptPeriod": 0},
             "command": sh("echo ignored-ran; sleep 9; wget -qO- $ECS_CONTAINER_METADATA_URI_V4/task; echo; exit 7")}
        ]}),
    );
    let arn = run_task(&aws, &agent, &td);
    let t = wait_task_status(&aws, &agent, &arn, "STOPPED", Duration::from_secs(90));
    let by_name = |name: &str| -> Value {
        t["containers"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["name"] == name).cloned())
            .unwrap_or(Value::Null)
    };
    assert_eq!(by_name("ignored")["exitCode"], 7, "{t}");
    // Stopped by the task's stop (SIGTERM), not by its own exits.
    assert_eq!(by_name("flaky")["exitCode"], 0, "{t}");

    let id = task_id(&arn);
    let flaky_log = agent.container_log(id, "flaky");
    let runs = flaky_log.matches("flaky-ran").count();
    assert_eq!(runs, 3, "flaky ran {runs} times:\n{flaky_log}");
    let ignored_log = agent.container_log(id, "ignored");
    assert_eq!(
        ignored_log.matches("ignored-ran").count(),
        1,
        "an ignored exit code is not restarted:\n{ignored_log}"
    );
    let meta: Value = ignored_log
        .lines()
        .find(|l| l.starts_with('{'))
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no task metadata in:\n{ignored_log}"));
    let count = |name: &str| {
        meta["Containers"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["Name"] == name))
            .map(|c| c["RestartCount"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(count("flaky"), 2, "{meta}");
    assert_eq!(count("ignored"), 0, "{meta}");
}

/// The restarts reach the control plane as the Go agent sends them: per
/// container in each TCS metrics frame, `restartStatsSet.restartCount` the
/// restarts since the last frame (Go: agent/stats/queue.go
/// `getRestartStatsSet`; wire shape tcs-api-2.json `RestartStatsSet`), and
/// nothing for a container without a policy.
#[test]
fn restarts_are_published_in_tcs_metrics() {
    let Some(env) = common::env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(
        &env,
        &local,
        &[
            ("ECS_TEST_TCS_PUBLISH_INTERVAL_MS", "1500"),
            ("ECS_POLLING_METRICS_WAIT_DURATION", "5s"),
        ],
    );
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);
    let td = local.register_task_definition_unchecked(
        &json!({"family": "restart-stats", "networkMode": "host", "containerDefinitions": [
            {"name": "flaky", "image": env.image(), "memory": 32, "essential": true,
             "restartPolicy": {"enabled": true, "restartAttemptPeriod": 1},
             "command": sh(FLAKY)},
            {"name": "plain", "image": env.image(), "memory": 32, "essential": false,
             "command": sh("trap 'exit 0' TERM; sleep 3600 & wait")}
        ]}),
    );
    let arn = run_task(&aws, &agent, &td);
    wait_task_status(&aws, &agent, &arn, "RUNNING", START);
    let task = || local.debug_stats()["tcs"]["tasks"][arn.as_str()].clone();
    let reported = common::wait_until_with_log(
        &agent,
        "flaky's 2 restarts in the TCS metrics ecs-local received",
        Duration::from_secs(90),
        || {
            let t = task();
            (t["restarts"]["flaky"].as_i64() == Some(2)).then_some(t)
        },
    );
    assert!(
        reported["restarts"].get("plain").is_none(),
        "a container without a policy has no restart set: {reported}"
    );
    // Published once each: later frames add nothing.
    let frames = reported["frames"].as_u64().unwrap_or(0);
    common::wait_until(Duration::from_secs(30), Duration::from_millis(500), || {
        (task()["frames"].as_u64().unwrap_or(0) >= frames + 2).then_some(())
    });
    assert_eq!(task()["restarts"]["flaky"], 2, "{}", task());
    common::stop_task(&aws, &agent, &arn);
}

/// A policy container that exits while the agent is down (kill -9) is
/// restarted when the agent comes back and finds it exited, as if its exit
/// had been seen live, instead of stopping the task.
#[test]
fn a_container_that_exits_while_the_agent_is_down_is_restarted_when_it_returns() {
    let Some(env) = common::env() else { return };
    let local = EcsLocal::start(&env);
    let mut agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);
    // First run: exits 3 after 4 s. Second run (its root keeps /ran): prints
    // its metadata once the agent serves it, and stays up.
    let td = local.register_task_definition_unchecked(
        &json!({"family": "restart-while-down", "networkMode": "bridge", "containerDefinitions": [
            {"name": "app", "image": env.image(), "memory": 32, "essential": true,
             "restartPolicy": {"enabled": true, "restartAttemptPeriod": 1},
             "command": sh("trap 'exit 0' TERM; \
                 if [ -f /ran ]; then echo second-run; \
                   until wget -qO- $ECS_CONTAINER_METADATA_URI_V4; do sleep 1; done; echo; \
                   sleep 3600 & wait; exit 0; fi; \
                 touch /ran; echo first-run; sleep 4; exit 3")}
        ]}),
    );
    let arn = run_task(&aws, &agent, &td);
    wait_task_status(&aws, &agent, &arn, "RUNNING", START);
    let id = task_id(&arn).to_string();
    agent.kill9();
    // The container exits while no agent runs: containerd shows its task stopped.
    let ns = agent.namespace().to_string();
    common::wait_until_with(
        "the app's containerd task STOPPED",
        Duration::from_secs(30),
        Duration::from_millis(300),
        || {
            let ls = common::ctr(&env, &ns, &["tasks", "ls"]);
            ls.lines()
                .any(|l| l.contains(&id) && l.contains("STOPPED"))
                .then_some(())
        },
    );
    agent.restart();
    let log =
        common::wait_until_with_log(&agent, "app's second run and its metadata", START, || {
            let log = agent.container_log(&id, "app");
            log.lines().any(|l| l.starts_with('{')).then_some(log)
        });
    assert_eq!(log.matches("first-run").count(), 1, "{log}");
    assert_eq!(log.matches("second-run").count(), 1, "{log}");
    let meta: Value = log
        .lines()
        .find(|l| l.starts_with('{'))
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no metadata in:\n{log}"));
    assert_eq!(meta["RestartCount"], 1, "{meta}");
    let t = common::describe_task(&aws, &agent, &arn).expect("task");
    assert_eq!(t["lastStatus"], "RUNNING", "{t}");
    assert_eq!(t["containers"][0]["lastStatus"], "RUNNING", "{t}");
    common::stop_task(&aws, &agent, &arn);
    let t = wait_task_status(&aws, &agent, &arn, "STOPPED", START);
    assert_eq!(t["containers"][0]["exitCode"], 0, "{t}");
}
