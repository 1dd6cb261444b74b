//! The Docker create JSON that Amazon ECS sends as strings in
//! `dockerConfig.config` and `dockerConfig.hostConfig`.
//!
//! The Go agent unmarshals both strings into Docker's own `Config` and
//! `HostConfig` structs with Go's decoder (agent/api/task/task.go
//! `dockerConfig`, `dockerHostConfig`), and this reads them the same way: keys
//! match Docker's field names case-insensitively (Amazon ECS spells the health
//! check `HealthCheck`, Docker's struct says `Healthcheck`), and a key that is
//! no field of Docker's API is ignored (reported back so that the caller can
//! log it once). A field of Docker's API that this agent does not implement is
//! refused by name when it is set, so a task never silently runs without a
//! setting it asked for. Null, false, 0, "", [] and {} mean "not set", which is
//! how Amazon ECS fills fields the task definition leaves out (`"CapAdd":[]`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::container::{Ulimit, UlimitName};
use super::log_driver::LogDriver;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DockerCreateConfig {
    pub labels: BTreeMap<String, String>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub hostname: Option<String>,
    /// `Healthcheck` (Amazon ECS spells it `HealthCheck`); `None` when
    /// absent or `["NONE"]`.
    pub health_check: Option<super::health::HealthCheck>,
    /// `NetworkDisabled` (disableNetworking).
    pub network_disabled: bool,
    /// `Tty` (pseudoTerminal).
    pub tty: bool,
    /// `OpenStdin` (interactive).
    pub open_stdin: bool,
    /// Keys that are no field of Docker's `Config`, as `dockerConfig.config.KEY`.
    pub unknown_keys: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DockerHostConfig {
    pub ulimits: Vec<Ulimit>,
    pub readonly_rootfs: bool,
    pub memory_reservation_bytes: Option<i64>,
    pub privileged: bool,
    /// `NetworkMode` as sent (Amazon ECS repeats the task's network mode
    /// here); the caller checks it against the task's.
    pub network_mode: Option<String>,
    /// Capabilities, devices, init, shm, tmpfs, swap, sysctls, security options.
    pub linux: super::linux::LinuxOptions,
    /// `Dns` (dnsServers), as sent; `task::netopts` validates them.
    pub dns: Vec<String>,
    /// `DnsSearch` (dnsSearchDomains).
    pub dns_search: Vec<String>,
    /// `ExtraHosts` (extraHosts), Docker's `host:ip` strings.
    pub extra_hosts: Vec<String>,
    /// `LogConfig`: the log driver and its options.
    pub log: LogDriver,
    /// Keys that are no field of Docker's `HostConfig`, as `dockerConfig.hostConfig.KEY`.
    pub unknown_keys: Vec<String>,
}

/// Every field of Docker's `container.Config` (its JSON names).
const CONFIG_FIELDS: &[&str] = &[
    "Hostname",
    "Domainname",
    "User",
    "AttachStdin",
    "AttachStdout",
    "AttachStderr",
    "ExposedPorts",
    "Tty",
    "OpenStdin",
    "StdinOnce",
    "Env",
    "Cmd",
    "Healthcheck",
    "ArgsEscaped",
    "Image",
    "Volumes",
    "WorkingDir",
    "Entrypoint",
    "NetworkDisabled",
    "MacAddress",
    "OnBuild",
    "Labels",
    "StopSignal",
    "StopTimeout",
    "Shell",
];

/// The `Config` fields this agent applies.
const CONFIG_IMPLEMENTED: &[&str] = &[
    "Labels",
    "User",
    "WorkingDir",
    "Hostname",
    "Healthcheck",
    // Only as the shell of a CMD-SHELL health check, its one use in a
    // container that is not building an image.
    "Shell",
    "NetworkDisabled",
    "Tty",
    "OpenStdin",
];

/// Every field of Docker's `container.HostConfig`, its embedded `Resources`
/// included (their JSON names).
const HOST_CONFIG_FIELDS: &[&str] = &[
    "Binds",
    "ContainerIDFile",
    "LogConfig",
    "NetworkMode",
    "PortBindings",
    "RestartPolicy",
    "AutoRemove",
    "VolumeDriver",
    "VolumesFrom",
    "ConsoleSize",
    "Annotations",
    "CapAdd",
    "CapDrop",
    "CgroupnsMode",
    "Dns",
    "DnsOptions",
    "DnsSearch",
    "ExtraHosts",
    "GroupAdd",
    "IpcMode",
    "Cgroup",
    "Links",
    "OomScoreAdj",
    "PidMode",
    "Privileged",
    "PublishAllPorts",
    "ReadonlyRootfs",
    "SecurityOpt",
    "StorageOpt",
    "Tmpfs",
    "UTSMode",
    "UsernsMode",
    "ShmSize",
    "Sysctls",
    "Runtime",
    "Isolation",
    "CpuShares",
    "Memory",
    "NanoCpus",
    "CgroupParent",
    "BlkioWeight",
    "BlkioWeightDevice",
    "BlkioDeviceReadBps",
    "BlkioDeviceWriteBps",
    "BlkioDeviceReadIOps",
    "BlkioDeviceWriteIOps",
    "CpuPeriod",
    "CpuQuota",
    "CpuRealtimePeriod",
    "CpuRealtimeRuntime",
    "CpusetCpus",
    "CpusetMems",
    "Devices",
    "DeviceCgroupRules",
    "DeviceRequests",
    "KernelMemory",
    "KernelMemoryTCP",
    "MemoryReservation",
    "MemorySwap",
    "MemorySwappiness",
    "OomKillDisable",
    "PidsLimit",
    "Ulimits",
    "CpuCount",
    "CpuPercent",
    "IOMaximumIOps",
    "IOMaximumBandwidth",
    "MaskedPaths",
    "ReadonlyPaths",
    "Init",
];

/// The `HostConfig` fields this agent applies, or checks against what it
/// applies by other means (`NetworkMode` against the task's network mode).
const HOST_CONFIG_IMPLEMENTED: &[&str] = &[
    "Ulimits",
    "ReadonlyRootfs",
    "MemoryReservation",
    "Privileged",
    "LogConfig",
    "NetworkMode",
    // super::linux reads these:
    "CapAdd",
    "CapDrop",
    "Devices",
    "Init",
    "ShmSize",
    "Tmpfs",
    "MemorySwap",
    "MemorySwappiness",
    "Sysctls",
    "SecurityOpt",
    "PidMode",
    "IpcMode",
    "Dns",
    "DnsSearch",
    "ExtraHosts",
];

/// A decoded object keyed by Docker's field names, each value with the key it
/// was sent under (error messages name what the user's payload says).
struct Fields {
    field: &'static str,
    by_name: BTreeMap<&'static str, (String, Value)>,
    unknown: Vec<String>,
}

impl Fields {
    fn decode(
        field: &'static str,
        text: Option<&str>,
        known: &[&'static str],
    ) -> Result<Self, String> {
        let mut fields = Fields {
            field,
            by_name: BTreeMap::new(),
            unknown: Vec::new(),
        };
        let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
            return Ok(fields);
        };
        let m: Map<String, Value> = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => m,
            Ok(Value::Null) => return Ok(fields),
            Ok(_) => return Err(format!("{field}: expected a JSON object")),
            Err(e) => return Err(format!("{field}: invalid JSON: {e}")),
        };
        for (key, value) in m {
            // Go prefers an exact match, then takes any that equals ignoring case.
            let name = known
                .iter()
                .find(|n| **n == key)
                .or_else(|| known.iter().find(|n| n.eq_ignore_ascii_case(&key)));
            match name {
                Some(name) => {
                    let exact = *name == key;
                    match fields.by_name.get(name) {
                        // An exact spelling wins over a case-folded one.
                        Some((sent, _)) if sent == name && !exact => {}
                        _ => {
                            fields.by_name.insert(name, (key, value));
                        }
                    }
                }
                None => fields.unknown.push(format!("{field}.{key}")),
            }
        }
        Ok(fields)
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.by_name.get(name).map(|(_, v)| v)
    }

    /// `FIELD.KEY` as the payload spelled it.
    fn path(&self, name: &str) -> String {
        let sent = self.by_name.get(name).map_or(name, |(k, _)| k.as_str());
        format!("{}.{sent}", self.field)
    }

    fn refuse_unimplemented(&self, implemented: &[&str]) -> Result<(), String> {
        for (name, (sent, value)) in &self.by_name {
            if !implemented.contains(name) && !is_unset(value) {
                return Err(format!(
                    "{}.{sent} is not supported by this agent",
                    self.field
                ));
            }
        }
        Ok(())
    }

    fn opt_string(&self, name: &str) -> Result<Option<String>, String> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{}: expected a string", self.path(name))),
        }
    }

    /// A list of strings; null is empty, as Go decodes it.
    fn strings(&self, name: &str) -> Result<Vec<String>, String> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(format!("{}[{i}]: expected a string", self.path(name))),
                })
                .collect(),
            Some(_) => Err(format!("{}: expected a list of strings", self.path(name))),
        }
    }

    fn opt_bool(&self, name: &str) -> Result<bool, String> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(format!("{}: expected true or false", self.path(name))),
        }
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

