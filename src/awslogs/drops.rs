//! Lines the logger dropped: in non-blocking mode the container's logger
//! drops new lines while the spool is full (CloudWatch behind by
//! max-buffer-size) and keeps their total beside the spool, in
//! `<spool>.dropped` (`src/bin/ecs-agent-logger/drops.rs`). The agent adds
//! to its dropped-lines metric what that total holds beyond what it already
//! counted, and keeps that in its offsets (the checkpoint) before adding,
//! so that a restarted agent does not count the same lines again: each
//! dropped line is counted once, by the agent process that first sees it
//! (at most once: a kill -9 between the two loses that one step).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// What the logger appends to the spool's path (a test in `src/logger`
/// checks it is the logger's).
pub const DROPS_SUFFIX: &str = ".dropped";

fn counter_path(spool: &Path) -> PathBuf {
    let mut p = spool.to_path_buf().into_os_string();
    p.push(DROPS_SUFFIX);
    PathBuf::from(p)
}

/// The logger's total for the spool at `spool`: 0 while there is no file
/// (nothing dropped yet); an error for a file that cannot be read or holds
/// no number.
pub fn logger_total(spool: &Path) -> io::Result<u64> {
    match fs::read_to_string(counter_path(spool)) {
        Ok(text) => text.trim().parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not a number of lines: {text:?}"),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e),
    }
}

/// How many of `total` are new after `counted` were counted before (a
/// total below `counted`, say a counter file removed by hand, is nothing
/// new: counted lines are never taken back).
pub fn new_drops(total: u64, counted: u64) -> u64 {
    total.saturating_sub(counted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_loggers_total() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("c-json.log");
        assert_eq!(logger_total(&spool).unwrap(), 0, "no file: none dropped");
        fs::write(dir.path().join("c-json.log.dropped"), "42\n").unwrap();
        assert_eq!(logger_total(&spool).unwrap(), 42);
        fs::write(dir.path().join("c-json.log.dropped"), "x").unwrap();
        assert!(logger_total(&spool).is_err());
    }

    #[test]
    fn only_what_was_not_counted_is_new() {
        assert_eq!(new_drops(42, 0), 42);
        assert_eq!(new_drops(42, 40), 2);
        assert_eq!(new_drops(42, 42), 0);
        assert_eq!(new_drops(3, 42), 0);
    }
}
