//! The awslogs log driver against moto's CloudWatch Logs (the AWS emulator
//! scripts/testenv runs): tasks run through ecs-local with the real `aws
//! ecs` CLI, their output read back with `aws logs get-log-events`, never
//! from the agent's own log. The agent reaches moto only through the SDK's
//! standard setting (AWS_ENDPOINT_URL_CLOUDWATCH_LOGS).

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{
    self, register_task_definition, run_task, sh, task_id, wait_task_status, Agent, Aws, EcsLocal,
    REGION,
};

pub(crate) const START: Duration = Duration::from_secs(60);
/// The shipper sends a batch at most 5 s after reading its first line.
pub(crate) const ARRIVE: Duration = Duration::from_secs(60);
const MOTO_ACCOUNT: &str = "123456789012";

/// Every message of a stream, oldest first (get-log-events pages until its
/// forward token stops moving); empty while the stream does not exist.
pub(crate) fn events(logs: &Aws, group: &str, stream: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut args = vec![
            "logs",
            "get-log-events",
            "--log-group-name",
            group,
            "--log-stream-name",
            stream,
            "--start-from-head",
        ];
        if let Some(t) = &token {
            args.extend(["--next-token", t.as_str()]);
        }
        let Ok(page) = logs.run(&args) else {
            return out;
        };
        let batch = page["events"].as_array().cloned().unwrap_or_default();
        out.extend(
            batch
                .iter()
                .map(|e| e["message"].as_str().unwrap_or_default().to_string()),
        );
        let next = page["nextForwardToken"].as_str().map(String::from);
        if batch.is_empty() || next.is_none() || next == token {
            return out;
        }
        token = next;
    }
}

fn start_agent(env: &common::TestEnv, local: &EcsLocal, moto: &str) -> Agent {
    Agent::start(env, local, &[("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", moto)])
}

/// A one-container task definition logging with awslogs; with an execution
/// role its logs ship with the role's credentials (ecs-local marks the
/// container `logsAuthStrategy: ExecutionRole`), without one with the
/// agent's own (the harness's keys, through the SDK's default chain).
pub(crate) fn awslogs_task(
    env: &common::TestEnv,
    aws: &Aws,
    family: &str,
    options: Value,
    script: &str,
    execution_role: bool,
) -> String {
    let mut td = json!({"family": family, "networkMode": "host",
           "containerDefinitions": [{
               "name": "app", "image": env.image(), "memory": 32, "essential": true,
               "logConfiguration": {"logDriver": "awslogs", "options": options},
               "command": sh(script)}]});
    if execution_role {
        td["executionRoleArn"] = json!(format!("arn:aws:iam::{MOTO_ACCOUNT}:role/exec"));
    }
    register_task_definition(aws, td)
}

