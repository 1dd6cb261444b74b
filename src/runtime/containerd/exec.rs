//! A process run inside a running container (Tasks.Exec), as Docker runs a
//! health check probe: the container's own process spec (user, environment,
//! working directory, capabilities, limits) with other arguments, its stdout
//! and stderr read through one FIFO, killed once its timeout passed, and
//! always deleted from the shim before this returns, so exec ids never pile
//! up. A leftover of the same exec id (an agent killed mid-check) is killed
//! and deleted before the next run.
//!
//! A probe runs every few seconds for as long as its container lives, so
//! what can be kept between runs is: the process spec ([`ExecSpecs`]), the
//! FIFO (made once per container and exec id, removed with the container),
//! and the exit, which comes from the event stream the runtime reads anyway
//! ([`ExecExits`]) instead of a Tasks.Wait call of its own.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use containerd_client::services::v1::containers_client::ContainersClient;
use containerd_client::services::v1::tasks_client::TasksClient;
use containerd_client::services::v1::{
    DeleteProcessRequest, ExecProcessRequest, GetContainerRequest, KillRequest, StartRequest,
    WaitRequest,
};
use tokio::io::AsyncReadExt;
use tonic::Code;

use super::error::from_status;
use super::exec_exits::{exit_of, ExecExits, Exit};
use super::exec_specs::ExecSpecs;
use super::lifecycle::exit_code;
use super::Conn;
use crate::runtime::{ErrorKind, ExecOutcome, RuntimeError};

const PROCESS_TYPE_URL: &str = "types.containerd.io/opencontainers/runtime-spec/1/Process";
const SIGKILL: u32 = 9;
/// How long a SIGKILLed process gets to be reaped.
const KILL_WAIT: Duration = Duration::from_secs(5);
/// How long output may still arrive after the process was reaped (the
/// shim copies it on its own time; a child left behind may hold the pipe).
const OUTPUT_GRACE: Duration = Duration::from_millis(500);

pub(super) fn exec_err(id: &str, kind: ErrorKind, message: String) -> RuntimeError {
    RuntimeError::Exec {
        id: id.to_string(),
        kind,
        message,
    }
}

/// What the runtime keeps for exec'd processes.
pub(super) struct Execs<'a> {
    pub(super) conn: &'a Conn,
    /// Where the output FIFOs are, one directory per container.
    pub(super) fifo_dir: &'a Path,
    pub(super) specs: &'a ExecSpecs,
    pub(super) exits: &'a ExecExits,
}

pub(super) async fn exec(
    execs: &Execs<'_>,
    id: &str,
    exec_id: &str,
    args: &[String],
    timeout: Duration,
    output_cap: usize,
) -> Result<ExecOutcome, RuntimeError> {
    let conn = execs.conn;
    let process = match execs.specs.get(id, args) {
        Some(p) => p,
        None => {
            let p = std::sync::Arc::new(process_spec(conn, id, args).await?);
            execs.specs.insert(id, args, p.clone());
            p
        }
    };
    let fifo = reusable_fifo(execs.fifo_dir, id, exec_id)
        .await
        .map_err(|e| exec_err(id, ErrorKind::Other, format!("output FIFO: {e}")))?;
    // Opened before the shim opens its end, so its open does not block and
    // our reads wait for its output (not an early end of file).
    let reader = tokio::net::unix::pipe::OpenOptions::new()
        .open_receiver(&fifo)
        .map_err(|e| exec_err(id, ErrorKind::Other, format!("output FIFO: {e}")))?;
    let exits = execs.exits.register(id, exec_id);
    let result = run(
        conn, id, exec_id, &fifo, process, reader, exits, timeout, output_cap,
    )
    .await;
    execs.exits.unregister(id, exec_id);
    result
}

/// Removes the FIFOs of container `id`'s exec'd processes (it is gone, or
/// made anew).
pub(super) fn forget_fifos(fifo_dir: &Path, id: &str) {
    let dir = fifo_dir.join(id);
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            tracing::debug!(container = %id, path = %dir.display(), error = %e, "cannot remove the exec FIFOs");
        }
        _ => {}
    }
}

#[allow(clippy::too_many_arguments)]
async fn run(
    conn: &Conn,
    id: &str,
    exec_id: &str,
    fifo: &Path,
    process: std::sync::Arc<Vec<u8>>,
    mut reader: tokio::net::unix::pipe::Receiver,
    mut exits: Option<tokio::sync::mpsc::UnboundedReceiver<Exit>>,
    timeout: Duration,
    output_cap: usize,
) -> Result<ExecOutcome, RuntimeError> {
    let path = fifo.to_string_lossy();
    let pid = create_and_start(conn, id, exec_id, "", &path, &process).await?;
    let process = Started {
        id,
        exec_id,
        pid,
        exits: exits.as_mut(),
    };
    let mut output = Vec::new();
    let waited = {
        let read = read_capped(&mut reader, &mut output, output_cap);
        tokio::pin!(read);
        let wait = wait_or_kill(conn, process, timeout);
        tokio::pin!(wait);
        let mut read_done = false;
        let waited = loop {
            tokio::select! {
                _ = &mut read, if !read_done => read_done = true,
                w = &mut wait => break w,
            }
        };
        if !read_done {
            let _ = tokio::time::timeout(OUTPUT_GRACE, &mut read).await;
        }
        waited
    };
    drop(reader);
    let deleted = delete(conn, id, exec_id).await;
    let exit_code = waited?;
    deleted?;
    Ok(ExecOutcome { exit_code, output })
}

