//! Copying the container's stdout and stderr into the log file until both
//! streams have ended: one thread waits for either pipe (poll) and writes
//! each record whole, in the order it was read. A second thread per stream
//! cost every container its stack and its own malloc arena (about 30 KiB
//! of the logger's 130 KiB; BENCHMARKS.md `stack-pss`).
//!
//! json-file frames lines as moby's copier does (daemon/logger/copier.go):
//! a 16 KiB buffer per stream; every complete line is one record (its `\n`
//! kept); a buffer that fills with no newline is written as a partial record
//! of exactly 16 KiB (no `\n`), the rest of the line following in further
//! records, all with the time of the first piece; what is left without a
//! newline when the stream ends is written as it is. A partial line waits
//! in the buffer until its newline arrives, as in Docker.
//!
//! A spool that drops when full (`--spool-drop`) decides per line, at its
//! first record: a line is written whole or not at all, and each line
//! dropped (but an empty one, which the shipper would not send either) is
//! counted in the spool's drop counter (`drops.rs`).

use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::thread;
use std::time::{Duration, SystemTime};

use super::drops::DropCounter;
use super::json;
use super::logfile::LogFile;
use super::sys;
use super::Error;

/// moby's copier `defaultBufSize`: the longest record of a json-file line.
pub const LINE_BUFFER: usize = 16 * 1024;
/// Where a stream's line buffer starts: it doubles (up to LINE_BUFFER) only
/// when a read fills it, so a container that writes little never touches
/// the pages of a full one (two zeroed 16 KiB buffers were a quarter of a
/// logger's private memory).
const FIRST_LINE_BUFFER: usize = 4 * 1024;
/// A pipe's default capacity: in plain mode one read takes everything
/// pending, so a write of up to PIPE_BUF bytes is never split between chunks.
const PLAIN_CHUNK: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// The bytes as they came, no framing.
    Plain,
    /// Docker's json-file records.
    JsonFile,
}

/// Bytes read from each stream (all of them reached the file unless the
/// copy returned a write error).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    pub stdout: u64,
    pub stderr: u64,
}

/// One record of a batch: where it ends, and what it is of its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Piece {
    end: usize,
    /// The line's first record.
    first: bool,
    /// The whole line is just its `\n`.
    blank: bool,
}

struct Sink {
    file: LogFile,
    error: Option<io::Error>,
    dropped: u64,
    /// Lines dropped by a full spool (`--spool-drop` only).
    drops: Option<DropCounter>,
    /// Per stream (stdout, stderr): the line going on is being dropped.
    dropping: [bool; 2],
}

impl Sink {
    /// `records` of `stream` (0 stdout, 1 stderr): whole records back to
    /// back, `pieces` the end of each. A failed write (disk full, say) must
    /// not stop the reading: the container would block on a full pipe. The
    /// batch is dropped instead and later ones are tried again.
    fn put(&mut self, stream: usize, records: &[u8], pieces: &[Piece]) {
        let mut start = 0;
        for p in pieces {
            if p.first {
                self.dropping[stream] = !self.file.admits();
                if let (true, false, Some(d)) = (self.dropping[stream], p.blank, &mut self.drops) {
                    d.add(1);
                }
            }
            if self.dropping[stream] {
                self.file.skipped((p.end - start) as u64);
            } else if let Err((lost, e)) = self.file.record(&records[start..p.end]) {
                self.dropped += lost;
                self.error.get_or_insert(e);
            }
            start = p.end;
        }
        if let Err((lost, e)) = self.file.flush() {
            self.dropped += lost;
            self.error.get_or_insert(e);
        }
        let dropping = self.dropping.contains(&true);
        if let Some(d) = &mut self.drops {
            d.write_if_due(dropping);
        }
    }
}

