//! ECS_IMAGE_CLEANUP_FREE_SPACE_THRESHOLD (ours): the free space the image
//! filesystem should keep, as a share of its size or as a byte count.

use std::fmt;

use super::values::Expected;

/// How much free space image cleanup keeps on the image filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreeSpaceThreshold {
    /// Whole percent of the filesystem's size, 1 to 99.
    Percent(u8),
    /// Bytes.
    Bytes(u64),
}

impl FreeSpaceThreshold {
    /// `15%`, or a byte count with an optional unit: `500MB`, `2GiB`, `1048576`.
    pub(crate) fn parse(s: &str) -> Result<Self, Expected> {
        let expected = || {
            "a percentage of the image filesystem from 1% to 99% (e.g. 15%) or a size in bytes \
             with an optional unit B, KB, MB, GB, TB, KiB, MiB, GiB, TiB (e.g. 2GiB)"
                .to_string()
        };
        let s = s.trim();
        if let Some(p) = s.strip_suffix('%') {
            return match p.trim().parse::<u8>() {
                Ok(n) if (1..=99).contains(&n) => Ok(Self::Percent(n)),
                _ => Err(expected()),
            };
        }
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (digits, unit) = s.split_at(split);
        let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "kb" => 1_000,
            "mb" => 1_000_000,
            "gb" => 1_000_000_000,
            "tb" => 1_000_000_000_000,
            "kib" => 1 << 10,
            "mib" => 1 << 20,
            "gib" => 1 << 30,
            "tib" => 1 << 40,
            _ => return Err(expected()),
        };
        match digits
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(multiplier))
        {
            Some(n) if n > 0 => Ok(Self::Bytes(n)),
            _ => Err(expected()),
        }
    }

    /// The free bytes wanted on a filesystem of `total` bytes.
    pub fn wanted_bytes(self, total: u64) -> u64 {
        match self {
            Self::Percent(p) => total / 100 * u64::from(p) + total % 100 * u64::from(p) / 100,
            Self::Bytes(n) => n,
        }
    }

    /// Whether `available` of `total` bytes is enough.
    pub fn is_met(self, available: u64, total: u64) -> bool {
        available >= self.wanted_bytes(total)
    }
}

impl fmt::Display for FreeSpaceThreshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Percent(p) => write!(f, "{p}%"),
            Self::Bytes(n) => write!(f, "{n} bytes"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FreeSpaceThreshold as T;

    #[test]
    fn percentages_and_sizes_parse() {
        assert_eq!(T::parse("15%"), Ok(T::Percent(15)));
        assert_eq!(T::parse(" 1 % "), Ok(T::Percent(1)));
        assert_eq!(T::parse("2GiB"), Ok(T::Bytes(2 << 30)));
        assert_eq!(T::parse("500MB"), Ok(T::Bytes(500_000_000)));
        assert_eq!(T::parse("500 mib"), Ok(T::Bytes(500 << 20)));
        assert_eq!(T::parse("1048576"), Ok(T::Bytes(1 << 20)));
        for bad in [
            "0%",
            "100%",
            "-5%",
            "x%",
            "0",
            "",
            "5XB",
            "1.5GB",
            "-1",
            "GB",
            "99999999999999999999",
            "18446744073709551615TiB",
        ] {
            assert!(T::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_threshold_is_met_at_or_above_it() {
        let total = 1_000_000_000u64;
        assert!(T::Percent(10).is_met(100_000_000, total));
        assert!(!T::Percent(10).is_met(99_999_999, total));
        assert!(T::Bytes(5).is_met(5, total));
        assert!(!T::Bytes(5).is_met(4, total));
        // No overflow on the largest filesystems.
        assert_eq!(
            T::Percent(99).wanted_bytes(u64::MAX),
            u64::MAX / 100 * 99 + 15 * 99 / 100
        );
    }
}
