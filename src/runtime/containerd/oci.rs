//! The OCI runtime spec for one container: containerd's default Unix spec
//! (mounts, namespaces, masked paths) with Docker's capability set, plus what
//! the task definition asks for. Pure: everything read from the host or the
//! image is passed in.

use std::path::PathBuf;

use oci_spec::runtime::{
    Capabilities, Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxCpuBuilder, LinuxDevice,
    LinuxDeviceBuilder, LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxMemoryBuilder,
    LinuxNamespaceBuilder, LinuxNamespaceType, LinuxResourcesBuilder, Mount, MountBuilder,
    PosixRlimit, PosixRlimitBuilder, PosixRlimitType, ProcessBuilder, RootBuilder, Spec,
    SpecBuilder, UserBuilder,
};

use super::user::ResolvedUser;
use crate::task::container::{ContainerSpec, NetworkAttachment, Ulimit, UlimitName};
use crate::task::linux::{IpcMode, PidMode, CAPABILITY_NAMES};

/// What the spec needs besides the container definition, gathered by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecInputs {
    pub user: ResolvedUser,
    /// containerd namespace; the cgroup is `/<namespace>/<id>`.
    pub namespace: String,
    /// The host's hostname, used in host network mode when none is set.
    pub host_hostname: String,
    /// Host file bind-mounted read-only at /etc/resolv.conf, if any.
    pub resolv_conf: Option<PathBuf>,
    /// Host file bind-mounted read-only at /etc/hosts (host network mode only).
    pub hosts: Option<PathBuf>,
    /// The hard nofile limit runc can grant without CAP_SYS_RESOURCE (the
    /// host's); the default nofile is capped to it. Explicit ulimits are not.
    pub nofile_cap: Option<u64>,
    /// The host's capability bounding set (bit N = capability N), which limits
    /// what a privileged container gets; `None` = all.
    pub cap_bounding: Option<u64>,
    /// The container's `devices`, as found on the host, in order.
    pub devices: Vec<HostDevice>,
    /// The memory cgroup can limit swap (`memory.memsw.*` on cgroup v1,
    /// `memory.swap.max` on v2). Docker drops swap limits where it cannot.
    pub swap_limit: bool,
    /// The init program on the host (`crate::logger::install_init`), for
    /// containers with `initProcessEnabled`.
    pub init: Option<PathBuf>,
}

/// Where Docker mounts its init in the container (moby daemon/oci_linux.go
/// `inContainerInitPath`); programs and scripts look for it there.
pub const INIT_PATH: &str = "/sbin/docker-init";

/// A device node of the host to create in the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostDevice {
    pub container_path: String,
    pub block: bool,
    pub major: i64,
    pub minor: i64,
    pub file_mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Device cgroup access: some of `r`, `w`, `m`.
    pub permissions: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{field} {value:?}: {reason}")]
    Invalid {
        field: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("building the OCI spec: {0}")]
    Build(#[from] oci_spec::OciSpecError),
}

const OCI_VERSION: &str = "1.0.2";
const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Docker daemons on ECS-optimized AMIs run with `--default-ulimit nofile=32768:65536`;
/// the kernel's 1024 is too low for most servers.
const DEFAULT_NOFILE_SOFT: u64 = 32768;
const DEFAULT_NOFILE_HARD: u64 = 65536;
/// The kernel's minimum for cpu.shares; Docker and the ECS agent clamp to it.
const MIN_CPU_SHARES: u64 = 2;

/// Every capability with its number (linux/capability.h), in the order of
/// `crate::task::linux::CAPABILITY_NAMES`.
const ALL_CAPS: [(Capability, u32); 41] = [
    (Capability::Chown, 0),
    (Capability::DacOverride, 1),
    (Capability::DacReadSearch, 2),
    (Capability::Fowner, 3),
    (Capability::Fsetid, 4),
    (Capability::Kill, 5),
    (Capability::Setgid, 6),
    (Capability::Setuid, 7),
    (Capability::Setpcap, 8),
    (Capability::LinuxImmutable, 9),
    (Capability::NetBindService, 10),
    (Capability::NetBroadcast, 11),
    (Capability::NetAdmin, 12),
    (Capability::NetRaw, 13),
    (Capability::IpcLock, 14),
    (Capability::IpcOwner, 15),
    (Capability::SysModule, 16),
    (Capability::SysRawio, 17),
    (Capability::SysChroot, 18),
    (Capability::SysPtrace, 19),
    (Capability::SysPacct, 20),
    (Capability::SysAdmin, 21),
    (Capability::SysBoot, 22),
    (Capability::SysNice, 23),
    (Capability::SysResource, 24),
    (Capability::SysTime, 25),
    (Capability::SysTtyConfig, 26),
    (Capability::Mknod, 27),
    (Capability::Lease, 28),
    (Capability::AuditWrite, 29),
    (Capability::AuditControl, 30),
    (Capability::Setfcap, 31),
    (Capability::MacOverride, 32),
    (Capability::MacAdmin, 33),
    (Capability::Syslog, 34),
    (Capability::WakeAlarm, 35),
    (Capability::BlockSuspend, 36),
    (Capability::AuditRead, 37),
    (Capability::Perfmon, 38),
    (Capability::Bpf, 39),
    (Capability::CheckpointRestore, 40),
];

const MASKED_PATHS: [&str; 10] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
];

