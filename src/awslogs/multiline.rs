//! Multi-line events (`awslogs-multiline-pattern`, `awslogs-datetime-format`)
//! as moby's awslogs driver groups lines (daemon/logger/awslogs/
//! cloudwatchlogs.go, `collectBatch`): a line the pattern matches (anywhere
//! in it) starts a new event; any other line is added to the event going on,
//! each line followed by a `\n` (so an event ends in one, as under Docker).
//! An event ends when the next one starts, when adding a line would pass
//! CloudWatch's event size, when it has waited long enough (below), and when
//! the container ends.
//!
//! Where this differs from Docker, and why:
//! - Docker may let an event reach 262,119 bytes (its size check leaves out
//!   the `\n` it then adds) and sends the extra `\n` as an event of its own;
//!   here the `\n` is counted, so an event is never split.
//! - Docker flushes an event at its 5 s ticker once the event's first line
//!   is 5 s old by the line's own time stamp, so while catching up on a
//!   backlog (after an agent restart) it would cut events anywhere. Here
//!   age is counted from when the first line was read, and only once the
//!   spool has nothing more to read for now: a backlog groups as if read
//!   live.
//! - An event's time is its first line's (Docker keeps a stale one for the
//!   line after a timed flush).
//!
//! Checkpoints: an event that is still open is not shipped, so nothing past
//! its first line may be checkpointed. Each event carries the checkpoint of
//! its last line; lines of the open event carry none out. After a restart
//! its lines are read again and grouped again.

use std::time::Duration;

use regex::Regex;
use tokio::time::Instant;

use super::batch::{Event, MAX_EVENT_BYTES};
use super::spool::Item;

/// The event being put together.
#[derive(Debug)]
struct Open {
    text: String,
    timestamp_ms: i64,
    /// The checkpoint of its last line.
    checkpoint: super::Position,
    /// When its first line was read.
    since: Instant,
}

pub struct Multiline {
    start: Regex,
    open: Option<Open>,
}

impl Multiline {
    /// `start`: the regular expression a line that starts an event matches
    /// (`Awslogs::multiline_start`, checked when the task was accepted).
    pub fn new(start: &str) -> Result<Multiline, regex::Error> {
        Ok(Multiline {
            start: Regex::new(start)?,
            open: None,
        })
    }

    /// Takes the next line read (or piece of a line over the event size);
    /// returns the event it ends, if it ends one.
    pub fn push(&mut self, line: Item, now: Instant) -> Option<Item> {
        let text = line.event.message;
        // A piece of the event size is a line too long to add to: it goes
        // alone and without a `\n`, as Docker sends it.
        let newline = text.len() < MAX_EVENT_BYTES;
        let ended = match &self.open {
            Some(open)
                if self.start.is_match(&text)
                    || open.text.len() + text.len() + usize::from(newline) > MAX_EVENT_BYTES =>
            {
                self.open.take().map(Open::into_item)
            }
            _ => None,
        };
        let open = self.open.get_or_insert_with(|| Open {
            text: String::new(),
            timestamp_ms: line.event.timestamp_ms,
            checkpoint: line.checkpoint,
            since: now,
        });
        open.text.push_str(&text);
        if newline {
            open.text.push('\n');
        }
        open.checkpoint = line.checkpoint;
        ended
    }

    /// The open event, if its first line was read at least `age` ago (the
    /// caller asks only when the spool has nothing more for now).
    pub fn take_older(&mut self, age: Duration, now: Instant) -> Option<Item> {
        if self
            .open
            .as_ref()
            .is_some_and(|o| now.saturating_duration_since(o.since) >= age)
        {
            return self.open.take().map(Open::into_item);
        }
        None
    }

    /// The open event, at the end of the container.
    pub fn finish(&mut self) -> Option<Item> {
        self.open.take().map(Open::into_item)
    }
}