/// Value of a key of a nested Docker object (`LogConfig.Type`), matched as Go
/// matches it: exactly, else ignoring case.
fn nested<'v>(m: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    m.get(name).or_else(|| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

pub fn parse_config(text: Option<&str>) -> Result<DockerCreateConfig, String> {
    let f = Fields::decode("dockerConfig.config", text, CONFIG_FIELDS)?;
    f.refuse_unimplemented(CONFIG_IMPLEMENTED)?;
    let labels = match f.get("Labels") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(o)) => o
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(format!("{}.{k}: expected a string", f.path("Labels"))),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(format!(
                "{}: expected an object of strings",
                f.path("Labels")
            ))
        }
    };
    let shell = match f.get("Shell") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| format!("{}: expected a list of strings", f.path("Shell")))?,
        Some(_) => return Err(format!("{}: expected a list of strings", f.path("Shell"))),
    };
    let health_check = match f.get("Healthcheck") {
        None | Some(Value::Null) => None,
        Some(v) => super::health::parse(&f.path("Healthcheck"), v, shell)?,
    };
    Ok(DockerCreateConfig {
        labels,
        health_check,
        user: f.opt_string("User")?,
        working_dir: f.opt_string("WorkingDir")?,
        hostname: f.opt_string("Hostname")?,
        network_disabled: f.opt_bool("NetworkDisabled")?,
        tty: f.opt_bool("Tty")?,
        open_stdin: f.opt_bool("OpenStdin")?,
        unknown_keys: f.unknown.clone(),
    })
}

