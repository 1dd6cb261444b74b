//! EC2 identity from instance metadata (IMDSv2), as the Go agent registers
//! it (ecs-agent/api/ecs/client/ecs_client.go setInstanceIdentity; the
//! region from the identity document, agent/config/config.go; ecs.vpc-id and
//! ecs.subnet-id with task ENIs, agent/app/agent.go), against ecs-local's
//! IMDSv2 stand-in under /debug/imds. And off EC2: registration without
//! them, promptly.

use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::common::{env, Agent, Aws, EcsLocal, ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY};

const START: Duration = Duration::from_secs(90);

/// curl as a person on the instance would call IMDS: (status, body).
fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-m", "10", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// An IMDSv2 token from the stand-in.
fn token(local: &EcsLocal) -> String {
    let (status, token) = curl(&[
        "-X",
        "PUT",
        "-H",
        "X-aws-ec2-metadata-token-ttl-seconds: 60",
        &format!("{}/debug/imds/latest/api/token", local.endpoint()),
    ]);
    assert_eq!(status, 200, "{token}");
    token
}

fn imds_get(local: &EcsLocal, token: &str, path: &str) -> String {
    let (status, body) = curl(&[
        "-H",
        &format!("X-aws-ec2-metadata-token: {token}"),
        &format!("{}/debug/imds/{path}", local.endpoint()),
    ]);
    assert_eq!(status, 200, "{path}: {body}");
    body
}

fn describe(aws: &Aws, agent: &Agent, instance: &str) -> Value {
    aws.ecs_ok(&[
        "describe-container-instances",
        "--cluster",
        agent.cluster(),
        "--container-instances",
        instance,
    ])["containerInstances"][0]
        .clone()
}

fn attribute(ci: &Value, name: &str) -> Option<String> {
    ci["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["name"] == name)
        .and_then(|a| a["value"].as_str())
        .map(str::to_string)
}

/// The stand-in behaves as IMDSv2: no token or a made-up one is refused 401,
/// a token without a TTL is refused 400 (the EC2 user guide, "Use IMDSv2").
#[test]
fn the_imds_stand_in_refuses_requests_without_a_valid_token() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    let doc = format!(
        "{}/debug/imds/latest/dynamic/instance-identity/document",
        local.endpoint()
    );
    assert_eq!(curl(&[&doc]).0, 401);
    assert_eq!(
        curl(&["-H", "X-aws-ec2-metadata-token: made-up", &doc]).0,
        401
    );
    let token_url = format!("{}/debug/imds/latest/api/token", local.endpoint());
    assert_eq!(curl(&["-X", "PUT", &token_url]).0, 400);
    let t = token(&local);
    let (status, body) = curl(&["-H", &format!("X-aws-ec2-metadata-token: {t}"), &doc]);
    assert_eq!(status, 200, "{body}");
    let d: Value = serde_json::from_str(&body).expect("the document is JSON");
    // In ecs-local's region, every key EC2 writes.
    assert_eq!(d["region"], REGION, "{d}");
    for key in [
        "accountId",
        "architecture",
        "availabilityZone",
        "billingProducts",
        "devpayProductCodes",
        "marketplaceProductCodes",
        "imageId",
        "instanceId",
        "instanceType",
        "kernelId",
        "pendingTime",
        "privateIp",
        "ramdiskId",
        "version",
    ] {
        assert!(d.get(key).is_some(), "{key} missing: {d}");
    }
}

