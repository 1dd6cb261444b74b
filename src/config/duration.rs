//! Go `time.ParseDuration` syntax (`30s`, `1m30s`, `1.5h`, `500ms`), because
//! every duration the Go agent reads is written that way in existing
//! ecs.config files.

use std::time::Duration;

/// Why a string is not a Go duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration")]
    Empty,
    #[error("negative durations are not allowed")]
    Negative,
    #[error("expected a number at byte {0}")]
    MissingNumber(usize),
    #[error("missing unit after the number (use ns, us, ms, s, m or h)")]
    MissingUnit,
    #[error("unknown unit {0:?} (use ns, us, ms, s, m or h)")]
    UnknownUnit(String),
    #[error("duration is too large (Go's limit is about 292 years)")]
    Overflow,
}

/// Go's limit: a duration is an int64 count of nanoseconds.
const MAX_NANOS: u128 = i64::MAX as u128;

/// Parse Go duration syntax: an optional sign, then one or more
/// `<number><unit>` pairs; the number may have a fraction. A bare `0` is
/// accepted, as in Go. Negative values are rejected because nothing we
/// configure can be negative.
pub fn parse_go_duration(input: &str) -> Result<Duration, DurationError> {
    let mut s = input;
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    let mut negative = false;
    if let Some(rest) = s.strip_prefix('-') {
        negative = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(DurationError::MissingNumber(input.len()));
    }

    let mut total: u128 = 0;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let mut whole: u128 = 0;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            whole = whole
                .checked_mul(10)
                .and_then(|w| w.checked_add(u128::from(bytes[i] - b'0')))
                .filter(|w| *w <= MAX_NANOS)
                .ok_or(DurationError::Overflow)?;
            i += 1;
        }
        let had_whole = i > start;

        // Fraction digits past 10^-30 cannot change a nanosecond count, so
        // they are read but dropped (Go does the same past its precision).
        let mut frac: u128 = 0;
        let mut scale: u128 = 1;
        let mut had_frac = false;
        if i < bytes.len() && bytes[i] == b'.' {
            i += 1;
            let frac_start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                if scale < 10u128.pow(30) {
                    frac = frac * 10 + u128::from(bytes[i] - b'0');
                    scale *= 10;
                }
                i += 1;
            }
            had_frac = i > frac_start;
        }
        if !had_whole && !had_frac {
            return Err(DurationError::MissingNumber(input.len() - s.len() + start));
        }

        let unit_start = i;
        while i < bytes.len() && !bytes[i].is_ascii_digit() && bytes[i] != b'.' {
            i += 1;
        }
        let unit = &s[unit_start..i];
        let unit_nanos: u128 = match unit {
            "" => return Err(DurationError::MissingUnit),
            "ns" => 1,
            // U+00B5 micro sign and U+03BC Greek mu, as Go accepts both.
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            other => return Err(DurationError::UnknownUnit(other.to_string())),
        };

        let component = whole
            .checked_mul(unit_nanos)
            .ok_or(DurationError::Overflow)?
            + frac * unit_nanos / scale;
        total = total
            .checked_add(component)
            .filter(|t| *t <= MAX_NANOS)
            .ok_or(DurationError::Overflow)?;
    }

    if negative && total > 0 {
        return Err(DurationError::Negative);
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| DurationError::Overflow)?;
    // The remainder of a division by 1e9 always fits in u32.
    let nanos = (total % 1_000_000_000) as u32;
    Ok(Duration::new(secs, nanos))
}

/// Render a duration the way Go's `Duration.String` would for whole units,
/// for defaults in messages (`3h0m0s` is written `3h`, which Go also parses).
pub fn format_go_duration(d: Duration) -> String {
    let total_ns = d.as_nanos();
    if total_ns == 0 {
        return "0s".to_string();
    }
    if !total_ns.is_multiple_of(1_000_000_000) {
        if total_ns.is_multiple_of(1_000_000) {
            return format!("{}ms", total_ns / 1_000_000);
        }
        if total_ns.is_multiple_of(1_000) {
            return format!("{}us", total_ns / 1_000);
        }
        return format!("{total_ns}ns");
    }
    let mut secs = d.as_secs();
    let mut out = String::new();
    let h = secs / 3600;
    secs %= 3600;
    let m = secs / 60;
    secs %= 60;
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if secs > 0 {
        out.push_str(&format!("{secs}s"));
    }
    out
}

