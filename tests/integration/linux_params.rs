//! linuxParameters, systemControls and dockerSecurityOptions end to end:
//! registered with the real `aws` CLI on ecs-local (which sends them in
//! `dockerConfig.hostConfig` as Amazon ECS does), run by the agent on
//! containerd, checked from inside the container.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{
    self, register_task_definition, run_task, wait_task_status, Agent, Aws, EcsLocal, TestEnv,
};

const START: Duration = Duration::from_secs(60);

fn world() -> Option<(TestEnv, EcsLocal, Agent, Aws)> {
    let env = common::env()?;
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);
    Some((env, local, agent, aws))
}

fn container<'a>(task: &'a Value, name: &str) -> &'a Value {
    task["containers"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no container {name} in {task}"))
}

/// One bridge-mode task proves capabilities, a device, a sysctl,
/// no-new-privileges and the swap limit at once.
#[test]
fn linux_parameters_reach_the_container() {
    let Some((env, _local, agent, aws)) = world() else {
        return;
    };
    let script = "grep -E '^(CapEff|NoNewPrivs):' /proc/self/status; \
        [ -c /dev/zero2 ] && echo device=$(head -c 5 /dev/zero2 | wc -c); \
        echo somaxconn=$(cat /proc/sys/net/core/somaxconn); \
        echo memsw=$(cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.swap.max); \
        echo swappiness=$(cat /sys/fs/cgroup/memory/memory.swappiness 2>/dev/null || echo v2)";
    let td = register_task_definition(
        &aws,
        json!({"family": "linux-params", "networkMode": "bridge", "containerDefinitions": [{
            "name": "c", "image": env.image(), "memory": 64, "essential": true,
            "linuxParameters": {
                "capabilities": {"add": ["NET_ADMIN"], "drop": ["CHOWN"]},
                "devices": [{"hostPath": "/dev/zero", "containerPath": "/dev/zero2", "permissions": ["read"]}],
                "maxSwap": 32, "swappiness": 10
            },
            "systemControls": [{"namespace": "net.core.somaxconn", "value": "777"}],
            "dockerSecurityOptions": ["no-new-privileges"],
            "command": common::sh(script)
        }]}),
    );
    let arn = run_task(&aws, &agent, &td);
    let t = wait_task_status(&aws, &agent, &arn, "STOPPED", START);
    assert_eq!(container(&t, "c")["exitCode"], 0, "{t}");
    let log = agent.container_log(common::task_id(&arn), "c");
    // Docker's default set (0xa80425fb) without CAP_CHOWN (bit 0), with
    // CAP_NET_ADMIN (bit 12).
    for want in [
        "CapEff:\t00000000a80435fa",
        "NoNewPrivs:\t1",
        "device=5",
        "somaxconn=777",
        // 64 MiB of memory plus maxSwap 32 MiB.
        "memsw=100663296",
        "swappiness=10",
    ] {
        assert!(log.contains(want), "{want:?} missing in {log:?}");
    }
}

/// Values that cannot work, and fields this agent does not implement (an
/// SELinux label), stop the task with a reason naming the field, before
/// (sysctl, label) or while (device) its container is made; nothing of it
/// is left in containerd.
#[test]
fn bad_linux_parameters_stop_the_task_naming_the_field() {
    let Some((env, _local, agent, aws)) = world() else {
        return;
    };
    let cases = [
        (
            json!({"systemControls": [{"namespace": "kernel.randomize_va_space", "value": "0"}]}),
            "systemControls (dockerConfig.hostConfig.Sysctls) \"kernel.randomize_va_space\" is not namespaced",
        ),
        (
            json!({"linuxParameters": {"devices": [{"hostPath": "/dev/no-such-device"}]}}),
            "linuxParameters.devices.hostPath \"/dev/no-such-device\"",
        ),
        // A field Amazon ECS sends that this agent does not implement.
        (
            json!({"dockerSecurityOptions": ["label:type:container_t"]}),
            "\"label:type:container_t\": SELinux labels are not supported by this agent yet",
        ),
    ];
    for (i, (extra, want)) in cases.into_iter().enumerate() {
        let mut c = json!({"name": "c", "image": env.image(), "memory": 32, "essential": true,
            "command": common::sh("true")});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        let td = register_task_definition(
            &aws,
            json!({"family": format!("bad-linux-{i}"), "networkMode": "host", "containerDefinitions": [c]}),
        );
        let arn = run_task(&aws, &agent, &td);
        let t = wait_task_status(&aws, &agent, &arn, "STOPPED", START);
        let reason = t["stoppedReason"].as_str().unwrap_or_default();
        assert!(reason.contains(want), "want {want:?} in {t}");
        let id = common::task_id(&arn);
        let containers = common::ctr(&env, agent.namespace(), &["containers", "ls", "-q"]);
        let snapshots = common::ctr(&env, agent.namespace(), &["snapshots", "ls"]);
        assert!(
            !containers.contains(id) && !snapshots.contains(id),
            "left behind: {containers}\n{snapshots}"
        );
    }
}