/// Copies both streams into `file` until each has reached end-of-file. A
/// stream that fails to read ends alone; the other is copied to its end.
pub fn copy_streams<R: Read + AsRawFd>(
    stdout: R,
    stderr: R,
    file: LogFile,
    framing: Framing,
) -> Result<Copied, Error> {
    let drops = file
        .drops_when_full()
        .then(|| DropCounter::load(file.path()));
    let mut sink = Sink {
        file,
        error: None,
        dropped: 0,
        drops,
        dropping: [false; 2],
    };
    let mut pumps = [
        Pump::new("stdout", stdout, framing),
        Pump::new("stderr", stderr, framing),
    ];
    while pumps.iter().any(Pump::open) {
        let ready = sys::wait_readable(pumps.each_ref().map(Pump::fd)).map_err(Error::Wait)?;
        for (index, (pump, ready)) in pumps.iter_mut().zip(ready).enumerate() {
            if ready {
                pump.step(index, &mut sink);
            }
        }
    }
    if let Some(d) = &mut sink.drops {
        // Nothing to tell anyone if this fails (stderr is /dev/null).
        let _ = d.write();
    }
    let [out, err] = pumps;
    let copied = Copied {
        stdout: out.finish()?,
        stderr: err.finish()?,
    };
    match sink.error {
        Some(source) => Err(Error::Write {
            dropped: sink.dropped,
            source,
        }),
        None => Ok(copied),
    }
}

/// One read; `Ok(0)` at end-of-file.
fn read_some(stream: &'static str, from: &mut impl Read, buf: &mut [u8]) -> Result<usize, Error> {
    loop {
        match from.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // The descriptors are made blocking at start; should one still
            // be non-blocking, wait instead of spinning.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(10));
            }
            Err(source) => return Err(Error::Read { stream, source }),
        }
    }
}

/// How a stream's bytes become records.
enum Framer {
    Plain(Vec<u8>),
    JsonFile(Lines),
}

/// One stream: where it is read from, its framing, and how it ended.
struct Pump<R> {
    stream: &'static str,
    from: R,
    framer: Framer,
    total: u64,
    /// `Some` once the stream ended: at end-of-file, or with its read error.
    end: Option<Result<(), Error>>,
}

impl<R: Read + AsRawFd> Pump<R> {
    fn new(stream: &'static str, from: R, framing: Framing) -> Pump<R> {
        let framer = match framing {
            Framing::Plain => Framer::Plain(vec![0u8; PLAIN_CHUNK]),
            Framing::JsonFile => Framer::JsonFile(Lines::new(stream)),
        };
        Pump {
            stream,
            from,
            framer,
            total: 0,
            end: None,
        }
    }

    fn open(&self) -> bool {
        self.end.is_none()
    }

    /// The descriptor to wait on while the stream is open.
    fn fd(&self) -> Option<i32> {
        self.open().then(|| self.from.as_raw_fd())
    }

    /// One read (the stream is readable: it does not block), and the
    /// records it completed written as stream `index` (0 stdout, 1 stderr).
    fn step(&mut self, index: usize, sink: &mut Sink) {
        let done = match &mut self.framer {
            Framer::Plain(buf) => read_some(self.stream, &mut self.from, buf).map(|n| {
                if n > 0 {
                    let whole = Piece {
                        end: n,
                        first: true,
                        blank: false,
                    };
                    sink.put(index, &buf[..n], &[whole]);
                }
                (n, n == 0)
            }),
            Framer::JsonFile(lines) => {
                read_some(self.stream, &mut self.from, lines.space()).map(|n| {
                    let done = lines.filled(n, SystemTime::now());
                    if !lines.records.is_empty() {
                        sink.put(index, &lines.records, &lines.pieces);
                    }
                    (n, done)
                })
            }
        };
        match done {
            Ok((n, done)) => {
                self.total += n as u64;
                if done {
                    self.end = Some(Ok(()));
                }
            }
            Err(e) => self.end = Some(Err(e)),
        }
    }

    /// The bytes read, or the read error that ended the stream.
    fn finish(self) -> Result<u64, Error> {
        self.end.unwrap_or(Ok(())).map(|()| self.total)
    }
}

