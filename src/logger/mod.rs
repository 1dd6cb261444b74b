//! The container log writer that containerd's runc shim runs for every task
//! (`binary://` stdio URI), and its installation next to the agent's data.
//!
//! Why a logger process: with a `file://` URI the shim copies stdout and
//! stderr into one file through one shared descriptor (containerd #3118) and
//! the end of stderr could be lost. With `binary://` the shim instead starts
//! a program of ours with the container's stdout and stderr as pipes and
//! leaves the copying to it. That program is the `ecs-agent` binary itself,
//! run with [`FLAG`]; `src/bin/ecs-agent.rs` hands over to [`run_if_invoked`]
//! before anything else starts.
//!
//! The shim's side of the protocol (containerd 1.6, `pkg/process/io.go`
//! `NewBinaryIO` and `NewBinaryCmd`), which this module follows:
//! - argv: the URI path is the program; every query key becomes an argument,
//!   followed by its first value. Keys come from a Go map, in random order,
//!   so the URI carries exactly one: `?--containerd-logger=<log file>`.
//! - environment: only `CONTAINER_ID` and `CONTAINER_NAMESPACE`; stdin,
//!   stdout and stderr are /dev/null (errors printed here go nowhere).
//! - fd 3: read end of the container's stdout pipe; fd 4: stderr; fd 5: the
//!   write end of a "ready" pipe. The shim blocks creating the task until it
//!   reads a byte or end-of-file from that pipe; closing it is the signal.
//! - the shim holds the write ends of the stdout/stderr pipes until the task
//!   is deleted; then it closes them, sends SIGTERM and waits up to 12 s
//!   before SIGKILL. So the logger ignores SIGTERM and leaves on end-of-file,
//!   and once the task delete returns, the log file is complete.
//!
//! The logger is a child of the shim (own process group, containerd's
//! cgroup), never of the agent: killing or restarting the agent leaves it be.

mod args;
mod copy;
mod install;
mod run;

pub use args::FLAG;
pub use copy::{copy_streams, Copied};
pub use install::{install, InstallError, LOGGER_FILE};
pub use run::{run, run_if_invoked};

use std::path::PathBuf;

/// Mode of a container log file made by us (the agent creates it before the
/// task, the logger if it is missing): output may hold secrets.
pub const LOG_MODE: u32 = 0o640;

#[derive(Debug, thiserror::Error)]
pub enum LoggerError {
    #[error("usage: ecs-agent {FLAG} <absolute log file path> (run by containerd's shim)")]
    Usage,
    #[error("log file {0:?}: must be an absolute path")]
    RelativePath(PathBuf),
    #[error("fd {fd} ({what}) is not open: the logger runs under containerd's shim only")]
    MissingFd { fd: i32, what: &'static str },
    #[error("fd {fd} ({what}): {source}")]
    Fd {
        fd: i32,
        what: &'static str,
        source: std::io::Error,
    },
    #[error("opening log file {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("reading container {stream}: {source}")]
    Read {
        stream: &'static str,
        source: std::io::Error,
    },
    #[error("writing log file: {dropped} bytes lost: {source}")]
    Write {
        dropped: u64,
        source: std::io::Error,
    },
    #[error("starting the stderr reader thread: {0}")]
    Spawn(std::io::Error),
    #[error("copy thread for {0} panicked")]
    Thread(&'static str),
}
