//! The Docker create JSON that ECS sends as strings in `dockerConfig.config`
//! and `dockerConfig.hostConfig`. Only what this agent implements is accepted;
//! anything else set to a non-empty value is refused by name, so a task never
//! silently runs without a setting it asked for.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::runtime::{Ulimit, UlimitName};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DockerCreateConfig {
    pub labels: BTreeMap<String, String>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub hostname: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DockerHostConfig {
    pub ulimits: Vec<Ulimit>,
    pub readonly_rootfs: bool,
    pub memory_reservation_bytes: Option<i64>,
    pub privileged: bool,
}

const CONFIG_KEYS: &[&str] = &["Labels", "User", "WorkingDir", "Hostname"];
const HOST_CONFIG_KEYS: &[&str] = &[
    "Ulimits",
    "ReadonlyRootfs",
    "MemoryReservation",
    "Privileged",
    "LogConfig",
];

fn object(field: &str, text: Option<&str>) -> Result<Map<String, Value>, String> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(Map::new());
    };
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(_) => Err(format!("{field}: expected a JSON object")),
        Err(e) => Err(format!("{field}: invalid JSON: {e}")),
    }
}

/// Null, false, 0, "", [] and {} mean "not set" in Docker's JSON.
fn is_unset(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

fn refuse_unsupported(field: &str, m: &Map<String, Value>, known: &[&str]) -> Result<(), String> {
    for (k, v) in m {
        if !known.contains(&k.as_str()) && !is_unset(v) {
            return Err(format!("{field}.{k} is not supported by this agent"));
        }
    }
    Ok(())
}

fn opt_string(field: &str, m: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{field}.{key}: expected a string")),
    }
}

fn opt_bool(field: &str, m: &Map<String, Value>, key: &str) -> Result<bool, String> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(format!("{field}.{key}: expected true or false")),
    }
}

pub fn parse_config(text: Option<&str>) -> Result<DockerCreateConfig, String> {
    const F: &str = "dockerConfig.config";
    let m = object(F, text)?;
    refuse_unsupported(F, &m, CONFIG_KEYS)?;
    let labels = match m.get("Labels") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(o)) => o
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(format!("{F}.Labels.{k}: expected a string")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(format!("{F}.Labels: expected an object of strings")),
    };
    Ok(DockerCreateConfig {
        labels,
        user: opt_string(F, &m, "User")?,
        working_dir: opt_string(F, &m, "WorkingDir")?,
        hostname: opt_string(F, &m, "Hostname")?,
    })
}

pub fn parse_host_config(text: Option<&str>) -> Result<DockerHostConfig, String> {
    const F: &str = "dockerConfig.hostConfig";
    let m = object(F, text)?;
    refuse_unsupported(F, &m, HOST_CONFIG_KEYS)?;
    if let Some(Value::Object(log)) = m.get("LogConfig") {
        let kind = log.get("Type").and_then(Value::as_str).unwrap_or("");
        // Our log files are what json-file gives users: the output on local disk.
        if !matches!(kind, "" | "json-file") {
            return Err(format!(
                "{F}.LogConfig.Type {kind:?} is not supported by this agent (supported: json-file)"
            ));
        }
    }
    let memory_reservation_bytes = match m.get("MemoryReservation") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_i64() {
            Some(0) => None,
            Some(n) if n > 0 => Some(n),
            _ => {
                return Err(format!(
                    "{F}.MemoryReservation: expected a positive number of bytes"
                ))
            }
        },
    };
    let mut ulimits = Vec::new();
    match m.get("Ulimits") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                ulimits.push(parse_ulimit(&format!("{F}.Ulimits[{i}]"), item)?);
            }
        }
        Some(_) => return Err(format!("{F}.Ulimits: expected a list")),
    }
    Ok(DockerHostConfig {
        ulimits,
        readonly_rootfs: opt_bool(F, &m, "ReadonlyRootfs")?,
        memory_reservation_bytes,
        privileged: opt_bool(F, &m, "Privileged")?,
    })
}

fn parse_ulimit(field: &str, v: &Value) -> Result<Ulimit, String> {
    let name = v
        .get("Name")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{field}.Name: missing"))?;
    let name = ulimit_name(name).ok_or_else(|| format!("{field}.Name: unknown ulimit {name:?}"))?;
    let limit = |key: &str| -> Result<u64, String> {
        match v.get(key) {
            // Docker and ECS use -1 for unlimited.
            Some(n) if n.as_i64() == Some(-1) => Ok(u64::MAX),
            Some(n) => n
                .as_u64()
                .ok_or_else(|| format!("{field}.{key}: expected a whole number")),
            None => Err(format!("{field}.{key}: missing")),
        }
    };
    let (soft, hard) = (limit("Soft")?, limit("Hard")?);
    if soft > hard {
        return Err(format!(
            "{field}: Soft ({soft}) is greater than Hard ({hard})"
        ));
    }
    Ok(Ulimit { name, soft, hard })
}

