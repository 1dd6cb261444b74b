//! containerd's version string as its Version service reports it, and the
//! oldest release this agent runs on.

use std::fmt;

/// The oldest containerd this agent supports. 1.6 is the oldest release
/// still shipped by the distributions it targets (Debian 12); older ones lack
/// what the runtime layer relies on (the runc v2 shim's binary:// logging
/// with a ready fd, for one) and are out of upstream support.
pub const OLDEST_SUPPORTED: Release = Release {
    major: 1,
    minor: 6,
    patch: 0,
};

/// major.minor.patch of a containerd release; what follows (Debian's
/// `~ds1`, `+unknown`, `-rc.1`, a git describe) is left out of comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Release {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl Release {
    /// Reads what `Version.Version` returns: upstream builds say `v1.7.24`,
    /// Debian's `1.7.24~ds1` or `2.1.9+unknown`. `None` when it does not
    /// start with at least major.minor (a custom build's own string).
    pub fn parse(version: &str) -> Option<Release> {
        let v = version.trim();
        let v = v.strip_prefix('v').unwrap_or(v);
        let mut parts = v.splitn(3, '.');
        let major = number(parts.next()?)?;
        let minor = number(parts.next()?)?;
        // The patch number ends at the first non-digit; a missing one is 0.
        let patch = parts.next().map(leading_number).unwrap_or(Some(0))?;
        Some(Release {
            major,
            minor,
            patch,
        })
    }

    /// Older than [`OLDEST_SUPPORTED`].
    pub fn unsupported(&self) -> bool {
        *self < OLDEST_SUPPORTED
    }
}

fn number(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn leading_number(s: &str) -> Option<u32> {
    let end = s.bytes().take_while(u8::is_ascii_digit).count();
    number(&s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(major: u32, minor: u32, patch: u32) -> Release {
        Release {
            major,
            minor,
            patch,
        }
    }

    /// The strings seen from each version's Version service: Debian 12,
    /// 13 and unstable (their packages here), and upstream's release builds.
    #[test]
    fn reads_debian_and_upstream_version_strings() {
        assert_eq!(Release::parse("1.6.20~ds1"), Some(r(1, 6, 20)));
        assert_eq!(Release::parse("1.7.24~ds1"), Some(r(1, 7, 24)));
        assert_eq!(Release::parse("2.1.9+unknown"), Some(r(2, 1, 9)));
        assert_eq!(Release::parse("v1.7.27"), Some(r(1, 7, 27)));
        assert_eq!(Release::parse("v2.0.0-rc.3"), Some(r(2, 0, 0)));
        assert_eq!(Release::parse("1.5"), Some(r(1, 5, 0)));
        assert_eq!(Release::parse(" v1.4.13 "), Some(r(1, 4, 13)));
    }

    #[test]
    fn a_string_without_major_and_minor_is_not_a_release() {
        for s in [
            "",
            "dev",
            "v",
            "1",
            "1.",
            ".6.1",
            "1.x.0",
            "main-abcdef",
            "v1.-6.0",
        ] {
            assert_eq!(Release::parse(s), None, "{s:?}");
        }
    }

    #[test]
    fn releases_order_numerically_not_as_text() {
        assert!(r(1, 10, 0) > r(1, 9, 9));
        assert!(r(2, 0, 0) > r(1, 99, 99));
        assert!(r(1, 6, 2) < r(1, 6, 10));
    }

    #[test]
    fn only_releases_before_1_6_are_unsupported() {
        let unsupported = |s: &str| Release::parse(s).unwrap().unsupported();
        assert!(unsupported("1.5.18"));
        assert!(unsupported("v1.4.13"));
        assert!(unsupported("0.2.3"));
        assert!(!unsupported("1.6.0"));
        assert!(!unsupported("1.6.20~ds1"));
        assert!(!unsupported("1.7.24~ds1"));
        assert!(!unsupported("2.1.9+unknown"));
        assert_eq!(OLDEST_SUPPORTED.to_string(), "1.6.0");
    }
}