const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Build the runtime spec for `spec`.
pub fn build_spec(spec: &ContainerSpec, inputs: &SpecInputs) -> Result<Spec, SpecError> {
    validate(spec)?;
    let privileged = spec.privileged;

    let named_caps = capabilities(spec, inputs);
    let caps: Capabilities = named_caps.iter().map(|(_, c)| *c).collect();
    // Docker's default seccomp profile, unless privileged or lifted.
    let seccomp = if privileged || spec.linux.seccomp_unconfined {
        None
    } else {
        let names: Vec<String> = named_caps.into_iter().map(|(n, _)| n).collect();
        Some(super::seccomp::default_profile(&names)?)
    };
    // The builder fills unset sets from oci-spec's defaults, which grant
    // inheritable and ambient capabilities; Docker grants neither.
    let mut capabilities = LinuxCapabilitiesBuilder::default()
        .bounding(caps.clone())
        .effective(caps.clone())
        .permitted(caps)
        .build()?;
    capabilities.set_inheritable(None);
    capabilities.set_ambient(None);
    let mut additional_gids = inputs.user.additional_gids.clone();
    additional_gids.retain(|g| *g != inputs.user.gid);
    let mut user = UserBuilder::default()
        .uid(inputs.user.uid)
        .gid(inputs.user.gid);
    if !additional_gids.is_empty() {
        user = user.additional_gids(additional_gids);
    }

    let process = ProcessBuilder::default()
        .terminal(spec.tty)
        .user(user.build()?)
        .args(process_args(spec, inputs)?)
        .env(process_env(spec, &inputs.user))
        .cwd(spec.cwd.clone())
        .capabilities(capabilities)
        .rlimits(rlimits(&spec.ulimits, inputs.nofile_cap)?)
        // Docker's default: setuid binaries (sudo, ping) keep working.
        .no_new_privileges(spec.linux.no_new_privileges);
    let process = match &spec.linux.apparmor_profile {
        Some(profile) => process.apparmor_profile(profile.clone()),
        None => process,
    }
    .build()?;

    let hostname = match (&spec.hostname, &spec.network) {
        (Some(h), _) => h.clone(),
        (None, NetworkAttachment::Host) => inputs.host_hostname.clone(),
        // Docker's default: the short container id.
        (None, NetworkAttachment::Namespace(_) | NetworkAttachment::Isolated) => {
            spec.id.chars().take(12).collect()
        }
    };

    let mut namespaces = Vec::new();
    // Without a namespace entry the container is in the host's; with a
    // path it joins the task's namespace holder's.
    let pid = match spec.linux.pid {
        PidMode::Private => Some(None),
        PidMode::Host => None,
        PidMode::Task => Some(Some(holder_ns(spec, "pid")?)),
    };
    let ipc = match spec.linux.ipc {
        IpcMode::Private | IpcMode::None => Some(None),
        IpcMode::Host => None,
        IpcMode::Task => Some(Some(holder_ns(spec, "ipc")?)),
    };
    for (typ, ns) in [
        (LinuxNamespaceType::Pid, pid),
        (LinuxNamespaceType::Ipc, ipc),
        (LinuxNamespaceType::Uts, Some(None)),
        (LinuxNamespaceType::Mount, Some(None)),
    ] {
        match ns {
            None => {}
            Some(None) => namespaces.push(LinuxNamespaceBuilder::default().typ(typ).build()?),
            Some(Some(path)) => namespaces.push(
                LinuxNamespaceBuilder::default()
                    .typ(typ)
                    .path(path)
                    .build()?,
            ),
        }
    }
    match &spec.network {
        NetworkAttachment::Namespace(path) => namespaces.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::Network)
                .path(path.clone())
                .build()?,
        ),
        // A new namespace: runc brings its loopback up, nothing else is in it.
        NetworkAttachment::Isolated => namespaces.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::Network)
                .build()?,
        ),
        NetworkAttachment::Host => {}
    }

    let mut linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .resources(resources(spec, inputs)?)
        .devices(devices(inputs)?)
        .cgroups_path(PathBuf::from(match &spec.cgroup_parent {
            // runc's cgroupfs driver takes a path: the task cgroup's child.
            Some(parent) => format!("{}/{}", parent.trim_end_matches('/'), spec.id),
            None => format!("/{}/{}", inputs.namespace, spec.id),
        }));
    if let Some(seccomp) = seccomp {
        linux = linux.seccomp(seccomp);
    }
    if !spec.linux.sysctls.is_empty() {
        linux = linux.sysctl(
            spec.linux
                .sysctls
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<std::collections::HashMap<_, _>>(),
        );
    }
    if privileged {
        linux = linux
            .masked_paths(Vec::<String>::new())
            .readonly_paths(Vec::<String>::new());
    } else {
        linux = linux
            .masked_paths(
                MASKED_PATHS
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>(),
            )
            .readonly_paths(
                READONLY_PATHS
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>(),
            );
    }

    Ok(SpecBuilder::default()
        .version(OCI_VERSION)
        .root(
            RootBuilder::default()
                .path("rootfs")
                .readonly(spec.readonly_rootfs)
                .build()?,
        )
        .process(process)
        .hostname(hostname)
        .mounts(mounts(spec, inputs)?)
        .linux(linux.build()?)
        .build()?)
}

/// A namespace of the task's holder, as runc on the host finds it.
fn holder_ns(spec: &ContainerSpec, ns: &'static str) -> Result<PathBuf, SpecError> {
    let pid = spec.namespace_holder.ok_or_else(|| SpecError::Invalid {
        field: if ns == "pid" { "pidMode" } else { "ipcMode" },
        value: "task".into(),
        reason: "the task's namespace holder is not running",
    })?;
    Ok(PathBuf::from(format!("/proc/{pid}/ns/{ns}")))
}

/// Docker's `--init`: only a container with a PID namespace of its own gets
/// it (moby: `PidMode.IsPrivate()`); in the host's or a shared one the init
/// would not be PID 1.
fn uses_init(spec: &ContainerSpec) -> bool {
    spec.linux.init && spec.linux.pid == PidMode::Private
}

/// The command, behind the init when the container has one.
fn process_args(spec: &ContainerSpec, inputs: &SpecInputs) -> Result<Vec<String>, SpecError> {
    if !uses_init(spec) {
        return Ok(spec.args.clone());
    }
    if inputs.init.is_none() {
        return Err(SpecError::Invalid {
            field: "linuxParameters.initProcessEnabled",
            value: "true".into(),
            reason: "this agent has no init program installed",
        });
    }
    Ok([INIT_PATH.to_string(), "--".to_string()]
        .into_iter()
        .chain(spec.args.iter().cloned())
        .collect())
}

fn validate(spec: &ContainerSpec) -> Result<(), SpecError> {
    let invalid = |field, value: &str, reason| {
        Err(SpecError::Invalid {
            field,
            value: value.to_string(),
            reason,
        })
    };
    if spec.args.is_empty() {
        return invalid(
            "command",
            "",
            "no command: neither the container nor the image sets one",
        );
    }
    if !spec.cwd.starts_with('/') {
        return invalid("workingDirectory", &spec.cwd, "must be an absolute path");
    }
    if let Some(m) = spec.memory_limit_bytes.filter(|m| *m <= 0) {
        return invalid("memory", &m.to_string(), "must be positive");
    }
    if let Some(m) = spec.memory_reservation_bytes.filter(|m| *m <= 0) {
        return invalid("memoryReservation", &m.to_string(), "must be positive");
    }
    if let NetworkAttachment::Namespace(p) = &spec.network {
        if !p.is_absolute() {
            return invalid(
                "network namespace",
                &p.display().to_string(),
                "must be absolute",
            );
        }
    }
    for m in &spec.mounts {
        if !m.source.is_absolute() {
            return invalid(
                "mounts.source",
                &m.source.display().to_string(),
                "must be an absolute path",
            );
        }
        if !is_clean_absolute(&m.destination) {
            return invalid(
                "mounts.destination",
                &m.destination,
                "must be an absolute path below / without . or .. parts",
            );
        }
    }
    for t in &spec.linux.tmpfs {
        if !is_clean_absolute(&t.destination) {
            return invalid(
                "linuxParameters.tmpfs.containerPath",
                &t.destination,
                "must be an absolute path below / without . or .. parts",
            );
        }
    }
    for u in &spec.ulimits {
        if u.soft > u.hard {
            return invalid(
                "ulimits",
                &format!("{}={}:{}", ulimit_name(u.name), u.soft, u.hard),
                "soft limit above hard limit",
            );
        }
    }
    Ok(())
}

