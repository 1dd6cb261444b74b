//! Container logs (issue 16's json-file and none, issue 19 point 2's
//! logger): one task whose containers prove, on disk and through
//! `ecs-agent logs`, Docker's json-file records (escapes, 16 KiB split,
//! streams), max-size/max-file rotation with Docker's file names, `none`
//! discarding, and a burst followed by an immediate exit losing no byte.
//! The record shape is moby's (daemon/logger/jsonfilelog/jsonlog/
//! jsonlogbytes.go); the rotation names its loggerutils/logfile.go.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{
    self, register_task_definition, run_task, sh, task_id, wait_task_status, Agent, Aws, EcsLocal,
};

const START: Duration = Duration::from_secs(60);
/// The burst on each stream: 50,000 short lines (289 KB), then the exit.
const BURST: u32 = 50_000;

fn ecs_agent_logs(agent: &Agent, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ecs-agent"))
        .arg("logs")
        .args(args)
        .env_clear()
        .env("ECS_DATADIR", agent.data_dir())
        .env("ECS_CONFIG_FILE", "/dev/null")
        .output()
        .expect("run ecs-agent logs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A json-file line as moby writes it: `log`, `stream`, `time` in that
/// order, time in UTC RFC 3339 with up to nine fraction digits.
fn record(line: &str) -> (String, String, String) {
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(keys, ["log", "stream", "time"], "{line}");
    let (log, stream, time) = (
        v["log"].as_str().unwrap(),
        v["stream"].as_str().unwrap(),
        v["time"].as_str().unwrap(),
    );
    let b = time.as_bytes();
    assert!(
        b.len() >= 20
            && b.len() <= 30
            && b[4] == b'-'
            && b[10] == b'T'
            && b[19] != b'+'
            && time.ends_with('Z'),
        "time {time:?}"
    );
    assert!(
        line.find("\"log\":") < line.find("\"stream\":")
            && line.find("\"stream\":") < line.find("\"time\":"),
        "{line}"
    );
    (log.to_string(), stream.to_string(), time.to_string())
}

fn lines_of(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn json_file_rotates_none_discards_and_ecs_agent_logs_prints_every_byte() {
    let Some(env) = common::env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    let instance = agent.wait_registered(&aws, START);
    let attrs = agent.registered_attributes(&aws, &instance).to_string();
    assert!(
        attrs.contains("com.amazonaws.ecs.capability.logging-driver.none"),
        "{attrs}"
    );

    // rot: 300 stdout lines of 8 bytes (records of about 75) into files of
    // 2,000 bytes, three kept. quiet: none. burst (after both): escapes, a
    // 40,000-byte line, then a burst on each stream and the exit at once.
    let special = r#"printf 'tab\there "q" <b>&amp; \\ caf\303\251\n'"#;
    let burst_script = format!(
        "{special}; head -c 40000 /dev/zero | tr '\\0' x; echo; seq 1 {BURST}; seq 1 {BURST} >&2; echo END-OUT; echo END-ERR >&2; exit 0"
    );
    let td = register_task_definition(
        &aws,
        json!({"family": "container-logs", "networkMode": "host", "containerDefinitions": [
            {"name": "rot", "image": env.image(), "memory": 32, "essential": false,
             "command": sh("for i in $(seq 100 399); do echo out-$i; done"),
             "logConfiguration": {"logDriver": "json-file", "options": {"max-size": "2k", "max-file": "3"}}},
            {"name": "quiet", "image": env.image(), "memory": 32, "essential": false,
             "command": sh("echo should-vanish; echo should-vanish >&2"),
             "logConfiguration": {"logDriver": "none"}},
            {"name": "burst", "image": env.image(), "memory": 64, "essential": true,
             "dependsOn": [{"containerName": "rot", "condition": "COMPLETE"},
                           {"containerName": "quiet", "condition": "COMPLETE"}],
             "command": sh(&burst_script)}
        ]}),
    );
    let arn = run_task(&aws, &agent, &td);
    let t = wait_task_status(&aws, &agent, &arn, "STOPPED", START);
    for c in t["containers"].as_array().unwrap() {
        assert_eq!(c["exitCode"], 0, "{t}");
    }
    let id = task_id(&arn);
    let dir = agent.data_dir().join("logs").join(id);

    // Files: Docker's names; none wrote nothing.
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "burst-json.log",
            "rot-json.log",
            "rot-json.log.1",
            "rot-json.log.2"
        ]
    );

    // Rotation: a file is rotated once it has reached 2,000 bytes (by the
    // record that crossed it); the kept records are the newest, in order.
    let mut kept = Vec::new();
    for name in ["rot-json.log.2", "rot-json.log.1", "rot-json.log"] {
        let path = dir.join(name);
        let len = std::fs::metadata(&path).unwrap().len();
        if name != "rot-json.log" {
            assert!((2000..2100).contains(&len), "{name}: {len} bytes");
        }
        for line in lines_of(&path) {
            let (log, stream, _) = record(&line);
            assert_eq!(stream, "stdout");
            kept.push(log);
        }
    }
    let first: u32 = kept[0]
        .trim_start_matches("out-")
        .trim_end()
        .parse()
        .unwrap();
    assert!(first > 100, "nothing was rotated away: {first}");
    let expected: Vec<String> = (first..400).map(|i| format!("out-{i}\n")).collect();
    assert_eq!(kept, expected);

    // The burst container on disk: the escapes as moby writes them, the
    // long line as 16 KiB pieces sharing one time, the last with its \n.
    let burst = lines_of(&dir.join("burst-json.log"));
    assert!(
        burst[0].starts_with(
            r#"{"log":"tab\u0009here \"q\" \u003cb\u003e\u0026amp; \\ café\n","stream":"stdout","time":""#
        ),
        "{}",
        burst[0]
    );
    let pieces: Vec<(String, String, String)> = burst[1..4].iter().map(|l| record(l)).collect();
    let lens: Vec<usize> = pieces.iter().map(|p| p.0.len()).collect();
    assert_eq!(lens, [16_384, 16_384, 40_000 - 2 * 16_384 + 1]);
    assert!(pieces[2].0.ends_with("x\n") && !pieces[0].0.contains('\n'));
    assert!(pieces.iter().all(|p| p.2 == pieces[0].2), "{pieces:?}");

    // ecs-agent logs: every byte, each stream to its own descriptor.
    let out = ecs_agent_logs(&agent, &[id, "burst"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let seq: String = (1..=BURST).map(|i| format!("{i}\n")).collect();
    let want_out = format!(
        "tab\there \"q\" <b>&amp; \\ café\n{}\n{seq}END-OUT\n",
        "x".repeat(40_000)
    );
    let got_out = text(&out.stdout);
    assert!(
        got_out == want_out,
        "stdout: {} bytes, expected {}",
        got_out.len(),
        want_out.len()
    );
    assert_eq!(text(&out.stderr), format!("{seq}END-ERR\n"));

    // --tail counts records across rotated files; a task ARN works.
    let out = ecs_agent_logs(&agent, &["--tail", "3", &arn, "rot"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "out-397\nout-398\nout-399\n");
    assert_eq!(text(&out.stderr), "");

    // Bad arguments and a container without a log say what is wrong.
    let out = ecs_agent_logs(&agent, &["--tail", "x", id, "rot"]);
    assert!(
        !out.status.success() && text(&out.stderr).contains("--tail \"x\""),
        "{}",
        text(&out.stderr)
    );
    let out = ecs_agent_logs(&agent, &[id]);
    assert!(
        !out.status.success() && text(&out.stderr).contains("usage: ecs-agent logs"),
        "{}",
        text(&out.stderr)
    );
    let out = ecs_agent_logs(&agent, &[id, "quiet"]);
    assert!(
        !out.status.success() && text(&out.stderr).contains("quiet-json.log"),
        "{}",
        text(&out.stderr)
    );
}
