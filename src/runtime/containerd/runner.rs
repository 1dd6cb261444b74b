//! Health checks through a runner inside the container: the agent's init
//! helper, mounted read-only at [`RUNNER_PATH`] into every container with a
//! health check, exec'd once (`--health-runner`, see
//! src/bin/ecs-agent-init/health.rs) with the container's own process spec,
//! forks the check each time the agent writes a byte to its stdin and
//! answers with the exit code and output on its stdout. A probe is then a
//! pipe write and read here and a fork in the container, instead of a
//! containerd Exec + Start + Delete and a runc exec (the cost issue 15
//! measured: 2% of a core in the agent and 45% in runc for 100 containers
//! checked every 5 s).
//!
//! Anything wrong with the runner (it died, answers garbage, is late) ends
//! it and that probe runs as an exec instead, so a broken runner never turns
//! a container unhealthy; after [`MAX_FAILURES`] runner failures in a row a
//! container is probed by exec for good. Containers made without the mount
//! (by an older agent) are probed by exec too.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::pipe;

use super::exec::{self, exec_err, Execs};
use super::Conn;
use crate::runtime::{ErrorKind, ExecOutcome, RuntimeError};

/// Where the runner is in the container: `/dev` is a tmpfs of the
/// container's own, so the mount point is made there and nothing is added
/// to the container's writable layer.
pub const RUNNER_PATH: &str = "/dev/.ecs-agent-health-runner";
/// The runner's exec id: one per container; a leftover of an earlier agent
/// is found (and replaced) under it.
const RUNNER_EXEC_ID: &str = "ecs-health-runner";
/// How much later than the check's own timeout the runner must answer (it
/// kills a late check itself, then waits up to 500 ms for its output).
const ANSWER_SLACK: Duration = Duration::from_secs(5);
/// Runner failures in a row after which a container is probed by exec.
const MAX_FAILURES: u32 = 3;
const FIFO_PREFIX: &str = "runner-";
/// An answer's header is short; anything longer is not the runner talking.
const MAX_HEADER: usize = 64;

/// The runners of the containers, by container id.
#[derive(Default)]
pub(super) struct Runners {
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>,
}

impl std::fmt::Debug for Runners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.slots.lock().map(|s| s.len()).unwrap_or(0);
        f.debug_struct("Runners").field("containers", &n).finish()
    }
}

#[derive(Default)]
struct Slot {
    /// `None` until asked: whether the container has the runner mounted.
    mounted: Option<bool>,
    runner: Option<Runner>,
    failures: u32,
}

struct Runner {
    /// What it was started for: a different check needs a new runner.
    args: Vec<String>,
    timeout: Duration,
    stdin: pipe::Sender,
    stdout: BufReader<pipe::Receiver>,
}

impl Runners {
    fn slot(&self, id: &str) -> Arc<tokio::sync::Mutex<Slot>> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.entry(id.to_string()).or_default().clone()
    }

    /// Container `id` is gone or made anew.
    pub(super) fn forget(&self, id: &str) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.remove(id);
    }
}

/// One probe through container `id`'s runner; `None` when it must run as
/// an exec instead (no runner mounted, or the runner failed).
pub(super) async fn probe(
    execs: &Execs<'_>,
    runners: &Runners,
    id: &str,
    args: &[String],
    timeout: Duration,
    output_cap: usize,
) -> Option<Result<ExecOutcome, RuntimeError>> {
    let slot = runners.slot(id);
    let mut slot = slot.lock().await;
    if slot.failures >= MAX_FAILURES {
        return None;
    }
    // The spec read to learn whether the runner is mounted also makes the
    // first runner's process.
    let mut spec = None;
    if slot.mounted.is_none() {
        let s = exec::spec_json(execs.conn, id).await.ok()?;
        slot.mounted = Some(mounted(&s));
        spec = Some(s);
    }
    if slot.mounted != Some(true) {
        return None;
    }
    let fresh = match &slot.runner {
        Some(r) => r.args != args || r.timeout != timeout,
        None => true,
    };
    if fresh {
        slot.runner = None;
        match start(execs, id, spec, args, timeout, output_cap).await {
            Ok(r) => slot.runner = Some(r),
            Err(e) => {
                fail(&mut slot, id, &e.to_string());
                return None;
            }
        }
    }
    let runner = slot.runner.as_mut()?;
    match tokio::time::timeout(timeout + ANSWER_SLACK, ask(runner, output_cap)).await {
        Ok(Ok((status, body))) => {
            slot.failures = 0;
            Some(outcome(id, status, body))
        }
        Ok(Err(e)) => {
            fail(&mut slot, id, &e);
            discard(execs.conn, id).await;
            None
        }
        Err(_) => {
            fail(&mut slot, id, "no answer in time");
            discard(execs.conn, id).await;
            None
        }
    }
}

