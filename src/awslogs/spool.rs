//! Reading a container's spool (the json-file the logger writes, see
//! `src/bin/ecs-agent-logger/logfile.rs`) from a checkpointed position into
//! CloudWatch events: Docker's 16 KiB partial records joined back into
//! lines, lines longer than 262,118 bytes split, empty lines left out (as
//! moby's awslogs sends none), the time of a line's first piece kept.
//!
//! A position is (inode, offset just past a record's `\n`). A rotation
//! renames the file, so after a restart the position's inode is looked up
//! among `file` and `file.1`; once the open file is read to its end and
//! `file` is another inode, reading goes on there from 0.
//!
//! The logger hands files over (see its `logfile.rs`): it rotates `file` to
//! `file.1` only once `file.1` is gone, and [`reclaim`] removes `file.1`
//! once a checkpoint is in `file`, that is once all of `file.1` is in
//! CloudWatch. The reader never falls a whole file behind, and a checkpoint
//! is always in `file` or `file.1`; in non-blocking mode the logger drops
//! new lines instead while both files are full (counted by it, `drops.rs`).
//! A non-blocking spool of a container started by an earlier agent, whose
//! logger rotated at max-buffer-size regardless, may still run a whole file
//! past the reader (its inode neither `file` nor `file.1`): the rest of
//! that file is skipped and counted as dropped.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::batch::{split, Event, MAX_EVENT_BYTES};

/// Where reading stands: a checkpoint once everything before it is shipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Position {
    pub inode: u64,
    pub offset: u64,
}

/// One event and the position to checkpoint once it (and all before it) is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub event: Event,
    pub checkpoint: Position,
}

/// How much is read from the file at a time: the buffer each spool keeps
/// for its whole life (allocated at the first read, never zeroed again, so
/// an idle spool costs one read(2) per poll).
const READ_CHUNK: usize = 64 * 1024;

#[derive(serde::Deserialize)]
struct Record {
    #[serde(default)]
    log: String,
    #[serde(default)]
    stream: String,
    #[serde(default)]
    time: String,
}

/// A line begun in partial records: its text so far, its first piece's
/// time and where its first record began.
#[derive(Debug)]
struct Partial {
    text: String,
    timestamp_ms: i64,
    start: Position,
}

pub struct Spool {
    path: PathBuf,
    /// Skip what rotation left behind (non-blocking) rather than ship it late.
    drop_behind: bool,
    file: Option<File>,
    pos: Position,
    /// Where to start when the file is first opened (a checkpoint).
    resume: Option<Position>,
    /// Bytes read past the last `\n`.
    torn: Vec<u8>,
    /// Per stream (stdout, stderr).
    partial: [Option<Partial>; 2],
    /// Lines skipped (non-blocking, too far behind) since the last call.
    pub dropped: u64,
    /// The read buffer (READ_CHUNK bytes once used).
    chunk: Vec<u8>,
}

impl Spool {
    pub fn new(path: &Path, resume: Option<Position>, drop_behind: bool) -> Spool {
        Spool {
            path: path.to_path_buf(),
            drop_behind,
            file: None,
            pos: Position {
                inode: 0,
                offset: 0,
            },
            resume,
            torn: Vec::new(),
            partial: [None, None],
            dropped: 0,
            chunk: Vec::new(),
        }
    }

