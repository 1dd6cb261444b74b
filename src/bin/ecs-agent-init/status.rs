//! What the init does with signals and exit statuses, as tini does it. Pure.

pub const SIGINT: i32 = 2;
pub const SIGILL: i32 = 4;
pub const SIGTRAP: i32 = 5;
pub const SIGABRT: i32 = 6;
pub const SIGBUS: i32 = 7;
pub const SIGFPE: i32 = 8;
pub const SIGSEGV: i32 = 11;
pub const SIGTERM: i32 = 15;
pub const SIGCHLD: i32 = 17;
pub const SIGTTIN: i32 = 21;
pub const SIGTTOU: i32 = 22;
pub const SIGSYS: i32 = 31;

/// Signals the kernel raises for the faulting thread itself, and the two
/// that a background process group gets at the terminal: these stay
/// unblocked; every other signal is waited for and passed on (tini's
/// `configure_signals`).
pub const NOT_FORWARDED: [i32; 9] = [
    SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGABRT, SIGTRAP, SIGSYS, SIGTTIN, SIGTTOU,
];

/// What a received signal means for the init.
#[derive(Debug, PartialEq, Eq)]
pub enum OnSignal {
    /// A child changed state: reap.
    Reap,
    /// Pass it on (to the child, or its group).
    Forward(i32),
    /// The pause holder leaves.
    Exit,
    Ignore,
}

pub fn on_signal(sig: i32, pause: bool) -> OnSignal {
    match sig {
        SIGCHLD => OnSignal::Reap,
        // As Kubernetes' pause: SIGINT and SIGTERM end it.
        SIGINT | SIGTERM if pause => OnSignal::Exit,
        _ if pause => OnSignal::Ignore,
        _ => OnSignal::Forward(sig),
    }
}

/// The exit code the init leaves with for its child's wait status: the
/// child's own, or 128 + the signal that killed it (a shell's convention,
/// and tini's). `None`: not an end (stopped or continued).
pub fn exit_code(status: i32) -> Option<i32> {
    let sig = status & 0x7f;
    if sig == 0 {
        Some((status >> 8) & 0xff)
    } else if sig != 0x7f {
        Some(128 + sig)
    } else {
        None
    }
}

/// The exit code when the program cannot be started, as tini and shells:
/// 127 not found, 126 not executable.
pub fn exec_failure_code(kind: std::io::ErrorKind) -> i32 {
    match kind {
        std::io::ErrorKind::NotFound => 127,
        std::io::ErrorKind::PermissionDenied => 126,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_as_a_shell_reports_them() {
        assert_eq!(exit_code(0), Some(0));
        assert_eq!(exit_code(42 << 8), Some(42));
        assert_eq!(exit_code(255 << 8), Some(255));
        // Killed by SIGTERM, SIGKILL, SIGSEGV with a core dump (0x80).
        assert_eq!(exit_code(SIGTERM), Some(143));
        assert_eq!(exit_code(9), Some(137));
        assert_eq!(exit_code(0x80 | SIGSEGV), Some(139));
        // Stopped by SIGSTOP (0x137f), continued (0xffff): not an end.
        assert_eq!(exit_code(0x137f), None);
        assert_eq!(exit_code(0xffff), None);
    }

    #[test]
    fn signals_are_forwarded_except_child_events() {
        assert_eq!(on_signal(SIGTERM, false), OnSignal::Forward(SIGTERM));
        assert_eq!(on_signal(1, false), OnSignal::Forward(1));
        assert_eq!(on_signal(10, false), OnSignal::Forward(10));
        assert_eq!(on_signal(SIGCHLD, false), OnSignal::Reap);
        assert_eq!(on_signal(SIGCHLD, true), OnSignal::Reap);
        assert_eq!(on_signal(SIGTERM, true), OnSignal::Exit);
        assert_eq!(on_signal(SIGINT, true), OnSignal::Exit);
        assert_eq!(on_signal(1, true), OnSignal::Ignore);
        assert!(!NOT_FORWARDED.contains(&SIGTERM) && !NOT_FORWARDED.contains(&SIGCHLD));
    }

    #[test]
    fn exec_failures_as_a_shell_reports_them() {
        use std::io::ErrorKind;
        assert_eq!(exec_failure_code(ErrorKind::NotFound), 127);
        assert_eq!(exec_failure_code(ErrorKind::PermissionDenied), 126);
        assert_eq!(exec_failure_code(ErrorKind::OutOfMemory), 1);
    }
}
