//! The executable's own pages become resident only as they are run.
//!
//! Idle, about 18 MiB of the agent's RSS were pages of its 38 MiB executable
//! (issue 19 point 3), yet a clear_refs/Referenced sample of an idle agent
//! finds about a third of them used. The rest is the kernel's fault-around:
//! on each page fault of a file mapping it maps up to 64 KiB of neighbours
//! that are in the page cache, and an executable just built or read is all
//! in the page cache. `MADV_RANDOM` on the executable's mappings turns
//! fault-around (and read-ahead) off for them, so RSS counts the code the
//! agent runs rather than its neighbours. The pages stay clean, shared with
//! every other process of the same binary (the log writers), and the page
//! cache keeps them: a later first run of some code costs a minor fault.

use std::path::Path;

/// Address ranges of `exe`'s mappings in a `/proc/PID/maps` text.
pub fn exe_ranges(maps: &str, exe: &Path) -> Vec<(usize, usize)> {
    let Some(exe) = exe.to_str() else {
        return Vec::new();
    };
    maps.lines()
        .filter_map(|line| {
            // start-end perms offset dev inode path (the path may hold spaces)
            let mut fields = line.splitn(6, ' ');
            let range = fields.next()?;
            let path = fields.nth(4)?.trim_start();
            if path != exe {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            let start = usize::from_str_radix(start, 16).ok()?;
            let end = usize::from_str_radix(end, 16).ok()?;
            (end > start).then_some((start, end))
        })
        .collect()
}

/// Best effort: anything that fails leaves the kernel's default in place.
pub fn on_demand() {
    let (Ok(exe), Ok(maps)) = (
        std::fs::read_link("/proc/self/exe"),
        std::fs::read_to_string("/proc/self/maps"),
    ) else {
        return;
    };
    for (start, end) in exe_ranges(&maps, &exe) {
        // SAFETY: advice on whole mappings of our own executable, which
        // stay mapped for the life of the process; MADV_RANDOM changes how
        // pages are brought in, never their contents.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_RANDOM);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_executables_mappings_are_picked() {
        let maps = "\
55ef56676000-55ef56de5000 r--p 00000000 fd:01 123 /usr/local/bin/ecs-agent
55ef56de5000-55ef58373000 r-xp 0076e000 fd:01 123 /usr/local/bin/ecs-agent
55ef59000000-55ef59021000 rw-p 00000000 00:00 0 [heap]
7f0000000000-7f0000001000 r-xp 00000000 fd:01 9 /usr/lib/x86_64-linux-gnu/libc.so.6
7f0000002000-7f0000003000 r--p 00000000 fd:01 10 /usr/local/bin/ecs-agent-old
7f0000004000-7f0000005000 r--p 00000000 fd:01 11 /tmp/a dir/ecs-agent
";
        assert_eq!(
            exe_ranges(maps, Path::new("/usr/local/bin/ecs-agent")),
            vec![
                (0x55ef56676000, 0x55ef56de5000),
                (0x55ef56de5000, 0x55ef58373000)
            ]
        );
        assert_eq!(
            exe_ranges(maps, Path::new("/tmp/a dir/ecs-agent")),
            vec![(0x7f0000004000, 0x7f0000005000)]
        );
    }
}
