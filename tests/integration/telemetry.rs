//! TCS telemetry end to end: the real agent publishes task metrics to
//! ecs-local's /tcs/ws, seen through GET /debug/stats.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{
    env, register_task_def, run_task, sh, unique_ns, wait_task_status, wait_until_with_log, Agent,
    Aws, EcsLocal,
};

const LONG: Duration = Duration::from_secs(90);

/// Publish often, sample as often as the agent allows (5 s).
const FAST: [(&str, &str); 2] = [
    ("ECS_TEST_TCS_PUBLISH_INTERVAL_MS", "1500"),
    ("ECS_POLLING_METRICS_WAIT_DURATION", "5s"),
];

/// A container that exits at once on SIGTERM after `body`.
fn container(body: &str, image: &str) -> Value {
    json!([{
        "name": "burn",
        "image": image,
        "memory": 32,
        "essential": true,
        "stopTimeout": 2,
        "command": sh(&format!("trap 'exit 0' TERM; {body}")),
    }])
}

fn stop(aws: &Aws, agent: &Agent, arn: &str) {
    let _ = aws.ecs(&["stop-task", "--cluster", agent.cluster(), "--task", arn]);
}

#[test]
fn agent_publishes_cpu_metrics_of_a_busy_task() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    let aws = Aws::new(&env, &local);
    let agent = Agent::start(&env, &local, &FAST);
    agent.wait_registered(&aws, LONG);

    // Idle instance: idle frames arrive before any task runs.
    wait_until_with_log(&agent, "an idle PublishMetricsRequest", LONG, || {
        let s = local.debug_stats();
        (s["tcs"]["idle"].as_u64() > Some(0)).then_some(())
    });

    let td = register_task_def(
        &aws,
        &unique_ns("tcs-burn"),
        container("while :; do :; done", &env.image()),
    );
    let arn = run_task(&aws, &agent, &td);
    wait_task_status(&aws, &agent, &arn, "RUNNING", LONG);
    let task = wait_until_with_log(&agent, "CPU metrics for the busy task", LONG, || {
        let s = local.debug_stats();
        let t = s["tcs"]["tasks"][&arn].clone();
        (t["cpuSamples"].as_i64() > Some(0) && t["cpuMax"].as_f64() > Some(5.0)).then_some(s)
    });
    stop(&aws, &agent, &arn);

    assert!(task["tcs_metrics_received"].as_u64() > Some(0), "{task}");
    assert!(
        task["tcs_task_metrics_received"].as_u64() > Some(0),
        "{task}"
    );
    let t = &task["tcs"]["tasks"][&arn];
    assert!(t["memoryMaxMib"].as_f64().is_some(), "{task}");
    // The last frame as sent: metadata and the task's identity.
    let last = &task["tcs"]["lastMetrics"];
    assert_eq!(last["type"], "PublishMetricsRequest", "{task}");
    let md = &last["message"]["metadata"];
    assert_eq!(
        md["containerInstance"]
            .as_str()
            .map(|s| s.contains("container-instance")),
        Some(true),
        "{task}"
    );
    assert!(md["messageId"].is_string(), "{task}");
    assert_eq!(md["fin"], true, "{task}");
    eprintln!("last PublishMetricsRequest: {last}");
    let family = td
        .rsplit('/')
        .next()
        .and_then(|s| s.split(':').next())
        .unwrap_or_default()
        .to_string();
    if let Some(tm) = last["message"]["taskMetrics"]
        .as_array()
        .and_then(|a| a.iter().find(|t| t["taskArn"] == json!(arn)))
    {
        assert_eq!(tm["taskDefinitionFamily"], json!(family), "{task}");
        assert_eq!(tm["taskDefinitionVersion"], "1", "{task}");
        assert_eq!(tm["containerMetrics"][0]["containerName"], "burn", "{task}");
    }
}

#[test]
fn disabled_metrics_send_nothing() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    let aws = Aws::new(&env, &local);
    let mut vars = FAST.to_vec();
    vars.push(("ECS_DISABLE_METRICS", "true"));
    let agent = Agent::start(&env, &local, &vars);
    agent.wait_registered(&aws, LONG);

    let td = register_task_def(
        &aws,
        &unique_ns("tcs-off"),
        container("sleep 300 & wait", &env.image()),
    );
    let arn = run_task(&aws, &agent, &td);
    wait_task_status(&aws, &agent, &arn, "RUNNING", LONG);
    // Two sample polls and several publish intervals.
    std::thread::sleep(Duration::from_secs(12));
    let s = local.debug_stats();
    stop(&aws, &agent, &arn);
    assert_eq!(s["tcs"]["metrics"], 0, "{s}");
    assert_eq!(s["tcs_metrics_received"], 0, "{s}");
    assert!(
        agent.log().contains("ECS_DISABLE_METRICS"),
        "the agent says metrics are off"
    );
}
