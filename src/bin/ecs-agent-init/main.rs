//! ecs-agent-init: the init a container gets with `initProcessEnabled`, and
//! the process that holds a task's shared PID and IPC namespaces.
//!
//! As Docker's `--init` (tini): mounted read-only at `/sbin/docker-init`
//! and run as `docker-init -- <the container's command>`, it starts the
//! command as its child in a process group of its own (the terminal's
//! foreground group when there is a terminal), passes every signal it gets
//! on to that child (to its group with `-g` or `TINI_KILL_PROCESS_GROUP`),
//! reaps every process that ends under it, orphans of the command
//! included, and exits with the child's status: its exit code, or 128 + the
//! signal that killed it. Without an init the command itself is PID 1: the
//! kernel does not deliver it signals it has no handler for (SIGTERM from a
//! task stop is lost until the SIGKILL) and nothing reaps orphans.
//!
//! With `--health-runner` it is the agent's health check runner in a
//! container (health.rs).
//!
//! With `--pause` it runs no command: it is PID 1 of a namespace that the
//! containers of a task with `pidMode`/`ipcMode` `task` join (the Go agent
//! uses its pause container for that), reaps what is orphaned there, and
//! leaves on SIGTERM or SIGINT.
//!
//! Like `src/bin/ecs-agent-logger`: std and the C library only; build.rs
//! compiles it with rustc (static, size-optimised, no unwinding) and the
//! agent installs it at `$ECS_DATADIR/bin` (src/logger/install.rs). cargo
//! also builds it as a bin so that clippy and `cargo test --bins` cover it.

mod args;
mod health;
mod status;
mod sys;

use std::os::unix::process::CommandExt;
use std::process::Command;

use args::Mode;
use status::{exec_failure_code, exit_code, on_signal, OnSignal, NOT_FORWARDED};

const ESRCH: i32 = 3;

fn main() {
    let mode = match args::parse(
        std::env::args_os().skip(1),
        std::env::var_os("TINI_KILL_PROCESS_GROUP"),
    ) {
        Ok(mode) => mode,
        Err(why) => {
            eprintln!(
                "ecs-agent-init: {why}; usage: ecs-agent-init [-g] [--] <program> [args...] | ecs-agent-init {}",
                args::PAUSE_FLAG
            );
            std::process::exit(1);
        }
    };
    std::process::exit(run(mode));
}

fn run(mode: Mode) -> i32 {
    if let Mode::Health {
        timeout_ms,
        cap,
        program,
    } = &mode
    {
        return health::serve(std::time::Duration::from_millis(*timeout_ms), *cap, program);
    }
    // Every signal but the synchronous ones waits for us in sigtimedwait.
    let set = sys::SigSet::all_but(&NOT_FORWARDED);
    let old_mask = match sys::block(&set) {
        Ok(old) => old,
        Err(e) => return fatal("blocking signals", e),
    };
    if sys::pid() != 1 {
        if let Err(e) = sys::become_subreaper() {
            eprintln!("ecs-agent-init: not PID 1 and cannot become a subreaper ({e}); orphans will not be reaped here");
        }
    }
    let (child, to_group) = match mode {
        Mode::Pause => return pause(&set),
        Mode::Health { .. } => return 1,
        Mode::Run { program, to_group } => {
            sys::ignore_tty_signals();
            let mut cmd = Command::new(&program[0]);
            cmd.args(&program[1..]).process_group(0);
            // SAFETY: prepare_child makes async-signal-safe calls only.
            unsafe {
                cmd.pre_exec(move || sys::prepare_child(&old_mask));
            }
            match cmd.spawn() {
                Ok(child) => (child.id() as i32, to_group),
                Err(e) => {
                    eprintln!("ecs-agent-init: exec {:?} failed: {e}", program[0]);
                    return exec_failure_code(e.kind());
                }
            }
        }
    };
    let target = if to_group { -child } else { child };
    loop {
        let mut ended = None;
        loop {
            match sys::reap_one() {
                Ok(Some((pid, status))) if pid == child => ended = exit_code(status),
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => return fatal("waiting for children", e),
            }
        }
        if let Some(code) = ended {
            // As PID 1 leaving, the kernel kills what is left in the namespace.
            return code;
        }
        match sys::wait(&set) {
            Ok(Some(sig)) => {
                if let OnSignal::Forward(sig) = on_signal(sig, false) {
                    match sys::send(target, sig) {
                        Ok(()) => {}
                        // Exited meanwhile: its status is next.
                        Err(e) if e.raw_os_error() == Some(ESRCH) => {}
                        Err(e) => eprintln!("ecs-agent-init: passing signal {sig} on: {e}"),
                    }
                }
            }
            Ok(None) => {}
            Err(e) => return fatal("waiting for signals", e),
        }
    }
}

/// The namespace holder: reaps until told to go.
fn pause(set: &sys::SigSet) -> i32 {
    loop {
        while let Ok(Some(_)) = sys::reap_one() {}
        match sys::wait(set) {
            Ok(Some(sig)) if on_signal(sig, true) == OnSignal::Exit => return 0,
            Ok(_) => {}
            Err(e) => return fatal("waiting for signals", e),
        }
    }
}

fn fatal(what: &str, e: std::io::Error) -> i32 {
    eprintln!("ecs-agent-init: {what}: {e}");
    1
}
