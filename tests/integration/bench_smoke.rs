//! `scripts/bench --smoke`: the benchmark must keep working, so a small run of
//! it (few tasks, short windows, a tiny image) is part of the suite. It
//! checks that the script succeeds, prints every row of the table with
//! numbers, writes the report and cleans up; never that a target is met
//! (timings on a shared CI machine prove nothing).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common;

/// Row keys of the table, one per benchmark item.
const ROWS: [&str; 17] = [
    "start-host",
    "start-bridge",
    "start-awsvpc",
    "burst",
    "burst-awsvpc",
    "rss-idle",
    "binary",
    "rss-100",
    "stack-pss",
    "cpu-100",
    "pull",
    "restart",
    "stopped",
    "health-100",
    "rss-large",
    "rss-local",
    "logs",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The cells of the table row `key`, trimmed, without the outer pipes.
fn row<'a>(stdout: &'a str, key: &str) -> Option<Vec<&'a str>> {
    let prefix = format!("| {key} |");
    let line = stdout.lines().find(|l| l.starts_with(&prefix))?;
    let cells: Vec<&str> = line
        .trim()
        .trim_matches('|')
        .split('|')
        .map(str::trim)
        .collect();
    Some(cells)
}

#[test]
fn bench_smoke_run_prints_every_row_with_numbers_and_cleans_up() {
    let Some(_env) = common::env() else { return };
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_ecs-agent"))
        .parent()
        .expect("binary dir")
        .to_path_buf();
    let out_dir = tempfile::tempdir().expect("tempdir");
    let report = out_dir.path().join("BENCHMARKS.md");
    let json = out_dir.path().join("bench.json");
    let out = Command::new(repo().join("scripts/bench"))
        .arg("--smoke")
        .arg("--bin-dir")
        .arg(&bin_dir)
        .arg("--out")
        .arg(&report)
        .arg("--json")
        .arg(&json)
        .current_dir(repo())
        .output()
        .expect("run scripts/bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "scripts/bench --smoke failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        out.status
    );

    for key in ROWS {
        let cells = row(&stdout, key)
            .unwrap_or_else(|| panic!("no table row {key:?} in:\n{stdout}\n{stderr}"));
        assert_eq!(cells.len(), 7, "row {key}: {cells:?}");
        assert!(
            cells[2].chars().any(|c| c.is_ascii_digit()),
            "row {key} has no number for the agent: {cells:?}"
        );
        assert!(
            cells[6] == "met" || cells[6] == "MISSED",
            "row {key} has no verdict: {cells:?}"
        );
    }
    for key in [
        "start-host",
        "start-bridge",
        "start-awsvpc",
        "burst",
        "burst-awsvpc",
        "stack-pss",
        "pull",
        "stopped",
        "rss-large",
        "rss-local",
    ] {
        let cells = row(&stdout, key).expect("row");
        assert!(
            cells[3].chars().any(|c| c.is_ascii_digit()),
            "row {key} has no baseline number: {cells:?}"
        );
    }
    let restart = row(&stdout, "restart").expect("row");
    assert!(
        restart[2].contains(" 0 restarted"),
        "kill -9 and restart must not restart containers: {restart:?}"
    );

    let md = std::fs::read_to_string(&report).expect("report written");
    for want in [
        "| start-host |",
        "Machine:",
        "Command: `scripts/bench --smoke",
        "## Analysis",
    ] {
        assert!(md.contains(want), "{want:?} missing in the report:\n{md}");
    }
    let raw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json written")).expect("json");
    assert!(raw["results"]["start"]["agent_s"].is_array(), "{raw}");

    // Its own containerd, run dir and processes are gone.
    let run_dir = stderr
        .lines()
        .find_map(|l| l.split("run dir ").nth(1))
        .map(|s| PathBuf::from(s.trim()))
        .unwrap_or_else(|| panic!("no run dir in:\n{stderr}"));
    assert!(
        !run_dir.exists(),
        "{} is left behind after the run",
        run_dir.display()
    );
    // So are its task bridge and that bridge's chains.
    let link = Command::new("ip")
        .args(["link", "show", "ecsbench0"])
        .output()
        .expect("ip link");
    assert!(!link.status.success(), "bench bridge left behind");
    let rules = Command::new("iptables-save")
        .output()
        .expect("iptables-save");
    let rules = String::from_utf8_lossy(&rules.stdout);
    assert!(
        !rules.contains("ecsbench0"),
        "bench bridge rules left behind:\n{rules}"
    );
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    assert!(
        !mounts.contains(&run_dir.display().to_string()),
        "mounts left under {}",
        run_dir.display()
    );
}
