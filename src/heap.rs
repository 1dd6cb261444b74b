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
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod glibc {
    pub fn limit_arenas() {}
    pub fn trim() {}
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
