//! The host's processes as the tests look at them: by their command line
//! (the shim names its container id, the logger its log file) and whether
//! one can still run.

/// Pids and command lines of the processes whose command line `matches`,
/// this test process excluded (its own arguments may name anything).
pub fn processes_where(matches: impl Fn(&str) -> bool) -> Vec<(u32, String)> {
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
        if matches(&cmdline) {
            found.push((pid, cmdline.trim().to_string()));
        }
    }
    found
}

/// Pids and command lines of the processes whose command line mentions `needle`.
pub fn processes_naming(needle: &str) -> Vec<(u32, String)> {
    processes_where(|cmdline| cmdline.contains(needle))
}

/// Whether `pid` can still run: a zombie keeps its /proc entry, so it does not count.
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z')
        })
        .unwrap_or(false)
}
