//! Parsers for the value formats ECS_* variables use. Each returns, on
//! failure, the description of what is accepted; the caller pairs it with the
//! variable name and the value into a `ConfigError`.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// What a value should have looked like, e.g. "a whole number of MiB (e.g. 256)".
pub(crate) type Expected = String;

/// Go's `strconv.ParseBool`.
pub(crate) fn parse_bool(s: &str) -> Result<bool, Expected> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => {
            Err("a boolean: true or false (also 1, t, T, TRUE, True, 0, f, F, FALSE, False)".into())
        }
    }
}

pub(crate) fn parse_mib(s: &str) -> Result<u16, Expected> {
    // u16 as in the Go agent; digits only, no sign, no unit.
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err("a whole number of MiB (e.g. 256)".into());
    }
    s.parse::<u16>()
        .map_err(|_| "a whole number of MiB no larger than 65535 (e.g. 256)".into())
}

/// A JSON array of port numbers, e.g. `[22, 2375]`.
pub(crate) fn parse_ports(s: &str) -> Result<Vec<u16>, Expected> {
    let expected = || "a JSON array of port numbers 0-65535, like [22, 2375, 2376]".to_string();
    let ports: Vec<u16> = serde_json::from_str(s).map_err(|_| expected())?;
    Ok(ports)
}

/// A JSON object of strings to strings, e.g. `{"stack": "prod"}`.
pub(crate) fn parse_string_map(s: &str) -> Result<BTreeMap<String, String>, Expected> {
    serde_json::from_str(s).map_err(|_| {
        "a JSON object whose values are all strings, like {\"stack\": \"prod\"}".to_string()
    })
}

/// Maximum custom attributes ECS accepts per container instance.
const MAX_ATTRIBUTES: usize = 10;

/// Custom attributes, validated as the ECS API does (Attribute shape:
/// name 1-128 of letters, digits, `-_/\.`; value 1-128 of letters, digits,
/// `-_.@/\:` and spaces, not starting or ending with a space). The Go agent
/// leaves this to RegisterContainerInstance; failing at start-up is clearer.
/// `ECS_DETAILED_OS_FAMILY`: registered as the value of the
/// `ecs.os-type-detailed` attribute, so it follows ECS's attribute values.
pub(crate) fn parse_os_family(s: &str) -> Result<String, Expected> {
    let ok = (1..=128).contains(&s.chars().count())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@/\\:".contains(c));
    if ok {
        Ok(s.to_string())
    } else {
        Err(
            "1-128 letters, digits, hyphens, underscores, periods, at signs, slashes or colons, \
             e.g. amzn_2023"
                .into(),
        )
    }
}

pub(crate) fn validate_attributes(map: &BTreeMap<String, String>) -> Result<(), Expected> {
    if map.len() > MAX_ATTRIBUTES {
        return Err(format!(
            "at most {MAX_ATTRIBUTES} attributes (ECS limit), found {}",
            map.len()
        ));
    }
    for (name, value) in map {
        let name_ok = (1..=128).contains(&name.chars().count())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_/\\.".contains(c));
        if !name_ok {
            return Err(format!(
                "attribute names of 1-128 letters, digits, hyphens, underscores, periods, \
                 forward or back slashes; {name:?} is not"
            ));
        }
        let value_ok = (1..=128).contains(&value.chars().count())
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.@/\\: ".contains(c))
            && !value.starts_with(' ')
            && !value.ends_with(' ');
        if !value_ok {
            return Err(format!(
                "attribute values of 1-128 letters, digits, hyphens, underscores, periods, at signs, \
                 forward or back slashes, colons or inner spaces; the value of {name:?} is not"
            ));
        }
    }
    Ok(())
}

/// Maximum tags per ECS resource.
const MAX_TAGS: usize = 50;

/// Tags, validated as the ECS API does (TagKey 1-128 / TagValue 0-256
/// characters matching `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`, no `aws:` prefix).
pub(crate) fn validate_tags(map: &BTreeMap<String, String>) -> Result<(), Expected> {
    if map.len() > MAX_TAGS {
        return Err(format!(
            "at most {MAX_TAGS} tags (ECS limit), found {}",
            map.len()
        ));
    }
    let tag_char = |c: char| {
        c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()) || "_.:/=+-@".contains(c)
    };
    let reserved = |s: &str| s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:"));
    for (key, value) in map {
        if !(1..=128).contains(&key.chars().count()) || !key.chars().all(tag_char) || reserved(key)
        {
            return Err(format!(
                "tag keys of 1-128 letters, digits, spaces or _.:/=+-@, not starting with \"aws:\"; \
                 {key:?} is not"
            ));
        }
        if value.chars().count() > 256 || !value.chars().all(tag_char) || reserved(value) {
            return Err(format!(
                "tag values of 0-256 letters, digits, spaces or _.:/=+-@, not starting with \"aws:\"; \
                 the value of {key:?} is not"
            ));
        }
    }
    Ok(())
}

