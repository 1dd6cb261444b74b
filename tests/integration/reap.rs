//! Issue 19 point 1: a stopped container holds no process. Once its exit is
//! recorded, its containerd task (and with it the shim and the logger the
//! shim started) is deleted, without losing a byte of its output, while its
//! container record, snapshot, log and state stay until cleanup. (The agent
//! restart between an exit and its reaping is in durability.rs's
//! kill_9_leaves_containers_running_and_the_restarted_agent_adopts_them.)
//!
//! After such a burst of short tasks the agent gives back the memory the
//! burst took (issue 19 point 3: its heap trimmed, its executable paged out).
//!
//! How fast is for `scripts/bench` (row `stopped`: 0 processes 1 s after
//! the last of 50 exits); here the state is waited for, within a bound
//! shorter than the 12 s after which the shim kills a logger that did not
//! leave by itself, so that such a logger fails the test.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::procs::{alive, processes_naming};
use crate::common::{
    self, register_task_def, run_task, sh, task_id, wait_task_status, wait_until_with_log, Agent,
    Aws, EcsLocal,
};

const START: Duration = Duration::from_secs(60);
/// How long a STOPPED task's shim and logger may take to go (see above).
const GONE: Duration = Duration::from_secs(10);
/// Lines of the burst, written as fast as `seq` can and followed at once by
/// the exit (1.2 MiB, twenty pipes' worth).
const LINES: u32 = 200_000;

#[test]
fn an_exited_container_leaves_no_process_and_keeps_every_byte_of_its_output() {
    let Some(env) = common::env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);
    // Waits for the test to have seen its processes, then writes flat out
    // and exits at once. One stream (stderr, whose end the shim's own file
    // writer could lose), so that the log's bytes have one order to check.
    let td = register_task_def(
        &aws,
        "reap-burst",
        json!([{"name": "burst", "image": env.image(), "memory": 64, "essential": true,
        "command": sh(&format!(
            "sleep 4; seq 1 {LINES} >&2; echo LAST >&2; exit 3"
        ))}]),
    );
    let arn = run_task(&aws, &agent, &td);
    wait_task_status(&aws, &agent, &arn, "RUNNING", START);
    let id = task_id(&arn).to_string();
    let log_path = agent.container_log_path(&id, "burst");
    let log_name = log_path.display().to_string();
    let ns = agent.namespace().to_string();

    // While it runs: its shim (named by the container id, which starts
    // with the task id) and its logger (named by the log file) are there.
    let rows = common::ctr(&env, &ns, &["tasks", "ls"]);
    let (container, pid) = rows
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3 && f[0].starts_with(&id) && f[2] == "RUNNING")
                .then(|| (f[0].to_string(), f[1].parse::<u32>().ok()))
        })
        .next()
        .unwrap_or_else(|| panic!("no running task of {id}: {rows}"));
    let pid = pid.expect("the container's pid");
    let shim = processes_naming(&format!("-id {container}"));
    let logger = processes_naming(&log_name);
    assert_eq!(shim.len(), 1, "the container's shim: {shim:?}");
    assert_eq!(logger.len(), 1, "the container's logger: {logger:?}");

    // The exit, as seen from here: its main process is gone.
    let exited = common::wait_until(Duration::from_secs(30), Duration::from_millis(10), || {
        (!alive(pid)).then(Instant::now)
    });
    let t = wait_task_status(&aws, &agent, &arn, "STOPPED", START);
    assert_eq!(t["containers"][0]["exitCode"], 3, "{t}");
    // Once STOPPED: the shim and the logger go by themselves.
    let gone = wait_gone(&[container.as_str(), log_name.as_str()]);
    eprintln!(
        "shim and logger gone {:?} after the container's exit",
        gone - exited
    );
    // containerd: no task, but the record and its snapshot stay for cleanup.
    let tasks = common::ctr(&env, &ns, &["tasks", "ls", "-q"]);
    assert!(
        !tasks.lines().any(|l| l.trim() == container),
        "task left: {tasks}"
    );
    let records = common::ctr(&env, &ns, &["containers", "ls", "-q"]);
    assert!(
        records.lines().any(|l| l.trim() == container),
        "record gone before cleanup: {records}"
    );
    let snapshots = common::ctr(&env, &ns, &["snapshots", "ls"]);
    assert!(
        snapshots
            .lines()
            .any(|l| l.split_whitespace().next() == Some(container.as_str())),
        "snapshot gone before cleanup: {snapshots}"
    );

    // Every byte: both streams whole and in order, the last line too.
    assert_whole_log(&log_path);

    // The endpoints still show the stopped task and its container.
    let port = agent
        .var("ECS_AGENT_INTROSPECTION_PORT")
        .expect("introspection port");
    let out = Command::new("curl")
        .args([
            "-sf",
            &format!("http://127.0.0.1:{port}/v1/tasks?taskarn={arn}"),
        ])
        .output()
        .expect("curl");
    let intro: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert_eq!(intro["KnownStatus"], "STOPPED", "{intro}");
    assert_eq!(
        intro["Containers"][0]["DockerId"],
        container.as_str(),
        "{intro}"
    );
    wait_until_with_log(&agent, "the agent's log of the delete", START, || {
        agent
            .log()
            .contains("exited task deleted: its shim and logger end")
            .then_some(())
    });
}

