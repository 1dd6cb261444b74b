//! The C library calls std does not wrap, declared by hand so that this
//! program needs no crate (build.rs compiles it with bare rustc). Sizes and
//! constants are those of Linux on x86_64 and aarch64 with glibc.

use std::io;

const SIG_BLOCK: i32 = 0;
const SIG_SETMASK: i32 = 2;
const SIG_DFL: usize = 0;
const SIG_IGN: usize = 1;
const WNOHANG: i32 = 1;
const PR_SET_CHILD_SUBREAPER: i32 = 36;
const PR_SET_PDEATHSIG: i32 = 1;
const EINTR: i32 = 4;
const EAGAIN: i32 = 11;
const ECHILD: i32 = 10;
const ENOTTY: i32 = 25;
const ENXIO: i32 = 6;

/// glibc's `sigset_t`: 1024 bits.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct SigSet([u64; 16]);

#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

extern "C" {
    fn sigfillset(set: *mut SigSet) -> i32;
    fn sigdelset(set: *mut SigSet, sig: i32) -> i32;
    fn sigprocmask(how: i32, set: *const SigSet, old: *mut SigSet) -> i32;
    fn sigtimedwait(set: *const SigSet, info: *mut u8, timeout: *const Timespec) -> i32;
    fn signal(sig: i32, handler: usize) -> usize;
    fn kill(pid: i32, sig: i32) -> i32;
    fn waitpid(pid: i32, status: *mut i32, options: i32) -> i32;
    fn getpid() -> i32;
    fn getpgrp() -> i32;
    fn tcsetpgrp(fd: i32, pgrp: i32) -> i32;
    fn prctl(option: i32, arg2: u64, arg3: u64, arg4: u64, arg5: u64) -> i32;
}

fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

impl SigSet {
    /// Every signal but `except`.
    pub fn all_but(except: &[i32]) -> SigSet {
        let mut set = SigSet([0; 16]);
        // SAFETY: `set` is a valid sigset_t-sized buffer we own.
        unsafe {
            sigfillset(&mut set);
            for &sig in except {
                sigdelset(&mut set, sig);
            }
        }
        set
    }
}

/// Blocks `set` for this (single-threaded) process; returns the old mask.
pub fn block(set: &SigSet) -> io::Result<SigSet> {
    let mut old = SigSet([0; 16]);
    // SAFETY: both pointers are to sigset_t-sized values we own.
    if unsafe { sigprocmask(SIG_BLOCK, set, &mut old) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(old)
}

/// The next signal of `set` that is pending, waiting at most a second
/// (tini's timeout: a lost SIGCHLD costs a second, never a zombie).
pub fn wait(set: &SigSet) -> io::Result<Option<i32>> {
    let timeout = Timespec {
        tv_sec: 1,
        tv_nsec: 0,
    };
    // SAFETY: `set` and `timeout` are valid; a null siginfo is allowed.
    let sig = unsafe { sigtimedwait(set, std::ptr::null_mut(), &timeout) };
    if sig > 0 {
        return Ok(Some(sig));
    }
    match errno() {
        EAGAIN | EINTR => Ok(None),
        _ => Err(io::Error::last_os_error()),
    }
}

/// Ignores SIGTTIN and SIGTTOU, so that the init can hand the terminal to
/// its child's process group without being stopped.
pub fn ignore_tty_signals() {
    // SAFETY: SIG_IGN installs no handler code.
    unsafe {
        signal(super::status::SIGTTIN, SIG_IGN);
        signal(super::status::SIGTTOU, SIG_IGN);
    }
}

/// In the child between fork and exec: async-signal-safe calls only.
/// Its own process group, the terminal's foreground (when there is one),
/// and signals as they were before the init touched them.
pub fn prepare_child(mask: &SigSet) -> io::Result<()> {
    // SAFETY: plain system calls on this process; `mask` is valid.
    unsafe {
        // std made the process group (CommandExt::process_group(0)).
        if tcsetpgrp(0, getpgrp()) != 0 && !matches!(errno(), ENOTTY | ENXIO) {
            return Err(io::Error::last_os_error());
        }
        signal(super::status::SIGTTIN, SIG_DFL);
        signal(super::status::SIGTTOU, SIG_DFL);
        if sigprocmask(SIG_SETMASK, mask, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

pub fn send(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: kill with integer arguments.
    if unsafe { kill(pid, sig) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// One child that ended, without blocking: `Ok(Some((pid, status)))`;
/// `Ok(None)` when none has (or there are no children at all).
pub fn reap_one() -> io::Result<Option<(i32, i32)>> {
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid int we own.
        let pid = unsafe { waitpid(-1, &mut status, WNOHANG) };
        if pid > 0 {
            return Ok(Some((pid, status)));
        }
        if pid == 0 {
            return Ok(None);
        }
        match errno() {
            EINTR => continue,
            ECHILD => return Ok(None),
            _ => return Err(io::Error::last_os_error()),
        }
    }
}

pub fn pid() -> i32 {
    // SAFETY: no arguments.
    unsafe { getpid() }
}

/// Orphans of our descendants come to us even when we are not PID 1 (a
/// container that shares a PID namespace; a test run).
pub fn become_subreaper() -> io::Result<()> {
    // SAFETY: prctl with integer arguments.
    if unsafe { prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// In the child between fork and exec: SIGKILL when the parent dies.
pub fn die_with_parent() -> io::Result<()> {
    // SAFETY: prctl with integer arguments.
    if unsafe { prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