/// containerd's identifier rule (namespaces, container ids): alphanumeric
/// runs joined by single `.`, `_` or `-`, at most 76 characters.
pub(crate) fn validate_containerd_namespace(s: &str) -> Result<(), Expected> {
    let expected = || {
        "a containerd namespace: at most 76 letters and digits, joined by single '.', '_' or '-' \
         (e.g. ecs)"
            .to_string()
    };
    if s.len() > 76 || s.is_empty() {
        return Err(expected());
    }
    let mut prev_sep = true; // the first character must be alphanumeric
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            prev_sep = false;
        } else if matches!(c, '.' | '_' | '-') && !prev_sep {
            prev_sep = true;
        } else {
            return Err(expected());
        }
    }
    if prev_sep {
        return Err(expected());
    }
    // Namespaces other container managers own and garbage-collect: kubelet
    // removes images in k8s.io that no pod uses, dockerd's containerd image
    // store prunes moby's. The agent's images and containers must not sit
    // where someone else deletes them.
    if let Some((_, owner)) = OTHER_OWNERS.iter().find(|(ns, _)| *ns == s) {
        return Err(format!(
            "a containerd namespace of the agent's own, not {owner}'s (e.g. ecs)"
        ));
    }
    Ok(())
}

/// containerd namespaces used by other container managers: (namespace, owner).
const OTHER_OWNERS: &[(&str, &str)] = &[("k8s.io", "Kubernetes (CRI)"), ("moby", "Docker")];

/// A cluster name as ECS accepts it (1-255 letters, digits, hyphens,
/// underscores) or a cluster ARN, which the API also takes.
pub(crate) fn validate_cluster(s: &str) -> Result<(), Expected> {
    let name_ok = |n: &str| {
        (1..=255).contains(&n.len())
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let arn_ok = s.starts_with("arn:")
        && s.split(':').count() == 6
        && s.rsplit_once(":cluster/")
            .is_some_and(|(_, name)| name_ok(name));
    if name_ok(s) || arn_ok {
        Ok(())
    } else {
        Err(
            "a cluster name of 1-255 letters, digits, hyphens and underscores, or a cluster ARN \
             (arn:aws:ecs:REGION:ACCOUNT:cluster/NAME)"
                .into(),
        )
    }
}

pub(crate) fn validate_region(s: &str) -> Result<(), Expected> {
    let ok = (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err("an AWS region name of lowercase letters, digits and hyphens, like us-west-2".into())
    }
}

/// `http(s)://host[:port][/path]`; a bare `host[:port][/path]` gets
/// `https://`, as the Go agent does. Returns the URL with its scheme and
/// without a trailing slash.
pub(crate) fn parse_backend_host(s: &str) -> Result<String, Expected> {
    let expected = || {
        "an http(s) URL like https://ecs.us-west-2.amazonaws.com or http://127.0.0.1:8080 \
         (scheme://host[:port][/path], no user, query or fragment)"
            .to_string()
    };
    let lower = s.to_ascii_lowercase();
    let (scheme, rest) = if lower.starts_with("https://") {
        ("https", &s[8..])
    } else if lower.starts_with("http://") {
        ("http", &s[7..])
    } else if s.contains("://") {
        return Err(expected());
    } else {
        ("https", s)
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if authority.contains('@') || path.contains(['?', '#']) || s.contains(char::is_whitespace) {
        return Err(expected());
    }
    validate_host_port(authority, false).map_err(|_| expected())?;
    let url = format!("{scheme}://{authority}{path}");
    Ok(url.trim_end_matches('/').to_string())
}

/// AWS_EC2_METADATA_SERVICE_ENDPOINT: the SDKs want a full URL, scheme
/// included (`http://169.254.169.254`, `http://[fd00:ec2::254]`).
pub(crate) fn parse_imds_endpoint(s: &str) -> Result<String, Expected> {
    let lower = s.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(
            "an http(s) URL like http://169.254.169.254 (scheme://host[:port][/path])".into(),
        );
    }
    parse_backend_host(s).map_err(|_| {
        "an http(s) URL like http://169.254.169.254 (scheme://host[:port][/path])".into()
    })
}

/// `host[:port]`: a DNS name, an IPv4 address or a bracketed IPv6 address,
/// with an optional port 1-65535. `port_required` is for callers that need
/// one.
pub(crate) fn validate_host_port(s: &str, port_required: bool) -> Result<(), ()> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']').ok_or(())?;
        let host = &rest[..end];
        host.parse::<std::net::Ipv6Addr>().map_err(|_| ())?;
        let after = &rest[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(()),
        };
        (None, port)
    } else {
        match s.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(s), None),
        }
    };
    if let Some(host) = host {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if host.is_empty() || host.len() > 253 || !host.split('.').all(label_ok) {
            return Err(());
        }
    }
    match port {
        Some(p) => {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(());
            }
            match p.parse::<u16>() {
                Ok(n) if n > 0 => Ok(()),
                _ => Err(()),
            }
        }
        None if port_required => Err(()),
        None => Ok(()),
    }
}