/// The capabilities are advertised; a task whose container writes both
/// streams, an empty line and a 300,000-byte line ships every line to the
/// stream ECS names (`prefix/container/task-id`) in the group given, with the
/// execution role (the payload carries `logsAuthStrategy: ExecutionRole`);
/// the long line arrives split at 262,118 bytes as Docker splits it, and the
/// local spool still serves `ecs-agent logs`.
#[test]
fn lines_reach_the_stream_ecs_names_with_the_execution_role() {
    let Some(env) = common::env() else { return };
    let Some(moto) = common::moto() else { return };
    let group = format!("/ecs/{}", common::unique_ns("awslogs"));
    let logs = Aws::moto(&env, &moto, REGION);
    logs.run_ok(&["logs", "create-log-group", "--log-group-name", &group]);

    let local = EcsLocal::start(&env);
    let agent = start_agent(&env, &local, &moto);
    let aws = Aws::new(&env, &local);
    let instance = agent.wait_registered(&aws, START);
    let attrs = agent.registered_attributes(&aws, &instance).to_string();
    for cap in [
        "com.amazonaws.ecs.capability.logging-driver.awslogs",
        "ecs.capability.execution-role-awslogs",
    ] {
        assert!(attrs.contains(cap), "{cap} not advertised: {attrs}");
    }

    let td = awslogs_task(
        &env,
        &aws,
        "awslogs-basic",
        json!({"awslogs-group": group, "awslogs-region": REGION,
               "awslogs-stream-prefix": "web", "mode": "blocking"}),
        "for i in $(seq 1 500); do echo out-$i; echo err-$i >&2; done; echo; \
         head -c 300000 /dev/zero | tr '\\0' x; echo; echo last",
        true,
    );
    let arn = run_task(&aws, &agent, &td);
    let t = wait_task_status(&aws, &agent, &arn, "STOPPED", START);
    assert_eq!(t["containers"][0]["exitCode"], 0, "{t}");
    let stream = format!("web/app/{}", task_id(&arn));
    let got = common::wait_until_with_log(&agent, "every line in CloudWatch", ARRIVE, || {
        let got = events(&logs, &group, &stream);
        got.iter().any(|m| m == "last").then_some(got)
    });
    let outs: Vec<&String> = got.iter().filter(|m| m.starts_with("out-")).collect();
    let errs: Vec<&String> = got.iter().filter(|m| m.starts_with("err-")).collect();
    assert_eq!(outs.len(), 500, "{:?}", &got[..got.len().min(20)]);
    assert_eq!(errs.len(), 500);
    for (i, m) in outs.iter().enumerate() {
        assert_eq!(**m, format!("out-{}", i + 1), "stdout in order");
    }
    // No event for the empty line; the long one in Docker's pieces.
    assert!(!got.iter().any(String::is_empty));
    let long: Vec<usize> = got
        .iter()
        .filter(|m| m.starts_with('x'))
        .map(String::len)
        .collect();
    assert_eq!(long, [262_118, 300_000 - 262_118]);
    assert_eq!(got.len(), 1000 + 2 + 1);
    // The spool is Docker's json-file, where `ecs-agent logs` reads it.
    let spool = agent.container_log(task_id(&arn), "app");
    assert!(spool.contains("out-500\n") && spool.contains("last\n"));
    // Counted in /metrics.
    let port = agent
        .var("ECS_AGENT_INTROSPECTION_PORT")
        .expect("introspection port");
    let shipped = metric(&port, "ecs_agent_awslogs_events_shipped_total ");
    assert_eq!(shipped, Some(1003.0));
}

/// One sample of the agent's /metrics.
pub(crate) fn metric(port: &str, prefix: &str) -> Option<f64> {
    metrics(port)
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|v| v.trim().parse::<f64>().ok())
}