/// `/a/b`: absolute, not `/` itself, no `.`/`..`/empty parts (a trailing
/// `/` aside), so two spellings of one path cannot dodge the override below.
fn is_clean_absolute(p: &str) -> bool {
    let Some(rest) = p.strip_prefix('/') else {
        return false;
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    !rest.is_empty()
        && rest
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

fn process_env(spec: &ContainerSpec, user: &ResolvedUser) -> Vec<String> {
    let mut env = spec.env.clone();
    let has = |env: &[String], key: &str| {
        env.iter()
            .any(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key)
    };
    if !has(&env, "PATH") {
        env.insert(0, DEFAULT_PATH.to_string());
    }
    if !has(&env, "HOSTNAME") {
        if let Some(h) = &spec.hostname {
            env.push(format!("HOSTNAME={h}"));
        }
    }
    // Docker sets TERM for a container with a terminal, unless it has one.
    if spec.tty && !has(&env, "TERM") {
        env.push("TERM=xterm".to_string());
    }
    if !has(&env, "HOME") {
        let home = user.home.clone().unwrap_or_else(|| "/".to_string());
        env.push(format!("HOME={home}"));
    }
    env
}

fn ulimit_name(n: UlimitName) -> &'static str {
    match n {
        UlimitName::Core => "core",
        UlimitName::Cpu => "cpu",
        UlimitName::Data => "data",
        UlimitName::Fsize => "fsize",
        UlimitName::Locks => "locks",
        UlimitName::Memlock => "memlock",
        UlimitName::Msgqueue => "msgqueue",
        UlimitName::Nice => "nice",
        UlimitName::Nofile => "nofile",
        UlimitName::Nproc => "nproc",
        UlimitName::Rss => "rss",
        UlimitName::Rtprio => "rtprio",
        UlimitName::Rttime => "rttime",
        UlimitName::Sigpending => "sigpending",
        UlimitName::Stack => "stack",
    }
}

fn rlimit_type(n: UlimitName) -> PosixRlimitType {
    match n {
        UlimitName::Core => PosixRlimitType::RlimitCore,
        UlimitName::Cpu => PosixRlimitType::RlimitCpu,
        UlimitName::Data => PosixRlimitType::RlimitData,
        UlimitName::Fsize => PosixRlimitType::RlimitFsize,
        UlimitName::Locks => PosixRlimitType::RlimitLocks,
        UlimitName::Memlock => PosixRlimitType::RlimitMemlock,
        UlimitName::Msgqueue => PosixRlimitType::RlimitMsgqueue,
        UlimitName::Nice => PosixRlimitType::RlimitNice,
        UlimitName::Nofile => PosixRlimitType::RlimitNofile,
        UlimitName::Nproc => PosixRlimitType::RlimitNproc,
        UlimitName::Rss => PosixRlimitType::RlimitRss,
        UlimitName::Rtprio => PosixRlimitType::RlimitRtprio,
        UlimitName::Rttime => PosixRlimitType::RlimitRttime,
        UlimitName::Sigpending => PosixRlimitType::RlimitSigpending,
        UlimitName::Stack => PosixRlimitType::RlimitStack,
    }
}

/// The definition's ulimits, later entries for the same name winning, plus the
/// default nofile when the definition sets none.
fn rlimits(ulimits: &[Ulimit], nofile_cap: Option<u64>) -> Result<Vec<PosixRlimit>, SpecError> {
    let mut chosen: Vec<Ulimit> = Vec::new();
    for u in ulimits {
        chosen.retain(|c| c.name != u.name);
        chosen.push(*u);
    }
    if !chosen.iter().any(|u| u.name == UlimitName::Nofile) {
        let cap = nofile_cap.unwrap_or(u64::MAX);
        chosen.push(Ulimit {
            name: UlimitName::Nofile,
            soft: DEFAULT_NOFILE_SOFT.min(cap),
            hard: DEFAULT_NOFILE_HARD.min(cap),
        });
    }
    chosen
        .iter()
        .map(|u| {
            Ok(PosixRlimitBuilder::default()
                .typ(rlimit_type(u.name))
                .soft(u.soft)
                .hard(u.hard)
                .build()?)
        })
        .collect()
}

/// The capability set: Docker's defaults as the definition tweaks them, or
/// everything for a privileged container; never beyond what this host can
/// grant (asking runc for a capability outside its own bounding set fails
/// the container).
fn capabilities(spec: &ContainerSpec, inputs: &SpecInputs) -> Vec<(String, Capability)> {
    let grantable = |bit: u32| {
        inputs
            .cap_bounding
            .is_none_or(|mask| mask & (1u64 << bit) != 0)
    };
    let host: Vec<String> = CAPABILITY_NAMES
        .iter()
        .zip(ALL_CAPS.iter())
        .filter(|(_, (_, bit))| grantable(*bit))
        .map(|(name, _)| format!("CAP_{name}"))
        .collect();
    let names = if spec.privileged {
        host
    } else {
        spec.linux.capabilities(&host)
    };
    names
        .into_iter()
        .filter_map(|n| {
            let bare = n.strip_prefix("CAP_")?;
            let i = CAPABILITY_NAMES.iter().position(|c| *c == bare)?;
            let (cap, bit) = ALL_CAPS[i];
            grantable(bit).then_some((n, cap))
        })
        .collect()
}

fn devices(inputs: &SpecInputs) -> Result<Vec<LinuxDevice>, SpecError> {
    inputs
        .devices
        .iter()
        .map(|d| {
            Ok(LinuxDeviceBuilder::default()
                .path(d.container_path.clone())
                .typ(if d.block {
                    LinuxDeviceType::B
                } else {
                    LinuxDeviceType::C
                })
                .major(d.major)
                .minor(d.minor)
                .file_mode(d.file_mode)
                .uid(d.uid)
                .gid(d.gid)
                .build()?)
        })
        .collect()
}

fn resources(
    spec: &ContainerSpec,
    inputs: &SpecInputs,
) -> Result<oci_spec::runtime::LinuxResources, SpecError> {
    let mut devices = Vec::new();
    if spec.privileged {
        devices.push(
            LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .access("rwm")
                .build()?,
        );
    } else {
        // Deny all, then allow what containerd's WithDefaultUnixDevices allows.
        devices.push(
            LinuxDeviceCgroupBuilder::default()
                .allow(false)
                .access("rwm")
                .build()?,
        );
        let c = LinuxDeviceType::C;
        let allowed: [(LinuxDeviceType, Option<i64>, Option<i64>, &str); 11] = [
            (c, Some(1), Some(3), "rwm"),          // /dev/null
            (c, Some(1), Some(5), "rwm"),          // /dev/zero
            (c, Some(1), Some(7), "rwm"),          // /dev/full
            (c, Some(5), Some(0), "rwm"),          // /dev/tty
            (c, Some(1), Some(8), "rwm"),          // /dev/random
            (c, Some(1), Some(9), "rwm"),          // /dev/urandom
            (c, Some(5), Some(1), "rwm"),          // /dev/console
            (c, Some(5), Some(2), "rwm"),          // /dev/ptmx
            (c, Some(136), None, "rwm"),           // /dev/pts/*
            (c, None, None, "m"),                  // mknod of any char device
            (LinuxDeviceType::B, None, None, "m"), // mknod of any block device
        ];
        for (typ, major, minor, access) in allowed {
            let mut d = LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(typ)
                .access(access);
            if let Some(major) = major {
                d = d.major(major);
            }
            if let Some(minor) = minor {
                d = d.minor(minor);
            }
            devices.push(d.build()?);
        }
    }
    // The definition's devices, with the access it gives them.
    for d in &inputs.devices {
        devices.push(
            LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(if d.block {
                    LinuxDeviceType::B
                } else {
                    LinuxDeviceType::C
                })
                .major(d.major)
                .minor(d.minor)
                .access(d.permissions.clone())
                .build()?,
        );
    }

    let mut res = LinuxResourcesBuilder::default().devices(devices);
    // Docker: memory plus swap is twice the memory limit unless set; -1 is
    // unlimited; without a limit, swap is not limited either.
    let swap = match (spec.linux.memory_swap_bytes, spec.memory_limit_bytes) {
        _ if !inputs.swap_limit => None,
        (Some(swap), _) => Some(swap),
        (None, Some(limit)) => Some(limit.saturating_mul(2)),
        (None, None) => None,
    };
    let swappiness = spec.linux.swappiness;
    if spec.memory_limit_bytes.is_some()
        || spec.memory_reservation_bytes.is_some()
        || swap.is_some()
        || swappiness.is_some()
    {
        let mut mem = LinuxMemoryBuilder::default();
        if let Some(limit) = spec.memory_limit_bytes {
            mem = mem.limit(limit);
        }
        if let Some(reservation) = spec.memory_reservation_bytes {
            mem = mem.reservation(reservation);
        }
        if let Some(swap) = swap {
            mem = mem.swap(swap);
        }
        if let Some(swappiness) = swappiness {
            mem = mem.swappiness(swappiness);
        }
        res = res.memory(mem.build()?);
    }
    if let Some(shares) = spec.cpu_shares {
        res = res.cpu(
            LinuxCpuBuilder::default()
                .shares(shares.max(MIN_CPU_SHARES))
                .build()?,
        );
    }
    Ok(res.build()?)
}

fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Result<Mount, SpecError> {
    Ok(MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source)
        .options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>())
        .build()?)
}

