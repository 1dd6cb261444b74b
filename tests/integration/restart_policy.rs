//! Issue 15, restart policies: a container whose `restartPolicy` is enabled
//! is restarted in place after an exit (same task, same log file), counted
//! in task metadata v4's `RestartCount` (Go: tmds v4 state/response.go); an
//! exit code in `ignoredExitCodes` ends it as any exit does. The wire shape
//! of `restartPolicy` is the ACS model's (acs-api-2.json `RestartPolicy`).

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{
    self, register_task_definition, run_task, sh, task_id, wait_task_status, Agent, Aws, EcsLocal,
};

const START: Duration = Duration::from_secs(60);

#[test]
fn a_container_is_restarted_in_place_unless_its_exit_code_is_ignored() {
    let Some(env) = common::env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);
    let td = register_task_definition(
        &aws,
        json!({"family": "restarts", "networkMode": "bridge", "containerDefinitions": [
            // Exits 1 every 2 s: restarted each time (it ran longer than the
            // 1 s attempt period); a stop ends it with 0.
            {"name": "flaky", "image": env.image(), "memory": 32, "essential": false,
             "restartPolicy": {"enabled": true, "ignoredExitCodes": [7], "restartAttemptPeriod": 1},
             "command": sh("trap 'exit 0' TERM; echo flaky-ran; sleep 2 & wait; exit 1")},
            // Reads the task's metadata once flaky has restarted, then exits
            // with its ignored code: not restarted, and the task stops.
            {"name": "ignored", "image": env.image(), "memory": 32, "essential": true,
             "restartPolicy": {"enabled": true, "ignoredExitCodes": [7], "restartAttemptPeriod": 0},
             "command": sh("echo ignored-ran; sleep 7; wget -qO- $ECS_CONTAINER_METADATA_URI_V4/task; echo; exit 7")}
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
    assert!(runs >= 3, "flaky ran {runs} times:\n{flaky_log}");
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
    let flaky_restarts = count("flaky").as_u64().unwrap_or(0);
    assert!(flaky_restarts >= 2, "flaky RestartCount: {meta}");
    assert_eq!(count("ignored"), 0, "{meta}");
}