/// Creates process `exec_id` in container `id` with `process` (a JSON OCI
/// process spec), `stdin` (a FIFO, or empty for none) and its stdout and
/// stderr both into the FIFO `output`, and starts it; returns its pid. A
/// leftover of the same exec id (an earlier agent's) is removed first; one
/// that fails to start is removed before the error is returned.
pub(super) async fn create_and_start(
    conn: &Conn,
    id: &str,
    exec_id: &str,
    stdin: &str,
    output: &str,
    process: &[u8],
) -> Result<u32, RuntimeError> {
    let mut tasks = TasksClient::new(conn.channel());
    let request = || ExecProcessRequest {
        container_id: id.to_string(),
        stdin: stdin.to_string(),
        stdout: output.to_string(),
        stderr: output.to_string(),
        terminal: false,
        spec: Some(prost_types::Any {
            type_url: PROCESS_TYPE_URL.to_string(),
            value: process.to_vec(),
        }),
        exec_id: exec_id.to_string(),
    };
    match tasks.exec(conn.request(request())).await {
        Ok(_) => {}
        Err(s) if s.code() == Code::AlreadyExists => {
            // Left by an earlier process of the agent: remove it, then again.
            tracing::info!(container = %id, exec_id, "removing a leftover exec process");
            discard(conn, id, exec_id).await?;
            tasks
                .exec(conn.request(request()))
                .await
                .map_err(|s| from_status(s, |k, m| exec_err(id, k, m)))?;
        }
        Err(s) => return Err(from_status(s, |k, m| exec_err(id, k, m))),
    }
    let start = StartRequest {
        container_id: id.to_string(),
        exec_id: exec_id.to_string(),
    };
    match tasks.start(conn.request(start)).await {
        Ok(r) => Ok(r.into_inner().pid),
        Err(s) => {
            let e = from_status(s, |k, m| exec_err(id, k, m));
            discard(conn, id, exec_id).await?;
            Err(e)
        }
    }
}

/// A started exec'd process, and where its exit will be announced.
struct Started<'a> {
    id: &'a str,
    exec_id: &'a str,
    pid: u32,
    exits: Option<&'a mut tokio::sync::mpsc::UnboundedReceiver<Exit>>,
}

impl Started<'_> {
    /// Its exit code: from the event stream, or from containerd when no
    /// stream was live or it broke meanwhile.
    async fn exit(&mut self, conn: &Conn) -> Result<i32, RuntimeError> {
        if let Some(rx) = self.exits.as_deref_mut() {
            if let Some(code) = exit_of(rx, self.pid).await {
                return Ok(code);
            }
            self.exits = None;
        }
        wait(conn, self.id, self.exec_id).await
    }
}

/// The exit code, or `None` when the timeout passed and the process was killed.
async fn wait_or_kill(
    conn: &Conn,
    mut process: Started<'_>,
    timeout: Duration,
) -> Result<Option<i32>, RuntimeError> {
    let (id, exec_id) = (process.id, process.exec_id);
    match tokio::time::timeout(timeout, process.exit(conn)).await {
        Ok(r) => r.map(Some),
        Err(_) => {
            tracing::debug!(container = %id, exec_id, timeout_ms = timeout.as_millis() as u64, "exec timed out; killing it");
            kill(conn, id, exec_id).await?;
            match tokio::time::timeout(KILL_WAIT, process.exit(conn)).await {
                Ok(r) => r.map(|_| None),
                Err(_) => Err(exec_err(
                    id,
                    ErrorKind::Timeout,
                    format!("exec {exec_id} still running {KILL_WAIT:?} after SIGKILL"),
                )),
            }
        }
    }
}

async fn wait(conn: &Conn, id: &str, exec_id: &str) -> Result<i32, RuntimeError> {
    let req = WaitRequest {
        container_id: id.to_string(),
        exec_id: exec_id.to_string(),
    };
    TasksClient::new(conn.channel())
        .wait(conn.request(req))
        .await
        .map(|r| exit_code(r.into_inner().exit_status))
        .map_err(|s| from_status(s, |k, m| exec_err(id, k, m)))
}

