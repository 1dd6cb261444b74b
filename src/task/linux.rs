//! The process and security settings of a container: what a task definition's
//! `linuxParameters`, `systemControls` and `dockerSecurityOptions` (and the
//! task's `pidMode`/`ipcMode`) become.
//!
//! Amazon ECS does not hand these to the agent as the task definition spells
//! them: it translates them into Docker's create options inside
//! `dockerConfig.hostConfig` (`CapAdd`, `CapDrop`, `Devices`, `Init`,
//! `ShmSize`, `Tmpfs`, `MemorySwap`, `MemorySwappiness`, `Sysctls`,
//! `SecurityOpt`), which the Go agent passes to Docker untouched
//! (agent/api/task/task.go `dockerHostConfig`). The ACS `linuxParameters`
//! member repeats a subset; the Go agent never reads it, and neither does
//! this. Values are read with Docker's meaning and checked here, so that a bad
//! one stops the task before anything of it exists, with a reason naming it.

use std::collections::BTreeMap;

use serde_json::Value;

/// What the container's process gets beyond the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct LinuxOptions {
    /// `CAP_*` names, or `ALL`.
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub devices: Vec<DeviceMapping>,
    /// `initProcessEnabled`: an init runs as PID 1 and starts the command.
    pub init: bool,
    /// Size of /dev/shm; `None`: Docker's 64 MiB.
    pub shm_size_bytes: Option<u64>,
    pub tmpfs: Vec<TmpfsMount>,
    /// Docker's `MemorySwap`: memory plus swap, -1 unlimited; `None`: twice
    /// the memory limit (Docker's default).
    pub memory_swap_bytes: Option<i64>,
    pub swappiness: Option<u64>,
    pub sysctls: BTreeMap<String, String>,
    pub no_new_privileges: bool,
    /// `seccomp=unconfined`: no seccomp filter (the default profile otherwise).
    pub seccomp_unconfined: bool,
    pub apparmor_profile: Option<String>,
    pub pid: PidMode,
    pub ipc: IpcMode,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeviceMapping {
    pub host_path: String,
    pub container_path: String,
    /// Some of `r`, `w`, `m` (device cgroup access).
    pub permissions: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TmpfsMount {
    pub destination: String,
    /// Mount options as Docker applies them (its defaults merged in).
    pub options: Vec<String>,
}

/// The container's PID namespace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PidMode {
    #[default]
    Private,
    /// The host's (`pidMode: host`).
    Host,
    /// One shared by the task's containers (`pidMode: task`), held by the
    /// task's namespace holder (the Go agent's pause container).
    Task,
}

/// The container's IPC namespace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum IpcMode {
    #[default]
    Private,
    /// The host's, with the host's /dev/shm (`ipcMode: host`).
    Host,
    /// Its own namespace without /dev/shm (`ipcMode: none`).
    None,
    /// One namespace and one /dev/shm shared by the task's containers
    /// (`ipcMode: task`), held by the task's namespace holder.
    Task,
}

impl LinuxOptions {
    /// The container joins its task's namespace holder.
    pub fn joins_task_namespaces(&self) -> bool {
        self.pid == PidMode::Task || self.ipc == IpcMode::Task
    }
}

/// Capability names without `CAP_` (linux/capability.h; Docker's list).
pub const CAPABILITY_NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// Docker's default capability set (moby oci/caps/defaults.go).
pub const DOCKER_DEFAULT_CAPS: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

impl LinuxOptions {
    /// The capability set Docker gives (moby oci/caps `TweakCapabilities`):
    /// `ALL` added is everything but the drops; `ALL` dropped is only the adds;
    /// else the defaults minus the drops plus the adds. `all` is what
    /// "everything" means on this host. Privileged containers are not asked.
    pub fn capabilities(&self, all: &[String]) -> Vec<String> {
        let has_all = |v: &[String]| v.iter().any(|c| c == "ALL");
        let mut caps: Vec<String> = if has_all(&self.cap_add) {
            all.iter()
                .filter(|c| !self.cap_drop.contains(c))
                .cloned()
                .collect()
        } else if has_all(&self.cap_drop) {
            self.cap_add.clone()
        } else {
            DOCKER_DEFAULT_CAPS
                .iter()
                .map(|c| c.to_string())
                .filter(|c| !self.cap_drop.contains(c))
                .chain(self.cap_add.iter().cloned())
                .collect()
        };
        let mut seen = Vec::new();
        caps.retain(|c| {
            let new = !seen.contains(c);
            seen.push(c.clone());
            new
        });
        caps
    }
}

