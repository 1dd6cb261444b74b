//! `logConfiguration` as Amazon ECS sends it (`dockerConfig.hostConfig.LogConfig`,
//! `{"Type": driver, "Config": {option: value}}`): the drivers this agent
//! runs and their options, checked as Docker checks them at create
//! (moby daemon/logger/jsonfilelog `New` and `ValidateLogOpt`, awslogs
//! `ValidateLogOpt`, daemon/logger `ValidateLogOpts` for mode and
//! max-buffer-size).

use serde_json::{Map, Value};

/// How a container's output is kept. Checkpointed with the definition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "driver", rename_all = "kebab-case")]
pub enum LogDriver {
    /// Docker's json-file (its default driver, so also what a container
    /// without `logConfiguration` gets): `max_size` in bytes, None for no
    /// rotation; `max_file` files kept (Docker's default 1).
    JsonFile {
        max_size: Option<u64>,
        max_file: u32,
    },
    /// Output discarded.
    None,
    /// CloudWatch Logs. The logger still writes the json-file (the spool)
    /// and the agent ships it (`logger::ship`).
    Awslogs(Box<Awslogs>),
}

/// The awslogs options, checked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Awslogs {
    /// `awslogs-group` (required).
    pub group: String,
    /// `awslogs-region`; None: the agent's region.
    pub region: Option<String>,
    pub stream: StreamName,
    /// `awslogs-create-group`: create the group when it is missing.
    pub create_group: bool,
    /// `awslogs-endpoint`: a CloudWatch Logs endpoint URL instead of the SDK's.
    pub endpoint: Option<String>,
    /// `mode` blocking: nothing is ever dropped (the spool is not rotated).
    pub blocking: bool,
    /// `max-buffer-size` in bytes (non-blocking only; 10m when unset, as the
    /// Go agent fills it): how far the spool may run ahead of CloudWatch.
    pub max_buffer_size: u64,
    /// `logsAuthStrategy: "ExecutionRole"` on the container (set by
    /// `from_acs`, not an option): ship with the task execution role.
    #[serde(default)]
    pub execution_role: bool,
}

/// Where a container's events go in its group.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StreamName {
    /// `awslogs-stream`.
    Fixed(String),
    /// `awslogs-stream-prefix`: `prefix/container-name/task-id`, as ECS names it.
    Prefix(String),
    /// Neither: the container's id, as Docker names it.
    ContainerId,
}

impl Awslogs {
    /// The stream of container `name` (runtime id `container_id`) of task `task_id`.
    pub fn stream_name(&self, name: &str, task_id: &str, container_id: &str) -> String {
        match &self.stream {
            StreamName::Fixed(s) => s.clone(),
            StreamName::Prefix(p) => format!("{p}/{name}/{task_id}"),
            StreamName::ContainerId => container_id.to_string(),
        }
    }
}

/// The Go agent's `maxBufferSizeDefault`, for non-blocking without max-buffer-size.
pub const DEFAULT_MAX_BUFFER_SIZE: u64 = 10_000_000;

impl Default for LogDriver {
    fn default() -> Self {
        LogDriver::JsonFile {
            max_size: None,
            max_file: 1,
        }
    }
}

/// The drivers [`parse`] takes, for messages.
pub const SUPPORTED: &str = "json-file, none, awslogs";

/// `kind`: `LogConfig.Type` ("" for Docker's default); `options`:
/// `LogConfig.Config`; `at`: the JSON path for messages.
pub fn parse(kind: &str, options: Option<&Value>, at: &str) -> Result<LogDriver, String> {
    let empty = Map::new();
    let options = match options {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(o)) => o,
        Some(_) => return Err(format!("{at}.Config: expected an object of strings")),
    };
    match kind {
        "" | "json-file" => json_file(options, at),
        // Docker's none driver takes no options and checks none.
        "none" => Ok(LogDriver::None),
        "awslogs" => awslogs(options, at),
        other => Err(format!(
            "{at}.Type {other:?} is not supported by this agent (supported: {SUPPORTED})"
        )),
    }
}

