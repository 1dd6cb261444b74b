//! JSON values printed the way Go's encoding/json prints them, so that
//! clients written against the Go agent parse ours unchanged.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};

/// A time printed as Go prints `time.Time` in UTC (RFC 3339 with the
/// fraction's trailing zeros dropped: `2023-01-02T03:04:05.12Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoTime(pub SystemTime);

impl GoTime {
    /// Go's zero time (`0001-01-01T00:00:00Z`), which Docker stats print for
    /// a missing previous read.
    pub const ZERO_TEXT: &'static str = "0001-01-01T00:00:00Z";
}

pub fn format_go_time(t: SystemTime) -> String {
    let (secs, nanos) = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(e) => {
            // Before 1970: count back, keeping nanos positive.
            let d = e.duration();
            let mut s = -(d.as_secs() as i64);
            let mut n = d.subsec_nanos();
            if n > 0 {
                s -= 1;
                n = 1_000_000_000 - n;
            }
            (s, n)
        }
    };
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut out = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    );
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl Serialize for GoTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_go_time(self.0))
    }
}

/// A float64 printed as Go prints it: integral values without `.0`
/// (`"CPU": 2`, `"CPU": 0.25`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GoFloat(pub f64);

impl Serialize for GoFloat {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
            s.serialize_i64(v as i64)
        } else {
            s.serialize_f64(v)
        }
    }
}

/// Serialize `Vec<(k, v)>` as a JSON object (Go `map[string]string`, which
/// encoding/json prints with sorted keys; later duplicates win).
pub fn sorted_map(pairs: &[(String, String)]) -> std::collections::BTreeMap<String, String> {
    pairs.iter().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_print_like_go_rfc3339nano() {
        assert_eq!(format_go_time(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::new(1_601_599_386, 202_617_000);
        assert_eq!(format_go_time(t), "2020-10-02T00:43:06.202617Z");
        let t = UNIX_EPOCH + Duration::new(951_782_400, 5);
        assert_eq!(format_go_time(t), "2000-02-29T00:00:00.000000005Z");
        let t = UNIX_EPOCH + Duration::new(4_102_444_799, 0);
        assert_eq!(format_go_time(t), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn floats_print_like_go() {
        let j = |v| serde_json::to_string(&GoFloat(v)).unwrap();
        assert_eq!(j(2.0), "2");
        assert_eq!(j(0.25), "0.25");
        assert_eq!(j(1024.0), "1024");
    }
}