async fn kill(conn: &Conn, id: &str, exec_id: &str) -> Result<(), RuntimeError> {
    let req = KillRequest {
        container_id: id.to_string(),
        exec_id: exec_id.to_string(),
        signal: SIGKILL,
        all: false,
    };
    match TasksClient::new(conn.channel())
        .kill(conn.request(req))
        .await
    {
        Ok(_) => Ok(()),
        // Exited meanwhile, or never started (a start that failed).
        Err(s)
            if s.code() == Code::NotFound
                || s.message().contains("process already finished")
                || s.message().contains("process not created") =>
        {
            Ok(())
        }
        Err(s) => Err(from_status(s, |k, m| exec_err(id, k, m))),
    }
}

async fn delete(conn: &Conn, id: &str, exec_id: &str) -> Result<(), RuntimeError> {
    let req = DeleteProcessRequest {
        container_id: id.to_string(),
        exec_id: exec_id.to_string(),
    };
    match TasksClient::new(conn.channel())
        .delete_process(conn.request(req))
        .await
    {
        Ok(_) => Ok(()),
        Err(s) if s.code() == Code::NotFound => Ok(()),
        Err(s) => Err(from_status(s, |k, m| {
            exec_err(id, k, format!("deleting exec {exec_id}: {m}"))
        })),
    }
}

/// Kills, reaps and deletes the exec process, whatever state it is in.
pub(super) async fn discard(conn: &Conn, id: &str, exec_id: &str) -> Result<(), RuntimeError> {
    kill(conn, id, exec_id).await?;
    let _ = tokio::time::timeout(KILL_WAIT, wait(conn, id, exec_id)).await;
    delete(conn, id, exec_id).await
}

/// Reads until the end of the output, keeping the first `cap` bytes and
/// draining the rest, so a chatty probe never blocks on a full pipe.
async fn read_capped(reader: &mut tokio::net::unix::pipe::Receiver, out: &mut Vec<u8>, cap: usize) {
    let mut buf = [0u8; 4096];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let room = cap.saturating_sub(out.len());
                out.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}

/// The container's process spec (`process` of its OCI spec) with `args`
/// in place of its own and no terminal: what Docker's exec inherits.
pub(super) async fn process_spec(
    conn: &Conn,
    id: &str,
    args: &[String],
) -> Result<Vec<u8>, RuntimeError> {
    process_from(spec_json(conn, id).await?, id, args)
}

/// The process of container `id`'s OCI spec `spec` with `args` in place of
/// its own, for an exec.
pub(super) fn process_from(
    mut spec: serde_json::Value,
    id: &str,
    args: &[String],
) -> Result<Vec<u8>, RuntimeError> {
    let process = spec
        .get_mut("process")
        .and_then(serde_json::Value::as_object_mut)
        .ok_or_else(|| exec_err(id, ErrorKind::Other, "its OCI spec has no process".into()))?;
    process.insert("args".into(), serde_json::json!(args));
    process.insert("terminal".into(), serde_json::Value::Bool(false));
    process.remove("consoleSize");
    serde_json::to_vec(process).map_err(|e| {
        exec_err(
            id,
            ErrorKind::Other,
            format!("encoding the process spec: {e}"),
        )
    })
}

/// Container `id`'s OCI spec as containerd keeps it.
pub(super) async fn spec_json(conn: &Conn, id: &str) -> Result<serde_json::Value, RuntimeError> {
    let container = ContainersClient::new(conn.channel())
        .get(conn.request(GetContainerRequest { id: id.to_string() }))
        .await
        .map_err(|s| from_status(s, |k, m| exec_err(id, k, m)))?
        .into_inner()
        .container
        .ok_or_else(|| exec_err(id, ErrorKind::NotFound, "no container record".into()))?;
    let spec = container
        .spec
        .ok_or_else(|| exec_err(id, ErrorKind::Other, "the container has no spec".into()))?;
    serde_json::from_slice(&spec.value)
        .map_err(|e| exec_err(id, ErrorKind::Other, format!("reading its OCI spec: {e}")))
}

/// The FIFO of `exec_id` in container `id` (one run at a time per pair),
/// readable by root only: made on first use, then reused. A FIFO holds no
/// data once both ends are closed, so a reused one starts empty; only a
/// process a probe left running with the output open (a backgrounded
/// child) could still write into the next run's, as it could into a shared
/// terminal.
async fn reusable_fifo(dir: &Path, id: &str, exec_id: &str) -> std::io::Result<PathBuf> {
    fifo(dir, id, &format!("{exec_id}.out")).await
}

/// The FIFO `name` of container `id`, made on first use.
pub(super) async fn fifo(dir: &Path, id: &str, name: &str) -> std::io::Result<PathBuf> {
    let dir = dir.join(id);
    let path = dir.join(name);
    if is_fifo(&path) {
        return Ok(path);
    }
    let p = path.clone();
    tokio::task::spawn_blocking(move || {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let c = std::ffi::CString::new(p.as_os_str().as_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
        if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    })
    .await
    .map_err(std::io::Error::other)??;
    Ok(path)
}

fn is_fifo(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}