fn json_file(options: &Map<String, Value>, at: &str) -> Result<LogDriver, String> {
    let mut max_size = None;
    let mut max_file = 1;
    for (key, value) in options {
        let Some(value) = value.as_str() else {
            return Err(format!("{at}.Config.{key}: expected a string"));
        };
        let bad = |why: &str| format!("{at}.Config.{key} {value:?}: {why}");
        match key.as_str() {
            "max-size" => {
                let n = human_size(value).ok_or_else(|| {
                    bad("expected a size like 10m (bytes, or k, m, g: powers of 1000, as Docker)")
                })?;
                if n == 0 {
                    return Err(bad("max-size must be a positive number"));
                }
                max_size = Some(n);
            }
            "max-file" => {
                max_file = value
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| bad("max-file must be a whole number of at least 1"))?;
            }
            "compress" => match value.parse::<bool>() {
                Ok(false) => {}
                Ok(true) => return Err(bad("compressed rotated logs are not supported by this agent")),
                Err(_) => return Err(bad("expected true or false")),
            },
            // Docker's other json-file options put extra attributes on each
            // record; not done here, so refused rather than ignored.
            "labels" | "labels-regex" | "env" | "env-regex" | "tag" => {
                return Err(format!("{at}.Config.{key}: not supported by this agent's json-file (supported: max-size, max-file)"))
            }
            _ => return Err(format!("{at}.Config: unknown log opt '{key}' for json-file log driver")),
        }
    }
    Ok(LogDriver::JsonFile { max_size, max_file })
}

fn awslogs(options: &Map<String, Value>, at: &str) -> Result<LogDriver, String> {
    let mut o = std::collections::BTreeMap::new();
    for (key, value) in options {
        let Some(value) = value.as_str() else {
            return Err(format!("{at}.Config.{key}: expected a string"));
        };
        match key.as_str() {
            "awslogs-group"
            | "awslogs-region"
            | "awslogs-stream"
            | "awslogs-stream-prefix"
            | "awslogs-create-group"
            | "awslogs-endpoint"
            | "mode"
            | "max-buffer-size" => {
                o.insert(key.as_str(), value);
            }
            // Docker's other awslogs options: not done here, so refused by
            // name rather than ignored.
            "awslogs-datetime-format"
            | "awslogs-multiline-pattern"
            | "awslogs-credentials-endpoint"
            | "awslogs-force-flush-interval-seconds"
            | "awslogs-max-buffered-events"
            | "awslogs-format"
            | "tag" => {
                return Err(format!(
                    "{at}.Config.{key}: not supported by this agent's awslogs (supported: awslogs-group, \
                     awslogs-region, awslogs-stream, awslogs-stream-prefix, awslogs-create-group, \
                     awslogs-endpoint, mode, max-buffer-size)"
                ))
            }
            _ => return Err(format!("{at}.Config: unknown log opt '{key}' for awslogs log driver")),
        }
    }
    let bad = |key: &str, why: &str| {
        format!(
            "{at}.Config.{key} {:?}: {why}",
            o.get(key).copied().unwrap_or_default()
        )
    };
    let group = match o.get("awslogs-group") {
        Some(g) if !g.is_empty() => g.to_string(),
        _ => {
            return Err(format!(
                "{at}.Config: must specify a value for log opt 'awslogs-group'"
            ))
        }
    };
    // CloudWatch's names: 1-512 characters of [.\-_/#A-Za-z0-9].
    let group_ok = group.len() <= 512
        && group
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#'));
    if !group_ok {
        return Err(bad(
            "awslogs-group",
            "a log group name is 1-512 characters of letters, digits and . - _ / #",
        ));
    }
    let stream = match (o.get("awslogs-stream"), o.get("awslogs-stream-prefix")) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "{at}.Config: awslogs-stream and awslogs-stream-prefix cannot be used together"
            ))
        }
        (Some(s), None) => StreamName::Fixed(s.to_string()),
        (None, Some(p)) => StreamName::Prefix(p.to_string()),
        (None, None) => StreamName::ContainerId,
    };
    for key in ["awslogs-stream", "awslogs-stream-prefix"] {
        if let Some(v) = o.get(key) {
            // 1-512 characters, no ':' or '*' (CloudWatch's stream names).
            if v.is_empty() || v.len() > 400 || v.contains([':', '*']) {
                return Err(bad(
                    key,
                    "a log stream name (or prefix) is 1-400 characters without : or *",
                ));
            }
        }
    }
    let create_group = match o.get("awslogs-create-group") {
        None => false,
        Some(v) => {
            go_bool(v).ok_or_else(|| bad("awslogs-create-group", "expected true or false"))?
        }
    };
    let region = o.get("awslogs-region").map(|r| r.to_string());
    if let Some(r) = &region {
        if r.is_empty() || !r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(bad(
                "awslogs-region",
                "expected a region name like us-west-2",
            ));
        }
    }
    let endpoint = o.get("awslogs-endpoint").map(|e| e.to_string());
    if let Some(e) = &endpoint {
        if !(e.starts_with("https://") || e.starts_with("http://")) {
            return Err(bad(
                "awslogs-endpoint",
                "expected an http:// or https:// URL",
            ));
        }
    }
    // Amazon ECS's default mode since June 2025.
    let blocking = match o.get("mode").copied() {
        None | Some("non-blocking") => false,
        Some("blocking") => true,
        Some(m) => {
            return Err(format!(
                "{at}.Config.mode: logger: logging mode not supported: {m}"
            ))
        }
    };
    let max_buffer_size = match o.get("max-buffer-size") {
        Some(_) if blocking => {
            return Err(format!(
                "{at}.Config.max-buffer-size: logger: max-buffer-size option is only supported with 'mode=non-blocking'"
            ))
        }
        Some(v) => match human_size(v) {
            Some(n) if n > 0 => n,
            _ => return Err(bad("max-buffer-size", "expected a positive size like 10m")),
        },
        None => DEFAULT_MAX_BUFFER_SIZE,
    };
    Ok(LogDriver::Awslogs(Box::new(Awslogs {
        group,
        region,
        stream,
        create_group,
        endpoint,
        blocking,
        max_buffer_size,
        execution_role: false,
    })))
}