    fn rotated(&self, n: u32) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(format!(".{n}"));
        PathBuf::from(p)
    }

    /// Opens the file to read first: the checkpoint's (in `file` or
    /// `file.1`), else the oldest there is from its start (`file.1` when
    /// the logger handed one over before anything was checkpointed, say
    /// with CloudWatch away since the container started and the agent
    /// restarted). Ok(false): no file yet.
    fn open_first(&mut self) -> io::Result<bool> {
        if let Some(at) = self.resume.take() {
            for p in [self.path.clone(), self.rotated(1)] {
                if let Ok(f) = File::open(&p) {
                    if f.metadata()?.ino() == at.inode {
                        let mut f = f;
                        f.seek(SeekFrom::Start(at.offset))?;
                        self.file = Some(f);
                        self.pos = at;
                        return Ok(true);
                    }
                }
            }
            tracing::warn!(path = %self.path.display(), inode = at.inode, "the checkpointed spool file is gone (rotated away while the agent was down); lines in between are lost");
        }
        if let Ok(f) = File::open(self.rotated(1)) {
            self.pos = Position {
                inode: f.metadata()?.ino(),
                offset: 0,
            };
            self.file = Some(f);
            return Ok(true);
        }
        match File::open(&self.path) {
            Ok(f) => {
                self.pos = Position {
                    inode: f.metadata()?.ino(),
                    offset: 0,
                };
                self.file = Some(f);
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The events of the records written since the last call (at most
    /// about READ_CHUNK bytes of them).
    pub fn read(&mut self) -> io::Result<Vec<Item>> {
        if self.file.is_none() && !self.open_first()? {
            return Ok(Vec::new());
        }
        if self.drop_behind {
            self.skip_if_overrun()?;
        }
        if self.chunk.is_empty() {
            self.chunk = vec![0u8; READ_CHUNK];
        }
        let mut chunk = std::mem::take(&mut self.chunk);
        let result = self.read_into(&mut chunk);
        self.chunk = chunk;
        result
    }

    fn read_into(&mut self, chunk: &mut [u8]) -> io::Result<Vec<Item>> {
        loop {
            let Some(file) = self.file.as_mut() else {
                return Ok(Vec::new());
            };
            let n = file.read(chunk)?;
            if n > 0 {
                // Only pieces of a long line so far: read on, so that an
                // empty answer always means "at the end".
                let items = self.take_lines(&chunk[..n]);
                if !items.is_empty() {
                    return Ok(items);
                }
                continue;
            }
            // At the end: a rotation moves on to the new file.
            match fs::metadata(&self.path) {
                Ok(m) if m.ino() != self.pos.inode => {
                    // Anything written before the rename is in ours.
                    let mut rest = Vec::new();
                    file.read_to_end(&mut rest)?;
                    let mut items = self.take_lines(&rest);
                    // A record is never split across files.
                    self.torn.clear();
                    self.file = Some(File::open(&self.path)?);
                    self.pos = Position {
                        inode: m.ino(),
                        offset: 0,
                    };
                    items.extend(self.read_into(chunk)?);
                    return Ok(items);
                }
                _ => return Ok(Vec::new()),
            }
        }
    }

    /// Non-blocking: when `file.1` is no longer ours either, the logger
    /// rotated a whole file past us; skip to `file.1`'s start, counting
    /// the lines left unread.
    fn skip_if_overrun(&mut self) -> io::Result<()> {
        let ino = |p: &Path| fs::metadata(p).map(|m| m.ino()).ok();
        let (Some(cur), older) = (ino(&self.path), ino(&self.rotated(1))) else {
            return Ok(());
        };
        if cur == self.pos.inode || older == Some(self.pos.inode) {
            return Ok(());
        }
        let mut lost = 0u64;
        if let Some(f) = self.file.as_mut() {
            let mut buf = vec![0u8; READ_CHUNK];
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                lost += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
            }
        }
        self.dropped += lost + u64::from(!self.torn.is_empty());
        self.torn.clear();
        self.partial = [None, None];
        let next = if older.is_some() {
            self.rotated(1)
        } else {
            self.path.clone()
        };
        let f = File::open(&next)?;
        self.pos = Position {
            inode: f.metadata()?.ino(),
            offset: 0,
        };
        self.file = Some(f);
        tracing::warn!(path = %self.path.display(), lines = lost, "awslogs non-blocking: CloudWatch fell more than max-buffer-size behind; lines dropped");
        Ok(())
    }

    /// The events of the complete records in `torn` + `bytes`.
    fn take_lines(&mut self, bytes: &[u8]) -> Vec<Item> {
        let mut items = Vec::new();
        let mut data = std::mem::take(&mut self.torn);
        data.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(nl) = data[start..].iter().position(|&b| b == b'\n') {
            let line = &data[start..start + nl];
            let record_start = self.pos;
            self.pos.offset += nl as u64 + 1;
            start += nl + 1;
            // A torn record after a crash is no record (as `docker logs`).
            let Ok(r) = serde_json::from_slice::<Record>(line) else {
                continue;
            };
            self.record(r, record_start, &mut items);
        }
        self.torn = data[start..].to_vec();
        items
    }

    fn record(&mut self, r: Record, record_start: Position, items: &mut Vec<Item>) {
        let s = usize::from(r.stream == "stderr");
        let ts = parse_time_ms(&r.time);
        let mut p = self.partial[s].take().unwrap_or(Partial {
            text: String::new(),
            timestamp_ms: ts,
            start: record_start,
        });
        let complete = r.log.ends_with('\n');
        p.text.push_str(r.log.strip_suffix('\n').unwrap_or(&r.log));
        if !complete && p.text.len() <= MAX_EVENT_BYTES {
            self.partial[s] = Some(p);
            return;
        }
        let pieces = split(&p.text);
        // Of a line still going on, whole pieces go now and the rest waits
        // (it restarts at this record's start after a restart).
        let keep = if complete { 0 } else { 1 };
        let send = pieces.len().saturating_sub(keep);
        // Pieces of a line still going on are checkpointed at its start:
        // after a restart they go again rather than the rest being lost.
        let checkpoint = if complete { self.pos } else { p.start };
        for piece in &pieces[..send] {
            items.push(Item {
                event: Event {
                    timestamp_ms: p.timestamp_ms,
                    message: piece.to_string(),
                },
                checkpoint,
            });
        }
        if !complete {
            let rest = pieces[send..].concat();
            self.partial[s] = Some(Partial {
                text: rest,
                timestamp_ms: p.timestamp_ms,
                start: p.start,
            });
        }
        // A line of the other stream begun earlier is not shipped yet: the
        // checkpoint must not pass its start, in its file or, when it began
        // in the file before this one, at all (else a reclaim could remove
        // its first pieces).
        if let Some(other) = &self.partial[1 - s] {
            let older_file = other.start.inode != self.pos.inode;
            for it in items.iter_mut() {
                let past = if other.start.inode == it.checkpoint.inode {
                    other.start.offset < it.checkpoint.offset
                } else {
                    older_file && it.checkpoint.inode == self.pos.inode
                };
                if past {
                    it.checkpoint = other.start;
                }
            }
        }
    }

    /// At the end of the container (its logger gone): lines that never got
    /// their `\n` go as they are.
    pub fn finish(&mut self) -> Vec<Item> {
        let mut items = Vec::new();
        for s in 0..2 {
            if let Some(p) = self.partial[s].take() {
                for piece in split(&p.text) {
                    items.push(Item {
                        event: Event {
                            timestamp_ms: p.timestamp_ms,
                            message: piece.to_string(),
                        },
                        checkpoint: self.pos,
                    });
                }
            }
        }
        items
    }
}

/// Blocking mode, once `shipped` is checkpointed: removes `path.1` when
/// the checkpoint is in `path`, since all of `path.1` is then shipped.
/// Ok(true): removed. Safe against the logger: it renames `path` to
/// `path.1` only while `path.1` does not exist, so the `path.1` seen here
/// is the one removed, and a `path` that is still the checkpoint's means
/// no rotation came between.
pub fn reclaim(path: &Path, shipped: Position) -> io::Result<bool> {
    let current = match fs::metadata(path) {
        Ok(m) => m.ino(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if current != shipped.inode {
        return Ok(false);
    }
    let mut older = path.to_path_buf().into_os_string();
    older.push(".1");
    match fs::metadata(&older) {
        Ok(m) if m.ino() != shipped.inode => {
            fs::remove_file(&older)?;
            Ok(true)
        }
        Ok(_) => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// A record's RFC 3339 time in Unix milliseconds (0 when unreadable).
fn parse_time_ms(s: &str) -> i64 {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logger::read::test_files::{append, record as rec};

    fn messages(items: &[Item]) -> Vec<String> {
        items.iter().map(|i| i.event.message.clone()).collect()
    }

    const T: &str = "2024-01-01T00:00:01.5Z";

    #[test]
    fn lines_with_times_and_checkpoints_from_a_resume_point() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let mut s = Spool::new(&path, None, false);
        assert!(s.read().unwrap().is_empty(), "no file yet");
        append(
            &path,
            &(rec("one\n", "stdout", T) + &rec("\n", "stdout", T)),
        );
        append(&path, &rec("two\n", "stderr", T));
        append(&path, "{\"log\":\"to");
        let items = s.read().unwrap();
        assert_eq!(messages(&items), ["one", "two"], "empty lines are no event");
        assert_eq!(items[0].event.timestamp_ms, 1_704_067_201_500);
        let done = items[1].checkpoint;
        append(&path, "rn\\n\",\"stream\":\"stdout\",\"time\":\"x\"}\n");
        assert_eq!(messages(&s.read().unwrap()), ["torn"]);

        // A restart at the checkpoint reads what followed it only.
        let mut s = Spool::new(&path, Some(done), false);
        assert_eq!(messages(&s.read().unwrap()), ["torn"]);
    }

    #[test]
    fn partial_records_join_and_long_lines_split() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let piece = "p".repeat(16 * 1024);
        let mut text = String::new();
        // 17 pieces of 16 KiB = 278,528 bytes, then the end of the line.
        for _ in 0..17 {
            text += &rec(&piece, "stdout", T);
        }
        text += &rec("end\n", "stdout", T);
        text += &rec("short\n", "stdout", T);
        append(&path, &text);
        let mut s = Spool::new(&path, None, false);
        let mut items = Vec::new();
        loop {
            let got = s.read().unwrap();
            if got.is_empty() {
                break;
            }
            items.extend(got);
        }
        let lens: Vec<usize> = items.iter().map(|i| i.event.message.len()).collect();
        assert_eq!(
            lens,
            [MAX_EVENT_BYTES, 17 * 16 * 1024 + 3 - MAX_EVENT_BYTES, 5]
        );
        // The first piece went before the line ended: its checkpoint stays
        // at or before the line's last record.
        assert!(items[0].checkpoint.offset < items[1].checkpoint.offset);
        // A line with no `\n` when the container ends goes at finish.
        append(&path, &rec("last words", "stderr", T));
        assert!(s.read().unwrap().is_empty());
        assert_eq!(messages(&s.finish()), ["last words"]);
    }

    #[test]
    fn an_open_line_of_the_other_stream_holds_the_checkpoint_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        append(
            &path,
            &(rec("half", "stderr", T) + &rec("out\n", "stdout", T)),
        );
        let mut s = Spool::new(&path, None, false);
        let items = s.read().unwrap();
        assert_eq!(messages(&items), ["out"]);
        assert_eq!(
            items[0].checkpoint.offset, 0,
            "the stderr line is not shipped yet"
        );
    }

    #[test]
    fn follows_a_rotation_and_resumes_in_the_rotated_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        append(&path, &rec("a\n", "stdout", T));
        let mut s = Spool::new(&path, None, false);
        let first = s.read().unwrap();
        assert_eq!(messages(&first), ["a"]);
        append(&path, &rec("b\n", "stdout", T));
        fs::rename(&path, dir.path().join("c-json.log.1")).unwrap();
        append(&path, &rec("c\n", "stdout", T));
        assert_eq!(messages(&s.read().unwrap()), ["b"]);
        let items = s.read().unwrap();
        assert_eq!(messages(&items), ["c"]);

        // Resumed from "a": found in file.1, then on into file.
        let mut r = Spool::new(&path, Some(first[0].checkpoint), false);
        let mut got = messages(&r.read().unwrap());
        got.extend(messages(&r.read().unwrap()));
        assert_eq!(got, ["b", "c"]);
    }

    #[test]
    fn with_no_checkpoint_reading_starts_at_the_older_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        append(&dir.path().join("c-json.log.1"), &rec("a\n", "stdout", T));
        append(&path, &rec("b\n", "stdout", T));
        let mut s = Spool::new(&path, None, false);
        let mut got = messages(&s.read().unwrap());
        got.extend(messages(&s.read().unwrap()));
        assert_eq!(got, ["a", "b"]);
    }

    #[test]
    fn non_blocking_skips_and_counts_what_rotated_past() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        append(&path, &rec("a\n", "stdout", T));
        let mut s = Spool::new(&path, None, true);
        assert_eq!(messages(&s.read().unwrap()), ["a"]);
        append(
            &path,
            &(rec("lost1\n", "stdout", T) + &rec("lost2\n", "stdout", T)),
        );
        // Two rotations (max-file 2): our file is removed, file.1 is newer.
        fs::remove_file(&path).unwrap();
        append(&dir.path().join("c-json.log.1"), &rec("b\n", "stdout", T));
        append(&path, &rec("c\n", "stdout", T));
        let mut got = messages(&s.read().unwrap());
        got.extend(messages(&s.read().unwrap()));
        assert_eq!(got, ["b", "c"]);
        assert_eq!(s.dropped, 2);
    }

    #[test]
    fn reclaim_removes_the_older_file_once_the_checkpoint_is_in_the_newer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let older = dir.path().join("c-json.log.1");
        append(&path, &rec("a\n", "stdout", T));
        let mut s = Spool::new(&path, None, false);
        let a = s.read().unwrap();
        // The logger hands the file over: renamed, a new one begun.
        fs::rename(&path, &older).unwrap();
        append(&path, &rec("b\n", "stdout", T));
        // Shipped up to "a" only: file.1 stays.
        assert!(!reclaim(&path, a[0].checkpoint).unwrap());
        assert!(older.exists());
        let b = s.read().unwrap();
        assert_eq!(messages(&b), ["b"]);
        assert!(reclaim(&path, b[0].checkpoint).unwrap());
        assert!(!older.exists());
        assert!(!reclaim(&path, b[0].checkpoint).unwrap(), "nothing left");
        // A restart from that checkpoint reads on in `file`.
        append(&path, &rec("c\n", "stdout", T));
        let mut r = Spool::new(&path, Some(b[0].checkpoint), false);
        assert_eq!(messages(&r.read().unwrap()), ["c"]);
    }

    #[test]
    fn a_line_begun_in_the_older_file_holds_the_checkpoint_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let older = dir.path().join("c-json.log.1");
        // stderr begins a long line (a 16 KiB partial record), then the
        // file is handed over and stdout lines follow in the new one.
        append(&path, &rec(&"e".repeat(16 * 1024), "stderr", T));
        let mut s = Spool::new(&path, None, false);
        assert!(s.read().unwrap().is_empty());
        fs::rename(&path, &older).unwrap();
        append(&path, &rec("out\n", "stdout", T));
        let items = s.read().unwrap();
        assert_eq!(messages(&items), ["out"]);
        let at = items[0].checkpoint;
        assert_eq!(at.offset, 0, "at the stderr line's start");
        assert_eq!(at.inode, fs::metadata(&older).unwrap().ino());
        assert!(!reclaim(&path, at).unwrap(), "file.1 still needed");
        // Resumed there, the line is read whole again.
        append(&path, &rec("end\n", "stderr", T));
        let mut r = Spool::new(&path, Some(at), false);
        let mut got = Vec::new();
        for _ in 0..3 {
            got.extend(messages(&r.read().unwrap()));
        }
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got.contains(&format!("{}end", "e".repeat(16 * 1024))));
    }
}
