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
    /// A driver with `secretOptions`: only known once their values are
    /// fetched, right before the container is created ([`PendingLog::resolve`]).
    Pending(Box<PendingLog>),
}

/// `logConfiguration` with `secretOptions` (secrets of target LOG_DRIVER),
/// as accepted: the options sent in clear and the names of the secret ones.
/// Never their values: those are fetched with the execution role at each
/// create and go only into the driver the container is created with (the
/// Go agent's PopulateSecrets puts them into `LogConfig.Config` then).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PendingLog {
    /// `LogConfig.Type` ("" for Docker's default).
    pub kind: String,
    /// `LogConfig.Config` as sent.
    pub options: Map<String, Value>,
    /// The secretOptions' names; each is an option the driver knows.
    pub secret_names: Vec<String>,
    /// The JSON path, for messages.
    pub at: String,
    /// `logsAuthStrategy: "ExecutionRole"` (see [`Awslogs::execution_role`]).
    pub execution_role: bool,
}

impl PendingLog {
    /// The driver with the fetched `(name, value)` pairs merged into its
    /// options (a secret option wins over one of the same name in clear, as
    /// Go's map assignment), checked as if they had been sent in `options`.
    /// Errors never show a secret value: where Docker's message would quote
    /// it, it says which secret option it came from.
    pub fn resolve(&self, values: &[(String, String)]) -> Result<LogDriver, String> {
        let mut options = self.options.clone();
        for name in &self.secret_names {
            let Some((_, v)) = values.iter().rev().find(|(k, _)| k == name) else {
                return Err(format!(
                    "{}.Config: no value fetched for secret option '{name}'",
                    self.at
                ));
            };
            options.insert(name.clone(), Value::String(v.clone()));
        }
        let parsed = parse(&self.kind, Some(&Value::Object(options)), &self.at).map_err(|e| {
            let mut e = e;
            for (name, v) in values {
                if self.secret_names.contains(name) {
                    e = e.replace(
                        &format!("{v:?}"),
                        &format!("(the value of secret option '{name}')"),
                    );
                }
            }
            e
        })?;
        Ok(match parsed {
            LogDriver::Awslogs(mut a) => {
                a.execution_role = self.execution_role;
                a.secret_options = self.secret_names.clone();
                LogDriver::Awslogs(a)
            }
            other => other,
        })
    }
}

/// At acceptance. Without `secret_names`, [`parse`]. With them (the names of
/// the container's secretOptions), each must be an option the driver takes
/// (refused by name in Docker's words otherwise) and the driver is
/// [`LogDriver::Pending`] until create, when the values are there.
pub fn accept(
    kind: &str,
    options: Option<&Value>,
    at: &str,
    secret_names: &[String],
) -> Result<LogDriver, String> {
    if secret_names.is_empty() {
        return parse(kind, options, at);
    }
    let options = match options {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(o)) => o.clone(),
        Some(_) => return Err(format!("{at}.Config: expected an object of strings")),
    };
    for name in secret_names {
        check_name(kind, name, at)?;
    }
    // The options in clear, checked by name too: a bad one is refused now.
    for name in options.keys() {
        check_name(kind, name, at)?;
    }
    Ok(LogDriver::Pending(Box::new(PendingLog {
        kind: kind.to_string(),
        options,
        secret_names: secret_names.to_vec(),
        at: at.to_string(),
        execution_role: false,
    })))
}

/// json-file options this agent applies, and those Docker has that it does not.
const JSON_FILE_OPTS: &[&str] = &["max-size", "max-file", "compress"];
const JSON_FILE_UNSUPPORTED: &[&str] = &["labels", "labels-regex", "env", "env-regex", "tag"];
/// awslogs options this agent applies, and those Docker has that it does not.
const AWSLOGS_OPTS: &[&str] = &[
    "awslogs-group",
    "awslogs-region",
    "awslogs-stream",
    "awslogs-stream-prefix",
    "awslogs-create-group",
    "awslogs-endpoint",
    "awslogs-datetime-format",
    "awslogs-multiline-pattern",
    "mode",
    "max-buffer-size",
];
const AWSLOGS_UNSUPPORTED: &[&str] = &[
    "awslogs-credentials-endpoint",
    "awslogs-force-flush-interval-seconds",
    "awslogs-max-buffered-events",
    "awslogs-format",
    "tag",
];

