//! Issue 19 point 1: a stopped container holds no process. Once its exit is
//! recorded, its containerd task (and with it the shim and the logger the
//! shim started) is deleted, without losing a byte of its output, while its
//! container record, snapshot, log and state stay until cleanup. (The agent
//! restart between an exit and its reaping is in durability.rs's
//! kill_9_leaves_containers_running_and_the_restarted_agent_adopts_them.)

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{
    self, register_task_def, run_task, sh, task_id, wait_task_status, wait_until_with_log, Agent,
    Aws, EcsLocal,
};

const START: Duration = Duration::from_secs(60);
/// Lines of the burst, written as fast as `seq` can and followed at once by
/// the exit (1.2 MiB, twenty pipes' worth).
const LINES: u32 = 200_000;

/// Pids of the processes whose command line mentions `needle` (the shim
/// names its container id, the logger its log file), this test excluded.
fn processes_naming(needle: &str) -> Vec<(u32, String)> {
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
        if cmdline.contains(needle) {
            found.push((pid, cmdline.trim().to_string()));
        }
    }
    found
}

fn alive(pid: u32) -> bool {
    // A zombie still has its /proc entry: count only what can still run.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z')
        })
        .unwrap_or(false)
}

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
    let held: Vec<u32> = shim.iter().chain(&logger).map(|(p, _)| *p).collect();

    // The exit, as seen from here: its main process is gone.
    let exited = common::wait_until(Duration::from_secs(30), Duration::from_millis(10), || {
        (!alive(pid)).then(Instant::now)
    });
    let gone = common::wait_until(Duration::from_secs(20), Duration::from_millis(10), || {
        held.iter().all(|p| !alive(*p)).then(Instant::now)
    });
    let took = gone - exited;
    eprintln!("shim and logger gone {took:?} after the container's exit");
    // The target is 1 s; the margin is for a loaded CI host (the
    // shim's own fallback, SIGKILL of a logger that does not leave, is 12 s).
    assert!(
        took < Duration::from_secs(3),
        "shim and logger took {took:?} to go"
    );

    let t = wait_task_status(&aws, &agent, &arn, "STOPPED", START);
    assert_eq!(t["containers"][0]["exitCode"], 3, "{t}");
    assert!(
        processes_naming(&container).is_empty() && processes_naming(&log_name).is_empty(),
        "processes left: {:?} {:?}",
        processes_naming(&container),
        processes_naming(&log_name)
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
