//! What Amazon ECS shows of an agent, through the real agent, ecs-local and
//! the `aws` CLI: ENI attachments that never reach the host, the versions
//! of the ACS connect query, and image digests.

use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::common::{
    describe_task, env, register_eni, register_task_definition, run_task_with, wait_task_status,
    wait_until_with_log, Agent, Aws, EcsLocal, FakeEni,
};

const LONG: Duration = Duration::from_secs(90);

/// An ENI whose MAC never appears on the host: the agent's watcher drops it
/// after `waitTimeoutMs` and reports nothing; ecs-local, like Amazon ECS,
/// never sends the task's payload and stops it with a reason naming the
/// attachment instead of leaving it PROVISIONING.
#[test]
fn a_task_whose_eni_never_appears_is_stopped_naming_the_attachment() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start_with_args(&env, &["--eni-attach-timeout-secs", "3"]);
    let agent = Agent::start(&env, &local, &[("ECS_ENABLE_TASK_ENI", "true")]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, LONG);
    let n = std::process::id() % 200 + 20;
    // 10.214.x are the ENI stand-ins' subnets; no link gets this MAC.
    let mac = format!("02:15:00:00:{:02x}:01", n % 256);
    register_eni(
        &local,
        &json!({"subnetId": format!("subnet-g{n}"), "macAddress": mac,
                "privateIpv4Address": format!("10.214.{n}.9"),
                "subnetCidr": format!("10.214.{n}.0/24"),
                "gateway": format!("10.214.{n}.1")}),
    );
    let td = register_task_definition(
        &aws,
        json!({"family": "ghost-eni", "networkMode": "awsvpc", "containerDefinitions": [{
            "name": "c", "image": env.image(), "memory": 32, "essential": true,
            "command": ["sleep", "300"]}]}),
    );
    let net = format!("awsvpcConfiguration={{subnets=[subnet-g{n}]}}");
    let arn = run_task_with(&aws, &agent, &td, &["--network-configuration", &net]);

    let t = describe_task(&aws, &agent, &arn).expect("task");
    assert_eq!(t["lastStatus"], "PROVISIONING", "{t}");
    let status = t["attachments"][0]["status"].as_str().unwrap_or_default();
    assert!(
        ["PRECREATED", "ATTACHING"].contains(&status),
        "not ATTACHED before the agent says so: {t}"
    );
    let attachment_id = t["attachments"][0]["id"].as_str().expect("id").to_string();

    let t = wait_task_status(&aws, &agent, &arn, "STOPPED", LONG);
    let reason = t["stoppedReason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("Timeout waiting for network interface provisioning to complete")
            && reason.contains(&format!("attachment/{attachment_id}"))
            && reason.contains(&mac),
        "{t}"
    );
    assert_eq!(t["stopCode"], "TaskFailedToStart", "{t}");
    assert_eq!(t["attachments"][0]["status"], "DELETED", "{t}");
    // The agent never ran anything of it.
    assert_eq!(t["containers"][0]["lastStatus"], "PENDING", "{t}");
    assert!(
        t["containers"][0]["runtimeId"].is_null(),
        "a container was made for a task without its ENI: {t}"
    );
}

