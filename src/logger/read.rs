//! Reading a container's json-file log back (`ecs-agent logs`): the records
//! of the current file and of its rotated predecessors (`file.N` oldest ..
//! `file.1`, then `file`), and following the current file across rotations.

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// What one json-file line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub stream: Stream,
    /// The text as the container wrote it (with its `\n` unless partial).
    pub log: String,
}

#[derive(serde::Deserialize)]
struct Line {
    #[serde(default)]
    log: String,
    #[serde(default)]
    stream: String,
}

/// One line of a json-file log; `None` for a line that is no record (a
/// torn line after a crash, say), which readers skip as `docker logs` does.
pub fn parse_line(line: &[u8]) -> Option<Record> {
    let l: Line = serde_json::from_slice(line).ok()?;
    let stream = match l.stream.as_str() {
        "stderr" => Stream::Stderr,
        _ => Stream::Stdout,
    };
    Some(Record { stream, log: l.log })
}

/// The files of the log at `path`, oldest first: `path.N` .. `path.1`, `path`.
pub fn files(path: &Path) -> io::Result<Vec<PathBuf>> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Ok(vec![path.to_path_buf()]);
    };
    let prefix = format!("{name}.");
    let mut rotated: Vec<(u32, PathBuf)> = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(n) = file_name
            .to_str()
            .and_then(|f| f.strip_prefix(&prefix))
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        rotated.push((n, entry.path()));
    }
    rotated.sort_by_key(|r| std::cmp::Reverse(r.0));
    let mut all: Vec<PathBuf> = rotated.into_iter().map(|(_, p)| p).collect();
    all.push(path.to_path_buf());
    Ok(all)
}

/// The records of every file of the log (the last `tail` of them when set).
pub fn read_all(path: &Path, tail: Option<usize>) -> io::Result<Vec<Record>> {
    let mut out: VecDeque<Record> = VecDeque::new();
    for file in files(path)? {
        let f = match File::open(&file) {
            Ok(f) => f,
            // Rotated away between the listing and now.
            Err(e) if e.kind() == io::ErrorKind::NotFound && file != path => continue,
            Err(e) => return Err(e),
        };
        for line in BufReader::new(f).split(b'\n') {
            if let Some(r) = parse_line(&line?) {
                out.push_back(r);
                if tail.is_some_and(|t| out.len() > t) {
                    out.pop_front();
                }
            }
        }
    }
    Ok(out.into())
}

/// Follows the log at `path` from its end (`from`: the current file's
/// length when the reading above ended), handing each new record to `emit`,
/// until `stop` says so. A rotation renames the file: the rest of the
/// renamed one is read through the handle still open on it, then the new
/// file from its start.
pub fn follow(
    path: &Path,
    from: u64,
    poll: Duration,
    mut emit: impl FnMut(&Record) -> io::Result<()>,
    mut stop: impl FnMut() -> bool,
) -> io::Result<()> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(from))?;
    let mut partial: Vec<u8> = Vec::new();
    loop {
        drain(&mut file, &mut partial, &mut emit)?;
        if stop() {
            return Ok(());
        }
        let ours = file.metadata()?;
        match fs::metadata(path) {
            Ok(now) if now.ino() != ours.ino() || now.dev() != ours.dev() => {
                // Rotated: what was written before the rename is in our file.
                drain(&mut file, &mut partial, &mut emit)?;
                partial.clear();
                file = File::open(path)?;
            }
            _ => std::thread::sleep(poll),
        }
    }
}

/// Hands over every complete line read from `file`; keeps a torn last one.
fn drain(
    file: &mut File,
    partial: &mut Vec<u8>,
    emit: &mut impl FnMut(&Record) -> io::Result<()>,
) -> io::Result<()> {
    file.read_to_end(partial)?;
    let mut start = 0;
    while let Some(end) = partial[start..].iter().position(|&b| b == b'\n') {
        if let Some(r) = parse_line(&partial[start..start + end]) {
            emit(&r)?;
        }
        start += end + 1;
    }
    partial.drain(..start);
    Ok(())
}

/// For tests that write json-file logs by hand (here and `crate::awslogs`).
#[cfg(test)]
pub(crate) mod test_files {
    use std::io::Write;
    use std::path::Path;

    /// One record line as the logger writes it.
    pub(crate) fn record(log: &str, stream: &str, time: &str) -> String {
        format!(
            "{{\"log\":{},\"stream\":\"{stream}\",\"time\":\"{time}\"}}\n",
            serde_json::to_string(log).unwrap()
        )
    }

    /// Appends `text` to `path`, made if missing.
    pub(crate) fn append(path: &Path, text: &str) {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::test_files::{append, record};
    use super::*;

    fn rec(log: &str, stream: &str) -> String {
        record(log, stream, "2024-01-01T00:00:00.1Z")
    }

    #[test]
    fn reads_rotated_files_oldest_first_and_tails() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web-json.log");
        append(&dir.path().join("web-json.log.2"), &rec("one\n", "stdout"));
        append(&dir.path().join("web-json.log.1"), &rec("two\n", "stderr"));
        append(
            &path,
            &(rec("three <&> \"q\"\n", "stdout") + "torn {\"log\n" + &rec("four", "stdout")),
        );
        append(
            &dir.path().join("web-json.log.x"),
            &rec("not ours\n", "stdout"),
        );
        let all = read_all(&path, None).unwrap();
        let logs: Vec<&str> = all.iter().map(|r| r.log.as_str()).collect();
        assert_eq!(logs, ["one\n", "two\n", "three <&> \"q\"\n", "four"]);
        assert_eq!(all[1].stream, Stream::Stderr);
        let last: Vec<String> = read_all(&path, Some(2))
            .unwrap()
            .into_iter()
            .map(|r| r.log)
            .collect();
        assert_eq!(last, ["three <&> \"q\"\n", "four"]);
        // Docker's own escapes decode to the text.
        assert_eq!(
            parse_line(
                br#"{"log":"\u003cb\u003e\u0026\ufffd\u0009\n","stream":"stderr","time":"x"}"#
            ),
            Some(Record {
                stream: Stream::Stderr,
                log: "<b>&\u{fffd}\t\n".into()
            })
        );
    }

    #[test]
    fn follows_across_a_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        append(&path, &rec("old\n", "stdout"));
        let from = fs::metadata(&path).unwrap().len();
        let p = path.clone();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            append(&p, &rec("a\n", "stdout"));
            // A torn record, completed after the rotation's rename.
            append(&p, "{\"log\":\"b\\n\",\"str");
            fs::rename(&p, p.with_extension("log.1")).unwrap();
            append(
                &p.with_extension("log.1"),
                "eam\":\"stderr\",\"time\":\"t\"}\n",
            );
            append(&p, &rec("c\n", "stdout"));
            std::thread::sleep(Duration::from_millis(30));
            append(&p, &rec("d\n", "stdout"));
        });
        let seen = std::cell::RefCell::new(Vec::new());
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        follow(
            &path,
            from,
            Duration::from_millis(5),
            |r| {
                seen.borrow_mut().push(r.log.clone());
                Ok(())
            },
            || {
                assert!(
                    std::time::Instant::now() < deadline,
                    "follow never saw the end"
                );
                seen.borrow().len() >= 4
            },
        )
        .unwrap();
        writer.join().unwrap();
        assert_eq!(seen.into_inner(), ["a\n", "b\n", "c\n", "d\n"]);
    }
}
