//! `awslogs-datetime-format`: the strftime-like format Docker's awslogs
//! driver turns into the regular expression a line that starts a new event
//! matches (moby daemon/logger/awslogs/cloudwatchlogs.go,
//! `parseMultilineOptions` and its `strftimeToRegex` table).
//!
//! Docker's rules, kept here so that a task definition groups its lines as
//! it did under Docker:
//! - each `%` and the character after it is replaced: a directive of the
//!   table by its expression, any other (`%e`, `%T`, even `%%`) by nothing;
//!   a `%` that ends the format (or is followed by a newline) stays as it is;
//! - everything else is regular-expression syntax, not escaped: Docker's own
//!   documentation writes `\[%b %d, %Y %H:%M:%S\]`, so `[` must be escaped
//!   by the user and a `.` matches any character;
//! - the expression is not anchored: a line matches when the date is
//!   anywhere in it (Go's `Regexp.Match`).

/// Docker's directives and what each matches. Digits are spelled `[0-9]`
/// where Go's RE2 writes `\d` (ASCII there; Unicode digits in the `regex`
/// crate). The commas inside some classes are Docker's (they match a comma
/// too) and kept, so that a line groups exactly as under Docker.
const DIRECTIVES: &[(char, &str)] = &[
    // Weekday: short, full, 0-6 from Sunday.
    ('a', "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"),
    (
        'A',
        "(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)",
    ),
    ('w', "[0-6]"),
    // Day of the month, zero-padded.
    ('d', "(?:0[1-9]|[1,2][0-9]|3[0,1])"),
    // Month: short, full, zero-padded number.
    ('b', "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"),
    (
        'B',
        "(?:January|February|March|April|May|June|July|August|September|October|November|December)",
    ),
    ('m', "(?:0[1-9]|1[0-2])"),
    // Year with century, and without (zero-padded).
    ('Y', "[0-9]{4}"),
    ('y', "[0-9]{2}"),
    // Hour on 24 and on 12 hours (zero-padded), AM or PM.
    ('H', "(?:[0,1][0-9]|2[0-3])"),
    ('I', "(?:0[0-9]|1[0-2])"),
    ('p', "[A,P]M"),
    // Minute, second, microseconds (6 digits).
    ('M', "[0-5][0-9]"),
    ('S', "[0-5][0-9]"),
    ('f', "[0-9]{6}"),
    // UTC offset (+hhmm), time zone name ending in T (UTC, NZDT).
    ('z', "[+-][0-9]{4}"),
    ('Z', "[A-Z]{1,4}T"),
    // Day of the year, zero-padded.
    ('j', "(?:0[0-9][1-9]|[1,2][0-9][0-9]|3[0-5][0-9]|36[0-6])"),
    // Milliseconds with their dot.
    ('L', "\\.[0-9]{3}"),
];

/// The regular expression (source) Docker makes of `format`.
pub fn datetime_pattern(format: &str) -> String {
    let mut out = String::with_capacity(format.len() * 4);
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            // Go's `%.` does not match a newline, nor a lone `%` at the end.
            None | Some('\n') => out.push('%'),
            Some(d) => {
                chars.next();
                if let Some((_, re)) = DIRECTIVES.iter().find(|(k, _)| *k == d) {
                    out.push_str(re);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    fn matches(format: &str, line: &str) -> bool {
        Regex::new(&datetime_pattern(format))
            .unwrap()
            .is_match(line)
    }

    #[test]
    fn the_formats_docker_tests_match() {
        // moby's TestParseLogOptionsDatetimeFormat cases.
        for (format, line) in [
            (
                "%d/%m/%y %a %H:%M:%S%L %Z",
                "31/12/10 Mon 08:42:44.345 NZDT",
            ),
            (
                "%Y-%m-%d %A %I:%M:%S.%f%p%z",
                "2007-12-04 Monday 08:42:44.123456AM+1200",
            ),
            (
                "%b|%b|%b|%b|%b|%b|%b|%b|%b|%b|%b|%b",
                "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec",
            ),
            (
                "%B|%B|%B|%B|%B|%B|%B|%B|%B|%B|%B|%B",
                "January|February|March|April|May|June|July|August|September|October|November|December",
            ),
            (
                "%A|%A|%A|%A|%A|%A|%A",
                "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday",
            ),
            ("%a|%a|%a|%a|%a|%a|%a", "Mon|Tue|Wed|Thu|Fri|Sat|Sun"),
            (
                "Day of the week: %w, Day of the year: %j",
                "Day of the week: 4, Day of the year: 091",
            ),
        ] {
            assert!(matches(format, line), "{format} / {line}");
        }
    }

    #[test]
    fn each_directive_takes_its_values_only() {
        let iso = "%Y-%m-%d %H:%M:%S";
        assert!(matches(iso, "2024-02-29 23:59:59 started"));
        for bad in [
            "2024-13-01 00:00:00",
            "2024-00-10 00:00:00",
            "2024-01-32 00:00:00",
            "2024-01-01 24:00:00",
            "2024-01-01 00:60:00",
            "24-01-01 00:00:00",
            "\tat com.example.Main.run(Main.java:10)",
        ] {
            assert!(!matches(iso, bad), "{bad}");
        }
        assert!(matches("%I:%M %p", "12:30 PM"));
        assert!(!matches("%I:%M %p", "13:30 PM"));
        assert!(matches("%z", "+0530") && !matches("%z", "0530"));
        assert!(matches("%Z", "UTC") && !matches("%Z", "utc"));
        assert!(matches("%S%L", "59.123") && !matches("%S%L", "59,123"));
        assert!(matches("%f", "123456") && !matches("%f", "12345"));
        assert!(matches("%j", "366") && !matches("%j", "367"));
        assert!(matches("%w", "6") && !matches("%w", "7"));
    }

    #[test]
    fn the_rest_is_regex_and_unknown_directives_vanish_as_in_docker() {
        assert_eq!(datetime_pattern("%Y"), "[0-9]{4}");
        // Docker's documented example: brackets escaped by the user.
        assert!(matches(
            "\\[%b %d, %Y %H:%M:%S\\]",
            "[Mar 05, 2024 10:00:01] GET /"
        ));
        // Not anchored: a date anywhere in the line matches (Go's Match).
        assert!(matches("%Y-%m-%d", "level=info at 2024-03-05"));
        assert!(matches("^%Y-%m-%d", "2024-03-05 x") && !matches("^%Y-%m-%d", " 2024-03-05"));
        // Directives Docker's table lacks (and %%) are replaced by nothing.
        assert_eq!(datetime_pattern("%e%T%%x"), "x");
        // A % with nothing (or a newline) after it stays.
        assert_eq!(datetime_pattern("100%"), "100%");
        assert_eq!(datetime_pattern("%\n"), "%\n");
        // Characters beyond ASCII pass through whole.
        assert_eq!(datetime_pattern("é%Yé"), "é[0-9]{4}é");
    }
}
