//! `logConfiguration` as Amazon ECS sends it (`dockerConfig.hostConfig.LogConfig`,
//! `{"Type": driver, "Config": {option: value}}`): the drivers this agent
//! runs and their options, checked as Docker checks them at create
//! (moby daemon/logger/jsonfilelog `New` and `ValidateLogOpt`).

use serde_json::{Map, Value};

/// How a container's output is kept. Checkpointed with the definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
}

impl Default for LogDriver {
    fn default() -> Self {
        LogDriver::JsonFile {
            max_size: None,
            max_file: 1,
        }
    }
}

/// The drivers [`parse`] takes, for messages.
pub const SUPPORTED: &str = "json-file, none";

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
        let e = parse("awslogs", None, AT).unwrap_err();
        assert!(
            e.contains(
                "Type \"awslogs\" is not supported by this agent (supported: json-file, none)"
            ),
            "{e}"
        );
    }
}