fn fail(slot: &mut Slot, id: &str, why: &str) {
    slot.runner = None;
    slot.failures += 1;
    if slot.failures >= MAX_FAILURES {
        tracing::warn!(container = %id, failures = slot.failures, error = why, "health check runner keeps failing; probing this container by exec from now on");
    } else {
        tracing::info!(container = %id, error = why, "health check runner failed; this probe runs as an exec, the next starts a new runner");
    }
}

/// Kills and removes the runner's exec (it may be gone already).
async fn discard(conn: &Conn, id: &str) {
    if let Err(e) = exec::discard(conn, id, RUNNER_EXEC_ID).await {
        tracing::debug!(container = %id, error = %e, "cannot remove the health check runner");
    }
}

/// Whether the container of OCI spec `spec` was made with the runner mounted.
fn mounted(spec: &serde_json::Value) -> bool {
    spec["mounts"]
        .as_array()
        .is_some_and(|m| m.iter().any(|m| m["destination"] == RUNNER_PATH))
}

/// Starts a runner in container `id`, whose spec is `spec` when the caller
/// has just read it.
async fn start(
    execs: &Execs<'_>,
    id: &str,
    spec: Option<serde_json::Value>,
    args: &[String],
    timeout: Duration,
    output_cap: usize,
) -> Result<Runner, RuntimeError> {
    let conn = execs.conn;
    let io_err =
        |what: &str, e: std::io::Error| exec_err(id, ErrorKind::Other, format!("{what}: {e}"));
    // New FIFOs for every runner: a shim can keep reading an earlier
    // runner's stdin FIFO after that runner is gone (until its last writer
    // closes it), and would take the bytes meant for this one.
    forget_fifos(&execs.fifo_dir.join(id)).await;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let stdin_path = exec::fifo(
        execs.fifo_dir,
        id,
        &format!("{FIFO_PREFIX}{}.in", &tag[..12]),
    )
    .await
    .map_err(|e| io_err("runner stdin FIFO", e))?;
    let stdout_path = exec::fifo(
        execs.fifo_dir,
        id,
        &format!("{FIFO_PREFIX}{}.out", &tag[..12]),
    )
    .await
    .map_err(|e| io_err("runner stdout FIFO", e))?;
    // Both opened before the shim opens its ends, so that neither open
    // blocks; stdin read-write so that it opens without a reader yet.
    let stdout = pipe::OpenOptions::new()
        .open_receiver(&stdout_path)
        .map_err(|e| io_err("runner stdout FIFO", e))?;
    let stdin = pipe::OpenOptions::new()
        .read_write(true)
        .open_sender(&stdin_path)
        .map_err(|e| io_err("runner stdin FIFO", e))?;
    let mut argv = vec![
        RUNNER_PATH.to_string(),
        "--health-runner".to_string(),
        timeout.as_millis().to_string(),
        output_cap.to_string(),
        "--".to_string(),
    ];
    argv.extend(args.iter().cloned());
    let spec = match spec {
        Some(s) => s,
        None => exec::spec_json(conn, id).await?,
    };
    let process = exec::process_from(spec, id, &argv)?;
    // stderr into stdout too: the runner writes nothing there but a usage
    // error (its own bug), which then fails the protocol and ends it.
    exec::create_and_start(
        conn,
        id,
        RUNNER_EXEC_ID,
        &path_str(&stdin_path),
        &path_str(&stdout_path),
        &process,
    )
    .await?;
    tracing::debug!(container = %id, "health check runner started");
    Ok(Runner {
        args: args.to_vec(),
        timeout,
        stdin,
        stdout: BufReader::new(stdout),
    })
}

