//! The log file and its rotation, as moby's loggerutils.LogFile does it
//! (daemon/logger/loggerutils/logfile.go `WriteLogEntry` and `rotate`):
//! before a record is written, a file that has reached max-size is rotated:
//! `file.N-1` becomes `file.N` down to `file.1` becoming `file.2`, the oldest
//! (`file.<max-file - 1>`) is removed, `file` becomes `file.1` and a new
//! empty `file` is opened; with max-file 1 the file is just started again.
//! A record is never split across files, so a file may pass max-size by
//! one record.
//!
//! For a later shipper (awslogs) tailing these files with a checkpointed
//! offset: every record ends in `\n` and reaches the file in whole records
//! (one write(2) per batch, O_APPEND), so an offset just past a `\n` is a
//! safe checkpoint; a rotation renames the file (the inode moves to
//! `file.1`), so a checkpoint is (inode, offset): after a restart the
//! shipper finds its inode among `file`, `file.1`, ... and goes on from
//! there, then to the next newer file at offset 0. Lines are lost only if
//! it falls more than max-file rotations behind; with no max-size the file
//! never moves.
//!
//! Handed-off rotation (awslogs blocking mode, `--spool`): nothing may be
//! lost, so the logger never removes a file. It rotates `file` to `file.1`
//! only once `file.1` is gone, that is once the shipper has shipped all of
//! it and removed it (`src/awslogs/spool.rs`, `reclaim`); until then `file`
//! grows on. So the spool holds at most two files, the shipper's position
//! is always in one of them, and the shipped part of the spool is given
//! back to the disk while the container runs. Only the shipper removes and
//! only the logger renames, each when the other will not act: no race.
//!
//! Dropping handoff (awslogs non-blocking mode, `--spool-drop`): the same,
//! but once `file` is full and the shipper still holds `file.1`, a line
//! that starts is not written at all (see [`LogFile::admits`]): the newest
//! lines are dropped, as Docker's and shim-loggers-for-containerd's
//! non-blocking ring buffer drops the message that does not fit, and the
//! spool never holds much more than two files. The caller counts them
//! (`drops.rs`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Mode of a container log file (moby's 0640): output may hold secrets.
const LOG_MODE: u32 = 0o640;

/// How often, in bytes written, a handed-off spool past its size looks
/// again whether the shipper took `file.1` (one stat(2) per this much).
const HANDOFF_LOOK_EVERY: u64 = 64 * 1024;
/// A dropping spool also looks again after this long, so that a slow
/// writer's lines are not dropped for long after the shipper caught up.
const DROP_LOOK_AFTER: Duration = Duration::from_millis(100);

/// Docker's defaults: no rotation unless max-size is set; max-file 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    pub max_size: Option<u64>,
    pub max_file: u32,
    /// Rotate only once the shipper removed `file.1`, never removing a
    /// file (see the header); `max_file` is then 2.
    pub handoff: bool,
    /// With `handoff`: drop lines while `file` is full and `file.1` is
    /// still there, instead of writing on.
    pub drop_when_full: bool,
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation {
            max_size: None,
            max_file: 1,
            handoff: false,
            drop_when_full: false,
        }
    }
}

pub struct LogFile {
    path: PathBuf,
    file: File,
    /// Bytes in `file`, counting `pending`.
    size: u64,
    rotation: Rotation,
    /// Records not yet written: they go out in one write per batch.
    pending: Vec<u8>,
    /// Handoff: do not look for `file.1` again before `size + skipped`
    /// reaches this...
    look_at: u64,
    /// ...or, when dropping, before DROP_LOOK_AFTER past this.
    looked: Option<Instant>,
    /// Bytes of records dropped since the last rotation.
    skipped: u64,
}

