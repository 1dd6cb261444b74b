//! JSON values printed the way Go's encoding/json prints them, so that
//! clients written against the Go agent parse ours unchanged.

use std::time::SystemTime;

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

pub use super::gotime::format_go_time;

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
    use std::time::{Duration, UNIX_EPOCH};

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