/// A container writes 4,000 numbered lines over several seconds while the
/// agent is killed with SIGKILL and started again: every line arrives in
/// CloudWatch, and exactly once (the shipper resumes from the position it
/// checkpointed after its last successful PutLogEvents). The container
/// stays up a while after its lines, so that its task is still running when
/// the agent is back: ECS sends execution role credentials only for tasks
/// meant to run, and they live in the agent's memory only (README, known
/// issues). A second task, without an execution role (the instance's
/// credentials), logs to a group that does not exist and may not be
/// created: it runs to its end all the same, and /metrics counts the errors.
#[test]
fn every_line_reaches_cloudwatch_once_across_a_kill_9_of_the_agent() {
    let Some(env) = common::env() else { return };
    let Some(moto) = common::moto() else { return };
    let group = format!("/ecs/{}", common::unique_ns("awslogs-k9"));
    let logs = Aws::moto(&env, &moto, REGION);
    logs.run_ok(&["logs", "create-log-group", "--log-group-name", &group]);

    let local = EcsLocal::start(&env);
    let mut agent = start_agent(&env, &local, &moto);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);

    const LINES: usize = 4000;
    let td = awslogs_task(
        &env,
        &aws,
        "awslogs-kill9",
        json!({"awslogs-group": group, "awslogs-stream-prefix": "k9", "mode": "blocking"}),
        // 40 bursts of 100 lines, 0.2 s apart: about 8 s of output.
        "i=0; while [ $i -lt 40 ]; do j=0; while [ $j -lt 100 ]; do \
         echo line-$((i*100+j)); j=$((j+1)); done; i=$((i+1)); sleep 0.2; done; sleep 30",
        true,
    );
    let missing = awslogs_task(
        &env,
        &aws,
        "awslogs-nogroup",
        json!({"awslogs-group": format!("{group}-missing"), "mode": "non-blocking"}),
        "echo nowhere; sleep 2",
        false,
    );
    let arn = run_task(&aws, &agent, &td);
    let nowhere = run_task(&aws, &agent, &missing);
    let stream = format!("k9/app/{}", task_id(&arn));
    // Some lines shipped, the container still writing: kill -9.
    let before =
        common::wait_until_with_log(&agent, "the first lines in CloudWatch", ARRIVE, || {
            let n = events(&logs, &group, &stream).len();
            (n > 0).then_some(n)
        });
    agent.kill9();
    assert!(before < LINES, "the container had finished before the kill");
    std::thread::sleep(Duration::from_secs(2));
    agent.restart();
    let t = wait_task_status(&aws, &agent, &arn, "STOPPED", START);
    assert_eq!(t["containers"][0]["exitCode"], 0, "{t}");
    let got = common::wait_until_with_log(&agent, "every line in CloudWatch", ARRIVE, || {
        let got = events(&logs, &group, &stream);
        (got.len() >= LINES).then_some(got)
    });
    let want: Vec<String> = (0..LINES).map(|i| format!("line-{i}")).collect();
    assert_eq!(got.len(), LINES, "duplicates after the restart");
    assert_eq!(got, want);

    // The group that is not there: the task ran to its end all the same,
    // and the failures are counted in /metrics.
    let t = wait_task_status(&aws, &agent, &nowhere, "STOPPED", START);
    assert_eq!(t["containers"][0]["exitCode"], 0, "{t}");
    assert!(agent.is_running(), "the agent survived CloudWatch's errors");
    let port = agent
        .var("ECS_AGENT_INTROSPECTION_PORT")
        .expect("introspection port");
    common::wait_until_with_log(&agent, "awslogs errors in /metrics", ARRIVE, || {
        metric(&port, "ecs_agent_errors_total{kind=\"awslogs\"} ").filter(|n| *n > 0.0)
    });
}

/// The agent's /metrics text (plain HTTP/1.0 on its introspection port).
pub(crate) fn metrics(port: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap_or(0)))
    else {
        return String::new();
    };
    let _ = s.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n");
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text
}