pub fn ulimit_name(s: &str) -> Option<UlimitName> {
    Some(match s {
        "core" => UlimitName::Core,
        "cpu" => UlimitName::Cpu,
        "data" => UlimitName::Data,
        "fsize" => UlimitName::Fsize,
        "locks" => UlimitName::Locks,
        "memlock" => UlimitName::Memlock,
        "msgqueue" => UlimitName::Msgqueue,
        "nice" => UlimitName::Nice,
        "nofile" => UlimitName::Nofile,
        "nproc" => UlimitName::Nproc,
        "rss" => UlimitName::Rss,
        "rtprio" => UlimitName::Rtprio,
        "rttime" => UlimitName::Rttime,
        "sigpending" => UlimitName::Sigpending,
        "stack" => UlimitName::Stack,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_fields_are_read() {
        let c = parse_config(Some(
            r#"{"Labels":{"a":"b"},"User":"1000:1000","WorkingDir":"/srv","Hostname":"h","Env":null}"#,
        ))
        .unwrap();
        assert_eq!(c.labels.get("a").map(String::as_str), Some("b"));
        assert_eq!(c.user.as_deref(), Some("1000:1000"));
        assert_eq!(c.working_dir.as_deref(), Some("/srv"));
        assert_eq!(c.hostname.as_deref(), Some("h"));
    }

    #[test]
    fn empty_and_absent_configs_are_default() {
        assert_eq!(parse_config(None).unwrap(), DockerCreateConfig::default());
        assert_eq!(
            parse_config(Some("")).unwrap(),
            DockerCreateConfig::default()
        );
        assert_eq!(
            parse_host_config(Some("{}")).unwrap(),
            DockerHostConfig::default()
        );
        assert_eq!(
            parse_host_config(Some("null")).unwrap(),
            DockerHostConfig::default()
        );
    }

    #[test]
    fn host_config_fields_are_read() {
        let h = parse_host_config(Some(
            r#"{"Ulimits":[{"Name":"nofile","Soft":1024,"Hard":2048},{"Name":"core","Soft":-1,"Hard":-1}],
                "ReadonlyRootfs":true,"MemoryReservation":67108864,"LogConfig":{"Type":"json-file","Config":{}},
                "CapAdd":[],"Dns":null}"#,
        ))
        .unwrap();
        assert_eq!(h.ulimits.len(), 2);
        assert_eq!(
            h.ulimits[0],
            Ulimit {
                name: UlimitName::Nofile,
                soft: 1024,
                hard: 2048
            }
        );
        assert_eq!(h.ulimits[1].soft, u64::MAX);
        assert!(h.readonly_rootfs);
        assert_eq!(h.memory_reservation_bytes, Some(67108864));
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse_host_config(Some(
            r#"{"Ulimits":[{"Name":"nofiles","Soft":1,"Hard":1}]}"#,
        ))
        .unwrap_err();
        assert!(e.contains("dockerConfig.hostConfig.Ulimits[0].Name"), "{e}");
        let e = parse_host_config(Some(r#"{"Ulimits":[{"Name":"nofile","Soft":5,"Hard":1}]}"#))
            .unwrap_err();
        assert!(e.contains("Soft (5) is greater than Hard (1)"), "{e}");
        let e = parse_host_config(Some(r#"{"CapAdd":["NET_ADMIN"]}"#)).unwrap_err();
        assert_eq!(
            e,
            "dockerConfig.hostConfig.CapAdd is not supported by this agent"
        );
        let e = parse_host_config(Some(r#"{"LogConfig":{"Type":"awslogs"}}"#)).unwrap_err();
        assert!(e.contains("LogConfig.Type \"awslogs\""), "{e}");
        let e = parse_config(Some("{not json")).unwrap_err();
        assert!(e.starts_with("dockerConfig.config: invalid JSON"), "{e}");
        let e = parse_config(Some(r#"{"User":5}"#)).unwrap_err();
        assert_eq!(e, "dockerConfig.config.User: expected a string");
        let e = parse_config(Some("[1]")).unwrap_err();
        assert_eq!(e, "dockerConfig.config: expected a JSON object");
    }
}