/// Reads the hostConfig keys of this module. `get(name)` gives the value of
/// Docker's field `name`, `path(name)` how the payload spelled it.
pub(super) fn parse_host_config(
    get: &dyn Fn(&str) -> Option<Value>,
    path: &dyn Fn(&str) -> String,
) -> Result<LinuxOptions, String> {
    let mut o = LinuxOptions::default();
    for (key, out) in [("CapAdd", &mut o.cap_add), ("CapDrop", &mut o.cap_drop)] {
        for (i, s) in strings(get(key), &path(key))?.iter().enumerate() {
            out.push(capability(s).map_err(|e| format!("{}[{i}]: {e}", path(key)))?);
        }
    }
    match get("Devices") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                o.devices
                    .push(device(&format!("{}[{i}]", path("Devices")), item)?);
            }
        }
        Some(_) => return Err(format!("{}: expected a list", path("Devices"))),
    }
    o.init = match get("Init") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(_) => return Err(format!("{}: expected true or false", path("Init"))),
    };
    o.shm_size_bytes = match get("ShmSize") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(0) => None,
            Some(n) => Some(n),
            None => {
                return Err(format!(
                    "{}: expected a number of bytes, 0 or more",
                    path("ShmSize")
                ))
            }
        },
    };
    match get("Tmpfs") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (dest, opts) in m {
                let at = format!("{}[{dest:?}]", path("Tmpfs"));
                let opts = match &opts {
                    Value::Null => "",
                    Value::String(s) => s.as_str(),
                    _ => return Err(format!("{at}: expected a string of mount options")),
                };
                o.tmpfs.push(tmpfs(&at, &dest, opts)?);
            }
        }
        Some(_) => {
            return Err(format!(
                "{}: expected an object of path to options",
                path("Tmpfs")
            ))
        }
    }
    o.memory_swap_bytes = match get("MemorySwap") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_i64() {
            Some(0) => None,
            Some(n) if n == -1 || n > 0 => Some(n),
            _ => {
                return Err(format!(
                    "{}: expected a number of bytes, or -1 for unlimited",
                    path("MemorySwap")
                ))
            }
        },
    };
    o.swappiness = match get("MemorySwappiness") {
        // Docker's -1: the host's setting.
        None | Some(Value::Null) => None,
        Some(v) if v.as_i64() == Some(-1) => None,
        Some(v) => match v.as_u64() {
            Some(n) if n <= 100 => Some(n),
            _ => return Err(format!("{}: expected 0 to 100", path("MemorySwappiness"))),
        },
    };
    match get("Sysctls") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let v = match v {
                    Value::String(s) => s,
                    _ => return Err(format!("{}[{k:?}]: expected a string", path("Sysctls"))),
                };
                o.sysctls.insert(k, v);
            }
        }
        Some(_) => {
            return Err(format!(
                "{}: expected an object of strings",
                path("Sysctls")
            ))
        }
    }
    for (i, opt) in strings(get("SecurityOpt"), &path("SecurityOpt"))?
        .iter()
        .enumerate()
    {
        security_opt(&mut o, opt)
            .map_err(|e| format!("{}[{i}] {opt:?}: {e}", path("SecurityOpt")))?;
    }
    o.pid = match get("PidMode").as_ref().and_then(Value::as_str) {
        None | Some("") => PidMode::Private,
        Some("host") => PidMode::Host,
        Some(other) => {
            return Err(format!(
            "{} {other:?}: expected host (containers of a task share one with the task's pidMode)",
            path("PidMode")
        ))
        }
    };
    o.ipc = match get("IpcMode").as_ref().and_then(Value::as_str) {
        None | Some("") | Some("private") | Some("shareable") => IpcMode::Private,
        Some("host") => IpcMode::Host,
        Some("none") => IpcMode::None,
        Some(other) => {
            return Err(format!(
                "{} {other:?}: expected host, none, private or shareable",
                path("IpcMode")
            ))
        }
    };
    Ok(o)
}