impl LogFile {
    /// Opens (creating it and its directory) `path` for appending, as moby
    /// does at container start: a restarted container goes on in its file.
    pub fn open(path: &Path, rotation: Rotation) -> io::Result<LogFile> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(LOG_MODE)
            .open(path)?;
        let size = file.metadata()?.len();
        Ok(LogFile {
            path: path.to_path_buf(),
            file,
            size,
            rotation,
            pending: Vec::new(),
            look_at: 0,
            looked: None,
            skipped: 0,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether lines are dropped when the spool is full (`--spool-drop`).
    pub fn drops_when_full(&self) -> bool {
        self.rotation.drop_when_full
    }

    /// Whether a line starting now may be written: always, unless lines are
    /// dropped when full and `file` is full with `file.1` still the
    /// shipper's. A line begun is written whole (its further records go
    /// through [`record`] unasked), so a file passes its size by at most
    /// the lines in progress.
    pub fn admits(&mut self) -> bool {
        if !self.rotation.drop_when_full {
            return true;
        }
        match self.rotation.max_size {
            Some(max) if self.size >= max => self.may_rotate(),
            _ => true,
        }
    }

    /// A record of `len` bytes was dropped (counts toward the next look).
    pub fn skipped(&mut self, len: u64) {
        self.skipped += len;
    }

    /// Adds one whole record; it reaches the file at the next [`flush`]
    /// (or before, when a rotation is due). An error carries the bytes lost.
    pub fn record(&mut self, record: &[u8]) -> Result<(), (u64, io::Error)> {
        if self.rotation.max_size.is_some_and(|max| self.size >= max) && self.may_rotate() {
            self.flush()?;
            if let Err(e) = self.rotate() {
                // Go on in the file we have rather than retry at every record.
                self.size = 0;
                self.pending.extend_from_slice(record);
                self.size += record.len() as u64;
                return Err((0, e));
            }
        }
        self.pending.extend_from_slice(record);
        self.size += record.len() as u64;
        Ok(())
    }

    /// Writes what [`record`] gathered. On failure it is dropped (the
    /// container must not block on a full disk) and its length returned
    /// with the error.
    pub fn flush(&mut self) -> Result<(), (u64, io::Error)> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let result = self.file.write_all(&self.pending);
        let len = self.pending.len() as u64;
        self.pending.clear();
        result.map_err(|e| {
            self.size = self.size.saturating_sub(len);
            (len, e)
        })
    }

    fn name(&self, i: u32) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(format!(".{i}"));
        PathBuf::from(p)
    }

    /// Handoff: whether the shipper took `file.1` (looked at no more than
    /// once per HANDOFF_LOOK_EVERY bytes while it has not).
    fn may_rotate(&mut self) -> bool {
        if !self.rotation.handoff {
            return true;
        }
        let by_time = self.rotation.drop_when_full
            && self.looked.is_some_and(|t| t.elapsed() >= DROP_LOOK_AFTER);
        if self.size + self.skipped < self.look_at && !by_time {
            return false;
        }
        match fs::symlink_metadata(self.name(1)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => true,
            // There, or not known: keep it and write on in `file` (or drop).
            _ => {
                self.look_at = self.size + self.skipped + HANDOFF_LOOK_EVERY;
                if self.rotation.drop_when_full {
                    self.looked = Some(Instant::now());
                }
                false
            }
        }
    }

    fn rotate(&mut self) -> io::Result<()> {
        let max_file = self.rotation.max_file;
        let name = |i: u32| self.name(i);
        if max_file >= 2 {
            remove_if_present(&name(max_file - 1))?;
            for i in (2..max_file).rev() {
                rename_if_present(&name(i - 1), &name(i))?;
            }
            rename_if_present(&self.path, &name(1))?;
        } else {
            remove_if_present(&self.path)?;
        }
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(LOG_MODE)
            .open(&self.path)?;
        self.size = 0;
        self.look_at = 0;
        self.looked = None;
        self.skipped = 0;
        Ok(())
    }
}