/// The logging drivers ecs-init lists in ECS_AVAILABLE_LOGGING_DRIVERS on the
/// ECS-optimized AMI (ecs-init/docker/docker.go).
pub(crate) const ECS_INIT_LOGGING_DRIVERS: &[&str] =
    &["json-file", "syslog", "awslogs", "fluentd", "none"];

/// ECS_AVAILABLE_LOGGING_DRIVERS: a JSON array of driver names, as the Go
/// agent reads it (`["json-file","awslogs"]`).
pub(crate) fn parse_logging_drivers(s: &str) -> Result<Vec<String>, Expected> {
    let expected =
        || "a JSON array of logging driver names, like [\"json-file\",\"awslogs\"]".to_string();
    let list: Vec<String> = serde_json::from_str(s).map_err(|_| expected())?;
    let mut out = Vec::new();
    for d in list {
        let ok = !d.is_empty()
            && d.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(expected());
        }
        if !out.contains(&d) {
            out.push(d);
        }
    }
    Ok(out)
}

/// Comma-separated `host[:port]` list; entries are lowercased, blanks skipped.
pub(crate) fn parse_insecure_registries(s: &str) -> Result<Vec<String>, Expected> {
    let mut out = Vec::new();
    for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        if validate_host_port(entry, false).is_err() {
            return Err(format!(
                "a comma-separated list of registry host[:port], like 127.0.0.1:5000,registry.local; \
                 {entry:?} is not one"
            ));
        }
        let entry = entry.to_ascii_lowercase();
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    Ok(out)
}

/// An absolute path; `unix://` is stripped for socket addresses when allowed.
pub(crate) fn parse_abs_path(s: &str, allow_unix_scheme: bool) -> Result<PathBuf, Expected> {
    let path = if allow_unix_scheme {
        s.strip_prefix("unix://").unwrap_or(s)
    } else {
        s
    };
    if path.starts_with('/') {
        Ok(PathBuf::from(path))
    } else if allow_unix_scheme {
        Err(
            "an absolute socket path, like /run/containerd/containerd.sock (unix:// is optional)"
                .into(),
        )
    } else {
        Err("an absolute path, like /var/lib/ecs/data".into())
    }
}

/// Agent log level (`ECS_LOGLEVEL`), as the Go agent names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
    /// Go's `crit`; tracing has nothing above error, so it filters as error.
    Crit,
    /// Go's `none`: logging off.
    None,
}

impl LogLevel {
    pub(crate) fn parse(s: &str) -> Result<Self, Expected> {
        match s.to_ascii_lowercase().as_str() {
            "debug" => Ok(LogLevel::Debug),
            "info" => Ok(LogLevel::Info),
            "warn" => Ok(LogLevel::Warn),
            "error" => Ok(LogLevel::Error),
            "crit" => Ok(LogLevel::Crit),
            "none" => Ok(LogLevel::None),
            _ => Err("one of debug, info, warn, error, crit, none".into()),
        }
    }

    /// The directive for a `tracing_subscriber::EnvFilter`.
    pub fn as_filter(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error | LogLevel::Crit => "error",
            LogLevel::None => "off",
        }
    }
}

/// Agent log line format (`ECS_LOG_OUTPUT_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Logfmt,
    Json,
}

impl LogFormat {
    pub(crate) fn parse(s: &str) -> Result<Self, Expected> {
        match s.to_ascii_lowercase().as_str() {
            "logfmt" => Ok(LogFormat::Logfmt),
            "json" => Ok(LogFormat::Json),
            _ => Err("logfmt or json".into()),
        }
    }
}