/// An attachment the agent acknowledged survives a kill -9: the restarted
/// agent watches it again (with what is left of waitTimeoutMs, as the Go
/// agent re-arms its saved attachments) and reports it ATTACHED when the
/// ENI shows up, so the task runs.
#[test]
fn an_acknowledged_attachment_is_reported_after_an_agent_restart() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start_with_args(&env, &["--eni-attach-timeout-secs", "60"]);
    let mut agent = Agent::start(&env, &local, &[("ECS_ENABLE_TASK_ENI", "true")]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, LONG);
    let n = std::process::id() % 200 + 20;
    let mac = format!("02:16:00:00:{:02x}:01", n % 256);
    register_eni(
        &local,
        &json!({"subnetId": format!("subnet-r{n}"), "macAddress": mac,
                "privateIpv4Address": format!("10.214.{n}.7"),
                "subnetCidr": format!("10.214.{n}.0/24"),
                "gateway": format!("10.214.{n}.1")}),
    );
    let td = register_task_definition(
        &aws,
        json!({"family": "late-eni", "networkMode": "awsvpc", "containerDefinitions": [{
            "name": "c", "image": env.image(), "memory": 32, "essential": true,
            "stopTimeout": 2, "command": ["sleep", "300"]}]}),
    );
    let net = format!("awsvpcConfiguration={{subnets=[subnet-r{n}]}}");
    let arn = run_task_with(&aws, &agent, &td, &["--network-configuration", &net]);
    // The agent has it (acknowledged) and waits for the MAC.
    wait_until_with_log(&agent, "attachment ATTACHING", LONG, || {
        describe_task(&aws, &agent, &arn).filter(|t| t["attachments"][0]["status"] == "ATTACHING")
    });
    agent.kill9();
    let _eni = FakeEni::new(&format!("ecslate{n}"), &mac);
    agent.restart();
    let t = wait_task_status(&aws, &agent, &arn, "RUNNING", LONG);
    assert_eq!(t["attachments"][0]["status"], "ATTACHED", "{t}");
    crate::common::stop_task(&aws, &agent, &arn);
    wait_task_status(&aws, &agent, &arn, "STOPPED", LONG);
}

/// Our agent's ACS connect query fills versionInfo as the Go agent's does,
/// `containerd` standing where Docker's version would.
#[test]
fn describe_container_instances_shows_the_agents_versions() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    let instance = agent.wait_registered(&aws, LONG);
    let d = aws.ecs_ok(&[
        "describe-container-instances",
        "--cluster",
        agent.cluster(),
        "--container-instances",
        &instance,
    ]);
    let v = &d["containerInstances"][0]["versionInfo"];
    assert_eq!(v["agentVersion"], env!("CARGO_PKG_VERSION"), "{d}");
    assert!(
        v["agentHash"].as_str().is_some_and(|h| !h.is_empty()),
        "{d}"
    );
    assert_eq!(v["dockerVersion"], "containerd", "{d}");
}

/// `Docker-Content-Digest` of the image's manifest in the registry.
fn registry_digest(registry: &str, repo: &str, tag: &str) -> String {
    let out = Command::new("curl")
        .args([
            "-sfI",
            "-H",
            "Accept: application/vnd.oci.image.index.v1+json, \
             application/vnd.docker.distribution.manifest.list.v2+json, \
             application/vnd.docker.distribution.manifest.v2+json, \
             application/vnd.oci.image.manifest.v1+json",
            &format!("http://{registry}/v2/{repo}/manifests/{tag}"),
        ])
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("docker-content-digest")
                .then(|| v.trim().to_string())
        })
        .expect("the registry names the manifest's digest")
}

/// The digests reach describe-tasks (the Go agent's manifest-pulled report,
/// PENDING with imageDigest, then RUNNING), and ecs-local takes that report
/// as news, not as a duplicate.
#[test]
fn describe_tasks_shows_the_registrys_image_digest() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, LONG);
    let td = register_task_definition(
        &aws,
        json!({"family": "digest", "containerDefinitions": [{
            "name": "c", "image": env.image(), "memory": 32, "essential": true,
            "command": ["sleep", "300"]}]}),
    );
    let arn = run_task_with(&aws, &agent, &td, &[]);
    let t = wait_task_status(&aws, &agent, &arn, "RUNNING", LONG);
    let expected = registry_digest(&env.registry, "busybox", "latest");
    assert!(expected.starts_with("sha256:"), "{expected}");
    assert_eq!(t["containers"][0]["imageDigest"], expected.as_str(), "{t}");
    let stats = local.debug_stats();
    assert_eq!(stats["duplicateStateChanges"], 0, "{stats}");
    assert!(
        local
            .log()
            .contains("task state change with container updates"),
        "no manifest-pulled report reached ecs-local"
    );
    crate::common::stop_task(&aws, &agent, &arn);
    wait_task_status(&aws, &agent, &arn, "STOPPED", LONG);
}