pub fn parse_host_config(text: Option<&str>) -> Result<DockerHostConfig, String> {
    parse_host_config_with(text, &[])
}

/// `log_secrets`: the names of the container's `logConfiguration.secretOptions`
/// (their values are fetched at create; see `log_driver::accept`).
pub fn parse_host_config_with(
    text: Option<&str>,
    log_secrets: &[String],
) -> Result<DockerHostConfig, String> {
    let f = Fields::decode("dockerConfig.hostConfig", text, HOST_CONFIG_FIELDS)?;
    f.refuse_unimplemented(HOST_CONFIG_IMPLEMENTED)?;
    let log = match f.get("LogConfig") {
        // Docker's default driver (json-file), which secretOptions may name.
        None | Some(Value::Null) => {
            super::log_driver::accept("", None, &f.path("LogConfig"), log_secrets)?
        }
        Some(Value::Object(log)) => {
            let kind = match nested(log, "Type") {
                None | Some(Value::Null) => "",
                Some(Value::String(s)) => s.as_str(),
                Some(_) => return Err(format!("{}.Type: expected a string", f.path("LogConfig"))),
            };
            super::log_driver::accept(
                kind,
                nested(log, "Config"),
                &f.path("LogConfig"),
                log_secrets,
            )?
        }
        Some(_) => return Err(format!("{}: expected an object", f.path("LogConfig"))),
    };
    let memory_reservation_bytes = match f.get("MemoryReservation") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_i64() {
            Some(0) => None,
            Some(n) if n > 0 => Some(n),
            _ => {
                return Err(format!(
                    "{}: expected a positive number of bytes",
                    f.path("MemoryReservation")
                ))
            }
        },
    };
    let mut ulimits = Vec::new();
    match f.get("Ulimits") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                ulimits.push(parse_ulimit(&format!("{}[{i}]", f.path("Ulimits")), item)?);
            }
        }
        Some(_) => return Err(format!("{}: expected a list", f.path("Ulimits"))),
    }
    let linux = super::linux::parse_host_config(&|n| f.get(n).cloned(), &|n| f.path(n))?;
    Ok(DockerHostConfig {
        linux,
        ulimits,
        readonly_rootfs: f.opt_bool("ReadonlyRootfs")?,
        memory_reservation_bytes,
        privileged: f.opt_bool("Privileged")?,
        network_mode: f.opt_string("NetworkMode")?,
        dns: f.strings("Dns")?,
        dns_search: f.strings("DnsSearch")?,
        extra_hosts: f.strings("ExtraHosts")?,
        log,
        unknown_keys: f.unknown.clone(),
    })
}

