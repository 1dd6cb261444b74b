//! What the tests of the shipped agent image share (`ship.rs`,
//! `containerd_in_docker.rs`): a loud skip (or, in CI, a failure) when a
//! tool they need is missing, and the image built as a user builds it, with
//! `scripts/image`.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// Skip loudly (outside CI) or fail (in CI) for a missing prerequisite.
/// Always `None`, for `?` and early returns.
pub fn missing(what: &str) -> Option<()> {
    let test = super::current_test();
    if super::in_ci() {
        panic!("{test}: CI is set but {what} (scripts/setup installs it)");
    }
    eprintln!("\n!!!!!!!! SKIPPED (not in CI): {test}: {what} (run scripts/setup) !!!!!!!!\n");
    None
}

/// Runs `scripts/image ARGS` and fails the test unless it succeeds; its log
/// is printed with the time it took. Niced: when nothing built the binary
/// before `cargo test` (CI runs scripts/image first), this build competes
/// with the other tests, whose timeouts matter more than this one's.
pub fn build<S: AsRef<OsStr>>(args: &[S]) {
    let shown: Vec<String> = args
        .iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect();
    let shown = shown.join(" ");
    let started = Instant::now();
    let out = Command::new("nice")
        .args(["-n", "10"])
        .arg(Path::new(REPO).join("scripts/image"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run scripts/image");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "scripts/image {shown} failed ({}):\n{log}",
        out.status
    );
    eprintln!("scripts/image {shown} ({:.0?}):\n{log}", started.elapsed());
}

/// Polls `done` every 250 ms until it holds; past `timeout` the test fails
/// naming `what`, with what `state` says of the agent's container then
/// (its listing and log tail).
pub fn wait_for(
    what: &str,
    timeout: Duration,
    done: &mut dyn FnMut() -> bool,
    state: &dyn Fn() -> String,
) {
    let deadline = Instant::now() + timeout;
    while !done() {
        if Instant::now() >= deadline {
            panic!(
                "timed out after {timeout:?} waiting for {what}; {}",
                state()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Whether a container instance has registered in `cluster`.
pub fn registered(aws: &super::Aws, cluster: &str) -> bool {
    aws.ecs(&["list-container-instances", "--cluster", cluster])
        .ok()
        .and_then(|v| v["containerInstanceArns"].as_array().map(|a| !a.is_empty()))
        .unwrap_or(false)
}
