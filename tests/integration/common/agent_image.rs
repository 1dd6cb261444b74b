//! What the tests of the shipped agent image share (`ship.rs`,
//! `containerd_in_docker.rs`): a loud skip (or, in CI, a failure) when a
//! tool they need is missing, and the image built as a user builds it, with
//! `scripts/image`.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

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

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
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