/// `logConfiguration.secretOptions` (ecs-local sends them as Amazon ECS
/// does: `secrets` of target LOG_DRIVER, see src/local/payload.rs): the
/// group comes from an SSM parameter and the stream from a Secrets Manager
/// secret, fetched with the execution role at create and merged into the
/// options sent in clear (awslogs-region, mode); the lines land in that
/// group and stream. A secret
/// option awslogs does not know stops its task naming it (Docker's words);
/// one whose fetched value awslogs refuses stops its task naming the option,
/// not the value. No value is in the agent's log or its checkpoint.
#[test]
fn secret_options_set_the_group_and_stream_and_bad_ones_stop_the_task() {
    let Some(env) = common::env() else { return };
    let Some(moto) = common::moto() else { return };
    let u = common::unique_ns("secopt").to_lowercase();
    let group = format!("/ecs/{u}-group-from-ssm");
    let stream = format!("{u}-stream-from-asm");
    let ssm = Aws::moto(&env, &moto, REGION);
    for (name, value) in [("group", group.as_str()), ("region", "us west")] {
        ssm.run_ok(&[
            "ssm",
            "put-parameter",
            "--name",
            &format!("/{u}/{name}"),
            "--value",
            value,
            "--type",
            "String",
        ]);
    }
    let secret = ssm.run_ok(&[
        "secretsmanager",
        "create-secret",
        "--name",
        &format!("{u}-stream"),
        "--secret-string",
        &stream,
    ]);
    let secret_arn = secret["ARN"].as_str().expect("secret ARN").to_string();
    ssm.run_ok(&["logs", "create-log-group", "--log-group-name", &group]);

    let local = EcsLocal::start(&env);
    let agent = Agent::start(
        &env,
        &local,
        &[
            ("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", moto.as_str()),
            ("AWS_ENDPOINT_URL_SSM", moto.as_str()),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto.as_str()),
        ],
    );
    let aws = Aws::new(&env, &local);
    let instance = agent.wait_registered(&aws, START);
    let attrs = agent.registered_attributes(&aws, &instance).to_string();
    for cap in [
        "ecs.capability.secrets.ssm.bootstrap.log-driver",
        "ecs.capability.secrets.asm.bootstrap.log-driver",
    ] {
        assert!(attrs.contains(cap), "{cap} not advertised: {attrs}");
    }

    let td = |family: &str, secret_options: Value| {
        register_task_definition(
            &aws,
            json!({"family": family, "networkMode": "host",
                   "executionRoleArn": format!("arn:aws:iam::{MOTO_ACCOUNT}:role/exec"),
                   "containerDefinitions": [{
                       "name": "app", "image": env.image(), "memory": 32, "essential": true,
                       "logConfiguration": {
                           "logDriver": "awslogs",
                           "options": {"awslogs-region": REGION, "mode": "blocking"},
                           "secretOptions": secret_options},
                       "command": sh("for i in $(seq 1 50); do echo line-$i; done")}]}),
        )
    };
    let good = run_task(
        &aws,
        &agent,
        &td(
            "secopts-good",
            json!([{"name": "awslogs-group", "valueFrom": format!("/{u}/group")},
                   {"name": "awslogs-stream", "valueFrom": secret_arn}]),
        ),
    );
    let unknown = run_task(
        &aws,
        &agent,
        &td(
            "secopts-unknown",
            json!([{"name": "awslogs-group", "valueFrom": format!("/{u}/group")},
                   {"name": "awslogs-token", "valueFrom": format!("/{u}/group")}]),
        ),
    );
    let bad_value = run_task(
        &aws,
        &agent,
        &td(
            "secopts-bad-value",
            json!([{"name": "awslogs-group", "valueFrom": format!("/{u}/group")},
                   {"name": "awslogs-region", "valueFrom": format!("/{u}/region")}]),
        ),
    );

    let t = wait_task_status(&aws, &agent, &good, "STOPPED", START);
    assert_eq!(t["containers"][0]["exitCode"], 0, "{t}");
    let got = common::wait_until_with_log(&agent, "every line in CloudWatch", ARRIVE, || {
        let got = events(&ssm, &group, &stream);
        got.iter().any(|m| m == "line-50").then_some(got)
    });
    let want: Vec<String> = (1..=50).map(|i| format!("line-{i}")).collect();
    assert_eq!(got, want);

    let t = wait_task_status(&aws, &agent, &unknown, "STOPPED", START);
    let reason = t["stoppedReason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("unknown log opt 'awslogs-token' for awslogs log driver"),
        "{t}"
    );
    let t = wait_task_status(&aws, &agent, &bad_value, "STOPPED", START);
    let reason = t["stoppedReason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("awslogs-region (the value of secret option 'awslogs-region')"),
        "{t}"
    );
    assert!(!reason.contains("us west"), "{t}");

    let log = agent.log();
    let state = std::fs::read(agent.data_dir().join("agent.redb")).unwrap_or_default();
    let state = String::from_utf8_lossy(&state);
    for value in [group.as_str(), stream.as_str(), "us west"] {
        assert!(!log.contains(value), "{value:?} in the agent's log");
        assert!(!state.contains(value), "{value:?} in the checkpoint");
    }
}

