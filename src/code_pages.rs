//! Giving back the pages of the agent's own executable that only start-up,
//! or a burst of task changes, needed (issue 19 point 3).
//!
//! Idle, most of the agent's RSS is not heap but file-backed pages of the
//! `ecs-agent` executable: start-up runs code from all over it (the AWS SDK's
//! configuration and credential chain, TLS set-up, registration, the
//! checkpoint's open, the helper programs written out of `.rodata`), and the
//! kernel maps 64 KiB around every page touched (fault-around). Measured on a
//! release build (BENCHMARKS.md): 21.4 of 25.2 MiB idle. Like the kernel
//! freeing its `__init` sections after boot, the agent asks the kernel once
//! start-up is over to page out its executable's mappings (`MADV_PAGEOUT`):
//! clean pages go (they are the file's, and come back from it when needed),
//! and a page the process wrote (relocations) is never dropped, since
//! `MADV_PAGEOUT` only reclaims and without swap keeps anonymous pages. What
//! the running agent uses comes back on its next use; the rest stays out.
//! A burst of task starts does the same to the code of the task path
//! (specs, the runtime's create, networks, checkpoints): `agent::settle`
//! gives that back too once the changes stop.
//!
//! What comes back comes with its neighbours: the kernel maps up to 64 KiB
//! of cached pages around a fault and reads code in blocks of its own
//! choosing (`MADV_RANDOM` on the executable's mappings was tried on the
//! 6.18 kernel of our machines: the idle RSS did not move). So the idle
//! loop's few functions bring back several MiB.

/// Pages out every mapping of the running executable, once the work that
/// touched them (`after`, for the log) is over. Logs what it did; failures
/// are logged and harmless (an older kernel without MADV_PAGEOUT says
/// EINVAL: the pages then simply stay).
pub fn release(after: &'static str) {
    let exe = match std::fs::read_link("/proc/self/exe") {
        Ok(p) => p,
        Err(e) => {
            tracing::debug!(error = %e, after, "cannot name the executable; its pages stay");
            return;
        }
    };
    let maps = match std::fs::read_to_string("/proc/self/maps") {
        Ok(m) => m,
        Err(e) => {
            tracing::debug!(error = %e, after, "cannot read /proc/self/maps; the executable's pages stay");
            return;
        }
    };
    let before = resident_kib();
    let mut released = 0usize;
    for (start, end) in executable_ranges(&maps, &exe.to_string_lossy()) {
        if pageout(start, end - start) {
            released += 1;
        }
    }
    tracing::info!(
        mappings = released,
        rss_kib_before = before,
        rss_kib_after = resident_kib(),
        after,
        "pages of the executable given back"
    );
}

/// `start..end` of each line of `maps` that maps `exe`.
fn executable_ranges(maps: &str, exe: &str) -> Vec<(usize, usize)> {
    maps.lines()
        .filter_map(|line| {
            let range = line.split_whitespace().next()?;
            // range, perms, offset, dev, inode, then the path (which may hold spaces).
            let mut rest = line;
            for _ in 0..5 {
                rest = rest.trim_start().split_once(' ')?.1;
            }
            if rest.trim() != exe {
                return None;
            }
            let (a, b) = range.split_once('-')?;
            let start = usize::from_str_radix(a, 16).ok()?;
            let end = usize::from_str_radix(b, 16).ok()?;
            (end > start).then_some((start, end))
        })
        .collect()
}

#[cfg(target_os = "linux")]
fn pageout(start: usize, len: usize) -> bool {
    // Not in every libc crate release; the value is the kernel's (5.4+).
    const MADV_PAGEOUT: libc::c_int = 21;
    // SAFETY: the range is one whole mapping of this process, read from
    // /proc/self/maps; MADV_PAGEOUT only reclaims pages (file pages are read
    // back on the next touch, anonymous ones stay without swap), so no
    // content the process relies on can change.
    let rc = unsafe { libc::madvise(start as *mut libc::c_void, len, MADV_PAGEOUT) };
    if rc != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "madvise(MADV_PAGEOUT) refused");
    }
    rc == 0
}

#[cfg(not(target_os = "linux"))]
fn pageout(_start: usize, _len: usize) -> bool {
    false
}

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| crate::endpoints::stats::procfs::parse_vm_rss(&s))
        .map_or(0, |bytes| bytes / 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_executables_mappings_are_chosen() {
        let maps = "\
55b6399be000-55b63a475000 r--p 00000000 fe:00 5442942   /opt/ecs agent/ecs-agent
55b63a475000-55b63bad3000 r-xp 00ab6000 fe:00 5442942   /opt/ecs agent/ecs-agent
55b63bc1d000-55b63bc3e000 rw-p 00000000 00:00 0         [heap]
7f0000000000-7f0000001000 r--p 00000000 fe:00 12        /usr/lib/libc.so.6
7f0000002000-7f0000001000 r--p 00000000 fe:00 5442942   /opt/ecs agent/ecs-agent
garbage line
";
        assert_eq!(
            executable_ranges(maps, "/opt/ecs agent/ecs-agent"),
            vec![
                (0x55b6399be000, 0x55b63a475000),
                (0x55b63a475000, 0x55b63bad3000)
            ]
        );
    }

    /// Pointers in a static live in relocated (written) pages: had the
    /// release dropped written pages instead of reclaiming clean ones, they
    /// would read back as the file's unrelocated bytes.
    static WORDS: [&str; 3] = ["one", "three", "eleven"];

    #[test]
    fn relocated_data_and_code_survive_the_release() {
        release("a test");
        let lengths: Vec<usize> = std::hint::black_box(&WORDS)
            .iter()
            .map(|w| w.len())
            .collect();
        assert_eq!(lengths, vec![3, 5, 6]);
        assert_eq!(WORDS.concat(), "onethreeeleven");
    }
}
