//! The few C library calls std does not wrap, declared by hand so that this
//! program needs no crate at all (build.rs compiles it with bare rustc).
//! The constants are the same on every Linux architecture we build for
//! (x86_64, aarch64).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::Error;

const F_GETFD: i32 = 1;
const F_GETFL: i32 = 3;
const F_SETFL: i32 = 4;
const O_NONBLOCK: i32 = 0o4000;
const SIGTERM: i32 = 15;
const SIG_IGN: usize = 1;

const POLLIN: i16 = 1;

/// C's `struct pollfd`.
#[repr(C)]
struct PollFd {
    fd: i32,
    events: i16,
    revents: i16,
}

extern "C" {
    fn fcntl(fd: i32, cmd: i32, ...) -> i32;
    fn signal(signum: i32, handler: usize) -> usize;
    // nfds_t is an unsigned long on Linux.
    fn poll(fds: *mut PollFd, nfds: std::ffi::c_ulong, timeout: i32) -> i32;
}

/// Waits until one of `fds` (`None`: not watched) can be read without
/// blocking, or has ended (hang-up, error, closed): which ones.
pub fn wait_readable(fds: [Option<i32>; 2]) -> std::io::Result<[bool; 2]> {
    // poll ignores a negative descriptor.
    let mut polled = fds.map(|fd| PollFd {
        fd: fd.unwrap_or(-1),
        events: POLLIN,
        revents: 0,
    });
    loop {
        // SAFETY: `polled` is an array of two pollfd structs we own, alive
        // for the call.
        let rc = unsafe { poll(polled.as_mut_ptr(), 2, -1) };
        if rc >= 0 {
            return Ok(polled.each_ref().map(|p| p.revents != 0));
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

pub fn take_fd(fd: i32, what: &'static str) -> Result<OwnedFd, Error> {
    // SAFETY: F_GETFD on an integer descriptor reads no memory of ours.
    if unsafe { fcntl(fd, F_GETFD) } == -1 {
        return Err(Error::MissingFd { fd, what });
    }
    // SAFETY: the descriptor is open (checked above) and nothing else in this
    // process refers to it: the shim passed it in.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The shim's Go runtime may hand the pipes over in non-blocking mode.
pub fn make_blocking(fd: &OwnedFd, what: &'static str) -> Result<(), Error> {
    let err = |source| Error::Fd {
        fd: fd.as_raw_fd(),
        what,
        source,
    };
    // SAFETY: fcntl with integer arguments on a descriptor we own.
    let flags = unsafe { fcntl(fd.as_raw_fd(), F_GETFL) };
    if flags == -1 {
        return Err(err(std::io::Error::last_os_error()));
    }
    if flags & O_NONBLOCK != 0 {
        // SAFETY: as above.
        if unsafe { fcntl(fd.as_raw_fd(), F_SETFL, flags & !O_NONBLOCK) } == -1 {
            return Err(err(std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// At task delete the shim closes the pipes and then sends SIGTERM; what is
/// still in the pipes must reach the file, and end-of-file ends us anyway
/// (the shim SIGKILLs after 12 s should that never come).
pub fn ignore_sigterm() {
    // SAFETY: SIG_IGN installs no handler code; nothing else here uses signals.
    unsafe {
        signal(SIGTERM, SIG_IGN);
    }
}