/// A container whose awslogs group came from secretOptions goes on shipping
/// after a kill -9 of the agent: the value is not in the checkpoint, so the
/// restarted agent fetches it again (with the execution role, once ACS has
/// sent its credentials again) and resumes from the checkpointed position:
/// every line exactly once.
#[test]
fn a_secret_group_is_fetched_again_after_a_kill_9_and_every_line_ships_once() {
    let Some(env) = common::env() else { return };
    let Some(moto) = common::moto() else { return };
    let u = common::unique_ns("secopt-k9").to_lowercase();
    let group = format!("/ecs/{u}-group-from-ssm");
    let aws_moto = Aws::moto(&env, &moto, REGION);
    aws_moto.run_ok(&["logs", "create-log-group", "--log-group-name", &group]);
    aws_moto.run_ok(&[
        "ssm",
        "put-parameter",
        "--name",
        &format!("/{u}/group"),
        "--value",
        &group,
        "--type",
        "String",
    ]);
    let local = EcsLocal::start(&env);
    let mut agent = Agent::start(
        &env,
        &local,
        &[
            ("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", moto.as_str()),
            ("AWS_ENDPOINT_URL_SSM", moto.as_str()),
        ],
    );
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);

    const LINES: usize = 2000;
    let td = register_task_definition(
        &aws,
        json!({"family": "secopts-k9", "networkMode": "host",
               "executionRoleArn": format!("arn:aws:iam::{MOTO_ACCOUNT}:role/exec"),
               "containerDefinitions": [{
                   "name": "app", "image": env.image(), "memory": 32, "essential": true,
                   "logConfiguration": {
                       "logDriver": "awslogs",
                       "options": {"awslogs-stream-prefix": "k9", "mode": "blocking"},
                       "secretOptions": [{"name": "awslogs-group", "valueFrom": format!("/{u}/group")}]},
                   // 20 bursts of 100 lines, 0.3 s apart: about 6 s of output.
                   "command": sh("i=0; while [ $i -lt 20 ]; do j=0; while [ $j -lt 100 ]; do \
                                  echo line-$((i*100+j)); j=$((j+1)); done; i=$((i+1)); sleep 0.3; done; sleep 20")}]}),
    );
    let arn = run_task(&aws, &agent, &td);
    let stream = format!("k9/app/{}", task_id(&arn));
    let before =
        common::wait_until_with_log(&agent, "the first lines in CloudWatch", ARRIVE, || {
            let n = events(&aws_moto, &group, &stream).len();
            (n > 0).then_some(n)
        });
    agent.kill9();
    assert!(before < LINES, "the container had finished before the kill");
    std::thread::sleep(Duration::from_secs(2));
    agent.restart();
    let got = common::wait_until_with_log(&agent, "every line in CloudWatch", ARRIVE, || {
        let got = events(&aws_moto, &group, &stream);
        (got.len() >= LINES).then_some(got)
    });
    let want: Vec<String> = (0..LINES).map(|i| format!("line-{i}")).collect();
    assert_eq!(got.len(), LINES, "duplicates after the restart");
    assert_eq!(got, want);
    let t = wait_task_status(&aws, &agent, &arn, "STOPPED", START);
    assert_eq!(t["containers"][0]["exitCode"], 0, "{t}");
    assert!(
        !agent.log().contains(&group),
        "the group in the agent's log"
    );
}

/// The awslogs options the Amazon ECS console writes into every new
/// definition: `mode: non-blocking` with `max-buffer-size` and
/// `awslogs-create-group`. Amazon ECS then requires docker-remote-api 1.28
/// and 1.29 of the instance (ecs-local derives them alike), which the agent
/// advertises: the task is placed, and its lines reach a group that did not
/// exist, made by the agent.
#[test]
fn the_consoles_default_awslogs_options_are_placed_and_create_the_group() {
    let Some(env) = common::env() else { return };
    let Some(moto) = common::moto() else { return };
    let group = format!("/ecs/{}", common::unique_ns("awslogs-console"));
    let logs = Aws::moto(&env, &moto, REGION);
    let local = EcsLocal::start(&env);
    let agent = start_agent(&env, &local, &moto);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);
    let td = awslogs_task(
        &env,
        &aws,
        "awslogs-console",
        json!({"awslogs-group": group, "mode": "non-blocking", "awslogs-create-group": "true",
               "max-buffer-size": "25m", "awslogs-region": REGION, "awslogs-stream-prefix": "ecs"}),
        "echo first; echo last",
        true,
    );
    let required = aws.ecs_ok(&["describe-task-definition", "--task-definition", &td]);
    let required = required["taskDefinition"]["requiresAttributes"].to_string();
    for level in ["1.28", "1.29"] {
        assert!(
            required.contains(&format!("docker-remote-api.{level}")),
            "{level} not required: {required}"
        );
    }
    let arn = run_task(&aws, &agent, &td);
    let t = wait_task_status(&aws, &agent, &arn, "STOPPED", START);
    assert_eq!(t["containers"][0]["exitCode"], 0, "{t}");
    let stream = format!("ecs/app/{}", task_id(&arn));
    let got = common::wait_until_with_log(&agent, "the lines in the new group", ARRIVE, || {
        let got = events(&logs, &group, &stream);
        (got.len() >= 2).then_some(got)
    });
    assert_eq!(got, ["first", "last"]);
}