fn mounts(spec: &ContainerSpec, inputs: &SpecInputs) -> Result<Vec<Mount>, SpecError> {
    let ro = if spec.privileged { "rw" } else { "ro" };
    let mut m = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        )?,
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        )?,
        mount("/sys", "sysfs", "sysfs", &["nosuid", "noexec", "nodev", ro])?,
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["nosuid", "noexec", "nodev", "relatime", ro],
        )?,
    ];
    match spec.linux.ipc {
        // Docker's shm: 64 MiB unless ShmSize says otherwise (in bytes).
        IpcMode::Private => {
            let size = match spec.linux.shm_size_bytes {
                Some(bytes) => format!("size={bytes}"),
                None => "size=65536k".to_string(),
            };
            m.insert(
                3,
                mount(
                    "/dev/shm",
                    "tmpfs",
                    "shm",
                    &["nosuid", "noexec", "nodev", "mode=1777", &size],
                )?,
            );
        }
        // Docker: the host's /dev/shm with the host's IPC namespace.
        IpcMode::Host => m.insert(
            3,
            MountBuilder::default()
                .destination("/dev/shm")
                .typ("bind")
                .source("/dev/shm")
                .options(vec!["rbind".to_string(), "rprivate".to_string()])
                .build()?,
        ),
        // Docker's ipc none: no /dev/shm at all.
        IpcMode::None => {}
        // The task's shared /dev/shm, as Docker mounts the pause
        // container's into containers of `ipc: container:<pause>`.
        IpcMode::Task => {
            let shm = spec.task_shm.as_ref().ok_or_else(|| SpecError::Invalid {
                field: "ipcMode",
                value: "task".into(),
                reason: "the task's shared /dev/shm is not made",
            })?;
            m.insert(
                3,
                MountBuilder::default()
                    .destination("/dev/shm")
                    .typ("bind")
                    .source(shm.clone())
                    .options(vec!["rbind".to_string(), "rprivate".to_string()])
                    .build()?,
            )
        }
    }
    let mut bind = |dest: &str, source: &PathBuf| -> Result<(), SpecError> {
        m.push(
            MountBuilder::default()
                .destination(dest)
                .typ("bind")
                .source(source.clone())
                .options(vec!["rbind".to_string(), "ro".to_string()])
                .build()?,
        );
        Ok(())
    };
    if let Some(resolv) = &inputs.resolv_conf {
        bind("/etc/resolv.conf", resolv)?;
    }
    if let (NetworkAttachment::Host, Some(hosts)) = (&spec.network, &inputs.hosts) {
        bind("/etc/hosts", hosts)?;
    }
    // The container's own mounts win over defaults at the same place, as in Docker.
    let trim = |d: &str| d.trim_end_matches('/').to_string();
    let own: Vec<String> = spec
        .mounts
        .iter()
        .map(|b| trim(&b.destination))
        .chain(spec.linux.tmpfs.iter().map(|t| trim(&t.destination)))
        .collect();
    m.retain(|d| !own.contains(&trim(&d.destination().to_string_lossy())));
    for t in &spec.linux.tmpfs {
        m.push(
            MountBuilder::default()
                .destination(trim(&t.destination))
                .typ("tmpfs")
                .source("tmpfs")
                .options(t.options.clone())
                .build()?,
        );
    }
    for b in &spec.mounts {
        let mode = if b.read_only { "ro" } else { "rw" };
        m.push(
            MountBuilder::default()
                .destination(trim(&b.destination))
                .typ("bind")
                .source(b.source.clone())
                .options(vec!["rbind".to_string(), mode.to_string()])
                .build()?,
        );
    }
    // The health check runner (runner.rs) is the same program as the init,
    // its mount point made in the container's own /dev tmpfs; not when the
    // task mounts something of its own at /dev (a host's /dev would get
    // the mount point): its probes are then plain execs.
    let own_dev = own.iter().any(|d| d == "/dev");
    if let (true, false, Some(init)) = (spec.health_runner, own_dev, &inputs.init) {
        m.push(
            MountBuilder::default()
                .destination(super::runner::RUNNER_PATH)
                .typ("bind")
                .source(init.clone())
                .options(vec![
                    "bind".to_string(),
                    "ro".to_string(),
                    "nosuid".to_string(),
                    "nodev".to_string(),
                ])
                .build()?,
        );
    }
    // Last, as Docker appends it: over whatever the task mounts at /sbin.
    if let (true, Some(init)) = (uses_init(spec), &inputs.init) {
        m.push(
            MountBuilder::default()
                .destination(INIT_PATH)
                .typ("bind")
                .source(init.clone())
                .options(vec!["bind".to_string(), "ro".to_string()])
                .build()?,
        );
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::task::container::{BindMount, ImageConfig, PulledImage};

    fn spec() -> ContainerSpec {
        ContainerSpec {
            id: "c0123456789abcdef".into(),
            image: PulledImage {
                name: "docker.io/library/busybox:latest".into(),
                digest: "sha256:00".into(),
                chain_id: "sha256:11".into(),
                config: ImageConfig::default(),
            },
            args: vec!["sh".into(), "-c".into(), "echo hi".into()],
            env: vec!["PATH=/bin".into(), "A=b".into()],
            cwd: "/".into(),
            user: String::new(),
            hostname: None,
            cpu_shares: None,
            memory_limit_bytes: None,
            memory_reservation_bytes: None,
            cgroup_parent: None,
            privileged: false,
            readonly_rootfs: false,
            ulimits: Vec::new(),
            labels: BTreeMap::new(),
            log: crate::task::container::ContainerLog::Plain("/var/log/x.log".into()),
            network: NetworkAttachment::Namespace("/var/run/netns/task1".into()),
            mounts: Vec::new(),
            populate_from_image: Vec::new(),
            namespace_holder: None,
            task_shm: None,
            linux: Default::default(),
            tty: false,
            health_runner: false,
        }
    }

    fn inputs() -> SpecInputs {
        SpecInputs {
            user: ResolvedUser::root(),
            namespace: "ecs".into(),
            host_hostname: "ip-10-0-0-1".into(),
            resolv_conf: Some("/etc/resolv.conf".into()),
            hosts: Some("/etc/hosts".into()),
            nofile_cap: None,
            cap_bounding: None,
            devices: Vec::new(),
            swap_limit: true,
            init: Some("/var/lib/ecs/data/bin/ecs-agent-init".into()),
        }
    }

    fn json(s: &ContainerSpec, i: &SpecInputs) -> serde_json::Value {
        serde_json::to_value(build_spec(s, i).unwrap()).unwrap()
    }

    fn ns_types(v: &serde_json::Value) -> Vec<String> {
        v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap().to_string())
            .collect()
    }

    fn mount_dests(v: &serde_json::Value) -> Vec<String> {
        v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["destination"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn namespace_network_joins_path() {
        let v = json(&spec(), &inputs());
        assert_eq!(ns_types(&v), ["pid", "ipc", "uts", "mount", "network"]);
        assert_eq!(v["linux"]["namespaces"][4]["path"], "/var/run/netns/task1");
        assert_eq!(v["hostname"], "c0123456789a");
        assert_eq!(v["linux"]["cgroupsPath"], "/ecs/c0123456789abcdef");
        // With task cgroups, under the task's (the Go agent's CgroupParent).
        let mut s = spec();
        s.cgroup_parent = Some("/ecs/task1".into());
        let v2 = json(&s, &inputs());
        assert_eq!(v2["linux"]["cgroupsPath"], "/ecs/task1/c0123456789abcdef");
        let dests = mount_dests(&v);
        assert!(dests.contains(&"/etc/resolv.conf".to_string()));
        assert!(!dests.contains(&"/etc/hosts".to_string()));
    }

    #[test]
    fn host_network_shares_host_netns_and_hostname() {
        let mut s = spec();
        s.network = NetworkAttachment::Host;
        let v = json(&s, &inputs());
        assert_eq!(ns_types(&v), ["pid", "ipc", "uts", "mount"]);
        assert_eq!(v["hostname"], "ip-10-0-0-1");
        let binds: Vec<_> = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["type"] == "bind")
            .map(|m| {
                (
                    m["destination"].clone(),
                    m["source"].clone(),
                    m["options"].clone(),
                )
            })
            .collect();
        assert_eq!(
            binds,
            vec![
                (
                    "/etc/resolv.conf".into(),
                    "/etc/resolv.conf".into(),
                    serde_json::json!(["rbind", "ro"])
                ),
                (
                    "/etc/hosts".into(),
                    "/etc/hosts".into(),
                    serde_json::json!(["rbind", "ro"])
                ),
            ]
        );
        s.hostname = Some("web".into());
        assert_eq!(json(&s, &inputs())["hostname"], "web");
    }

    #[test]
    fn missing_host_files_are_not_mounted() {
        let mut s = spec();
        s.network = NetworkAttachment::Host;
        let mut i = inputs();
        i.resolv_conf = None;
        i.hosts = None;
        let dests = mount_dests(&json(&s, &i));
        assert_eq!(
            dests,
            [
                "/proc",
                "/dev",
                "/dev/pts",
                "/dev/shm",
                "/dev/mqueue",
                "/sys",
                "/sys/fs/cgroup"
            ]
        );
    }

    fn bind(source: &str, destination: &str, read_only: bool) -> BindMount {
        BindMount {
            source: source.into(),
            destination: destination.into(),
            read_only,
        }
    }

    #[test]
    fn bind_mounts_come_last_and_replace_defaults_at_the_same_place() {
        let mut s = spec();
        s.mounts = vec![
            bind("/data/netfiles/t/hosts", "/etc/hosts", true),
            bind("/data/netfiles/t/resolv.conf", "/etc/resolv.conf/", true),
            bind("/data/metadata/c/t/web", "/opt/ecs/metadata/x", false),
        ];
        let v = json(&s, &inputs());
        let mounts = v["mounts"].as_array().unwrap();
        let last: Vec<_> = mounts[mounts.len() - 3..]
            .iter()
            .map(|m| {
                (
                    m["destination"].as_str().unwrap(),
                    m["type"].as_str().unwrap(),
                    m["source"].as_str().unwrap(),
                    m["options"].clone(),
                )
            })
            .collect();
        assert_eq!(
            last,
            vec![
                (
                    "/etc/hosts",
                    "bind",
                    "/data/netfiles/t/hosts",
                    serde_json::json!(["rbind", "ro"])
                ),
                (
                    "/etc/resolv.conf",
                    "bind",
                    "/data/netfiles/t/resolv.conf",
                    serde_json::json!(["rbind", "ro"])
                ),
                (
                    "/opt/ecs/metadata/x",
                    "bind",
                    "/data/metadata/c/t/web",
                    serde_json::json!(["rbind", "rw"])
                ),
            ]
        );
        let dests = mount_dests(&v);
        let count = |d: &str| dests.iter().filter(|x| *x == d).count();
        assert_eq!(count("/etc/resolv.conf"), 1, "the host's is replaced");
        assert_eq!(count("/etc/hosts"), 1);

        // In host mode the host's /etc/hosts is replaced the same way.
        s.network = NetworkAttachment::Host;
        let v = json(&s, &inputs());
        let hosts: Vec<_> = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["destination"] == "/etc/hosts")
            .collect();
        assert_eq!(hosts.len(), 1);
        assert_eq!(hosts[0]["source"], "/data/netfiles/t/hosts");
    }

    #[test]
    fn bad_bind_mounts_name_the_field() {
        for (source, dest, field) in [
            ("relative/hosts", "/etc/hosts", "mounts.source"),
            ("/h", "etc/hosts", "mounts.destination"),
            ("/h", "/", "mounts.destination"),
            ("/h", "/etc/../root", "mounts.destination"),
            ("/h", "/etc//hosts", "mounts.destination"),
            ("/h", "", "mounts.destination"),
        ] {
            let mut s = spec();
            s.mounts = vec![bind(source, dest, true)];
            let err = build_spec(&s, &inputs()).unwrap_err().to_string();
            assert!(err.starts_with(field), "{source} -> {dest}: {err}");
        }
    }

    #[test]
    fn defaults_are_docker_like() {
        let v = json(&spec(), &inputs());
        let mut caps: Vec<String> =
            serde_json::from_value(v["process"]["capabilities"]["bounding"].clone()).unwrap();
        caps.sort();
        assert_eq!(caps.len(), 14);
        assert!(caps.contains(&"CAP_NET_BIND_SERVICE".to_string()));
        assert!(!caps.contains(&"CAP_SYS_ADMIN".to_string()));
        assert!(v["process"]["capabilities"].get("inheritable").is_none());
        assert!(v["process"]["capabilities"].get("ambient").is_none());
        assert_eq!(v["linux"]["maskedPaths"].as_array().unwrap().len(), 10);
        assert_eq!(v["linux"]["readonlyPaths"].as_array().unwrap().len(), 5);
        assert_eq!(
            v["linux"]["resources"]["devices"][0],
            serde_json::json!({"allow": false, "access": "rwm"})
        );
        let sys = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == "/sys")
            .unwrap();
        assert!(sys["options"].as_array().unwrap().contains(&"ro".into()));
        assert_eq!(
            v["root"],
            serde_json::json!({"path": "rootfs", "readonly": false})
        );
        assert_eq!(
            v["process"]["rlimits"],
            serde_json::json!([{"type": "RLIMIT_NOFILE", "soft": 32768, "hard": 65536}])
        );
        assert_eq!(
            v["process"]["args"],
            serde_json::json!(["sh", "-c", "echo hi"])
        );
        assert_eq!(
            v["process"]["env"],
            serde_json::json!(["PATH=/bin", "A=b", "HOME=/"])
        );
        assert_eq!(
            v["process"]["user"],
            serde_json::json!({"uid": 0, "gid": 0})
        );
        assert_eq!(v["process"]["cwd"], "/");
        assert_eq!(v["process"]["terminal"], false);
        assert!(v["linux"]["resources"].get("memory").is_none());
        assert!(v["linux"]["resources"].get("cpu").is_none());
    }

    #[test]
    fn a_terminal_and_an_isolated_namespace() {
        let mut s = spec();
        s.tty = true;
        s.network = NetworkAttachment::Isolated;
        let v = json(&s, &inputs());
        assert_eq!(v["process"]["terminal"], true);
        assert_eq!(
            v["process"]["env"],
            serde_json::json!(["PATH=/bin", "A=b", "TERM=xterm", "HOME=/"])
        );
        // disableNetworking: a new network namespace (no path), the short id
        // as hostname, and not the host's /etc/hosts.
        let net: Vec<&serde_json::Value> = v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["type"] == "network")
            .collect();
        assert_eq!(net.len(), 1);
        assert!(net[0].get("path").is_none(), "{v}");
        assert_eq!(v["hostname"], "c0123456789a");
        let dests: Vec<&serde_json::Value> = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| &m["destination"])
            .collect();
        assert!(!dests.contains(&&serde_json::json!("/etc/hosts")));
    }

    #[test]
    fn privileged_gets_everything() {
        let mut s = spec();
        s.privileged = true;
        let v = json(&s, &inputs());
        assert_eq!(
            v["process"]["capabilities"]["bounding"]
                .as_array()
                .unwrap()
                .len(),
            41
        );
        assert_eq!(
            v["process"]["capabilities"]["effective"]
                .as_array()
                .unwrap()
                .len(),
            41
        );
        assert_eq!(v["linux"]["maskedPaths"], serde_json::json!([]));
        assert_eq!(v["linux"]["readonlyPaths"], serde_json::json!([]));
        assert_eq!(
            v["linux"]["resources"]["devices"],
            serde_json::json!([{"allow": true, "access": "rwm"}])
        );
        let sys = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == "/sys")
            .unwrap();
        assert!(sys["options"].as_array().unwrap().contains(&"rw".into()));
    }

    #[test]
    fn privileged_is_limited_to_the_host_bounding_set() {
        let mut s = spec();
        s.privileged = true;
        let mut i = inputs();
        i.cap_bounding = Some(0x1ff_feff_ffff); // all but CAP_SYS_RESOURCE (24)
        let v = json(&s, &i);
        let caps = v["process"]["capabilities"]["bounding"].as_array().unwrap();
        assert_eq!(caps.len(), 40);
        assert!(!caps.contains(&"CAP_SYS_RESOURCE".into()));
        assert!(caps.contains(&"CAP_SYS_ADMIN".into()));
    }

    #[test]
    fn ulimits_override_default_nofile() {
        let mut s = spec();
        s.ulimits = vec![
            Ulimit {
                name: UlimitName::Nofile,
                soft: 100,
                hard: 200,
            },
            Ulimit {
                name: UlimitName::Nproc,
                soft: 50,
                hard: 60,
            },
            Ulimit {
                name: UlimitName::Nofile,
                soft: 1234,
                hard: 4321,
            },
        ];
        let v = json(&s, &inputs());
        assert_eq!(
            v["process"]["rlimits"],
            serde_json::json!([
                {"type": "RLIMIT_NPROC", "soft": 50, "hard": 60},
                {"type": "RLIMIT_NOFILE", "soft": 1234, "hard": 4321},
            ])
        );
        s.ulimits = vec![Ulimit {
            name: UlimitName::Core,
            soft: 0,
            hard: 0,
        }];
        let v = json(&s, &inputs());
        assert_eq!(v["process"]["rlimits"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn bad_ulimit_names_the_field() {
        let mut s = spec();
        s.ulimits = vec![Ulimit {
            name: UlimitName::Nofile,
            soft: 10,
            hard: 5,
        }];
        let err = build_spec(&s, &inputs()).unwrap_err().to_string();
        assert_eq!(err, "ulimits \"nofile=10:5\": soft limit above hard limit");
    }

    #[test]
    fn memory_and_cpu() {
        let mut s = spec();
        s.memory_limit_bytes = Some(64 << 20);
        s.memory_reservation_bytes = Some(32 << 20);
        s.cpu_shares = Some(0);
        let v = json(&s, &inputs());
        assert_eq!(
            v["linux"]["resources"]["memory"],
            // Docker's default swap: as much again as the memory limit.
            serde_json::json!({"limit": 67108864, "reservation": 33554432, "swap": 134217728})
        );
        assert_eq!(
            v["linux"]["resources"]["cpu"],
            serde_json::json!({"shares": 2})
        );
        s.cpu_shares = Some(512);
        assert_eq!(
            json(&s, &inputs())["linux"]["resources"]["cpu"]["shares"],
            512
        );
        s.memory_limit_bytes = Some(0);
        assert!(build_spec(&s, &inputs())
            .unwrap_err()
            .to_string()
            .starts_with("memory \"0\""));
    }

    #[test]
    fn task_namespaces_are_joined_through_the_holder() {
        use crate::task::linux::{IpcMode, PidMode};
        let mut s = spec();
        s.linux.pid = PidMode::Task;
        s.linux.ipc = IpcMode::Task;
        s.linux.init = true;
        s.namespace_holder = Some(4242);
        s.task_shm = Some("/var/lib/ecs/data/volumes/tasks/t1/.ipc-shm".into());
        let v = json(&s, &inputs());
        let ns = v["linux"]["namespaces"].as_array().unwrap();
        assert_eq!(
            ns[0],
            serde_json::json!({"type": "pid", "path": "/proc/4242/ns/pid"})
        );
        assert_eq!(
            ns[1],
            serde_json::json!({"type": "ipc", "path": "/proc/4242/ns/ipc"})
        );
        let shm = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == "/dev/shm")
            .unwrap();
        assert_eq!(shm["source"], "/var/lib/ecs/data/volumes/tasks/t1/.ipc-shm");
        assert_eq!(shm["type"], "bind");
        // The holder is PID 1 there: no init of the container's own (Docker's
        // rule for a shared PID namespace).
        assert_eq!(v["process"]["args"][0], "sh");
        // Only the IPC namespace shared: a PID namespace of its own.
        s.linux.pid = PidMode::Private;
        let v = json(&s, &inputs());
        assert_eq!(
            v["linux"]["namespaces"][0],
            serde_json::json!({"type": "pid"})
        );
        assert_eq!(v["process"]["args"][0], "/sbin/docker-init");
        // No holder, no shared /dev/shm: refused naming the field.
        s.namespace_holder = None;
        let e = build_spec(&s, &inputs()).unwrap_err().to_string();
        assert!(e.starts_with("ipcMode \"task\""), "{e}");
        s.namespace_holder = Some(4242);
        s.task_shm = None;
        let e = build_spec(&s, &inputs()).unwrap_err().to_string();
        assert!(e.contains("shared /dev/shm"), "{e}");
    }

    #[test]
    fn an_init_runs_the_command_as_docker_init_does() {
        let mut s = spec();
        s.linux.init = true;
        let v = json(&s, &inputs());
        assert_eq!(
            v["process"]["args"],
            serde_json::json!(["/sbin/docker-init", "--", "sh", "-c", "echo hi"])
        );
        let mounts = v["mounts"].as_array().unwrap();
        let init = mounts.last().unwrap();
        assert_eq!(
            init,
            &serde_json::json!({"destination": "/sbin/docker-init", "type": "bind",
                "source": "/var/lib/ecs/data/bin/ecs-agent-init", "options": ["bind", "ro"]})
        );
        // In the host's PID namespace it would not be PID 1: Docker leaves it out.
        s.linux.pid = crate::task::linux::PidMode::Host;
        let v = json(&s, &inputs());
        assert_eq!(v["process"]["args"][0], "sh");
        assert!(!v.to_string().contains("docker-init"));
        // Without an installed init the container is refused, naming the field.
        s.linux.pid = Default::default();
        let mut i = inputs();
        i.init = None;
        let e = build_spec(&s, &i).unwrap_err().to_string();
        assert!(e.starts_with("linuxParameters.initProcessEnabled"), "{e}");
        // Without initProcessEnabled nothing changes.
        let v = json(&spec(), &inputs());
        assert_eq!(v["process"]["args"][0], "sh");
        assert!(!v.to_string().contains("docker-init"));
    }

    #[test]
    fn the_health_check_runner_is_mounted_only_into_the_containers_own_dev() {
        let runner = |v: &serde_json::Value| {
            v["mounts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["destination"] == crate::runtime::containerd::runner::RUNNER_PATH)
                .cloned()
        };
        let mut s = spec();
        assert_eq!(
            runner(&json(&s, &inputs())),
            None,
            "no health check, no runner"
        );
        s.health_runner = true;
        assert_eq!(
            runner(&json(&s, &inputs())),
            Some(
                serde_json::json!({"destination": "/dev/.ecs-agent-health-runner", "type": "bind",
                "source": "/var/lib/ecs/data/bin/ecs-agent-init",
                "options": ["bind", "ro", "nosuid", "nodev"]})
            )
        );
        // The host's /dev mounted by the task: runc would make the mount
        // point there, on the host.
        s.mounts.push(BindMount {
            source: "/dev".into(),
            destination: "/dev/".into(),
            read_only: false,
        });
        assert_eq!(runner(&json(&s, &inputs())), None);
    }

    #[test]
    fn swap_follows_docker() {
        let mut s = spec();
        s.memory_limit_bytes = Some(64 << 20);
        s.linux.memory_swap_bytes = Some(96 << 20);
        s.linux.swappiness = Some(0);
        let mem =
            |s: &ContainerSpec, i: &SpecInputs| json(s, i)["linux"]["resources"]["memory"].clone();
        assert_eq!(
            mem(&s, &inputs()),
            serde_json::json!({"limit": 67108864, "swap": 100663296, "swappiness": 0})
        );
        s.linux.memory_swap_bytes = Some(-1);
        assert_eq!(mem(&s, &inputs())["swap"], -1);
        // Where the cgroup cannot limit swap, Docker leaves it out.
        let mut i = inputs();
        i.swap_limit = false;
        assert_eq!(mem(&s, &i)["swap"], serde_json::Value::Null);
        // No memory limit, no swap limit.
        let v = json(&spec(), &inputs());
        assert_eq!(v["linux"]["resources"]["memory"], serde_json::Value::Null);
    }

    #[test]
    fn linux_parameters_reach_the_spec() {
        use crate::task::linux::{IpcMode, PidMode, TmpfsMount};
        let mut s = spec();
        s.linux.cap_add = vec!["CAP_SYS_ADMIN".into()];
        s.linux.cap_drop = vec!["CAP_NET_RAW".into()];
        s.linux.shm_size_bytes = Some(128 << 20);
        s.linux.tmpfs = vec![TmpfsMount {
            destination: "/scratch".into(),
            options: vec!["noexec".into(), "size=32m".into()],
        }];
        s.linux.sysctls = [("net.core.somaxconn".to_string(), "512".to_string())].into();
        s.linux.no_new_privileges = true;
        s.linux.pid = PidMode::Host;
        let mut i = inputs();
        i.devices = vec![HostDevice {
            container_path: "/dev/xnull".into(),
            block: false,
            major: 1,
            minor: 3,
            file_mode: 0o666,
            uid: 0,
            gid: 0,
            permissions: "rw".into(),
        }];
        let v = json(&s, &i);
        let eff = v["process"]["capabilities"]["effective"]
            .as_array()
            .unwrap();
        assert!(eff.contains(&"CAP_SYS_ADMIN".into()));
        assert!(!eff.contains(&"CAP_NET_RAW".into()));
        assert_eq!(v["process"]["noNewPrivileges"], true);
        assert_eq!(ns_types(&v), ["ipc", "uts", "mount", "network"]);
        assert_eq!(v["linux"]["sysctl"]["net.core.somaxconn"], "512");
        let shm = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == "/dev/shm")
            .unwrap();
        assert!(shm["options"]
            .as_array()
            .unwrap()
            .contains(&"size=134217728".into()));
        let tmpfs = v["mounts"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(
            tmpfs,
            serde_json::json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                "options": ["noexec", "size=32m"]})
        );
        assert_eq!(
            v["linux"]["devices"],
            serde_json::json!([{"path": "/dev/xnull", "type": "c", "major": 1, "minor": 3,
                "fileMode": 0o666, "uid": 0, "gid": 0}])
        );
        let rule = v["linux"]["resources"]["devices"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        assert_eq!(
            rule,
            serde_json::json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"})
        );
        // ipc host: the host's namespace and /dev/shm; none: no /dev/shm.
        s.linux.ipc = IpcMode::Host;
        let v = json(&s, &i);
        assert_eq!(ns_types(&v), ["uts", "mount", "network"]);
        assert!(v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["destination"] == "/dev/shm" && m["source"] == "/dev/shm"));
        s.linux.ipc = IpcMode::None;
        assert!(!mount_dests(&json(&s, &i)).contains(&"/dev/shm".to_string()));
    }

    #[test]
    fn seccomp_is_dockers_default_unless_privileged_or_unconfined() {
        let mut s = spec();
        let v = json(&s, &inputs());
        assert_eq!(v["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
        // The filter follows the container's capabilities.
        let allows = |v: &serde_json::Value, name: &str| {
            v["linux"]["seccomp"]["syscalls"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| {
                    r["action"] == "SCMP_ACT_ALLOW"
                        && r["names"].as_array().unwrap().iter().any(|n| n == name)
                })
        };
        assert!(!allows(&v, "mount"));
        s.linux.cap_add = vec!["CAP_SYS_ADMIN".into()];
        assert!(allows(&json(&s, &inputs()), "mount"));
        s.linux.seccomp_unconfined = true;
        assert_eq!(
            json(&s, &inputs())["linux"]["seccomp"],
            serde_json::Value::Null
        );
        let mut p = spec();
        p.privileged = true;
        assert_eq!(
            json(&p, &inputs())["linux"]["seccomp"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn added_capabilities_stay_within_the_host_bounding_set() {
        let mut s = spec();
        s.linux.cap_add = vec!["ALL".into()];
        let mut i = inputs();
        i.cap_bounding = Some((1 << 21) | 1); // CAP_CHOWN and CAP_SYS_ADMIN
        let v = json(&s, &i);
        let mut got: Vec<String> = v["process"]["capabilities"]["bounding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
        got.sort();
        assert_eq!(got, ["CAP_CHOWN", "CAP_SYS_ADMIN"]);
    }

    #[test]
    fn numeric_user_and_home() {
        let mut i = inputs();
        i.user = ResolvedUser {
            uid: 1000,
            gid: 1000,
            additional_gids: vec![10, 1000],
            home: Some("/home/app".into()),
        };
        let v = json(&spec(), &i);
        assert_eq!(
            v["process"]["user"],
            serde_json::json!({"uid": 1000, "gid": 1000, "additionalGids": [10]})
        );
        assert!(v["process"]["env"]
            .as_array()
            .unwrap()
            .contains(&"HOME=/home/app".into()));
    }

    #[test]
    fn env_gets_default_path_and_keeps_home() {
        let mut s = spec();
        s.env = vec!["HOME=/data".into()];
        s.hostname = Some("web".into());
        let v = json(&s, &inputs());
        assert_eq!(
            v["process"]["env"],
            serde_json::json!([DEFAULT_PATH, "HOME=/data", "HOSTNAME=web"])
        );
    }

    #[test]
    fn readonly_rootfs() {
        let mut s = spec();
        s.readonly_rootfs = true;
        assert_eq!(json(&s, &inputs())["root"]["readonly"], true);
    }

    #[test]
    fn empty_command_and_relative_cwd_are_rejected() {
        let mut s = spec();
        s.args.clear();
        assert!(build_spec(&s, &inputs())
            .unwrap_err()
            .to_string()
            .starts_with("command"));
        let mut s = spec();
        s.cwd = "app".into();
        assert_eq!(
            build_spec(&s, &inputs()).unwrap_err().to_string(),
            "workingDirectory \"app\": must be an absolute path"
        );
    }
}