/// Removes earlier runners' FIFOs in `dir` (open ones stay usable by
/// whoever has them open).
async fn forget_fifos(dir: &Path) {
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return;
    };
    while let Ok(Some(e)) = entries.next_entry().await {
        if e.file_name().to_string_lossy().starts_with(FIFO_PREFIX) {
            let _ = tokio::fs::remove_file(e.path()).await;
        }
    }
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// What the runner said about one run of the check, with its output (or
/// why it could not run the check).
fn outcome(id: &str, status: Status, body: Vec<u8>) -> Result<ExecOutcome, RuntimeError> {
    match status {
        Status::Exited(code) => Ok(ExecOutcome {
            exit_code: Some(code),
            output: body,
        }),
        Status::TimedOut => Ok(ExecOutcome {
            exit_code: None,
            output: body,
        }),
        Status::Error => Err(exec_err(
            id,
            ErrorKind::Other,
            String::from_utf8_lossy(&body).into_owned(),
        )),
    }
}

async fn ask(runner: &mut Runner, output_cap: usize) -> Result<(Status, Vec<u8>), String> {
    runner
        .stdin
        .write_all(b"\n")
        .await
        .map_err(|e| format!("writing to the runner: {e}"))?;
    let mut header = Vec::new();
    let n = (&mut runner.stdout)
        .take(MAX_HEADER as u64)
        .read_until(b'\n', &mut header)
        .await
        .map_err(|e| format!("reading from the runner: {e}"))?;
    if n == 0 {
        return Err("the runner ended".into());
    }
    let header = String::from_utf8_lossy(&header);
    let (status, len) = parse_header(&header, output_cap)?;
    let mut body = vec![0u8; len];
    runner
        .stdout
        .read_exact(&mut body)
        .await
        .map_err(|e| format!("reading the runner's answer: {e}"))?;
    Ok((status, body))
}

#[derive(Debug, PartialEq, Eq)]
enum Status {
    Exited(i32),
    TimedOut,
    Error,
}

/// `exit <code> <len>`, `timeout <len>` or `error <len>`, with `len` at
/// most the cap (errors say a little more than a check's output may).
fn parse_header(line: &str, output_cap: usize) -> Result<(Status, usize), String> {
    let bad = || format!("not a runner answer: {:?}", line.trim_end());
    let words: Vec<&str> = line.trim_end_matches('\n').split(' ').collect();
    let (status, len) = match words.as_slice() {
        ["exit", code, len] => (Status::Exited(code.parse().map_err(|_| bad())?), len),
        ["timeout", len] => (Status::TimedOut, len),
        ["error", len] => (Status::Error, len),
        _ => return Err(bad()),
    };
    let len: usize = len.parse().map_err(|_| bad())?;
    if len > output_cap.max(1024) {
        return Err(bad());
    }
    Ok((status, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_read_strictly() {
        assert_eq!(parse_header("exit 0 3\n", 4096), Ok((Status::Exited(0), 3)));
        assert_eq!(
            parse_header("exit 137 0\n", 4096),
            Ok((Status::Exited(137), 0))
        );
        assert_eq!(
            parse_header("timeout 12\n", 4096),
            Ok((Status::TimedOut, 12))
        );
        assert_eq!(parse_header("error 40\n", 4096), Ok((Status::Error, 40)));
        for bad in [
            "",
            "exit 0\n",
            "exit x 1\n",
            "exit 0 99999\n",
            "hello world\n",
            "timeout -1\n",
        ] {
            assert!(parse_header(bad, 4096).is_err(), "{bad:?}");
        }
    }
}