fn parse_ulimit(field: &str, v: &Value) -> Result<Ulimit, String> {
    let v = v
        .as_object()
        .ok_or_else(|| format!("{field}: expected an object"))?;
    let name = nested(v, "Name")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{field}.Name: missing"))?;
    let name = ulimit_name(name).ok_or_else(|| format!("{field}.Name: unknown ulimit {name:?}"))?;
    let limit = |key: &str| -> Result<u64, String> {
        match nested(v, key) {
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
        let e = parse_host_config(Some(r#"{"CapAdd":["NET_ADMINS"]}"#)).unwrap_err();
        assert_eq!(
            e,
            "dockerConfig.hostConfig.CapAdd[0]: unknown capability \"NET_ADMINS\""
        );
        let e = parse_host_config(Some(r#"{"LogConfig":{"Type":"awslogs"}}"#)).unwrap_err();
        assert!(
            e.contains("LogConfig.Config: must specify a value for log opt 'awslogs-group'"),
            "{e}"
        );
        let e = parse_config(Some("{not json")).unwrap_err();
        assert!(e.starts_with("dockerConfig.config: invalid JSON"), "{e}");
        let e = parse_config(Some(r#"{"User":5}"#)).unwrap_err();
        assert_eq!(e, "dockerConfig.config.User: expected a string");
        let e = parse_config(Some("[1]")).unwrap_err();
        assert_eq!(e, "dockerConfig.config: expected a JSON object");
    }
    #[test]
    fn keys_match_docker_fields_ignoring_case_as_go_does() {
        let c = parse_config(Some(r#"{"user":"0","WORKINGDIR":"/w","labels":{"a":"b"}}"#)).unwrap();
        assert_eq!(c.user.as_deref(), Some("0"));
        assert_eq!(c.working_dir.as_deref(), Some("/w"));
        assert_eq!(c.labels.get("a").map(String::as_str), Some("b"));
        let h = parse_host_config(Some(
            r#"{"ulimits":[{"name":"nofile","soft":10,"hard":20}],"readonlyrootfs":true,"networkmode":"bridge"}"#,
        ))
        .unwrap();
        assert_eq!(h.ulimits[0].hard, 20);
        assert!(h.readonly_rootfs);
        assert_eq!(h.network_mode.as_deref(), Some("bridge"));
        // An exact spelling wins over a case-folded one, whatever the order.
        let c = parse_config(Some(r#"{"User":"exact","user":"folded"}"#)).unwrap();
        assert_eq!(c.user.as_deref(), Some("exact"));
    }

    #[test]
    fn keys_docker_does_not_define_are_ignored_and_reported() {
        let c = parse_config(Some(r#"{"User":"0","SomethingNew":{"x":1}}"#)).unwrap();
        assert_eq!(c.user.as_deref(), Some("0"));
        assert_eq!(c.unknown_keys, vec!["dockerConfig.config.SomethingNew"]);
        let h = parse_host_config(Some(r#"{"CapAdd":[],"Futuristic":true}"#)).unwrap();
        assert_eq!(h.unknown_keys, vec!["dockerConfig.hostConfig.Futuristic"]);
    }

    #[test]
    fn docker_fields_not_implemented_are_refused_by_the_name_sent() {
        let e = parse_host_config(Some(r#"{"dnsOptions":["ndots:2"]}"#)).unwrap_err();
        assert_eq!(
            e,
            "dockerConfig.hostConfig.dnsOptions is not supported by this agent"
        );
        let e = parse_config(Some(r#"{"StdinOnce":true}"#)).unwrap_err();
        assert_eq!(
            e,
            "dockerConfig.config.StdinOnce is not supported by this agent"
        );
        // Set to Docker's zero value, they are not set at all.
        parse_host_config(Some(
            r#"{"Dns":[],"ShmSize":0,"Init":false,"SecurityOpt":null}"#,
        ))
        .unwrap();
    }

    #[test]
    fn dns_hosts_and_terminal_fields_are_read_as_amazon_ecs_sends_them() {
        // Docker's field names (Amazon ECS maps dnsServers to Dns,
        // dnsSearchDomains to DnsSearch, extraHosts to ExtraHosts as
        // "host:ip", pseudoTerminal to Tty, interactive to OpenStdin,
        // disableNetworking to NetworkDisabled: the ECS service model's
        // ContainerDefinition docs; the Go agent's TestDockerHostConfigRawConfig
        // and TestDockerConfigRawConfig decode these keys).
        let h = parse_host_config(Some(
            r#"{"Dns":["10.0.0.2","fd00::53"],"DnsSearch":["a.example"],"ExtraHosts":["db:10.0.0.9"],"CapAdd":[]}"#,
        ))
        .unwrap();
        assert_eq!(h.dns, vec!["10.0.0.2", "fd00::53"]);
        assert_eq!(h.dns_search, vec!["a.example"]);
        assert_eq!(h.extra_hosts, vec!["db:10.0.0.9"]);
        let c = parse_config(Some(
            r#"{"Tty":true,"OpenStdin":true,"NetworkDisabled":true}"#,
        ))
        .unwrap();
        assert!(c.tty && c.open_stdin && c.network_disabled);
        assert_eq!(
            parse_host_config(Some(r#"{"Dns":null}"#)).unwrap().dns,
            Vec::<String>::new()
        );
        let e = parse_host_config(Some(r#"{"Dns":"10.0.0.2"}"#)).unwrap_err();
        assert_eq!(e, "dockerConfig.hostConfig.Dns: expected a list of strings");
        let e = parse_host_config(Some(r#"{"ExtraHosts":["a:1.2.3.4",5]}"#)).unwrap_err();
        assert_eq!(
            e,
            "dockerConfig.hostConfig.ExtraHosts[1]: expected a string"
        );
    }
}