/// `awslogs-datetime-format` (Docker's strftime-like format): a Java stack
/// trace arrives as one event with its lines joined by `\n`, as Docker's
/// driver groups them; an event with nothing after it goes once it has
/// waited 5 s (the container still running), and the last one when the
/// container ends. All on stdout: stdout and stderr are grouped together as
/// in Docker, in the order the logger's two readers happened to write them.
#[test]
fn a_multi_line_stack_trace_arrives_as_one_event() {
    let Some(env) = common::env() else { return };
    let Some(moto) = common::moto() else { return };
    let group = format!("/ecs/{}", common::unique_ns("awslogs-ml"));
    let logs = Aws::moto(&env, &moto, REGION);
    logs.run_ok(&["logs", "create-log-group", "--log-group-name", &group]);

    let local = EcsLocal::start(&env);
    let agent = start_agent(&env, &local, &moto);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);

    let td = awslogs_task(
        &env,
        &aws,
        "awslogs-multiline",
        json!({"awslogs-group": group, "awslogs-stream-prefix": "ml",
               "awslogs-datetime-format": "\\[%Y-%m-%d %H:%M:%S\\]", "mode": "blocking"}),
        "echo 'starting up'; \
         echo '[2024-03-05 10:00:00] ERROR request failed'; \
         echo 'java.lang.IllegalStateException: boom'; \
         printf '\\tat a.B.c(B.java:1)\\n\\tat a.B.main(B.java:9)\\n'; \
         echo '[2024-03-05 10:00:01] INFO recovered'; \
         sleep 25; \
         echo '[2024-03-05 10:00:30] INFO bye'; echo '  trailing detail'",
        false,
    );
    let arn = run_task(&aws, &agent, &td);
    let stream = format!("ml/app/{}", task_id(&arn));
    let trace = "[2024-03-05 10:00:00] ERROR request failed\n\
                 java.lang.IllegalStateException: boom\n\
                 \tat a.B.c(B.java:1)\n\
                 \tat a.B.main(B.java:9)\n";
    // The open "recovered" event goes after 5 s with nothing new, well
    // before the container's 25 s sleep ends.
    let got = common::wait_until_with_log(&agent, "the first events in CloudWatch", ARRIVE, || {
        let got = events(&logs, &group, &stream);
        (got.len() >= 3).then_some(got)
    });
    assert_eq!(
        got,
        [
            "starting up\n",
            trace,
            "[2024-03-05 10:00:01] INFO recovered\n"
        ]
    );
    let t = common::describe_task(&aws, &agent, &arn).unwrap_or_default();
    assert_eq!(
        t["lastStatus"], "RUNNING",
        "the open event waited for the container's end: {t}"
    );
    let t = wait_task_status(&aws, &agent, &arn, "STOPPED", START);
    assert_eq!(t["containers"][0]["exitCode"], 0, "{t}");
    let got = common::wait_until_with_log(&agent, "the last event in CloudWatch", ARRIVE, || {
        let got = events(&logs, &group, &stream);
        (got.len() >= 4).then_some(got)
    });
    assert_eq!(got.len(), 4, "{got:?}");
    assert_eq!(
        got[3],
        "[2024-03-05 10:00:30] INFO bye\n  trailing detail\n"
    );
}

/// The bytes on disk of a container's spool: its json-file and any rotated
/// `.N` file next to it.
pub(crate) fn spool_bytes(path: &std::path::Path) -> u64 {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return 0;
    };
    let name = name.to_string_lossy().to_string();
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(&name))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// The newest event of a stream (get-log-events from the tail, one event).
fn last_event(logs: &Aws, group: &str, stream: &str) -> Option<String> {
    let page = logs
        .run(&[
            "logs",
            "get-log-events",
            "--log-group-name",
            group,
            "--log-stream-name",
            stream,
            "--limit",
            "1",
        ])
        .ok()?;
    page["events"][0]["message"].as_str().map(String::from)
}

