use super::super::docker_config::parse_host_config as host;
use super::*;

fn caps(add: &[&str], drop: &[&str]) -> Vec<String> {
    let o = LinuxOptions {
        cap_add: add.iter().map(|s| s.to_string()).collect(),
        cap_drop: drop.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let all: Vec<String> = CAPABILITY_NAMES
        .iter()
        .map(|c| format!("CAP_{c}"))
        .collect();
    o.capabilities(&all)
}

#[test]
fn capabilities_are_tweaked_as_docker_does() {
    assert_eq!(caps(&[], &[]).len(), 14);
    let c = caps(&["CAP_SYS_ADMIN"], &["CAP_CHOWN", "CAP_NET_RAW"]);
    assert!(c.contains(&"CAP_SYS_ADMIN".to_string()));
    assert!(!c.contains(&"CAP_CHOWN".to_string()) && !c.contains(&"CAP_NET_RAW".to_string()));
    assert_eq!(c.len(), 13);
    assert_eq!(caps(&["CAP_KILL"], &["ALL"]), vec!["CAP_KILL"]);
    let all_but = caps(&["ALL"], &["CAP_SYS_ADMIN"]);
    assert_eq!(all_but.len(), 40);
    assert!(!all_but.contains(&"CAP_SYS_ADMIN".to_string()));
    // Adding a default again does not list it twice.
    assert_eq!(caps(&["CAP_KILL"], &[]).len(), 14);
}

/// The hostConfig keys as Amazon ECS sends them for linuxParameters,
/// systemControls and dockerSecurityOptions (Docker's HostConfig field names
/// and units: ShmSize and MemorySwap in bytes, Tmpfs as path -> options,
/// Devices as DeviceMapping objects), the shapes ecs-local's payload builds.
#[test]
fn host_config_keys_are_read_with_dockers_meaning() {
    let h = host(Some(
        r#"{"CapAdd":["NET_ADMIN","cap_sys_time"],"CapDrop":["ALL"],
            "Devices":[{"PathOnHost":"/dev/fuse","PathInContainer":"/dev/f","CgroupPermissions":"rw"},
                       {"PathOnHost":"/dev/null"}],
            "Init":true,"ShmSize":134217728,
            "Tmpfs":{"/scratch":"size=32m,exec","/run/x":""},
            "MemorySwap":268435456,"MemorySwappiness":10,
            "Sysctls":{"net.core.somaxconn":"1024"},
            "SecurityOpt":["no-new-privileges","seccomp=unconfined","label:disable"],
            "IpcMode":"none"}"#,
    ))
    .unwrap()
    .linux;
    assert_eq!(h.cap_add, vec!["CAP_NET_ADMIN", "CAP_SYS_TIME"]);
    assert_eq!(h.cap_drop, vec!["ALL"]);
    assert_eq!(
        h.devices[0],
        DeviceMapping {
            host_path: "/dev/fuse".into(),
            container_path: "/dev/f".into(),
            permissions: "rw".into()
        }
    );
    assert_eq!(h.devices[1].container_path, "/dev/null");
    assert_eq!(h.devices[1].permissions, "rwm");
    assert!(h.init);
    assert_eq!(h.shm_size_bytes, Some(134217728));
    assert_eq!(h.tmpfs.len(), 2);
    let scratch = h
        .tmpfs
        .iter()
        .find(|t| t.destination == "/scratch")
        .unwrap();
    assert_eq!(
        scratch.options,
        vec!["exec", "nosuid", "nodev", "rprivate", "size=32m"]
    );
    let run = h.tmpfs.iter().find(|t| t.destination == "/run/x").unwrap();
    assert_eq!(run.options, vec!["noexec", "nosuid", "nodev", "rprivate"]);
    assert_eq!(h.memory_swap_bytes, Some(268435456));
    assert_eq!(h.swappiness, Some(10));
    assert_eq!(h.sysctls["net.core.somaxconn"], "1024");
    assert!(h.no_new_privileges && h.seccomp_unconfined);
    assert_eq!(h.ipc, IpcMode::None);
    // Docker's zero values and -1 swappiness are "not set".
    let h = host(Some(
        r#"{"CapAdd":[],"CapDrop":null,"Init":null,"ShmSize":0,"MemorySwap":0,"MemorySwappiness":-1,"SecurityOpt":[]}"#,
    ))
    .unwrap()
    .linux;
    assert_eq!(h, LinuxOptions::default());
    assert_eq!(
        host(Some(r#"{"MemorySwap":-1}"#))
            .unwrap()
            .linux
            .memory_swap_bytes,
        Some(-1)
    );
}

#[test]
fn bad_values_name_the_field() {
    let err = |text: &str| host(Some(text)).unwrap_err();
    assert_eq!(
        err(r#"{"CapDrop":["CHOWN","SUPERPOWER"]}"#),
        "dockerConfig.hostConfig.CapDrop[1]: unknown capability \"SUPERPOWER\""
    );
    assert!(err(r#"{"Devices":[{"PathInContainer":"/dev/x"}]}"#)
        .contains("Devices[0].PathOnHost (hostPath): missing"));
    assert!(err(r#"{"Devices":[{"PathOnHost":"dev/x"}]}"#).contains("expected an absolute path"));
    assert!(
        err(r#"{"Devices":[{"PathOnHost":"/dev/x","CgroupPermissions":"rx"}]}"#)
            .contains("CgroupPermissions (permissions) \"rx\"")
    );
    assert!(err(r#"{"ShmSize":-5}"#).contains("ShmSize: expected a number of bytes"));
    assert!(
        err(r#"{"Tmpfs":{"rel":"size=1m"}}"#).contains("containerPath must be an absolute path")
    );
    assert!(err(r#"{"Tmpfs":{"/t":"size=1m,turbo"}}"#).contains("unknown mount option \"turbo\""));
    assert!(err(r#"{"MemorySwap":-2}"#).contains("MemorySwap"));
    assert!(err(r#"{"MemorySwappiness":101}"#).contains("MemorySwappiness: expected 0 to 100"));
    assert!(err(r#"{"Sysctls":{"a":1}}"#).contains("Sysctls[\"a\"]: expected a string"));
    assert!(err(r#"{"SecurityOpt":["seccomp=/tmp/p.json"]}"#)
        .contains("only seccomp=unconfined is supported"));
    assert!(err(r#"{"SecurityOpt":["label:type:svirt_t"]}"#).contains("SELinux labels"));
    assert!(err(r#"{"SecurityOpt":["whatever"]}"#).contains("SecurityOpt[0] \"whatever\""));
    assert!(err(r#"{"PidMode":"container:x"}"#).contains("PidMode \"container:x\""));
}

#[test]
fn security_options_take_dockers_spellings() {
    let opts = |o: &str| {
        host(Some(&format!(r#"{{"SecurityOpt":["{o}"]}}"#)))
            .unwrap()
            .linux
    };
    assert!(opts("no-new-privileges:true").no_new_privileges);
    assert!(opts("no-new-privileges=true").no_new_privileges);
    assert!(!opts("no-new-privileges:false").no_new_privileges);
    assert!(opts("seccomp:unconfined").seccomp_unconfined);
    assert_eq!(
        opts("apparmor:docker-default").apparmor_profile.as_deref(),
        Some("docker-default")
    );
    assert_eq!(
        opts("apparmor=my-profile").apparmor_profile.as_deref(),
        Some("my-profile")
    );
}

#[test]
fn only_namespaced_sysctls_pass() {
    let with = |name: &str, ipc: IpcMode| LinuxOptions {
        sysctls: [(name.to_string(), "1".to_string())].into(),
        ipc,
        ..Default::default()
    };
    for ok in [
        "net.ipv4.ip_forward",
        "kernel.shmmax",
        "kernel.sem",
        "fs.mqueue.msg_max",
    ] {
        check_sysctls(&with(ok, IpcMode::Private), true).unwrap();
    }
    let e = check_sysctls(&with("kernel.randomize_va_space", IpcMode::Private), true).unwrap_err();
    assert!(
        e.starts_with("systemControls (dockerConfig.hostConfig.Sysctls) \"kernel.randomize_va_space\" is not namespaced"),
        "{e}"
    );
    let e = check_sysctls(&with("vm.swappiness", IpcMode::Private), true).unwrap_err();
    assert!(e.contains("not namespaced"), "{e}");
    let e = check_sysctls(&with("net.core.somaxconn", IpcMode::Private), false).unwrap_err();
    assert!(e.contains("host's network namespace"), "{e}");
    let e = check_sysctls(&with("kernel.shmmax", IpcMode::Host), true).unwrap_err();
    assert!(e.contains("host's IPC namespace"), "{e}");
}