/// Exactly Go's `time.Duration.String()` (`2h0m0s`, `5m0s`, `1.5s`, `300ms`):
/// the Go agent writes durations this way into reasons users see, such as
/// `DockerTimeoutError: ...; timed out after waiting 2h0m0s`.
pub fn go_duration_string(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".to_string();
    }
    // `whole` units, then `frac` nanoseconds below it as a decimal fraction
    // of `unit_ns` with trailing zeros dropped.
    let fraction = |frac: u128, unit_ns: u128| -> String {
        if frac == 0 {
            return String::new();
        }
        let digits = unit_ns.ilog10() as usize;
        let text = format!("{frac:0digits$}");
        format!(".{}", text.trim_end_matches('0'))
    };
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}{}\u{b5}s", ns / 1_000, fraction(ns % 1_000, 1_000));
    }
    if ns < 1_000_000_000 {
        return format!(
            "{}{}ms",
            ns / 1_000_000,
            fraction(ns % 1_000_000, 1_000_000)
        );
    }
    let secs = ns / 1_000_000_000;
    let sub = ns % 1_000_000_000;
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let seconds = format!("{s}{}s", fraction(sub, 1_000_000_000));
    match (h, m) {
        (0, 0) => seconds,
        (0, m) => format!("{m}m{seconds}"),
        (h, m) => format!("{h}h{m}m{seconds}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_duration_string_matches_go() {
        // Expected values from Go's time.Duration.String().
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_secs(2 * 3600), "2h0m0s"),
            (Duration::from_secs(300), "5m0s"),
            (Duration::from_secs(60), "1m0s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(3), "3s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_millis(300), "300ms"),
            (Duration::from_micros(1500), "1.5ms"),
            (Duration::from_micros(2), "2\u{b5}s"),
            (Duration::from_nanos(7), "7ns"),
            (Duration::new(3723, 5_000_000), "1h2m3.005s"),
        ];
        for (d, want) in cases {
            assert_eq!(go_duration_string(d), want, "{d:?}");
        }
    }

    fn ok(s: &str) -> Duration {
        parse_go_duration(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn simple_units() {
        assert_eq!(ok("30s"), Duration::from_secs(30));
        assert_eq!(ok("3m"), Duration::from_secs(180));
        assert_eq!(ok("3h"), Duration::from_secs(3 * 3600));
        assert_eq!(ok("500ms"), Duration::from_millis(500));
        assert_eq!(ok("250us"), Duration::from_micros(250));
        assert_eq!(ok("250\u{b5}s"), Duration::from_micros(250));
        assert_eq!(ok("250\u{3bc}s"), Duration::from_micros(250));
        assert_eq!(ok("7ns"), Duration::from_nanos(7));
    }

    #[test]
    fn sequences() {
        assert_eq!(ok("1m30s"), Duration::from_secs(90));
        assert_eq!(ok("1h2m3s"), Duration::from_secs(3723));
        assert_eq!(ok("1h2m3s4ms5us6ns"), Duration::new(3723, 4_005_006));
        // Go allows repeated and unordered units.
        assert_eq!(ok("1s1s"), Duration::from_secs(2));
        assert_eq!(ok("30s1m"), Duration::from_secs(90));
    }

    #[test]
    fn fractions() {
        assert_eq!(ok("1.5h"), Duration::from_secs(5400));
        assert_eq!(ok(".5s"), Duration::from_millis(500));
        assert_eq!(ok("1.s"), Duration::from_secs(1));
        assert_eq!(ok("0.001s"), Duration::from_millis(1));
        assert_eq!(ok("1.000000001s"), Duration::new(1, 1));
        assert_eq!(ok("0.1ns"), Duration::ZERO);
        assert_eq!(
            ok("1.0000000000000000000000000000000000001s"),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn zero_and_signs() {
        assert_eq!(ok("0"), Duration::ZERO);
        assert_eq!(ok("+0"), Duration::ZERO);
        assert_eq!(ok("-0"), Duration::ZERO);
        assert_eq!(ok("0s"), Duration::ZERO);
        assert_eq!(ok("-0s"), Duration::ZERO);
        assert_eq!(ok("+5s"), Duration::from_secs(5));
        assert_eq!(parse_go_duration("-5s"), Err(DurationError::Negative));
    }

    #[test]
    fn errors() {
        assert_eq!(parse_go_duration(""), Err(DurationError::Empty));
        assert_eq!(parse_go_duration("30"), Err(DurationError::MissingUnit));
        assert_eq!(parse_go_duration("1m30"), Err(DurationError::MissingUnit));
        assert_eq!(
            parse_go_duration("3d"),
            Err(DurationError::UnknownUnit("d".into()))
        );
        assert_eq!(
            parse_go_duration("30 s"),
            Err(DurationError::UnknownUnit(" s".into()))
        );
        assert_eq!(
            parse_go_duration("30S"),
            Err(DurationError::UnknownUnit("S".into()))
        );
        assert!(matches!(
            parse_go_duration("s"),
            Err(DurationError::MissingNumber(0))
        ));
        assert!(matches!(
            parse_go_duration("."),
            Err(DurationError::MissingNumber(_))
        ));
        assert!(matches!(
            parse_go_duration(".s"),
            Err(DurationError::MissingNumber(_))
        ));
        assert!(matches!(
            parse_go_duration("-"),
            Err(DurationError::MissingNumber(_))
        ));
        assert!(matches!(
            parse_go_duration("1h.m"),
            Err(DurationError::MissingNumber(_))
        ));
    }

    #[test]
    fn overflow_at_go_limit() {
        // 2562047h47m16.854775807s is Go's maximum.
        assert_eq!(
            ok("2562047h47m16.854775807s"),
            Duration::new(9_223_372_036, 854_775_807)
        );
        assert_eq!(parse_go_duration("2562048h"), Err(DurationError::Overflow));
        assert_eq!(
            parse_go_duration("9223372036854775808ns"),
            Err(DurationError::Overflow)
        );
        assert_eq!(
            parse_go_duration("99999999999999999999999999999999999999999h"),
            Err(DurationError::Overflow)
        );
    }

    #[test]
    fn formatting() {
        assert_eq!(format_go_duration(Duration::from_secs(30)), "30s");
        assert_eq!(format_go_duration(Duration::from_secs(180)), "3m");
        assert_eq!(format_go_duration(Duration::from_secs(3 * 3600)), "3h");
        assert_eq!(format_go_duration(Duration::from_secs(3723)), "1h2m3s");
        assert_eq!(format_go_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(format_go_duration(Duration::from_micros(5)), "5us");
        assert_eq!(format_go_duration(Duration::from_nanos(5)), "5ns");
        assert_eq!(format_go_duration(Duration::ZERO), "0s");
        for d in ["30s", "3m", "3h", "1h2m3s", "500ms", "5us", "5ns"] {
            assert_eq!(format_go_duration(ok(d)), d);
        }
    }
}