/// The number in a `line-N ...` message.
pub(crate) fn line_number(message: &str) -> Option<usize> {
    message
        .strip_prefix("line-")?
        .split(' ')
        .next()?
        .parse()
        .ok()
}

/// A chatty container in blocking mode writes 12,000 numbered lines of
/// 1 KB (12.5 MB of spool) over about 25 s, and the agent is killed with
/// SIGKILL midway and started again. The logger hands its spool over in
/// 1 MB files, which the shipper removes once all of each is in
/// CloudWatch: the spool on disk stays well under what was written (at
/// most half of it at any time, under 4 MB and no rotated file once all is
/// shipped) while every line arrives, exactly once and in order.
#[test]
fn a_chatty_blocking_spool_stays_bounded_and_every_line_arrives_once() {
    let Some(env) = common::env() else { return };
    let Some(moto) = common::moto() else { return };
    let group = format!("/ecs/{}", common::unique_ns("awslogs-spool"));
    let logs = Aws::moto(&env, &moto, REGION);
    logs.run_ok(&["logs", "create-log-group", "--log-group-name", &group]);

    let local = EcsLocal::start(&env);
    let mut agent = start_agent(&env, &local, &moto);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);

    const LINES: usize = 12_000;
    let td = awslogs_task(
        &env,
        &aws,
        "awslogs-chatty",
        json!({"awslogs-group": group, "awslogs-stream-prefix": "spool", "mode": "blocking"}),
        // 120 bursts of 100 lines of about 1 KB, 0.2 s apart.
        "l=$(head -c 1000 /dev/zero | tr '\\0' x); i=0; while [ $i -lt 120 ]; do j=0; \
         while [ $j -lt 100 ]; do echo \"line-$((i*100+j)) $l\"; j=$((j+1)); done; \
         i=$((i+1)); sleep 0.2; done; sleep 60",
        false,
    );
    let arn = run_task(&aws, &agent, &td);
    let id = task_id(&arn).to_string();
    let stream = format!("spool/app/{id}");
    let path = agent.container_log_path(&id, "app");
    let mut max = 0u64;
    let sample = |max: &mut u64| *max = (*max).max(spool_bytes(&path));
    let shipped_past = |n: usize| {
        last_event(&logs, &group, &stream)
            .and_then(|m| line_number(&m))
            .is_some_and(|i| i >= n)
    };
    common::wait_until_with_log(
        &agent,
        "a quarter of the lines in CloudWatch",
        ARRIVE,
        || {
            sample(&mut max);
            shipped_past(LINES / 4).then_some(())
        },
    );
    agent.kill9();
    for _ in 0..8 {
        sample(&mut max);
        std::thread::sleep(Duration::from_millis(250));
    }
    agent.restart();
    common::wait_until_with_log(&agent, "the last line in CloudWatch", ARRIVE, || {
        sample(&mut max);
        shipped_past(LINES - 1).then_some(())
    });
    let got = events(&logs, &group, &stream);
    let numbers: Vec<Option<usize>> = got.iter().map(|m| line_number(m)).collect();
    let want: Vec<Option<usize>> = (0..LINES).map(Some).collect();
    assert_eq!(got.len(), LINES, "lines lost or sent twice");
    assert!(numbers == want, "lines out of order or changed");
    assert!(got.iter().all(|m| m.len() > 1000 && m.ends_with('x')));

    // Everything is shipped and the container still runs (its last sleep).
    let t = common::describe_task(&aws, &agent, &arn).unwrap_or_default();
    assert_eq!(t["lastStatus"], "RUNNING", "{t}");
    let written = LINES as u64 * 1040;
    let now = spool_bytes(&path);
    let rotated = path.with_file_name("app-json.log.1");
    assert!(
        max < written / 2,
        "the spool held {max} bytes of the {written} written"
    );
    assert!(
        now < 4_000_000 && !rotated.exists(),
        "{now} bytes left on disk once all was shipped (rotated file there: {})",
        rotated.exists()
    );
    assert!(
        now > 0,
        "the current spool file is kept for `ecs-agent logs`"
    );
}
