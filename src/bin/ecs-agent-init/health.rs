//! `--health-runner`: runs a container's health check on request, so that
//! a probe costs the agent one byte written and one answer read instead of
//! a containerd exec (Exec + Start + Delete through the shim and a runc
//! exec each time). The agent execs it once per container, as it would
//! exec the check itself (the container's user, environment, working
//! directory, capabilities, seccomp profile and cgroup), so each check
//! forked from here runs exactly as an exec'd one would.
//!
//! Protocol, on the exec's stdin and stdout: every byte read is one probe;
//! the answer is a header line and the output:
//! `exit <code> <len>\n`, `timeout <len>\n` or `error <len>\n`, then `len`
//! bytes (stdout and stderr together, the first `cap` bytes). A check
//! still running at its timeout is killed with its whole process group;
//! one that exited but left a process holding its output gets
//! [`OUTPUT_GRACE`] more, then the group is killed too. End of stdin (the
//! agent is gone, or wants a new runner) ends the runner.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// As the agent waits for output after an exec'd probe exited.
const OUTPUT_GRACE: Duration = Duration::from_millis(500);
const SIGKILL: i32 = 9;

pub fn serve(timeout: Duration, cap: usize, program: &[OsString]) -> i32 {
    let mut stdin = io::stdin().lock();
    let mut stdout = io::stdout().lock();
    let mut byte = [0u8; 1];
    loop {
        match stdin.read(&mut byte) {
            Ok(0) => return 0,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return 1,
        }
        let answer = probe(timeout, cap, program);
        if stdout
            .write_all(&answer)
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return 1;
        }
    }
}

enum Event {
    Exited(i32),
    OutputDone,
}

/// One run of the check, as its framed answer.
fn probe(timeout: Duration, cap: usize, program: &[OsString]) -> Vec<u8> {
    let (reader, writer) = match io::pipe() {
        Ok(p) => p,
        Err(e) => return frame("error", format!("output pipe: {e}").as_bytes()),
    };
    let writer2 = match writer.try_clone() {
        Ok(w) => w,
        Err(e) => return frame("error", format!("output pipe: {e}").as_bytes()),
    };
    let mut cmd = Command::new(&program[0]);
    cmd.args(&program[1..])
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer2)
        .process_group(0);
    // SAFETY: die_with_parent makes one async-signal-safe call.
    unsafe {
        // A runner killed (the agent replaced it) takes its check along.
        cmd.pre_exec(super::sys::die_with_parent);
    }
    let started = Instant::now();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let msg = format!("exec {:?} failed: {e}", program[0]);
            return frame("error", msg.as_bytes());
        }
    };
    // Our copies of the write end must go, or the reader never sees the end.
    drop(cmd);
    let pid = child.id() as i32;
    let output = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    {
        let (output, tx) = (output.clone(), tx.clone());
        std::thread::spawn(move || {
            read_capped(reader, &output, cap);
            let _ = tx.send(Event::OutputDone);
        });
    }
    std::thread::spawn(move || {
        let code = match child.wait() {
            Ok(status) => code_of(status),
            Err(_) => -1,
        };
        let _ = tx.send(Event::Exited(code));
    });
    let deadline = started + timeout;
    let (mut exited, mut output_done) = (None, false);
    while exited.is_none() {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Event::Exited(code)) => exited = Some(code),
            Ok(Event::OutputDone) => output_done = true,
            Err(_) => break,
        }
    }
    let timed_out = exited.is_none();
    if timed_out {
        kill_group(pid);
        while let Ok(event) = rx.recv() {
            match event {
                Event::Exited(_) => break,
                Event::OutputDone => output_done = true,
            }
        }
    }
    if !output_done {
        let grace = Instant::now() + OUTPUT_GRACE;
        loop {
            match rx.recv_timeout(grace.saturating_duration_since(Instant::now())) {
                Ok(Event::OutputDone) => break,
                Ok(Event::Exited(_)) => {}
                Err(_) => {
                    // A process of the check still holds the output.
                    kill_group(pid);
                    break;
                }
            }
        }
    }
    let out = output.lock().map(|o| o.clone()).unwrap_or_default();
    match exited {
        Some(code) if !timed_out => frame(&format!("exit {code}"), &out),
        _ => frame("timeout", &out),
    }
}

fn frame(status: &str, body: &[u8]) -> Vec<u8> {
    let mut v = format!("{status} {}\n", body.len()).into_bytes();
    v.extend_from_slice(body);
    v
}

/// Keeps the first `cap` bytes and drains the rest, so that a chatty check
/// never blocks on a full pipe.
fn read_capped(mut reader: io::PipeReader, out: &Mutex<Vec<u8>>, cap: usize) {
    let mut buf = [0u8; 4096];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if let Ok(mut o) = out.lock() {
                    let room = cap.saturating_sub(o.len());
                    o.extend_from_slice(&buf[..n.min(room)]);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

fn kill_group(pid: i32) {
    // The group may be gone already; the child itself too.
    let _ = super::sys::send(-pid, SIGKILL);
    let _ = super::sys::send(pid, SIGKILL);
}

/// The exit code a shell would report: its own, or 128 + the signal.
fn code_of(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(sig)) => 128 + sig,
        (None, None) => -1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(script: &str, timeout_ms: u64) -> String {
        let program: Vec<OsString> = ["/bin/sh", "-c", script]
            .iter()
            .map(OsString::from)
            .collect();
        String::from_utf8_lossy(&probe(Duration::from_millis(timeout_ms), 16, &program))
            .into_owned()
    }

    #[test]
    fn answers_carry_the_exit_code_and_the_capped_output() {
        assert_eq!(
            run("echo hi; echo err >&2; exit 3", 5000),
            "exit 3 7\nhi\nerr\n"
        );
        assert_eq!(
            run("head -c 100 /dev/zero | tr '\\0' x", 5000),
            format!("exit 0 16\n{}", "x".repeat(16))
        );
        assert_eq!(run("kill -9 $$", 5000), "exit 137 0\n");
    }

    #[test]
    fn a_hanging_check_is_killed_with_its_group_at_the_timeout() {
        let started = Instant::now();
        assert_eq!(run("echo start; sleep 30", 300), "timeout 6\nstart\n");
        assert!(started.elapsed() < Duration::from_secs(5));
        // Exited, but a background child keeps the output open: the grace,
        // then the group goes.
        let started = Instant::now();
        assert_eq!(run("sleep 30 & echo done", 5000), "exit 0 5\ndone\n");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_program_that_cannot_start_is_an_error() {
        let program = vec![OsString::from("/no/such/check")];
        let answer =
            String::from_utf8_lossy(&probe(Duration::from_secs(1), 4096, &program)).into_owned();
        assert!(answer.starts_with("error "), "{answer}");
        assert!(answer.contains("/no/such/check"), "{answer}");
    }
}
