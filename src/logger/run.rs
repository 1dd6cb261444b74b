//! The logger process: take the shim's descriptors, open the log file, say
//! ready, copy until both streams end. Plain blocking std code: one of these
//! runs per container for the container's whole life.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::ExitCode;

use super::args::{self, FLAG};
use super::copy::copy_streams;
use super::{LoggerError, LOG_MODE};

const STDOUT_FD: RawFd = 3;
const STDERR_FD: RawFd = 4;
const READY_FD: RawFd = 5;

/// `Some(exit code)` when `args` (the whole argv) is a logger invocation, after
/// the logger has run; `None` for a normal agent start.
pub fn run_if_invoked(args: impl IntoIterator<Item = OsString>) -> Option<ExitCode> {
    let rest: Vec<OsString> = args.into_iter().skip(1).collect();
    if rest.first().is_some_and(|a| a == FLAG) {
        Some(run(rest))
    } else {
        None
    }
}

/// Runs the logger; `args` without the program name. Failures go to stderr,
/// which under the shim is /dev/null, so the exit code is all that is left.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    match log(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ecs-agent logger: {e}");
            ExitCode::FAILURE
        }
    }
}

fn log(args: impl IntoIterator<Item = OsString>) -> Result<(), LoggerError> {
    let path = args::parse(args)?;
    // Owned from here on, so every way out closes the ready pipe and the
    // shim never waits on us in vain.
    let stdout = take_fd(STDOUT_FD, "container stdout")?;
    let stderr = take_fd(STDERR_FD, "container stderr")?;
    let ready = take_fd(READY_FD, "ready pipe")?;
    ignore_sigterm();
    make_blocking(&stdout, "container stdout")?;
    make_blocking(&stderr, "container stderr")?;

    let file = open_log(&path)?;
    drop(ready);
    copy_streams(File::from(stdout), File::from(stderr), file)?;
    Ok(())
}

fn take_fd(fd: RawFd, what: &'static str) -> Result<OwnedFd, LoggerError> {
    // SAFETY: F_GETFD on an integer descriptor reads no memory of ours.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
        return Err(LoggerError::MissingFd { fd, what });
    }
    // SAFETY: the descriptor is open (checked above) and nothing else in this
    // process refers to it: the shim passed it in and the logger runs first
    // thing in main.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The shim's Go runtime may hand the pipes over in non-blocking mode.
fn make_blocking(fd: &OwnedFd, what: &'static str) -> Result<(), LoggerError> {
    let err = |source| LoggerError::Fd {
        fd: fd.as_raw_fd(),
        what,
        source,
    };
    // SAFETY: fcntl with integer arguments on a descriptor we own.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if flags == -1 {
        return Err(err(std::io::Error::last_os_error()));
    }
    if flags & libc::O_NONBLOCK != 0 {
        // SAFETY: as above.
        let rc = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK) };
        if rc == -1 {
            return Err(err(std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// At task delete the shim closes the pipes and then sends SIGTERM; what is
/// still in the pipes must reach the file, and end-of-file ends us anyway
/// (the shim SIGKILLs after 12 s should that never come).
fn ignore_sigterm() {
    // SAFETY: SIG_IGN installs no handler code; nothing else here uses signals.
    unsafe {
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
    }
}

fn open_log(path: &Path) -> Result<File, LoggerError> {
    let err = |source| LoggerError::Open {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(LOG_MODE)
        .open(path)
        .map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_flag_selects_the_logger() {
        let argv = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(run_if_invoked(argv(&["ecs-agent"])).is_none());
        assert!(run_if_invoked(argv(&["ecs-agent", "--help"])).is_none());
        assert!(run_if_invoked(argv(&[FLAG])).is_none());
        // A logger invocation with a bad path fails before touching any fd.
        assert_eq!(
            run_if_invoked(argv(&["ecs-agent", FLAG, "relative.log"])),
            Some(ExitCode::FAILURE)
        );
    }

    #[test]
    fn log_file_is_created_with_its_directories_and_appended_to() {
        use std::io::Write;
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/task/web.log");
        open_log(&path).unwrap().write_all(b"one\n").unwrap();
        open_log(&path).unwrap().write_all(b"two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o027, 0, "{mode:o}");
    }
}