/// moby's copier state for one stream: the line buffer and the records the
/// last read made.
struct Lines {
    stream: &'static str,
    buf: Vec<u8>,
    /// Bytes of `buf` in use.
    n: usize,
    /// Time of the first piece of a line written partially.
    partial_time: Option<SystemTime>,
    records: Vec<u8>,
    pieces: Vec<Piece>,
}

impl Lines {
    fn new(stream: &'static str) -> Lines {
        Lines {
            stream,
            buf: vec![0u8; FIRST_LINE_BUFFER],
            n: 0,
            partial_time: None,
            records: Vec::new(),
            pieces: Vec::new(),
        }
    }

    /// Where the next read goes (never empty: a full buffer was emptied or
    /// grown).
    fn space(&mut self) -> &mut [u8] {
        &mut self.buf[self.n..]
    }

    /// `read` bytes arrived at `now` (0: end of the stream). Fills
    /// `records`; true when the stream is done.
    fn filled(&mut self, read: usize, now: SystemTime) -> bool {
        self.records.clear();
        self.pieces.clear();
        let eof = read == 0;
        let filled_up = !eof && self.n + read == self.buf.len();
        self.n += read;
        let mut p = 0;
        while let Some(q) = self.buf[p..self.n].iter().position(|&b| b == b'\n') {
            let first = self.partial_time.is_none();
            let time = self.partial_time.take().unwrap_or(now);
            json::record(
                &mut self.records,
                &self.buf[p..p + q + 1],
                self.stream,
                time,
            );
            self.pieces.push(Piece {
                end: self.records.len(),
                first,
                blank: first && q == 0,
            });
            p += q + 1;
        }
        if (eof || (p == 0 && self.n == LINE_BUFFER)) && p < self.n {
            let first = self.partial_time.is_none();
            let time = *self.partial_time.get_or_insert(now);
            json::record(&mut self.records, &self.buf[p..self.n], self.stream, time);
            self.pieces.push(Piece {
                end: self.records.len(),
                first,
                blank: false,
            });
            p = self.n;
        }
        self.buf.copy_within(p..self.n, 0);
        self.n -= p;
        // More is waiting, or a line is longer than the buffer so far.
        if filled_up && self.buf.len() < LINE_BUFFER {
            self.buf.resize((self.buf.len() * 2).min(LINE_BUFFER), 0);
        }
        eof
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{PipeWriter, Write};
    use std::path::{Path, PathBuf};
    use std::time::{Instant, UNIX_EPOCH};

    use crate::logfile::Rotation;

    fn tempfile(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ecs-logger-copy-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d.join("c-json.log")
    }

    fn write(mut w: &PipeWriter, s: &[u8]) {
        w.write_all(s).unwrap();
    }

    fn wait_for(path: &Path, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !std::fs::read_to_string(path)
            .unwrap_or_default()
            .contains(what)
        {
            assert!(Instant::now() < deadline, "{what:?} never arrived");
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// The records' (log, stream) pairs: a small reader for the tests (the
    /// agent's own is `src/logger/jsonfile.rs`).
    fn records(text: &str) -> Vec<(String, String)> {
        text.lines()
            .map(|l| {
                let rest = l.strip_prefix("{\"log\":\"").expect(l);
                let (log, rest) = rest.split_once("\",\"stream\":\"").expect(l);
                let (stream, rest) = rest.split_once("\",\"time\":\"").expect(l);
                assert!(rest.ends_with("Z\"}"), "{l}");
                (log.replace("\\n", "\n"), stream.to_string())
            })
            .collect()
    }

    #[test]
    fn lines_are_framed_and_long_ones_split_at_16_kib_as_docker_does() {
        let mut lines = Lines::new("stdout");
        let t0 = UNIX_EPOCH + Duration::from_secs(1);
        let t1 = UNIX_EPOCH + Duration::from_secs(2);
        let feed = |lines: &mut Lines, data: &[u8], t: SystemTime| -> Vec<String> {
            let mut out = Vec::new();
            let mut data = data;
            loop {
                let space = lines.space();
                let k = space.len().min(data.len());
                space[..k].copy_from_slice(&data[..k]);
                data = &data[k..];
                let eof = k == 0;
                lines.filled(k, t);
                out.push(String::from_utf8(lines.records.clone()).unwrap());
                if data.is_empty() || eof {
                    return out;
                }
            }
        };
        // A line without its newline waits.
        assert_eq!(
            feed(&mut lines, b"a\nb", t0).concat(),
            "{\"log\":\"a\\n\",\"stream\":\"stdout\",\"time\":\"1970-01-01T00:00:01Z\"}\n"
        );
        // 40,000 bytes more of the same line, then its end: two pieces of
        // exactly 16,384 bytes, stamped with the first piece's time, then
        // the rest with its newline.
        let long = vec![b'x'; 40_000];
        let mut all = feed(&mut lines, &long, t0).concat();
        all += &feed(&mut lines, b"\n", t1).concat();
        let recs = records(&all);
        let lens: Vec<usize> = recs.iter().map(|(l, _)| l.len()).collect();
        assert_eq!(lens, [16_384, 16_384, 40_001 - 2 * 16_384 + 1]);
        assert!(recs[0].0.starts_with("bxxx") && recs[2].0.ends_with("x\n"));
        assert!(
            all.lines().all(|l| l.contains("1970-01-01T00:00:01Z")),
            "{all}"
        );
        // At the end of the stream what is left is written without a newline.
        let tail =
            feed(&mut lines, b"last words", t1).concat() + &feed(&mut lines, b"", t1).concat();
        assert_eq!(
            records(&tail),
            [("last words".to_string(), "stdout".to_string())]
        );
    }

    /// The buffer starts small and grows: a line longer than its first size
    /// (but within LINE_BUFFER) is still one record, as in Docker.
    #[test]
    fn a_line_longer_than_the_first_buffer_is_one_record() {
        let mut lines = Lines::new("stderr");
        assert_eq!(lines.space().len(), FIRST_LINE_BUFFER);
        let line = [vec![b'z'; 10_000], b"\n".to_vec()].concat();
        let mut data = line.as_slice();
        let mut out = String::new();
        while !data.is_empty() {
            let space = lines.space();
            let k = space.len().min(data.len());
            space[..k].copy_from_slice(&data[..k]);
            data = &data[k..];
            lines.filled(k, UNIX_EPOCH);
            out += std::str::from_utf8(&lines.records).unwrap();
        }
        let recs = records(&out);
        assert_eq!(recs.len(), 1, "{out}");
        assert_eq!(recs[0].0.len(), 10_001);
        assert!(lines.space().len() <= LINE_BUFFER);
    }

    #[test]
    fn every_byte_of_both_streams_lands_in_json_records() {
        let path = tempfile("all");
        let (out_r, out_w) = io::pipe().unwrap();
        let (err_r, err_w) = io::pipe().unwrap();
        let p = path.clone();
        let stdout_writer = thread::spawn(move || {
            for i in 0..20_000 {
                write(&out_w, format!("out{i}\n").as_bytes());
            }
        });
        let stderr_writer = thread::spawn(move || {
            wait_for(&p, "out19999\\n");
            let burst: String = (0..50_000).map(|i| format!("err{i}\n")).collect();
            write(&err_w, burst.as_bytes());
            write(&err_w, b"LAST-ERR");
        });
        let file = LogFile::open(&path, Rotation::default()).unwrap();
        let copied = copy_streams(out_r, err_r, file, Framing::JsonFile).unwrap();
        stdout_writer.join().unwrap();
        stderr_writer.join().unwrap();
        let recs = records(&std::fs::read_to_string(&path).unwrap());
        let out: Vec<&str> = recs
            .iter()
            .filter(|r| r.1 == "stdout")
            .map(|r| r.0.as_str())
            .collect();
        let err: String = recs
            .iter()
            .filter(|r| r.1 == "stderr")
            .map(|r| r.0.as_str())
            .collect();
        let expected_out: Vec<String> = (0..20_000).map(|i| format!("out{i}\n")).collect();
        assert_eq!(out, expected_out);
        let expected_err: String =
            (0..50_000).map(|i| format!("err{i}\n")).collect::<String>() + "LAST-ERR";
        assert_eq!(err, expected_err);
        assert_eq!(copied.stderr, expected_err.len() as u64);
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn plain_returns_only_after_both_streams_end_in_arrival_order() {
        let path = tempfile("plain");
        let (out_r, out_w) = io::pipe().unwrap();
        let (err_r, err_w) = io::pipe().unwrap();
        let file = LogFile::open(&path, Rotation::default()).unwrap();
        let copy = thread::spawn(move || copy_streams(out_r, err_r, file, Framing::Plain));
        for (w, line) in [(&out_w, "a\n"), (&err_w, "b\n"), (&out_w, "c\n")] {
            write(w, line.as_bytes());
            wait_for(&path, line);
        }
        drop(out_w);
        thread::sleep(Duration::from_millis(100));
        assert!(!copy.is_finished());
        drop(err_w);
        let copied = copy.join().unwrap().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nb\nc\n");
        assert_eq!(
            copied,
            Copied {
                stdout: 4,
                stderr: 2
            }
        );
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_failing_file_does_not_block_the_container() {
        let (out_r, out_w) = io::pipe().unwrap();
        let (err_r, err_w) = io::pipe().unwrap();
        drop(err_w);
        // /dev/full fails every write with ENOSPC; more than a pipe holds
        // is written, so the writer finishes only if we keep reading.
        let file = LogFile::open(Path::new("/dev/full"), Rotation::default()).unwrap();
        let writer = thread::spawn(move || write(&out_w, &vec![b'x'; 1 << 20]));
        let err = copy_streams(out_r, err_r, file, Framing::Plain).unwrap_err();
        writer.join().unwrap();
        match err {
            Error::Write { dropped, .. } => assert_eq!(dropped, 1 << 20),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn a_full_dropping_spool_drops_whole_lines_and_counts_them() {
        let path = tempfile("drop");
        let (out_r, out_w) = io::pipe().unwrap();
        let (err_r, err_w) = io::pipe().unwrap();
        drop(err_w);
        let writer = thread::spawn(move || {
            let mut text: String = (0..1000).map(|i| format!("line-{i}\n")).collect();
            // A long line (two partial records) and empty lines, all dropped:
            // the long one counts once, the empty ones not at all.
            text += &"y".repeat(LINE_BUFFER + 10);
            text += "\n\n\n";
            write(&out_w, text.as_bytes());
        });
        let rotation = Rotation {
            max_size: Some(2000),
            max_file: 2,
            handoff: true,
            drop_when_full: true,
        };
        let file = LogFile::open(&path, rotation).unwrap();
        copy_streams(out_r, err_r, file, Framing::JsonFile).unwrap();
        writer.join().unwrap();
        let mut older = path.clone().into_os_string();
        older.push(".1");
        let kept: Vec<String> = [PathBuf::from(older), path.clone()]
            .iter()
            .flat_map(|p| records(&std::fs::read_to_string(p).unwrap()))
            .map(|r| r.0)
            .collect();
        // The oldest lines are kept, in order, each whole.
        let expected: Vec<String> = (0..kept.len()).map(|i| format!("line-{i}\n")).collect();
        assert_eq!(kept, expected);
        assert!(kept.len() < 100, "{} lines kept", kept.len());
        let mut counter = path.clone().into_os_string();
        counter.push(crate::drops::SUFFIX);
        let counted = std::fs::read_to_string(PathBuf::from(counter)).unwrap();
        assert_eq!(counted, format!("{}\n", 1000 - kept.len() + 1));
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }
}