fn strings(v: Option<Value>, at: &str) -> Result<Vec<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, s)| match s {
                Value::String(s) => Ok(s),
                _ => Err(format!("{at}[{i}]: expected a string")),
            })
            .collect(),
        Some(_) => Err(format!("{at}: expected a list of strings")),
    }
}

/// `net_admin`, `NET_ADMIN`, `CAP_NET_ADMIN` -> `CAP_NET_ADMIN`; `ALL` stays.
fn capability(s: &str) -> Result<String, String> {
    let upper = s.trim().to_ascii_uppercase();
    if upper == "ALL" {
        return Ok(upper);
    }
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    if CAPABILITY_NAMES.contains(&bare) {
        Ok(format!("CAP_{bare}"))
    } else {
        Err(format!("unknown capability {s:?}"))
    }
}

fn device(at: &str, v: &Value) -> Result<DeviceMapping, String> {
    let m = v
        .as_object()
        .ok_or_else(|| format!("{at}: expected an object"))?;
    let field = |name: &str| -> Result<Option<String>, String> {
        let v = m.get(name).or_else(|| {
            m.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        });
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{at}.{name}: expected a string")),
        }
    };
    let host_path =
        field("PathOnHost")?.ok_or_else(|| format!("{at}.PathOnHost (hostPath): missing"))?;
    if !is_clean_absolute(&host_path) {
        return Err(format!(
            "{at}.PathOnHost (hostPath) {host_path:?}: expected an absolute path"
        ));
    }
    let container_path = field("PathInContainer")?.unwrap_or_else(|| host_path.clone());
    if !is_clean_absolute(&container_path) {
        return Err(format!(
            "{at}.PathInContainer (containerPath) {container_path:?}: expected an absolute path"
        ));
    }
    let permissions = field("CgroupPermissions")?.unwrap_or_else(|| "rwm".to_string());
    if permissions.is_empty() || !permissions.chars().all(|c| "rwm".contains(c)) {
        return Err(format!(
            "{at}.CgroupPermissions (permissions) {permissions:?}: expected some of r, w, m"
        ));
    }
    Ok(DeviceMapping {
        host_path,
        container_path,
        permissions,
    })
}

/// The mount flags a tmpfs takes (the task definition's `mountOptions`).
const TMPFS_FLAGS: &[&str] = &[
    "defaults",
    "ro",
    "rw",
    "suid",
    "nosuid",
    "dev",
    "nodev",
    "exec",
    "noexec",
    "sync",
    "async",
    "dirsync",
    "remount",
    "mand",
    "nomand",
    "atime",
    "noatime",
    "diratime",
    "nodiratime",
    "bind",
    "rbind",
    "unbindable",
    "runbindable",
    "private",
    "rprivate",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "relatime",
    "norelatime",
    "strictatime",
    "nostrictatime",
];
/// Options of tmpfs itself, `key=value`.
const TMPFS_DATA: &[&str] = &[
    "size",
    "mode",
    "uid",
    "gid",
    "nr_inodes",
    "nr_blocks",
    "mpol",
];

fn tmpfs(at: &str, dest: &str, opts: &str) -> Result<TmpfsMount, String> {
    if !is_clean_absolute(dest) {
        return Err(format!("{at}: containerPath must be an absolute path"));
    }
    let given: Vec<String> = opts
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(str::to_string)
        .collect();
    for o in &given {
        let ok = match o.split_once('=') {
            Some((k, v)) => TMPFS_DATA.contains(&k) && !v.is_empty(),
            None => TMPFS_FLAGS.contains(&o.as_str()),
        };
        if !ok {
            return Err(format!("{at}: unknown mount option {o:?}"));
        }
    }
    // Docker puts noexec, nosuid, nodev and rprivate first and lets the
    // task's options override them (moby daemon/oci_linux.go, MergeTmpfsOptions).
    let mut options: Vec<String> = ["noexec", "nosuid", "nodev", "rprivate"]
        .iter()
        .map(|s| s.to_string())
        .chain(given)
        .collect();
    options = merge_mount_options(options);
    Ok(TmpfsMount {
        destination: dest.trim_end_matches('/').to_string(),
        options,
    })
}

