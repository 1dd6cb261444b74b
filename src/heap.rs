//! glibc malloc, tuned for a process that runs for months and sees tasks
//! come and go (issue 18 point 3).
//!
//! Measured with `scripts/bench --only rss-large` and glibc's own counts
//! (`malloc_stats` through gdb) on a debug build, after 31 tasks of 10
//! containers and a 64 KiB definition, each run to STOPPED and cleaned up:
//! about 10 MiB in use, but 51 MiB held from the kernel in 16 arenas. glibc
//! gives a thread that allocates while another holds its arena a new one,
//! up to 8 per core, and the agent's blocking work (checkpoint commits,
//! netns and iptables calls) runs on many short-lived threads. Freed memory
//! stays in those fragmented arenas. Two arenas (the agent has two async
//! workers) held 24 MiB instead; a trim then gave back another 9 MiB of
//! free pages inside them that glibc keeps until an arena's top is free.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc {
    /// Arenas for the whole process: one per async worker.
    const ARENAS: libc::c_int = 2;

    pub fn limit_arenas() {
        // SAFETY: mallopt only sets a malloc parameter; it is called first
        // thing in main, before any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, ARENAS);
        }
    }

    pub fn trim() {
        // SAFETY: malloc_trim takes the arenas' own locks; any thread may call it.
        unsafe {
            libc::malloc_trim(0);
        }
    }

    pub fn stats() -> Option<super::HeapStats> {
        // SAFETY: mallinfo2 only reads the arenas (under their locks) and
        // returns plain numbers.
        let m = unsafe { libc::mallinfo2() };
        let held = m.arena.saturating_add(m.hblkhd);
        Some(super::HeapStats {
            // Chunks handed out from the arenas, and the large ones mapped
            // on their own (always in use: freeing one unmaps it).
            in_use: (m.uordblks.saturating_add(m.hblkhd)) as u64,
            held: held as u64,
        })
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod glibc {
    pub fn limit_arenas() {}
    pub fn trim() {}
    pub fn stats() -> Option<super::HeapStats> {
        None
    }
}

/// Limits the number of malloc arenas. Call first thing in `main`, before
/// any thread is started. A `MALLOC_ARENA_MAX` in the environment is the
/// operator's choice and is left as it is.
pub fn limit_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        glibc::limit_arenas();
    }
}

/// Gives the free pages of every arena back to the kernel. It walks each
/// arena's free lists with that arena locked: for after a cleanup, not for
/// a hot path.
pub fn trim() {
    glibc::trim();
}

/// malloc's own count of the heap, to tell a leak (`in_use` grows) from
/// memory the allocator keeps after the program freed it (`held` grows,
/// `in_use` does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapStats {
    /// Bytes the program has allocated and not freed.
    pub in_use: u64,
    /// Bytes malloc has from the kernel: in use, plus free chunks it keeps
    /// (not all of them resident).
    pub held: u64,
}

/// The heap's counts (glibc's `mallinfo2`); None with another allocator.
/// It walks every arena's free lists: for a scrape, not a hot path.
pub fn stats() -> Option<HeapStats> {
    glibc::stats()
}

#[cfg(test)]
mod tests {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn a_live_allocation_is_counted_in_use_until_freed() {
        // Large enough to be mapped on its own. The counts are the whole
        // process's, and other tests' threads allocate and free beside this
        // one (a large block of theirs freed in between hides ours): a few
        // tries, any one clean enough passes; a count that never sees the
        // block fails them all.
        const SIZE: usize = 64 << 20;
        let seen = (0..20).any(|_| {
            let before = super::stats().expect("glibc");
            let block = vec![1u8; SIZE];
            let during = super::stats().expect("glibc");
            std::hint::black_box(&block);
            drop(block);
            let after = super::stats().expect("glibc");
            during.in_use >= before.in_use + SIZE as u64 / 2
                && during.held >= during.in_use
                && after.in_use + SIZE as u64 / 2 <= during.in_use
        });
        assert!(
            seen,
            "a 64 MiB block was never counted in use while it lived"
        );
    }
}