/// Waits (at most [`GONE`]) until no process that can still run names any
/// of `needles`; returns when.
#[track_caller]
fn wait_gone(needles: &[&str]) -> Instant {
    let started = Instant::now();
    loop {
        let left: Vec<(u32, String)> = needles
            .iter()
            .flat_map(|n| processes_naming(n))
            .filter(|(p, _)| alive(*p))
            .collect();
        if left.is_empty() {
            return Instant::now();
        }
        assert!(
            started.elapsed() < GONE,
            "{} process(es) still there {GONE:?} after STOPPED: {left:?}",
            left.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Tasks whose container exits at once: containerd can send the exit before
/// the start call has returned, and the task is STOPPED with its start still
/// in flight (the agent deleted no task then, and kept the shim and logger
/// until cleanup: 2 to 16 of 50 such tasks in scripts/bench runs). Many at
/// once, so that some exits outrun their start.
#[test]
fn tasks_that_exit_at_once_leave_no_process_once_stopped() {
    const CALLS: usize = 4;
    const PER_CALL: usize = 10;
    let Some(env) = common::env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);
    let td = register_task_def(
        &aws,
        "reap-short",
        json!([{"name": "short", "image": env.image(), "memory": 16, "essential": true,
        "command": sh("exit 0")}]),
    );
    let mut arns = Vec::new();
    for _ in 0..CALLS {
        let out = aws.ecs_ok(&[
            "run-task",
            "--cluster",
            agent.cluster(),
            "--task-definition",
            &td,
            "--count",
            &PER_CALL.to_string(),
        ]);
        assert_eq!(out["failures"], json!([]), "{out}");
        for t in out["tasks"].as_array().expect("tasks") {
            arns.push(t["taskArn"].as_str().expect("taskArn").to_string());
        }
    }
    assert_eq!(arns.len(), CALLS * PER_CALL);
    for arn in &arns {
        let t = wait_task_status(&aws, &agent, arn, "STOPPED", START);
        assert_eq!(t["containers"][0]["exitCode"], 0, "{t}");
    }
    // Shims name their container (`-id <task id>-0-short`), loggers the log
    // file under the task's directory: both name the task id.
    let ids: Vec<&str> = arns.iter().map(|a| task_id(a)).collect();
    wait_gone(&ids);
    let tasks = common::ctr(&env, agent.namespace(), &["tasks", "ls", "-q"]);
    let left: Vec<&str> = tasks
        .lines()
        .filter(|l| ids.iter().any(|id| l.trim().starts_with(id)))
        .collect();
    assert!(left.is_empty(), "containerd tasks left: {left:?}");
    // Their records stay until cleanup.
    let records = common::ctr(&env, agent.namespace(), &["containers", "ls", "-q"]);
    for id in &ids {
        assert!(
            records.lines().any(|l| l.trim().starts_with(id)),
            "record of {id} gone before cleanup: {records}"
        );
    }
    // The burst is over: 30 to 60 s after its last change the agent gives
    // back what it took (src/agent/settle.rs), and says so with its RSS.
    let line = wait_until_with_log(&agent, "the burst's pages given back", RELEASE, || {
        agent
            .log()
            .lines()
            .find(|l| {
                l.contains("pages of the executable given back")
                    && l.contains("a burst of task changes")
            })
            .map(str::to_string)
    });
    let kib = |field: &str| -> u64 {
        let at = line
            .find(field)
            .unwrap_or_else(|| panic!("no {field} in {line}"));
        line[at + field.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap_or_else(|_| panic!("no number after {field} in {line}"))
    };
    assert!(
        kib("rss_kib_after=") < kib("rss_kib_before="),
        "the release gave nothing back: {line}"
    );
}

/// Up to twice the agent's quiet spell (30 s) after the last task change,
/// plus slack for a loaded machine.
const RELEASE: Duration = Duration::from_secs(90);

fn assert_whole_log(path: &Path) {
    assert!(path.exists(), "no container log at {}", path.display());
    let text = common::json_log_text(path);
    let expected: String = (1..=LINES)
        .map(|i| format!("{i}\n"))
        .chain(["LAST\n".to_string()])
        .collect();
    if text != expected {
        let same = text
            .bytes()
            .zip(expected.bytes())
            .take_while(|(a, b)| a == b)
            .count();
        panic!(
            "log of {} bytes, expected {}; first difference at byte {same}: {:?}",
            text.len(),
            expected.len(),
            &text[same.saturating_sub(20)..(same + 20).min(text.len())]
        );
    }
}