/// Later options win over earlier ones they contradict (`exec` over
/// `noexec`, `size=` over `size=`); the order of first appearance is kept.
fn merge_mount_options(opts: Vec<String>) -> Vec<String> {
    let key = |o: &str| -> String {
        if let Some((k, _)) = o.split_once('=') {
            return k.to_string();
        }
        const PROPAGATION: &[&str] = &[
            "private",
            "rprivate",
            "shared",
            "rshared",
            "slave",
            "rslave",
            "unbindable",
            "runbindable",
        ];
        if PROPAGATION.contains(&o) {
            return "propagation".to_string();
        }
        match o {
            "ro" | "rw" => "rw".to_string(),
            "atime" | "noatime" | "relatime" | "norelatime" | "strictatime" | "nostrictatime" => {
                "atime".to_string()
            }
            "sync" | "async" => "sync".to_string(),
            _ => o.strip_prefix("no").unwrap_or(o).to_string(),
        }
    };
    let mut out: Vec<String> = Vec::new();
    for o in opts {
        match out.iter().position(|e| key(e) == key(&o)) {
            Some(i) => out[i] = o,
            None => out.push(o),
        }
    }
    out
}

/// One `SecurityOpt` entry, Docker's spellings: `key=value`, or the older
/// `key:value`.
fn security_opt(o: &mut LinuxOptions, opt: &str) -> Result<(), String> {
    let (key, value) = match opt.split_once('=') {
        Some(kv) => kv,
        None => opt.split_once(':').unwrap_or((opt, "")),
    };
    match key {
        "no-new-privileges" => {
            o.no_new_privileges = match value {
                "" | "true" => true,
                "false" => false,
                _ => return Err("expected no-new-privileges[:true|false]".into()),
            }
        }
        "seccomp" if value == "unconfined" => o.seccomp_unconfined = true,
        "seccomp" => {
            return Err("only seccomp=unconfined is supported (custom profiles are not)".into())
        }
        "apparmor" if !value.is_empty() => o.apparmor_profile = Some(value.to_string()),
        // Without SELinux, Docker's label options change nothing; with it
        // they set the process and mount labels, which this agent does not do.
        "label" if value == "disable" => {}
        "label" => {
            return Err(
                "SELinux labels are not supported by this agent yet (label:disable is)".into(),
            )
        }
        "credentialspec" => {
            return Err("gMSA credential specs are not supported by this agent".into())
        }
        _ => {
            return Err(
                "expected no-new-privileges, seccomp=unconfined, apparmor:PROFILE or label:disable"
                    .into(),
            )
        }
    }
    Ok(())
}

/// IPC sysctls the kernel keeps per IPC namespace (runc's validator).
const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Checks that every sysctl belongs to a namespace the container has of its
/// own (runc refuses the others at start; this names them first).
/// `own_netns`: not host network mode.
pub fn check_sysctls(o: &LinuxOptions, own_netns: bool) -> Result<(), String> {
    for name in o.sysctls.keys() {
        let ipc = IPC_SYSCTLS.contains(&name.as_str()) || name.starts_with("fs.mqueue.");
        let net = name.starts_with("net.");
        let problem = if ipc && o.ipc == IpcMode::Host {
            Some("is an IPC sysctl and the container shares the host's IPC namespace")
        } else if net && !own_netns {
            Some("is a network sysctl and the container shares the host's network namespace")
        } else if !ipc && !net {
            Some(
                "is not namespaced; only kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.* \
                 and net.* can be set per container",
            )
        } else {
            None
        };
        if let Some(p) = problem {
            return Err(format!(
                "systemControls (dockerConfig.hostConfig.Sysctls) {name:?} {p}"
            ));
        }
    }
    Ok(())
}

/// `/a/b`: absolute, not `/` itself, no `.`/`..`/empty parts (a trailing `/`
/// aside).
pub fn is_clean_absolute(p: &str) -> bool {
    let Some(rest) = p.strip_prefix('/') else {
        return false;
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    !rest.is_empty()
        && rest
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

#[cfg(test)]
#[path = "linux_tests.rs"]
mod tests;