/// User data that sets only the cluster: no region anywhere but the identity
/// document. ecs-local runs in another region than the harness's and checks
/// signatures (`--auth`), so a registration signed for any other region
/// than the document's would be refused; describe-container-instances then
/// shows what Amazon ECS derives from the document (ec2InstanceId, zone,
/// instance type, AMI) and the VPC and subnet the agent read.
#[test]
fn the_agent_registers_with_its_ec2_identity_and_takes_the_region_from_it() {
    let Some(env) = env() else { return };
    let region = "eu-west-3";
    let auth = format!("{ACCESS_KEY_ID}:{SECRET_ACCESS_KEY}");
    let local = EcsLocal::start_with_args(&env, &["--auth", &auth, "--region", region]);
    let mut aws = Aws::new(&env, &local);
    aws.region = region.into();

    let t = token(&local);
    let doc: Value = serde_json::from_str(&imds_get(
        &local,
        &t,
        "latest/dynamic/instance-identity/document",
    ))
    .unwrap();
    assert_eq!(doc["region"], region);
    let mac = imds_get(&local, &t, "latest/meta-data/mac");
    let vpc = imds_get(
        &local,
        &t,
        &format!("latest/meta-data/network/interfaces/macs/{mac}/vpc-id"),
    );
    let subnet = imds_get(
        &local,
        &t,
        &format!("latest/meta-data/network/interfaces/macs/{mac}/subnet-id"),
    );

    let endpoint = format!("{}/debug/imds", local.endpoint());
    let mut agent = Agent::start_unsetting(
        &env,
        &local,
        &[
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &endpoint),
            ("ECS_ENABLE_TASK_ENI", "true"),
        ],
        &["AWS_DEFAULT_REGION", "AWS_EC2_METADATA_DISABLED"],
    );
    // The harness created the cluster signing for its own region, which this
    // ecs-local refuses: create it for the right one, then start again.
    aws.ecs_ok(&["create-cluster", "--cluster-name", agent.cluster()]);
    agent.restart();
    let instance = agent.wait_registered(&aws, START);
    assert!(
        instance.starts_with(&format!("arn:aws:ecs:{region}:")),
        "{instance}"
    );
    let ci = describe(&aws, &agent, &instance);
    assert_eq!(ci["ec2InstanceId"], doc["instanceId"], "{ci}");
    for (name, expected) in [
        ("ecs.availability-zone", doc["availabilityZone"].as_str()),
        ("ecs.instance-type", doc["instanceType"].as_str()),
        ("ecs.ami-id", doc["imageId"].as_str()),
        ("ecs.vpc-id", Some(vpc.as_str())),
        ("ecs.subnet-id", Some(subnet.as_str())),
    ] {
        assert_eq!(
            attribute(&ci, name).as_deref(),
            expected,
            "{name}: {}",
            ci["attributes"]
        );
    }
}

/// Off EC2: IMDS accepts the connection but never answers (a listener that
/// never accepts), or is switched off. The agent waits at most its 1s budget,
/// says so once, and registers without an instance id or EC2 attributes.
#[test]
fn without_instance_metadata_the_agent_registers_promptly_without_ec2_identity() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    let aws = Aws::new(&env, &local);
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());

    for (vars, said) in [
        (
            vec![
                ("AWS_EC2_METADATA_DISABLED", ""),
                ("AWS_EC2_METADATA_SERVICE_ENDPOINT", silent_url.as_str()),
            ],
            "no answer from EC2 instance metadata",
        ),
        (
            vec![("AWS_EC2_METADATA_DISABLED", "true")],
            "AWS_EC2_METADATA_DISABLED is true",
        ),
    ] {
        let agent = Agent::start(&env, &local, &vars);
        let instance = agent.wait_registered(&aws, START);
        let ci = describe(&aws, &agent, &instance);
        assert!(ci.get("ec2InstanceId").is_none(), "{ci}");
        for name in ["ecs.availability-zone", "ecs.instance-type", "ecs.vpc-id"] {
            assert_eq!(attribute(&ci, name), None, "{name}: {ci}");
        }
        let log = strip_ansi(&agent.log());
        assert_eq!(log.matches(said).count(), 1, "{said:?} once in:\n{log}");
        // From the start line to the one saying there is no IMDS: the
        // budget, not a stack of timeouts.
        let started = timestamp_of(&log, "ecs-agent starting");
        let gave_up = timestamp_of(&log, said);
        let waited = gave_up - started;
        assert!(
            waited < time::Duration::milliseconds(1800),
            "waited {waited} for IMDS:\n{log}"
        );
    }
    drop(silent);
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ ... final byte in @..~
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) && c != '[' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The RFC 3339 timestamp opening the first log line containing `needle`.
fn timestamp_of(log: &str, needle: &str) -> time::OffsetDateTime {
    let line = log
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no log line with {needle:?}:\n{log}"));
    let ts = line.split_whitespace().next().unwrap_or_default();
    time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{ts:?} in {line:?}: {e}"))
}
