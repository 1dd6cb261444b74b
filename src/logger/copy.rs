//! Copying the container's stdout and stderr into one file, each chunk whole
//! and in the order it was read, until both streams have ended.

use std::io::{self, Read, Write};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use super::LoggerError;

/// A pipe's default capacity: one read takes everything pending, so a write
/// of up to PIPE_BUF bytes by the container is never split between chunks.
const CHUNK: usize = 64 * 1024;
/// The reader thread only loops over read and write.
const THREAD_STACK: usize = 64 * 1024;

/// Bytes read from each stream (all of them reached the sink unless the copy
/// returned a write error).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    pub stdout: u64,
    pub stderr: u64,
}

struct Sink<W> {
    out: W,
    error: Option<io::Error>,
    dropped: u64,
}

impl<W: Write> Sink<W> {
    /// A failed write (disk full, say) must not stop the reading: the
    /// container would block on a full pipe. The chunk is dropped instead and
    /// later ones are tried again.
    fn put(&mut self, chunk: &[u8]) {
        if let Err(e) = self.out.write_all(chunk) {
            self.dropped += chunk.len() as u64;
            self.error.get_or_insert(e);
        }
    }
}

/// Copies both streams into `out` until each has reached end-of-file; one
/// write per chunk read, under a lock, so the streams never mix inside a chunk.
pub fn copy_streams<W: Write + Send>(
    stdout: impl Read + Send,
    stderr: impl Read + Send,
    out: W,
) -> Result<Copied, LoggerError> {
    let sink = Mutex::new(Sink {
        out,
        error: None,
        dropped: 0,
    });
    let (out_res, err_res) = thread::scope(|s| {
        let stderr_thread = thread::Builder::new()
            .name("stderr".into())
            .stack_size(THREAD_STACK)
            .spawn_scoped(s, || pump("stderr", stderr, &sink));
        match stderr_thread {
            Ok(handle) => {
                let out_res = pump("stdout", stdout, &sink);
                let err_res = handle.join().unwrap_or(Err(LoggerError::Thread("stderr")));
                (out_res, err_res)
            }
            Err(e) => (Err(LoggerError::Spawn(e)), Ok(0)),
        }
    });
    let mut sink = sink.into_inner().unwrap_or_else(|p| p.into_inner());
    if let Err(e) = sink.out.flush() {
        sink.error.get_or_insert(e);
    }
    let copied = Copied {
        stdout: out_res?,
        stderr: err_res?,
    };
    match sink.error {
        Some(source) => Err(LoggerError::Write {
            dropped: sink.dropped,
            source,
        }),
        None => Ok(copied),
    }
}

fn pump<W: Write>(
    stream: &'static str,
    mut from: impl Read,
    sink: &Mutex<Sink<W>>,
) -> Result<u64, LoggerError> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => {
                total += n as u64;
                sink.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .put(&buf[..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // The descriptors are made blocking at start; should one still
            // be non-blocking, wait instead of spinning.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(10));
            }
            Err(source) => return Err(LoggerError::Read { stream, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::PipeWriter;
    use std::sync::{mpsc, Arc};
    use std::time::Instant;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }

        fn wait_for(&self, what: &str) {
            let deadline = Instant::now() + Duration::from_secs(10);
            while !self.text().contains(what) {
                assert!(Instant::now() < deadline, "{what:?} never arrived");
                thread::sleep(Duration::from_millis(5));
            }
        }
    }

    fn write(mut w: &PipeWriter, s: &str) {
        w.write_all(s.as_bytes()).unwrap();
    }

    #[test]
    fn every_byte_of_both_streams_lands() {
        let (out_r, out_w) = io::pipe().unwrap();
        let (err_r, err_w) = io::pipe().unwrap();
        let stdout_writer = thread::spawn(move || {
            for i in 0..20_000 {
                write(&out_w, &format!("out{i}\n"));
            }
        });
        // A burst far larger than the pipe, after stdout has ended and all of
        // it has been copied: a write this size is not atomic, so a stdout
        // chunk copied while it is in flight could land inside one of its
        // lines (as it would for any logger), which is not what this checks.
        let burst: String = (0..50_000).map(|i| format!("err{i}\n")).collect();
        let expected_err = format!("{burst}LAST-ERR\n");
        let err_text = expected_err.clone();
        let sink = Shared::default();
        let seen = sink.clone();
        let stderr_writer = thread::spawn(move || {
            seen.wait_for("out19999\n");
            write(&err_w, &err_text);
        });
        let copied = copy_streams(out_r, err_r, sink.clone()).unwrap();
        stdout_writer.join().unwrap();
        stderr_writer.join().unwrap();

        let text = sink.text();
        let outs: Vec<&str> = text.lines().filter(|l| l.starts_with("out")).collect();
        let expected_out: Vec<String> = (0..20_000).map(|i| format!("out{i}")).collect();
        assert_eq!(outs, expected_out);
        let errs: String = text
            .lines()
            .filter(|l| !l.starts_with("out"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(errs, expected_err);
        assert!(text.ends_with("LAST-ERR\n"));
        assert_eq!(copied.stderr, expected_err.len() as u64);
        assert_eq!(copied.stdout + copied.stderr, text.len() as u64);
    }

    #[test]
    fn returns_only_after_both_streams_end() {
        let (out_r, out_w) = io::pipe().unwrap();
        let (err_r, err_w) = io::pipe().unwrap();
        let sink = Shared::default();
        let (done_tx, done) = mpsc::channel();
        let s = sink.clone();
        thread::spawn(move || done_tx.send(copy_streams(out_r, err_r, s)).unwrap());

        write(&out_w, "only line\n");
        drop(out_w);
        sink.wait_for("only line\n");
        assert!(done.recv_timeout(Duration::from_millis(200)).is_err());

        write(&err_w, "late\n");
        drop(err_w);
        let copied = done.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
        assert_eq!(sink.text(), "only line\nlate\n");
        assert_eq!(
            copied,
            Copied {
                stdout: 10,
                stderr: 5
            }
        );
    }

    #[test]
    fn chunks_are_written_in_arrival_order() {
        let (out_r, out_w) = io::pipe().unwrap();
        let (err_r, err_w) = io::pipe().unwrap();
        let sink = Shared::default();
        let s = sink.clone();
        let copy = thread::spawn(move || copy_streams(out_r, err_r, s));
        for (w, line) in [(&out_w, "a\n"), (&err_w, "b\n"), (&out_w, "c\n")] {
            write(w, line);
            sink.wait_for(line);
        }
        drop((out_w, err_w));
        copy.join().unwrap().unwrap();
        assert_eq!(sink.text(), "a\nb\nc\n");
    }

    struct Full;

    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from_raw_os_error(28))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failing_file_does_not_block_the_container() {
        let (out_r, out_w) = io::pipe().unwrap();
        let (err_r, err_w) = io::pipe().unwrap();
        drop(err_w);
        // More than a pipe holds: the writer finishes only if we keep reading.
        let writer = thread::spawn(move || write(&out_w, &"x".repeat(1 << 20)));
        let err = copy_streams(out_r, err_r, Full).unwrap_err();
        writer.join().unwrap();
        match err {
            LoggerError::Write { dropped, .. } => assert_eq!(dropped, 1 << 20),
            other => panic!("{other}"),
        }
    }
}