impl Open {
    fn into_item(self) -> Item {
        Item {
            event: Event {
                timestamp_ms: self.timestamp_ms,
                message: self.text,
            },
            checkpoint: self.checkpoint,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Position;
    use super::*;

    fn line(n: u64, text: &str) -> Item {
        Item {
            event: Event {
                timestamp_ms: n as i64 * 1000,
                message: text.to_string(),
            },
            checkpoint: Position {
                inode: 1,
                offset: n * 100,
            },
        }
    }

    /// Feeds `lines` and then ends the container: the events, each with its
    /// time and checkpoint.
    fn group(start: &str, lines: &[&str]) -> Vec<(String, i64, u64)> {
        let mut m = Multiline::new(start).unwrap();
        let now = Instant::now();
        let mut out: Vec<Item> = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            out.extend(m.push(line(i as u64 + 1, l), now));
        }
        out.extend(m.finish());
        out.into_iter()
            .map(|i| (i.event.message, i.event.timestamp_ms, i.checkpoint.offset))
            .collect()
    }

    #[test]
    fn a_matching_line_starts_an_event_and_the_others_join_it() {
        let trace = [
            "2024-03-05 10:00:00 ERROR boom",
            "java.lang.IllegalStateException: x",
            "\tat a.B.c(B.java:1)",
            "\tat a.B.main(B.java:9)",
            "2024-03-05 10:00:01 INFO next",
        ];
        let got = group(&crate::task::strftime::datetime_pattern("%Y-%m-%d"), &trace);
        assert_eq!(
            got,
            [
                (
                    "2024-03-05 10:00:00 ERROR boom\njava.lang.IllegalStateException: x\n\tat a.B.c(B.java:1)\n\tat a.B.main(B.java:9)\n".to_string(),
                    1000,
                    400
                ),
                ("2024-03-05 10:00:01 INFO next\n".to_string(), 5000, 500),
            ]
        );
    }

    #[test]
    fn lines_before_the_first_match_are_an_event_and_the_pattern_is_not_anchored() {
        // moby's TestCollectBatchMultilinePattern: two lines, then a match.
        let got = group("xxxx", &["a", "b", "1 xxxx c"]);
        let msgs: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
        assert_eq!(msgs, ["a\nb\n", "1 xxxx c\n"]);
        // Every line matching: one event each.
        let got = group("^", &["a", "b"]);
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn an_event_never_passes_the_event_size() {
        let big = "y".repeat(MAX_EVENT_BYTES - 10);
        // 262,108 + 1 bytes, then 8 + 1 more fill it exactly, then 1 + 1
        // do not fit.
        let got = group("^START", &[&big, "12345678", "z"]);
        let lens: Vec<usize> = got.iter().map(|g| g.0.len()).collect();
        assert_eq!(lens, [MAX_EVENT_BYTES, 2]);
        // A piece of a long line (the event size) goes alone, no `\n`.
        let piece = "p".repeat(MAX_EVENT_BYTES);
        let got = group("^START", &["START", &piece, "rest", "more"]);
        let msgs: Vec<String> = got.iter().map(|g| g.0.clone()).collect();
        assert_eq!(msgs, ["START\n".to_string(), piece, "rest\nmore\n".into()]);
    }

    #[test]
    fn an_open_event_goes_once_its_first_line_is_old_enough() {
        let mut m = Multiline::new("^S").unwrap();
        let t0 = Instant::now();
        assert!(m.push(line(1, "S one"), t0).is_none());
        assert!(m
            .push(line(2, "  two"), t0 + Duration::from_secs(4))
            .is_none());
        let wait = Duration::from_secs(5);
        assert!(m.take_older(wait, t0 + Duration::from_secs(4)).is_none());
        let e = m.take_older(wait, t0 + wait).unwrap();
        assert_eq!(e.event.message, "S one\n  two\n");
        assert_eq!(e.checkpoint.offset, 200, "its last line's checkpoint");
        // Nothing open: nothing to take, and a line after it starts anew.
        assert!(m.take_older(wait, t0 + wait * 3).is_none());
        assert!(m.push(line(3, "  three"), t0 + wait).is_none());
        assert_eq!(m.finish().unwrap().event.message, "  three\n");
        assert!(m.finish().is_none());
    }
}