/// An option name as the driver `kind` takes it: Docker's "unknown log opt"
/// for a name it does not know, this agent's refusal for one Docker has and
/// this agent does not apply. Docker's none driver checks no option.
fn check_name(kind: &str, key: &str, at: &str) -> Result<(), String> {
    match kind {
        "" | "json-file" if JSON_FILE_OPTS.contains(&key) => Ok(()),
        "" | "json-file" if JSON_FILE_UNSUPPORTED.contains(&key) => Err(format!(
            "{at}.Config.{key}: not supported by this agent's json-file (supported: max-size, max-file)"
        )),
        "" | "json-file" => Err(format!(
            "{at}.Config: unknown log opt '{key}' for json-file log driver"
        )),
        "none" => Ok(()),
        "awslogs" if AWSLOGS_OPTS.contains(&key) => Ok(()),
        "awslogs" if AWSLOGS_UNSUPPORTED.contains(&key) => Err(format!(
            "{at}.Config.{key}: not supported by this agent's awslogs (supported: {})",
            AWSLOGS_OPTS.join(", ")
        )),
        "awslogs" => Err(format!(
            "{at}.Config: unknown log opt '{key}' for awslogs log driver"
        )),
        other => Err(format!(
            "{at}.Type {other:?} is not supported by this agent (supported: {SUPPORTED})"
        )),
    }
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
    /// The regular expression a line that starts a new event matches
    /// (`awslogs-multiline-pattern`, or `awslogs-datetime-format` made into
    /// one as Docker makes it); None: every line is an event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiline_start: Option<String>,
    /// `logsAuthStrategy: "ExecutionRole"` on the container (set by
    /// `from_acs`, not an option): ship with the task execution role.
    #[serde(default)]
    pub execution_role: bool,
    /// The options whose value came from `secretOptions` (set by
    /// [`PendingLog::resolve`]): their values are never logged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_options: Vec<String>,
}

impl Awslogs {
    /// `value` of option `key` as the agent's log may show it: a secret
    /// option's is replaced by its name.
    pub fn shown(&self, key: &str, value: &str) -> String {
        if self.secret_options.iter().any(|k| k == key) {
            format!("(secret option '{key}')")
        } else {
            value.to_string()
        }
    }
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
        check_name("json-file", key, at)?;
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
                Ok(true) => {
                    return Err(bad(
                        "compressed rotated logs are not supported by this agent",
                    ))
                }
                Err(_) => return Err(bad("expected true or false")),
            },
            // Docker's other json-file options put extra attributes on each
            // record; not done here, so refused (by check_name) rather than
            // ignored.
            _ => {}
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
        // Docker's other awslogs options: not done here, so refused by name
        // rather than ignored.
        check_name("awslogs", key, at)?;
        o.insert(key.as_str(), value);
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
    let multiline_start = multiline_start(&o, at)?;
    Ok(LogDriver::Awslogs(Box::new(Awslogs {
        group,
        region,
        stream,
        create_group,
        endpoint,
        blocking,
        max_buffer_size,
        multiline_start,
        execution_role: false,
        secret_options: Vec::new(),
    })))
}

/// Docker's `ValidateLogOpt` and `parseMultilineOptions`: the two options
/// exclude each other (even when empty); an empty one groups nothing; a
/// datetime format is converted (`strftime`) and then compiled like a
/// pattern. One that does not compile is refused here, where Docker fails
/// the container's create.
fn multiline_start(
    o: &std::collections::BTreeMap<&str, &str>,
    at: &str,
) -> Result<Option<String>, String> {
    const DATETIME: &str = "awslogs-datetime-format";
    const PATTERN: &str = "awslogs-multiline-pattern";
    let (key, source) = match (o.get(DATETIME), o.get(PATTERN)) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "{at}.Config: you cannot configure log opt '{DATETIME}' and '{PATTERN}' at the same time"
            ))
        }
        (Some(f), None) if !f.is_empty() => (DATETIME, super::strftime::datetime_pattern(f)),
        (None, Some(p)) if !p.is_empty() => (PATTERN, p.to_string()),
        _ => return Ok(None),
    };
    match regex::Regex::new(&source) {
        Ok(_) => Ok(Some(source)),
        Err(e) => {
            // regex's message quotes the pattern on its first lines; its
            // last line says what is wrong. Only that: the value may come
            // from a secretOptions entry (PendingLog::resolve hides the
            // value where the message quotes it whole).
            let e = e.to_string();
            let last = e.lines().last().unwrap_or_default().trim();
            let why = last.strip_prefix("error: ").unwrap_or(last);
            Err(format!(
                "{at}.Config.{key} {:?}: awslogs could not parse multiline pattern: {why}",
                o.get(key).copied().unwrap_or_default()
            ))
        }
    }
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
