//! Docker's json-file record, byte for byte as moby writes it
//! (daemon/logger/jsonfilelog/jsonlog/jsonlogbytes.go `MarshalJSONBuf` and
//! `ffjsonWriteJSONBytesAsString`, time_marshalling.go): fields in the order
//! `log`, `stream`, `time`; `time` in Go's RFC3339Nano (UTC, `Z`, trailing
//! zeros of the fraction dropped); one record per line.

use std::time::SystemTime;

/// Appends one record and its newline to `out`. `log` is the bytes as the
/// container wrote them (with their `\n`, unless it is a partial piece).
pub fn record(out: &mut Vec<u8>, log: &[u8], stream: &str, time: SystemTime) {
    out.extend_from_slice(b"{");
    // moby leaves out an empty `log` (omitempty); our pieces never are.
    if !log.is_empty() {
        out.extend_from_slice(b"\"log\":");
        string(out, log);
        out.extend_from_slice(b",");
    }
    out.extend_from_slice(b"\"stream\":");
    string(out, stream.as_bytes());
    out.extend_from_slice(b",\"time\":\"");
    rfc3339_nano(out, time);
    out.extend_from_slice(b"\"}\n");
}

/// A JSON string as moby's `ffjsonWriteJSONBytesAsString` writes it: `<`,
/// `>`, `&`, U+2028 and U+2029 escaped (as Go's HTML-safe encoder), `\n`
/// and `\r` short, other controls as `\u00XX` (tab too), each byte of
/// invalid UTF-8 as `\ufffd`.
pub fn string(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b < 0x80 {
            if b >= 0x20 && !matches!(b, b'\\' | b'"' | b'<' | b'>' | b'&') {
                i += 1;
                continue;
            }
            out.extend_from_slice(&s[start..i]);
            match b {
                b'\\' | b'"' => out.extend_from_slice(&[b'\\', b]),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                _ => out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(b >> 4) as usize],
                    HEX[(b & 0xf) as usize],
                ]),
            }
            i += 1;
            start = i;
            continue;
        }
        match decode(&s[i..]) {
            None => {
                // Go's utf8.DecodeRune: RuneError, width 1.
                out.extend_from_slice(&s[start..i]);
                out.extend_from_slice(b"\\ufffd");
                i += 1;
                start = i;
            }
            Some((c, width)) if c == '\u{2028}' || c == '\u{2029}' => {
                out.extend_from_slice(&s[start..i]);
                out.extend_from_slice(if c == '\u{2028}' {
                    b"\\u2028"
                } else {
                    b"\\u2029"
                });
                i += width;
                start = i;
            }
            Some((_, width)) => i += width,
        }
    }
    out.extend_from_slice(&s[start..]);
    out.push(b'"');
}

/// The character starting `s` (not ASCII) and its width, if it is valid
/// UTF-8 (std's check refuses overlong forms, surrogates and values past
/// U+10FFFF, as Go's does).
fn decode(s: &[u8]) -> Option<(char, usize)> {
    let width = match s[0] {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return None,
    };
    let text = std::str::from_utf8(s.get(..width)?).ok()?;
    text.chars().next().map(|c| (c, width))
}

/// Go's `time.RFC3339Nano` of `t` in UTC (the library's own function).
pub fn rfc3339_nano(out: &mut Vec<u8>, t: SystemTime) {
    out.extend_from_slice(crate::gotime::format_go_time(t).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn at(secs: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    fn time(t: SystemTime) -> String {
        let mut out = Vec::new();
        rfc3339_nano(&mut out, t);
        String::from_utf8(out).unwrap()
    }

    fn esc(s: &[u8]) -> String {
        let mut out = Vec::new();
        string(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn time_is_go_rfc3339_nano_in_utc() {
        // Go's time.Unix(s, ns).UTC().Format(time.RFC3339Nano); the first
        // is moby's own case (jsonlogbytes_test.go).
        assert_eq!(time(at(1_504_227_661, 1)), "2017-09-01T01:01:01.000000001Z");
        assert_eq!(time(at(0, 0)), "1970-01-01T00:00:00Z");
        assert_eq!(
            time(at(1_700_000_000, 123_456_789)),
            "2023-11-14T22:13:20.123456789Z"
        );
        assert_eq!(
            time(at(1_700_000_000, 120_000_000)),
            "2023-11-14T22:13:20.12Z"
        );
        assert_eq!(time(at(1_709_164_800, 1)), "2024-02-29T00:00:00.000000001Z");
        assert_eq!(
            time(at(951_868_799, 999_999_999)),
            "2000-02-29T23:59:59.999999999Z"
        );
        assert_eq!(time(at(4_102_444_800, 500)), "2100-01-01T00:00:00.0000005Z");
    }

    #[test]
    fn strings_are_escaped_as_moby_escapes_them() {
        // moby's jsonlogbytes_test.go cases, then more of the same rules.
        assert_eq!(esc(b"A log line with \r"), r#""A log line with \r""#);
        assert_eq!(
            esc(b"A log line with & < >"),
            r#""A log line with \u0026 \u003c \u003e""#
        );
        let utf8 = "A log line with utf8 : \u{1F680} \u{3C8} \u{3C9} \u{3B2}";
        assert_eq!(esc(utf8.as_bytes()), format!("\"{utf8}\""));
        assert_eq!(esc("\u{2028} \u{2029}".as_bytes()), r#""\u2028 \u2029""#);
        assert_eq!(esc(&[0xaf]), r#""\ufffd""#);
        assert_eq!(esc(&[0x7f]), "\"\x7f\"");
        assert_eq!(esc(b"hello world\n"), r#""hello world\n""#);
        assert_eq!(esc(b"a\"b\\c\r\t"), r#""a\"b\\c\r\u0009""#);
        assert_eq!(esc(b"<b>&</b>"), r#""\u003cb\u003e\u0026\u003c/b\u003e""#);
        assert_eq!(esc(b"\x00\x1f\x7f"), "\"\\u0000\\u001f\x7f\"");
        assert_eq!(
            esc("caf\u{e9} \u{1F600}".as_bytes()),
            "\"caf\u{e9} \u{1F600}\""
        );
        assert_eq!(esc("x\u{2028}y\u{2029}".as_bytes()), r#""x\u2028y\u2029""#);
        // Invalid UTF-8: each bad byte becomes one U+FFFD, as Go's DecodeRune.
        assert_eq!(esc(b"a\xffb"), r#""a\ufffdb""#);
        assert_eq!(esc(b"\xe2\x82A"), r#""\ufffd\ufffdA""#);
        assert_eq!(esc(b"\xed\xa0\x80"), r#""\ufffd\ufffd\ufffd""#);
        assert_eq!(esc(b"\xc3"), r#""\ufffd""#);
    }

    #[test]
    fn a_record_has_moby_field_order() {
        let mut out = Vec::new();
        record(&mut out, b"hi\n", "stderr", at(1_700_000_000, 5));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"log\":\"hi\\n\",\"stream\":\"stderr\",\"time\":\"2023-11-14T22:13:20.000000005Z\"}\n"
        );
    }
}
