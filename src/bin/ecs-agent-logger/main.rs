//! ecs-agent-logger: the program containerd's runc shim runs for every
//! container (`binary://` stdio URI) to write its stdout and stderr to disk.
//!
//! One of these runs per running container for the container's whole life,
//! so it is its own small program: std and the C library only (no tokio, no
//! tracing, nothing of the agent's crate graph). `build.rs` compiles this
//! file with rustc directly (static, size-optimised, no unwinding) and the
//! agent carries the result and installs it at `$ECS_DATADIR/bin` (see
//! `src/logger/install.rs`); cargo also builds it as a bin so that clippy
//! and `cargo test --bins` cover it.
//!
//! Measured with `scripts/logger-memory.py` (three loggers side by side,
//! each fed 2,000 lines; `/proc/PID/smaps_rollup`): the agent's own binary
//! run as the logger (its role until now) held 13.7 MiB RSS / 6.5 MiB PSS
//! per logger in a dev build (about 6 MiB RSS / 1.7 MiB PSS in a release
//! build, issue 19); this program, 1.3 MB static, holds 1.5 MiB RSS /
//! 0.8 MiB PSS (0.4 MiB of it its own heap and stacks) in any profile,
//! since build.rs always builds it the same way.
//!
//! The shim's side of the protocol (containerd 1.6+, `pkg/process/io.go`
//! `NewBinaryIO` and `NewBinaryCmd`), which this program follows:
//! - argv: the URI path is the program; every query key becomes an argument,
//!   followed by its first value. Keys come from a Go map, in random order,
//!   so the URI carries exactly one key (see `args.rs`).
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
mod drops;
#[path = "../../endpoints/gotime.rs"]
mod gotime;
mod json;
mod logfile;
mod sys;

use std::fs::File;
use std::process::ExitCode;

use args::Mode;

const STDOUT_FD: i32 = 3;
const STDERR_FD: i32 = 4;
const READY_FD: i32 = 5;

fn main() -> ExitCode {
    match run(std::env::args_os().skip(1)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Under the shim stderr is /dev/null: the exit code is what is left.
            eprintln!("ecs-agent-logger: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(argv: impl Iterator<Item = std::ffi::OsString>) -> Result<(), Error> {
    let mode = args::parse(argv)?;
    // Owned from here on, so every way out closes the ready pipe and the
    // shim never waits on us in vain.
    let stdout = sys::take_fd(STDOUT_FD, "container stdout")?;
    let stderr = sys::take_fd(STDERR_FD, "container stderr")?;
    let ready = sys::take_fd(READY_FD, "ready pipe")?;
    sys::ignore_sigterm();
    sys::make_blocking(&stdout, "container stdout")?;
    sys::make_blocking(&stderr, "container stderr")?;
    let (path, rotation, framing) = match mode {
        Mode::Plain(path) => (path, logfile::Rotation::default(), copy::Framing::Plain),
        Mode::JsonFile { path, rotation } => (path, rotation, copy::Framing::JsonFile),
    };
    let file = logfile::LogFile::open(&path, rotation).map_err(|source| Error::Open {
        path: path.display().to_string(),
        source,
    })?;
    drop(ready);
    copy::copy_streams(File::from(stdout), File::from(stderr), file, framing)?;
    Ok(())
}

#[derive(Debug)]
pub enum Error {
    Usage(String),
    MissingFd {
        fd: i32,
        what: &'static str,
    },
    Fd {
        fd: i32,
        what: &'static str,
        source: std::io::Error,
    },
    Open {
        path: String,
        source: std::io::Error,
    },
    Read {
        stream: &'static str,
        source: std::io::Error,
    },
    Write {
        dropped: u64,
        source: std::io::Error,
    },
    Wait(std::io::Error),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Usage(why) => write!(
                f,
                "{why}; usage: ecs-agent-logger {} <absolute file> | {} <max-size bytes, 0 for none>:<max-file>:<absolute file> | {}|{} <file-size bytes>:<absolute file> (run by containerd's shim)",
                args::PLAIN_FLAG,
                args::JSON_FILE_FLAG,
                args::SPOOL_FLAG,
                args::DROPPING_SPOOL_FLAG
            ),
            Error::MissingFd { fd, what } => write!(
                f,
                "fd {fd} ({what}) is not open: the logger runs under containerd's shim only"
            ),
            Error::Fd { fd, what, source } => write!(f, "fd {fd} ({what}): {source}"),
            Error::Open { path, source } => write!(f, "opening log file {path}: {source}"),
            Error::Read { stream, source } => write!(f, "reading container {stream}: {source}"),
            Error::Write { dropped, source } => {
                write!(f, "writing log file: {dropped} bytes lost: {source}")
            }
            Error::Wait(e) => write!(f, "waiting for container output: {e}"),
        }
    }
}
