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

/// Values that cannot work stop the task with a reason naming the field,
/// before (sysctl) or while (device) its container is made; nothing of it is
/// left in containerd.
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
