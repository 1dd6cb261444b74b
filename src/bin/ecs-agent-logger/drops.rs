//! The count of lines a non-blocking awslogs spool dropped (`--spool-drop`),
//! kept beside the spool as `<spool>.dropped`: one decimal number and a
//! newline, the total since the container's first start (a restarted
//! container's logger goes on from what is there). The agent reads it and
//! adds what it has not counted yet to its dropped-lines metric
//! (`src/awslogs/drops.rs`), so lines dropped while the agent is down are
//! counted too.
//!
//! The file is replaced whole (written beside, then renamed over), so a
//! reader never sees half a number. It is written when a run of drops ends
//! (the next line fits again), at most every WRITE_EVERY while drops go on,
//! and when the container's output ends: a few writes per overflow, never
//! one per line dropped.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What the agent's `src/awslogs/drops.rs` reads (a test there checks).
pub const SUFFIX: &str = ".dropped";
/// How stale the file may get while lines keep being dropped.
const WRITE_EVERY: Duration = Duration::from_millis(500);

pub struct DropCounter {
    path: PathBuf,
    total: u64,
    written: u64,
    last_write: Option<Instant>,
}

impl DropCounter {
    /// The counter of the spool at `spool`, from what an earlier logger of
    /// the container wrote (0 if nothing readable is there).
    pub fn load(spool: &Path) -> DropCounter {
        let mut p = spool.to_path_buf().into_os_string();
        p.push(SUFFIX);
        let path = PathBuf::from(p);
        let total = fs::read_to_string(&path)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        DropCounter {
            path,
            total,
            written: total,
            last_write: None,
        }
    }

    pub fn add(&mut self, lines: u64) {
        self.total += lines;
    }

    /// Writes the total when it changed and either no drops are going on or
    /// the last write is WRITE_EVERY old.
    pub fn write_if_due(&mut self, dropping: bool) {
        let stale = self.last_write.is_none_or(|t| t.elapsed() >= WRITE_EVERY);
        if self.total != self.written && (!dropping || stale) {
            // A failed write is tried again at the next call; nothing else
            // can be done from here (stderr is /dev/null under the shim).
            let _ = self.write();
        }
    }

    /// Writes the total if it changed (at the end of the output).
    pub fn write(&mut self) -> io::Result<()> {
        if self.total == self.written {
            return Ok(());
        }
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        fs::write(&tmp, format!("{}\n", self.total))?;
        fs::rename(&tmp, &self.path)?;
        self.written = self.total;
        self.last_write = Some(Instant::now());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_on_from_what_is_there_and_writes_only_changes() {
        let dir = std::env::temp_dir().join(format!("ecs-logger-drops-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let spool = dir.join("c-json.log");
        let file = dir.join("c-json.log.dropped");
        let mut c = DropCounter::load(&spool);
        c.write_if_due(false);
        assert!(!file.exists(), "nothing dropped, nothing written");
        c.add(3);
        c.write_if_due(true);
        assert_eq!(fs::read_to_string(&file).unwrap(), "3\n");
        // Drops going on: not again before WRITE_EVERY...
        c.add(2);
        c.write_if_due(true);
        assert_eq!(fs::read_to_string(&file).unwrap(), "3\n");
        // ...but at once when they stop.
        c.write_if_due(false);
        assert_eq!(fs::read_to_string(&file).unwrap(), "5\n");
        // A restarted container's logger goes on from there.
        let mut again = DropCounter::load(&spool);
        again.add(1);
        again.write().unwrap();
        assert_eq!(fs::read_to_string(&file).unwrap(), "6\n");
        fs::remove_dir_all(&dir).unwrap();
    }
}