/// Docker's default seccomp profile: creating a user namespace (unshare,
/// allowed only with CAP_SYS_ADMIN) fails in an ordinary container and works
/// in a privileged one and with `seccomp=unconfined`; threads and processes
/// still start (clone3 gets ENOSYS, not EPERM, so libc falls back to clone).
#[test]
fn default_seccomp_profile_blocks_unshare_unless_privileged_or_unconfined() {
    let Some((env, _local, agent, aws)) = world() else {
        return;
    };
    let script = "unshare -U true 2>/dev/null && echo userns=allowed || echo userns=denied; \
        grep '^Seccomp:' /proc/self/status; (echo child=ok) | cat";
    let c = |name: &str, extra: Value| {
        let mut c = json!({"name": name, "image": env.image(), "memory": 32, "essential": false,
            "command": common::sh(script)});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let td = register_task_definition(
        &aws,
        json!({"family": "seccomp", "networkMode": "host", "containerDefinitions": [
            // Essential and last, so that the others have run when it ends the task.
            c(
                "ordinary",
                json!({"essential": true, "dependsOn": [
                    {"containerName": "privileged", "condition": "COMPLETE"},
                    {"containerName": "unconfined", "condition": "COMPLETE"}
                ]}),
            ),
            c("privileged", json!({"privileged": true})),
            c("unconfined", json!({"dockerSecurityOptions": ["seccomp=unconfined"]})),
        ]}),
    );
    let arn = run_task(&aws, &agent, &td);
    let t = wait_task_status(&aws, &agent, &arn, "STOPPED", START);
    for (name, userns, mode) in [
        ("ordinary", "userns=denied", "Seccomp:\t2"),
        ("privileged", "userns=allowed", "Seccomp:\t0"),
        ("unconfined", "userns=allowed", "Seccomp:\t0"),
    ] {
        assert_eq!(container(&t, name)["exitCode"], 0, "{t}");
        let log = agent.container_log(common::task_id(&arn), name);
        for want in [userns, mode, "child=ok"] {
            assert!(log.contains(want), "{name}: {want:?} missing in {log:?}");
        }
    }
}

/// Waits until the container's log holds `marker`; returns the log.
fn log_with(agent: &Agent, task: &str, name: &str, marker: &str) -> String {
    common::wait_until_with(
        &format!("{marker:?} in {name}'s log"),
        START,
        Duration::from_millis(200),
        || {
            let log = agent.container_log(task, name);
            log.contains(marker).then_some(log)
        },
    )
}

/// initProcessEnabled as Docker's --init: the init is PID 1 with the command
/// as its child; an orphan the command leaves is reaped (no zombie); a task
/// stop's SIGTERM reaches a command that has no handler for it (as PID 1 it
/// would be ignored, and only the SIGKILL after the stop timeout would end
/// it: 137) and one that traps it, and each container's exit code is its
/// command's; with a terminal the command is its foreground process group.
/// The same task shows the other fields of Docker API 1.25:
/// sharedMemorySize and tmpfs sizes as df reports them.
#[test]
fn an_init_reaps_orphans_and_passes_the_stop_on_shm_and_tmpfs_sizes_hold() {
    let Some((env, _local, agent, aws)) = world() else {
        return;
    };
    let app = "echo \"pid1=$(tr '\\0' ' ' < /proc/1/cmdline)\"; \
        df -k /dev/shm /scratch | awk 'NR>1 {print \"df\", $6, $2}'; \
        (sleep 1 &); sleep 3; \
        echo \"zombies=$(grep -l ') Z ' /proc/[0-9]*/stat 2>/dev/null | wc -l)\"; \
        echo up=$((1+1)); exec sleep 600";
    let trapper = "trap 'echo term; exit 42' TERM; echo up=$((1+1)); while :; do sleep 1; done";
    let td = register_task_definition(
        &aws,
        json!({"family": "init", "networkMode": "host", "containerDefinitions": [
            {"name": "app", "image": env.image(), "memory": 64, "essential": true,
             "stopTimeout": 30,
             "linuxParameters": {
                 "initProcessEnabled": true, "sharedMemorySize": 128,
                 "tmpfs": [{"containerPath": "/scratch", "size": 16, "mountOptions": ["noexec"]}]
             },
             "command": common::sh(app)},
            {"name": "trapper", "image": env.image(), "memory": 32, "essential": true,
             "stopTimeout": 30,
             "linuxParameters": {"initProcessEnabled": true},
             "command": common::sh(trapper)},
            // With a terminal, the command's process group is its foreground
            // group (tpgid, field 8 of stat, is its pgrp, field 5), as tini
            // hands it over: job control and ^C reach the command.
            {"name": "tty", "image": env.image(), "memory": 32, "essential": false,
             "pseudoTerminal": true,
             "linuxParameters": {"initProcessEnabled": true},
             "command": common::sh("awk '{print ($5 == $8 ? \"fg=yes\" : \"fg=no\")}' /proc/$$/stat")}
        ]}),
    );
    let arn = run_task(&aws, &agent, &td);
    let id = common::task_id(&arn);
    // Not in the script's text, which the pid1 line repeats.
    let log = log_with(&agent, id, "app", "up=2");
    log_with(&agent, id, "trapper", "up=2");
    for want in [
        "pid1=/sbin/docker-init -- sh -c ",
        "df /dev/shm 131072",
        "df /scratch 16384",
        "zombies=0",
    ] {
        assert!(log.contains(want), "{want:?} missing in {log:?}");
    }
    common::stop_task(&aws, &agent, &arn);
    let t = wait_task_status(&aws, &agent, &arn, "STOPPED", START);
    // 128 + SIGTERM: the command (not PID 1) died of the forwarded signal.
    assert_eq!(container(&t, "app")["exitCode"], 143, "{t}");
    assert_eq!(container(&t, "trapper")["exitCode"], 42, "{t}");
    assert!(agent.container_log(id, "trapper").contains("term"));
    assert_eq!(container(&t, "tty")["exitCode"], 0, "{t}");
    let tty = agent.container_log(id, "tty");
    assert!(tty.contains("fg=yes"), "{tty:?}");
}

/// pidMode and ipcMode `task`: two containers of a task see each other's
/// processes, one IPC namespace and one /dev/shm, with the task's holder as
/// PID 1; the holder goes with the task. pidMode `host` sees the host's
/// processes (this test's own), ipcMode `none` has no /dev/shm.
#[test]
fn task_pid_and_ipc_namespaces_are_shared_and_host_mode_sees_the_host() {
    let Some((env, _local, agent, aws)) = world() else {
        return;
    };
    let ns = "echo \"ns ipc=$(readlink /proc/self/ns/ipc) pid=$(readlink /proc/self/ns/pid)\"";
    let server = format!("echo token-$$ > /dev/shm/token; {ns}; exec sleep 601");
    let client = format!(
        "for i in $(seq 50); do [ -f /dev/shm/token ] && break; sleep 0.2; done; \
         echo \"shm=$(cat /dev/shm/token)\"; {ns}; \
         echo \"pid1=$(tr '\\0' ' ' < /proc/1/cmdline)\"; \
         echo \"server-procs=$(for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; done | grep -c '^sleep 601')\""
    );
    let td = register_task_definition(
        &aws,
        json!({"family": "shared-ns", "networkMode": "host", "pidMode": "task", "ipcMode": "task",
            "containerDefinitions": [
            {"name": "server", "image": env.image(), "memory": 32, "essential": false,
             "command": common::sh(&server)},
            {"name": "client", "image": env.image(), "memory": 32, "essential": true,
             "dependsOn": [{"containerName": "server", "condition": "START"}],
             "command": common::sh(&client)}
        ]}),
    );
    let arn = run_task(&aws, &agent, &td);
    let t = wait_task_status(&aws, &agent, &arn, "STOPPED", START);
    assert_eq!(container(&t, "client")["exitCode"], 0, "{t}");
    let id = common::task_id(&arn);
    let server_log = agent.container_log(id, "server");
    let client_log = agent.container_log(id, "client");
    let ns_line = |log: &str| {
        log.lines()
            .find(|l| l.starts_with("ns "))
            .unwrap_or_else(|| panic!("no ns line in {log:?}"))
            .to_string()
    };
    assert_eq!(ns_line(&server_log), ns_line(&client_log));
    for want in [
        "shm=token-",
        "pid1=/ecs-agent-init --pause",
        "server-procs=1",
    ] {
        assert!(
            client_log.contains(want),
            "{want:?} missing in {client_log:?}"
        );
    }
    // The holder is gone with the task's containers.
    common::wait_until_with(
        "the namespace holder removed",
        START,
        Duration::from_millis(200),
        || {
            let ls = common::ctr(&env, agent.namespace(), &["containers", "ls", "-q"]);
            (!ls.contains(&format!("{id}-ns"))).then_some(())
        },
    );

    // Host modes: this test's own process is visible; no /dev/shm with none.
    let me = std::process::id();
    let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
    let td = register_task_definition(
        &aws,
        json!({"family": "host-pid", "networkMode": "host", "pidMode": "host", "ipcMode": "none",
            "containerDefinitions": [
            {"name": "c", "image": env.image(), "memory": 32, "essential": true,
             "command": common::sh(&format!(
                 "echo \"comm=$(cat /proc/{me}/comm)\"; [ -e /dev/shm ] && echo shm=yes || echo shm=no"))}
        ]}),
    );
    let arn = run_task(&aws, &agent, &td);
    let t = wait_task_status(&aws, &agent, &arn, "STOPPED", START);
    assert_eq!(container(&t, "c")["exitCode"], 0, "{t}");
    let log = agent.container_log(common::task_id(&arn), "c");
    assert!(log.contains(&format!("comm={}", comm.trim())), "{log:?}");
    assert!(log.contains("shm=no"), "{log:?}");
}

/// The task's shared namespaces outlive the agent: a container created
/// after a kill -9 and restart of the agent joins the PID namespace and the
/// /dev/shm its task's first container had (the holder is found running,
/// not made again).
#[test]
fn a_task_namespace_survives_an_agent_restart() {
    let Some((env, _local, mut agent, aws)) = world() else {
        return;
    };
    let ns = "echo \"ns $(readlink /proc/self/ns/pid)\"";
    let td = register_task_definition(
        &aws,
        json!({"family": "ns-restart", "networkMode": "host", "pidMode": "task", "ipcMode": "task",
            "containerDefinitions": [
            {"name": "first", "image": env.image(), "memory": 32, "essential": false,
             "command": common::sh(&format!("{ns}; echo kept > /dev/shm/kept; echo up=$((1+1)); sleep 8"))},
            {"name": "second", "image": env.image(), "memory": 32, "essential": true,
             "dependsOn": [{"containerName": "first", "condition": "COMPLETE"}],
             "command": common::sh(&format!("{ns}; echo \"shm=$(cat /dev/shm/kept)\""))}
        ]}),
    );
    let arn = run_task(&aws, &agent, &td);
    let id = common::task_id(&arn).to_string();
    let first = log_with(&agent, &id, "first", "up=2");
    agent.kill9();
    agent.restart();
    let t = wait_task_status(&aws, &agent, &arn, "STOPPED", START);
    assert_eq!(container(&t, "second")["exitCode"], 0, "{t}");
    let second = agent.container_log(&id, "second");
    let ns_line = |log: &str| {
        log.lines()
            .find(|l| l.starts_with("ns "))
            .map(str::to_string)
    };
    assert!(ns_line(&first).is_some(), "{first:?}");
    assert_eq!(ns_line(&first), ns_line(&second), "{second:?}");
    assert!(second.contains("shm=kept"), "{second:?}");
    // The agent's log spans both runs: one holder, made before the kill.
    assert_eq!(
        agent.log().matches("task namespace holder started").count(),
        1,
        "the restarted agent made a second holder"
    );
}