/// When to pull an image (`ECS_IMAGE_PULL_BEHAVIOR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImagePullBehavior {
    /// Pull; if the pull fails, use a cached image if there is one.
    Default,
    /// Pull; if the pull fails, fail the task.
    Always,
    /// Pull only if this image was never pulled (or was cleaned up).
    Once,
    /// Use a cached image if present, pull otherwise.
    PreferCached,
}

impl ImagePullBehavior {
    pub(crate) fn parse(s: &str) -> Result<Self, Expected> {
        match s.to_ascii_lowercase().as_str() {
            "default" => Ok(ImagePullBehavior::Default),
            "always" => Ok(ImagePullBehavior::Always),
            "once" => Ok(ImagePullBehavior::Once),
            "prefer-cached" => Ok(ImagePullBehavior::PreferCached),
            _ => Err("one of default, always, once, prefer-cached".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bools_as_go() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_bool(t), Ok(true), "{t}");
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_bool(f), Ok(false), "{f}");
        }
        for bad in ["yes", "no", "on", "tRUE", "2", "", "truee"] {
            assert!(parse_bool(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mib() {
        assert_eq!(parse_mib("0"), Ok(0));
        assert_eq!(parse_mib("256"), Ok(256));
        assert_eq!(parse_mib("65535"), Ok(65535));
        assert!(parse_mib("65536").unwrap_err().contains("65535"));
        for bad in ["abc", "-1", "+1", "1.5", "256MiB", "", " 1"] {
            assert_eq!(
                parse_mib(bad),
                Err("a whole number of MiB (e.g. 256)".to_string()),
                "{bad}"
            );
        }
    }

    #[test]
    fn ports() {
        assert_eq!(parse_ports("[22, 80,443]"), Ok(vec![22, 80, 443]));
        assert_eq!(parse_ports("[]"), Ok(vec![]));
        assert_eq!(parse_ports(" [ 1 ] "), Ok(vec![1]));
        for bad in [
            "22", "[65536]", "[-1]", "[\"22\"]", "[1,]", "22,80", "[1] x",
        ] {
            assert!(parse_ports(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn string_maps() {
        let m = parse_string_map(r#"{"a":"1","b":"2"}"#).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m["b"], "2");
        assert!(parse_string_map("{}").unwrap().is_empty());
        for bad in [r#"{"a":1}"#, "[]", r#"{"a":null}"#, "a=b", r#"{"a":"1""#] {
            assert!(parse_string_map(bad).is_err(), "{bad}");
        }
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn attributes() {
        assert!(validate_attributes(&map(&[
            ("stack", "prod"),
            ("a.b/c\\d_e-f", "x@y:z/w\\v.u_t-s r"),
            (&"k".repeat(128), &"v".repeat(128)),
        ]))
        .is_ok());
        for (k, v) in [
            ("", "v"),
            ("bad key", "v"),
            ("k@", "v"),
            ("k:", "v"),
            (&"k".repeat(129) as &str, "v"),
            ("k", ""),
            ("k", " lead"),
            ("k", "trail "),
            ("k", "semi;"),
            ("k", &"v".repeat(129)),
            ("ké", "v"),
        ] {
            assert!(validate_attributes(&map(&[(k, v)])).is_err(), "{k:?}={v:?}");
        }
        let eleven: BTreeMap<_, _> = (0..11)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect();
        assert!(validate_attributes(&eleven)
            .unwrap_err()
            .contains("at most 10"));
    }

    #[test]
    fn tags() {
        assert!(validate_tags(&map(&[
            ("team", "infra"),
            ("Name", ""),
            ("ünïcode key", "välue with spaces +=.:/@_-"),
            (&"k".repeat(128), &"v".repeat(256)),
        ]))
        .is_ok());
        for (k, v) in [
            ("", "v"),
            ("aws:foo", "v"),
            ("AWS:foo", "v"),
            ("k", "Aws:reserved"),
            ("k!", "v"),
            ("k", "v;"),
            ("k\t", "v"),
            (&"k".repeat(129) as &str, "v"),
            ("k", &"v".repeat(257)),
        ] {
            assert!(validate_tags(&map(&[(k, v)])).is_err(), "{k:?}={v:?}");
        }
        let many: BTreeMap<_, _> = (0..51).map(|i| (format!("k{i}"), String::new())).collect();
        assert!(validate_tags(&many).unwrap_err().contains("at most 50"));
    }

    #[test]
    fn containerd_namespaces() {
        for ok in [
            "ecs",
            "a",
            "A1",
            "my.ns",
            "my_ns-2",
            "a.b_c-d",
            &"a".repeat(76),
        ] {
            assert!(validate_containerd_namespace(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            ".a",
            "a..b",
            "a-_b",
            "a b",
            "a/b",
            "ns!",
            &"a".repeat(77),
            "é",
            "k8s.io",
            "moby",
        ] {
            assert!(validate_containerd_namespace(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn clusters() {
        for ok in [
            "default",
            "my-cluster_2",
            &"c".repeat(255),
            "arn:aws:ecs:us-west-2:123456789012:cluster/prod",
        ] {
            assert!(validate_cluster(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "my cluster",
            "a/b",
            &"c".repeat(256),
            "arn:aws:ecs:us-west-2:123456789012:service/prod",
            "arn:aws:ecs:us-west-2:123456789012:cluster/",
        ] {
            assert!(validate_cluster(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn regions() {
        for ok in ["us-east-1", "eu-central-2", "us-gov-west-1", "local"] {
            assert!(validate_region(ok).is_ok(), "{ok}");
        }
        for bad in ["US-EAST-1", "us east", "-us", "us-", "us_east_1"] {
            assert!(validate_region(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn backend_hosts() {
        let ok = |s: &str| parse_backend_host(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(ok("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(ok("http://127.0.0.1:8080/"), "http://127.0.0.1:8080");
        assert_eq!(
            ok("https://ecs.us-west-2.amazonaws.com"),
            "https://ecs.us-west-2.amazonaws.com"
        );
        assert_eq!(
            ok("HTTPS://ecs.example.com/prefix/"),
            "https://ecs.example.com/prefix"
        );
        assert_eq!(
            ok("ecs.us-west-2.amazonaws.com"),
            "https://ecs.us-west-2.amazonaws.com"
        );
        assert_eq!(ok("localhost:9000"), "https://localhost:9000");
        assert_eq!(ok("http://[::1]:8080"), "http://[::1]:8080");
        for bad in [
            "ftp://host",
            "http://",
            "http://:80",
            "http://host:0",
            "http://host:99999",
            "http://host:port",
            "http://user:pw@host",
            "http://host/path?x=1",
            "http://host/#f",
            "http://ho st",
            "http://[::1",
            "http://bad_-.",
        ] {
            assert!(parse_backend_host(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn insecure_registries() {
        assert_eq!(
            parse_insecure_registries("127.0.0.1:5000, Registry.Local ,,[::1]:5001,127.0.0.1:5000"),
            Ok(vec![
                "127.0.0.1:5000".to_string(),
                "registry.local".to_string(),
                "[::1]:5001".to_string()
            ])
        );
        assert_eq!(parse_insecure_registries(""), Ok(vec![]));
        for bad in ["http://h:5000", "h:5000/path", "h:", "h:x", "a b"] {
            let e = parse_insecure_registries(bad).unwrap_err();
            assert!(e.contains("host[:port]"), "{bad}: {e}");
        }
    }

    #[test]
    fn abs_paths() {
        assert_eq!(parse_abs_path("/data", false), Ok(PathBuf::from("/data")));
        assert!(parse_abs_path("data", false).is_err());
        assert!(parse_abs_path("unix:///run/c.sock", false).is_err());
        assert_eq!(
            parse_abs_path("unix:///run/c.sock", true),
            Ok(PathBuf::from("/run/c.sock"))
        );
        assert_eq!(
            parse_abs_path("/run/c.sock", true),
            Ok(PathBuf::from("/run/c.sock"))
        );
        assert!(parse_abs_path("run/c.sock", true).is_err());
    }

    #[test]
    fn enums() {
        assert_eq!(LogLevel::parse("DEBUG"), Ok(LogLevel::Debug));
        assert_eq!(LogLevel::parse("crit"), Ok(LogLevel::Crit));
        assert_eq!(LogLevel::parse("none"), Ok(LogLevel::None));
        assert_eq!(LogLevel::Crit.as_filter(), "error");
        assert_eq!(LogLevel::None.as_filter(), "off");
        assert!(LogLevel::parse("trace").is_err());
        assert_eq!(LogFormat::parse("JSON"), Ok(LogFormat::Json));
        assert!(LogFormat::parse("text").is_err());
        assert_eq!(
            ImagePullBehavior::parse("prefer-cached"),
            Ok(ImagePullBehavior::PreferCached)
        );
        assert!(ImagePullBehavior::parse("never").is_err());
    }
}
