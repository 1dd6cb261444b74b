//! PutLogEvents batches within CloudWatch Logs' limits, as moby's awslogs
//! driver builds them (daemon/logger/awslogs/cloudwatchlogs.go: `perEventBytes`,
//! `maximumBytesPerPut`, `maximumLogEventsPerPut`, `maximumBytesPerEvent`,
//! `findValidSplit`, events sorted by time before the put), plus the API's
//! 24-hour span, which moby leaves to the service to refuse. Pure: moto does
//! not enforce any of these, so the tests here are what keeps them.

/// Overhead CloudWatch counts for each event in a batch's size.
pub const PER_EVENT_BYTES: usize = 26;
/// A batch's size: the UTF-8 bytes of its messages plus 26 per event.
pub const MAX_BATCH_BYTES: usize = 1_048_576;
pub const MAX_BATCH_EVENTS: usize = 10_000;
/// One event's message (256 KiB counting its overhead); longer lines are split.
pub const MAX_EVENT_BYTES: usize = 262_144 - PER_EVENT_BYTES;
/// The newest and oldest event of one batch are at most this far apart.
pub const MAX_SPAN_MS: i64 = 24 * 60 * 60 * 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Unix milliseconds.
    pub timestamp_ms: i64,
    pub message: String,
}

impl Event {
    fn size(&self) -> usize {
        self.message.len() + PER_EVENT_BYTES
    }
}

/// `text` in pieces of at most [`MAX_EVENT_BYTES`], never inside a
/// character (moby's `findValidSplit`); an empty text has no piece.
pub fn split(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut cut = rest.len().min(MAX_EVENT_BYTES);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    out
}

/// Events gathered for one PutLogEvents call.
#[derive(Debug, Default)]
pub struct Batch {
    events: Vec<Event>,
    bytes: usize,
    oldest_ms: i64,
    newest_ms: i64,
}

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Bytes as CloudWatch counts them.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether `e` may join without breaking a limit (an empty batch takes
    /// any event [`split`] made).
    pub fn fits(&self, e: &Event) -> bool {
        if self.events.is_empty() {
            return true;
        }
        self.events.len() < MAX_BATCH_EVENTS
            && self.bytes + e.size() <= MAX_BATCH_BYTES
            && e.timestamp_ms.max(self.newest_ms) - e.timestamp_ms.min(self.oldest_ms)
                <= MAX_SPAN_MS
    }

    /// Adds `e`; the caller checked [`Batch::fits`].
    pub fn push(&mut self, e: Event) {
        if self.events.is_empty() {
            self.oldest_ms = e.timestamp_ms;
            self.newest_ms = e.timestamp_ms;
        }
        self.oldest_ms = self.oldest_ms.min(e.timestamp_ms);
        self.newest_ms = self.newest_ms.max(e.timestamp_ms);
        self.bytes += e.size();
        self.events.push(e);
    }

    /// The events in time order (stable: equal times keep the order read;
    /// stdout and stderr are written by two threads and may cross), and an
    /// empty batch left behind.
    pub fn take(&mut self) -> Vec<Event> {
        let mut events = std::mem::take(&mut self.events);
        events.sort_by_key(|e| e.timestamp_ms);
        *self = Batch::new();
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ts: i64, n: usize) -> Event {
        Event {
            timestamp_ms: ts,
            message: "x".repeat(n),
        }
    }

    /// Fills batches the way the shipper does: a new one when the next
    /// event does not fit.
    fn batches(events: Vec<Event>) -> Vec<Vec<Event>> {
        let mut out = Vec::new();
        let mut b = Batch::new();
        for e in events {
            if !b.fits(&e) {
                out.push(b.take());
            }
            b.push(e);
        }
        if !b.is_empty() {
            out.push(b.take());
        }
        out
    }

    #[test]
    fn at_most_10000_events() {
        let out = batches((0..25_000).map(|i| ev(i, 1)).collect());
        let sizes: Vec<usize> = out.iter().map(Vec::len).collect();
        assert_eq!(sizes, [10_000, 10_000, 5_000]);
    }

    #[test]
    fn at_most_1048576_bytes_counting_26_per_event() {
        // 1000-byte messages count 1026: 1022 of them make 1,048,572 bytes.
        let out = batches((0..2100).map(|i| ev(i, 1000)).collect());
        let sizes: Vec<usize> = out.iter().map(Vec::len).collect();
        assert_eq!(sizes, [1022, 1022, 56]);
        for b in &out {
            let bytes: usize = b.iter().map(|e| e.message.len() + 26).sum();
            assert!(bytes <= MAX_BATCH_BYTES, "{bytes}");
        }
        // Exactly at the limit still fits.
        let mut b = Batch::new();
        b.push(ev(0, MAX_EVENT_BYTES));
        b.push(ev(0, MAX_EVENT_BYTES));
        b.push(ev(0, MAX_EVENT_BYTES));
        let left = MAX_BATCH_BYTES - b.bytes() - PER_EVENT_BYTES;
        assert!(b.fits(&ev(0, left)));
        assert!(!b.fits(&ev(0, left + 1)));
    }

    #[test]
    fn one_batch_spans_at_most_24_hours_either_way() {
        let mut b = Batch::new();
        b.push(ev(MAX_SPAN_MS, 1));
        assert!(b.fits(&ev(0, 1)));
        assert!(b.fits(&ev(2 * MAX_SPAN_MS, 1)));
        assert!(!b.fits(&ev(-1, 1)));
        assert!(!b.fits(&ev(2 * MAX_SPAN_MS + 1, 1)));
        let out = batches(vec![ev(0, 1), ev(MAX_SPAN_MS, 1), ev(MAX_SPAN_MS + 1, 1)]);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn events_go_out_in_time_order_stably() {
        let mut b = Batch::new();
        for (ts, m) in [(5, "a"), (3, "b"), (5, "c"), (1, "d")] {
            b.push(Event {
                timestamp_ms: ts,
                message: m.into(),
            });
        }
        let msgs: Vec<String> = b.take().into_iter().map(|e| e.message).collect();
        assert_eq!(msgs, ["d", "b", "a", "c"]);
        assert!(b.is_empty() && b.bytes() == 0);
    }

    #[test]
    fn long_lines_split_at_262118_bytes_on_character_boundaries() {
        assert_eq!(MAX_EVENT_BYTES, 262_118);
        assert!(split("").is_empty());
        let line = "a".repeat(MAX_EVENT_BYTES * 2 + 5);
        let parts = split(&line);
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [MAX_EVENT_BYTES, MAX_EVENT_BYTES, 5]
        );
        // A 3-byte character straddling the limit goes whole to the next piece.
        let line = format!("{}€tail", "a".repeat(MAX_EVENT_BYTES - 1));
        let parts = split(&line);
        assert_eq!(parts[0].len(), MAX_EVENT_BYTES - 1);
        assert_eq!(parts[1], "€tail");
        assert_eq!(parts.concat(), line);
    }
}