fn remove_if_present(p: &Path) -> io::Result<()> {
    match fs::remove_file(p) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn rename_if_present(from: &Path, to: &Path) -> io::Result<()> {
    match fs::rename(from, to) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(p: &Path) -> String {
        fs::read_to_string(p).unwrap_or_else(|e| format!("<{e}>"))
    }

    fn tempdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ecs-logger-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn rotates_as_docker_names_the_files() {
        let dir = tempdir("rotate");
        let path = dir.join("c-json.log");
        let rotation = Rotation {
            max_size: Some(10),
            max_file: 3,
            handoff: false,
            drop_when_full: false,
        };
        let mut f = LogFile::open(&path, rotation).unwrap();
        for r in [
            "aaaaaa\n", "bbbbbb\n", "cccccc\n", "dddddd\n", "eeeeee\n", "ffffff\n", "g\n",
        ] {
            f.record(r.as_bytes()).unwrap();
        }
        f.flush().unwrap();
        // 10 bytes are reached after two records of 7: each file holds two.
        assert_eq!(files(&dir), ["c-json.log", "c-json.log.1", "c-json.log.2"]);
        assert_eq!(read(&path), "g\n");
        assert_eq!(read(&dir.join("c-json.log.1")), "eeeeee\nffffff\n");
        assert_eq!(read(&dir.join("c-json.log.2")), "cccccc\ndddddd\n");

        // Reopened (a restarted container), the size counts what is there.
        let mut f = LogFile::open(&path, rotation).unwrap();
        f.record(b"hhhhhhhh\n").unwrap();
        f.record(b"i\n").unwrap();
        f.flush().unwrap();
        assert_eq!(read(&path), "i\n");
        assert_eq!(read(&dir.join("c-json.log.1")), "g\nhhhhhhhh\n");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn max_file_one_starts_the_file_again_and_no_max_size_never_rotates() {
        let dir = tempdir("one");
        let path = dir.join("c-json.log");
        let mut f = LogFile::open(
            &path,
            Rotation {
                max_size: Some(4),
                max_file: 1,
                handoff: false,
                drop_when_full: false,
            },
        )
        .unwrap();
        for r in ["one\n", "two\n", "three\n"] {
            f.record(r.as_bytes()).unwrap();
        }
        f.flush().unwrap();
        assert_eq!(files(&dir), ["c-json.log"]);
        assert_eq!(read(&path), "three\n");

        let mut f = LogFile::open(&path, Rotation::default()).unwrap();
        for _ in 0..1000 {
            f.record(b"0123456789\n").unwrap();
        }
        f.flush().unwrap();
        assert_eq!(files(&dir), ["c-json.log"]);
        assert_eq!(fs::metadata(&path).unwrap().len(), 6 + 11_000);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_handed_off_spool_rotates_only_once_the_shipper_took_file_1() {
        let dir = tempdir("handoff");
        let path = dir.join("c-json.log");
        let old = dir.join("c-json.log.1");
        let rotation = Rotation {
            max_size: Some(10),
            max_file: 2,
            handoff: true,
            drop_when_full: false,
        };
        let mut f = LogFile::open(&path, rotation).unwrap();
        for r in ["aaaaaa\n", "bbbbbb\n", "cccccc\n"] {
            f.record(r.as_bytes()).unwrap();
        }
        f.flush().unwrap();
        assert_eq!(read(&old), "aaaaaa\nbbbbbb\n");
        assert_eq!(read(&path), "cccccc\n");
        // file.1 not shipped yet: nothing is removed, `file` grows on.
        for _ in 0..20 {
            f.record(b"dddddd\n").unwrap();
        }
        f.flush().unwrap();
        assert_eq!(read(&old), "aaaaaa\nbbbbbb\n");
        assert_eq!(fs::metadata(&path).unwrap().len(), 7 * 21);
        // Taken by the shipper: the next record past the look-again mark
        // rotates (a look per HANDOFF_LOOK_EVERY bytes, not per record).
        fs::remove_file(&old).unwrap();
        f.record(b"eeeeee\n").unwrap();
        f.flush().unwrap();
        assert!(!old.exists(), "looked again too soon");
        let big = vec![b'f'; HANDOFF_LOOK_EVERY as usize];
        f.record(&big).unwrap();
        f.record(b"g\n").unwrap();
        f.flush().unwrap();
        assert_eq!(fs::metadata(&old).unwrap().len(), 7 * 22 + big.len() as u64);
        assert_eq!(read(&path), "g\n");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_dropping_spool_refuses_new_lines_while_full_and_the_shipper_holds_file_1() {
        let dir = tempdir("dropping");
        let path = dir.join("c-json.log");
        let old = dir.join("c-json.log.1");
        let rotation = Rotation {
            max_size: Some(10),
            max_file: 2,
            handoff: true,
            drop_when_full: true,
        };
        let mut f = LogFile::open(&path, rotation).unwrap();
        assert!(f.drops_when_full());
        let put = |f: &mut LogFile, r: &str| -> bool {
            let ok = f.admits();
            if ok {
                f.record(r.as_bytes()).unwrap();
            } else {
                f.skipped(r.len() as u64);
            }
            f.flush().unwrap();
            ok
        };
        // Two files fill; the third line rotates (file.1 was free).
        assert!(put(&mut f, "aaaaaa\n") && put(&mut f, "bbbbbb\n") && put(&mut f, "cccccc\n"));
        assert!(put(&mut f, "dddddd\n"));
        // Both full, file.1 not taken: dropped.
        assert!(!put(&mut f, "eeeeee\n"));
        assert_eq!(read(&old), "aaaaaa\nbbbbbb\n");
        assert_eq!(read(&path), "cccccc\ndddddd\n");
        // Taken by the shipper: after DROP_LOOK_AFTER the next line goes in.
        fs::remove_file(&old).unwrap();
        std::thread::sleep(DROP_LOOK_AFTER);
        assert!(put(&mut f, "ffffff\n"));
        assert_eq!(read(&old), "cccccc\ndddddd\n");
        assert_eq!(read(&path), "ffffff\n");
        fs::remove_dir_all(&dir).unwrap();
    }
}