/// Go's `strconv.ParseBool`, what Docker reads awslogs-create-group with.
fn go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// go-units `FromHumanSize` (what Docker parses max-size with): a decimal
/// number, an optional space, then an optional unit of k, m, g, t or p
/// (powers of 1000; `b`, `kb`, `kib` all accepted, any case).
pub fn human_size(s: &str) -> Option<u64> {
    let sep = s.rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ')?;
    let (num, sfx) = if s.as_bytes()[sep] == b' ' {
        (&s[..sep], &s[sep + 1..])
    } else {
        (&s[..=sep], &s[sep + 1..])
    };
    if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let size: f64 = num.parse().ok()?;
    let sfx = sfx.to_ascii_lowercase();
    let mul: f64 = match sfx.as_bytes() {
        [] | [b'b'] => 1.0,
        [u, rest @ ..] => {
            let mul = match u {
                b'k' => 1e3,
                b'm' => 1e6,
                b'g' => 1e9,
                b't' => 1e12,
                b'p' => 1e15,
                _ => return None,
            };
            if !matches!(rest, [] | [b'b'] | [b'i', b'b']) {
                return None;
            }
            mul
        }
    };
    let bytes = size * mul;
    (bytes.is_finite() && bytes < u64::MAX as f64).then_some(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const AT: &str = "dockerConfig.hostConfig.LogConfig";

    #[test]
    fn sizes_as_go_units_reads_them() {
        for (s, n) in [
            ("10", 10),
            ("10b", 10),
            ("1k", 1000),
            ("10m", 10_000_000),
            ("10M", 10_000_000),
            ("10MB", 10_000_000),
            ("10MiB", 10_000_000),
            ("1.5g", 1_500_000_000),
            ("2 k", 2000),
        ] {
            assert_eq!(human_size(s), Some(n), "{s}");
        }
        for s in ["", "m", "10x", "10mbb", "-1", "10 mx", "ten"] {
            assert_eq!(human_size(s), None, "{s}");
        }
    }

    #[test]
    fn json_file_is_the_default_and_takes_docker_options() {
        assert_eq!(parse("", None, AT), Ok(LogDriver::default()));
        assert_eq!(
            parse(
                "json-file",
                Some(&json!({"max-size": "10k", "max-file": "3", "compress": "false"})),
                AT
            ),
            Ok(LogDriver::JsonFile {
                max_size: Some(10_000),
                max_file: 3
            })
        );
        assert_eq!(
            parse("none", Some(&json!({"x": "y"})), AT),
            Ok(LogDriver::None)
        );
    }

    #[test]
    fn bad_options_are_named() {
        for (opts, says) in [
            (
                json!({"max-size": "0"}),
                "max-size must be a positive number",
            ),
            (json!({"max-size": "big"}), "Config.max-size \"big\""),
            (json!({"max-file": "0"}), "max-file must be a whole number"),
            (json!({"max-file": 2}), "Config.max-file: expected a string"),
            (
                json!({"compress": "true"}),
                "compressed rotated logs are not supported",
            ),
            (json!({"tag": "x"}), "Config.tag: not supported"),
            (
                json!({"mode": "x"}),
                "unknown log opt 'mode' for json-file log driver",
            ),
        ] {
            let e = parse("json-file", Some(&opts), AT).unwrap_err();
            assert!(e.contains(says) && e.starts_with(AT), "{opts}: {e}");
        }
        let e = parse("gelf", None, AT).unwrap_err();
        assert!(
            e.contains(
                "Type \"gelf\" is not supported by this agent (supported: json-file, none, awslogs)"
            ),
            "{e}"
        );
    }

    fn aws(opts: Value) -> Result<Awslogs, String> {
        match parse("awslogs", Some(&opts), AT)? {
            LogDriver::Awslogs(a) => Ok(*a),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn awslogs_takes_docker_options_with_ecs_defaults() {
        let a = aws(json!({"awslogs-group": "/ecs/web"})).unwrap();
        assert_eq!(
            a,
            Awslogs {
                group: "/ecs/web".into(),
                region: None,
                stream: StreamName::ContainerId,
                create_group: false,
                endpoint: None,
                // Amazon ECS's default since June 2025, with the Go agent's 10m.
                blocking: false,
                max_buffer_size: 10_000_000,
                execution_role: false,
            }
        );
        assert_eq!(a.stream_name("web", "t1", "cid"), "cid");
        let a = aws(json!({
            "awslogs-group": "g", "awslogs-region": "eu-west-1",
            "awslogs-stream-prefix": "app", "awslogs-create-group": "true",
            "awslogs-endpoint": "http://127.0.0.1:5000", "mode": "non-blocking",
            "max-buffer-size": "4m"
        }))
        .unwrap();
        assert_eq!(a.stream_name("web", "abc123", "cid"), "app/web/abc123");
        assert_eq!(a.region.as_deref(), Some("eu-west-1"));
        assert!(a.create_group && !a.blocking);
        assert_eq!(a.max_buffer_size, 4_000_000);
        assert_eq!(a.endpoint.as_deref(), Some("http://127.0.0.1:5000"));
        let a =
            aws(json!({"awslogs-group": "g", "awslogs-stream": "s", "mode": "blocking"})).unwrap();
        assert!(a.blocking);
        assert_eq!(a.stream_name("web", "t", "c"), "s");
    }

    #[test]
    fn awslogs_refuses_as_docker_does_naming_the_option() {
        for (opts, says) in [
            (
                json!({}),
                "must specify a value for log opt 'awslogs-group'",
            ),
            (
                json!({"awslogs-group": ""}),
                "must specify a value for log opt 'awslogs-group'",
            ),
            (
                json!({"awslogs-group": "a b"}),
                "Config.awslogs-group \"a b\"",
            ),
            (
                json!({"awslogs-group": "g", "awslogs-create-group": "yes"}),
                "Config.awslogs-create-group \"yes\": expected true or false",
            ),
            (
                json!({"awslogs-group": "g", "mode": "fast"}),
                "logging mode not supported: fast",
            ),
            (
                json!({"awslogs-group": "g", "mode": "blocking", "max-buffer-size": "1m"}),
                "only supported with 'mode=non-blocking'",
            ),
            (
                json!({"awslogs-group": "g", "max-buffer-size": "0"}),
                "Config.max-buffer-size \"0\"",
            ),
            (
                json!({"awslogs-group": "g", "awslogs-stream": "a", "awslogs-stream-prefix": "b"}),
                "cannot be used together",
            ),
            (
                json!({"awslogs-group": "g", "awslogs-stream": "a:b"}),
                "Config.awslogs-stream \"a:b\"",
            ),
            (
                json!({"awslogs-group": "g", "awslogs-endpoint": "logs.local"}),
                "Config.awslogs-endpoint",
            ),
            (
                json!({"awslogs-group": "g", "awslogs-region": "us west"}),
                "Config.awslogs-region",
            ),
            (
                json!({"awslogs-group": "g", "awslogs-multiline-pattern": "^x"}),
                "Config.awslogs-multiline-pattern: not supported",
            ),
            (
                json!({"awslogs-group": "g", "max-size": "1m"}),
                "unknown log opt 'max-size' for awslogs log driver",
            ),
            (
                json!({"awslogs-group": 3}),
                "Config.awslogs-group: expected a string",
            ),
        ] {
            let e = aws(opts.clone()).unwrap_err();
            assert!(e.contains(says) && e.starts_with(AT), "{opts}: {e}");
        }
    }
}
