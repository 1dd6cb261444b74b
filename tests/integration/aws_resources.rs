//! Secrets (SSM Parameter Store, Secrets Manager) and S3 environment files,
//! fetched by the agent with the task's execution role from moto (the AWS
//! emulator scripts/testenv runs), through the SDKs' standard endpoint
//! settings. The values are put into moto with boto3 (the venv's: one
//! process, where the `aws` CLI takes seconds per call) and checked from
//! inside the container (its environment, as it printed it); the image comes
//! from the test environment's htpasswd registry with the login of a Secrets
//! Manager secret (`repositoryCredentials`).

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{self, sh, Agent, Aws, EcsLocal, TestEnv, REGION};

const START: Duration = Duration::from_secs(60);
/// moto's default account: the ARNs it hands out carry it.
const MOTO_ACCOUNT: &str = "123456789012";
const OTHER_REGION: &str = "eu-west-1";

/// The agent's variables that point the SDKs at moto (and nothing else: the
/// ECS client keeps ECS_BACKEND_HOST).
fn moto_endpoints(moto: &str) -> Vec<(&'static str, String)> {
    [
        "AWS_ENDPOINT_URL_SSM",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER",
        "AWS_ENDPOINT_URL_S3",
    ]
    .into_iter()
    .map(|k| (k, moto.to_string()))
    .collect()
}

/// Puts parameters, secrets and S3 objects into moto with boto3 (the venv's,
/// one process: the `aws` CLI takes seconds per call); returns each secret's ARN.
fn seed_moto(env: &TestEnv, moto: &str, what: &Value) -> Value {
    const SCRIPT: &str = r#"
import json, sys, boto3
url, what = sys.argv[1], json.loads(sys.argv[2])
c = lambda svc, region: boto3.client(svc, endpoint_url=url, region_name=region,
    aws_access_key_id="AKIDMOTOTEST", aws_secret_access_key="moto-test-secret")
for region, name, value, kind in what["params"]:
    c("ssm", region).put_parameter(Name=name, Value=value, Type=kind)
sm = c("secretsmanager", "us-east-1")
arns = {n: sm.create_secret(Name=n, SecretString=v)["ARN"] for n, v in what["secrets"].items()}
s3 = c("s3", "us-east-1")
s3.create_bucket(Bucket=what["bucket"])
for key, body in what["objects"].items():
    s3.put_object(Bucket=what["bucket"], Key=key, Body=body.encode())
print(json.dumps(arns))
"#;
    let python = env.aws.with_file_name("python");
    let out = std::process::Command::new(&python)
        .args(["-c", SCRIPT, moto, &what.to_string()])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", python.display()));
    assert!(
        out.status.success(),
        "seeding moto: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("ARNs as JSON")
}

/// `KEY=VALUE` lines the container printed, as a map.
fn printed_env(log: &str) -> std::collections::BTreeMap<String, String> {
    log.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn secrets_and_env_files_reach_the_container_and_a_missing_parameter_stops_the_task() {
    let Some(env) = common::env() else { return };
    let Some(moto) = common::moto() else { return };
    // moto is shared by every test run: names of this run only.
    let u = common::unique_ns("sec").to_lowercase();

    // 11 parameters: more than one GetParameters batch (moto, like SSM,
    // refuses more than 10 names in one call).
    let mut params: Vec<Value> = (0..11)
        .map(|i| json!([REGION, format!("/{u}/p{i}"), format!("value {i}"), "String"]))
        .collect();
    params.push(json!([
        REGION,
        format!("/{u}/secure"),
        "s3cr3t secure value",
        "SecureString"
    ]));
    params.push(json!([
        OTHER_REGION,
        format!("/{u}/cross"),
        "from eu-west-1",
        "String"
    ]));
    let arns = seed_moto(
        &env,
        &moto,
        &json!({
            "params": params,
            "secrets": {
                format!("{u}-db"): r#"{"user":"admin","password":"pw with spaces"}"#,
                format!("{u}-plain"): "plain secret value",
                // The login of the test environment's htpasswd registry, for
                // repositoryCredentials.
                format!("{u}-login"):
                    json!({"username": env.auth_user, "password": env.auth_password}).to_string(),
            },
            "bucket": u,
            "objects": {
                "a.env": "# a comment\nFROM_A=a\nSHARED=from-a\nDEF_WINS=from-file\nOVERRIDDEN=file\n",
                "conf/b.env": "SHARED=from-b\nFROM_B=b=1\n",
            },
        }),
    );
    let arn = |name: &str| arns[name].as_str().expect("secret ARN").to_string();
    let (json_arn, plain_arn, login_arn) = (
        arn(&format!("{u}-db")),
        arn(&format!("{u}-plain")),
        arn(&format!("{u}-login")),
    );

    let local = EcsLocal::start(&env);
    let endpoints = moto_endpoints(&moto);
    let vars: Vec<(&str, &str)> = endpoints.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let agent = Agent::start(&env, &local, &vars);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);

    let mut secrets: Vec<Value> = (0..11)
        .map(|i| json!({"name": format!("P{i}"), "valueFrom": format!("/{u}/p{i}")}))
        .collect();
    secrets.extend([
        json!({"name": "SECURE", "valueFrom": format!("/{u}/secure")}),
        json!({"name": "CROSS",
               "valueFrom": format!("arn:aws:ssm:{OTHER_REGION}:{MOTO_ACCOUNT}:parameter/{u}/cross")}),
        json!({"name": "DB_PASSWORD", "valueFrom": format!("{json_arn}:password::")}),
        json!({"name": "PLAIN", "valueFrom": plain_arn}),
        json!({"name": "OVERRIDDEN", "valueFrom": format!("/{u}/p0")}),
    ]);
    let td = |family: &str, secrets: Value, private: bool| {
        let mut c = json!({
            "name": "c", "image": env.image(), "memory": 32, "essential": true,
            "environment": [{"name": "DEF_WINS", "value": "from-definition"}],
            "secrets": secrets,
            "environmentFiles": [
                {"value": format!("arn:aws:s3:::{u}/a.env"), "type": "s3"},
                {"value": format!("arn:aws:s3:::{u}/conf/b.env"), "type": "s3"}
            ],
            "command": sh("env")});
        if private {
            // Pulled with the login from Secrets Manager.
            c["image"] = json!(env.auth_image());
            c["repositoryCredentials"] = json!({"credentialsParameter": login_arn});
        }
        common::register_task_definition(
            &aws,
            json!({"family": family, "networkMode": "host",
                   "executionRoleArn": format!("arn:aws:iam::{MOTO_ACCOUNT}:role/exec"),
                   "containerDefinitions": [c]}),
        )
    };
    let good = common::run_task(&aws, &agent, &td("secrets", json!(secrets), true));
    // The same with one parameter that does not exist.
    let missing = format!("/{u}/missing");
    let bad = common::run_task(
        &aws,
        &agent,
        &td(
            "secrets-missing",
            json!([{"name": "GONE", "valueFrom": missing}]),
            false,
        ),
    );
    // A non-essential container's missing parameter stops the task too (the
    // Go agent's secrets are task resources), the essential one running.
    let side = common::run_task(
        &aws,
        &agent,
        &common::register_task_definition(
            &aws,
            json!({"family": "secrets-side", "networkMode": "host",
                   "executionRoleArn": format!("arn:aws:iam::{MOTO_ACCOUNT}:role/exec"),
                   "containerDefinitions": [
                       {"name": "main", "image": env.image(), "memory": 32, "essential": true,
                        "stopTimeout": 2, "command": sh("sleep 600")},
                       {"name": "job", "image": env.image(), "memory": 32, "essential": false,
                        "secrets": [{"name": "GONE", "valueFrom": missing}],
                        "command": sh("env")}]}),
        ),
    );

    let t = common::wait_task_status(&aws, &agent, &good, "STOPPED", START);
    assert_eq!(t["containers"][0]["exitCode"], 0, "{t}");
    let seen = printed_env(&agent.container_log(common::task_id(&good), "c"));
    for i in 0..11 {
        assert_eq!(
            seen.get(&format!("P{i}")),
            Some(&format!("value {i}")),
            "{seen:?}"
        );
    }
    for (k, want) in [
        ("SECURE", "s3cr3t secure value"),
        ("CROSS", "from eu-west-1"),
        ("DB_PASSWORD", "pw with spaces"),
        ("PLAIN", "plain secret value"),
        // Files: the first that sets a key wins, `environment` wins over
        // every file, a secret over everything.
        ("FROM_A", "a"),
        ("FROM_B", "b=1"),
        ("SHARED", "from-a"),
        ("DEF_WINS", "from-definition"),
        ("OVERRIDDEN", "value 0"),
    ] {
        assert_eq!(seen.get(k).map(String::as_str), Some(want), "{k}: {seen:?}");
    }

    let t = common::wait_task_status(&aws, &agent, &bad, "STOPPED", START);
    let reason = t["stoppedReason"].as_str().unwrap_or_default();
    assert_eq!(
        reason,
        format!("fetching secret data from SSM Parameter Store in {REGION}: invalid parameters: {missing}"),
        "{t}"
    );
    let t = common::wait_task_status(&aws, &agent, &side, "STOPPED", START);
    assert_eq!(
        t["stoppedReason"].as_str().unwrap_or_default(),
        format!("fetching secret data from SSM Parameter Store in {REGION}: invalid parameters: {missing}"),
        "{t}"
    );

    // No value in the agent's log or its checkpoint.
    let log = agent.log();
    let state = std::fs::read(agent.data_dir().join("agent.redb")).unwrap_or_default();
    let state = String::from_utf8_lossy(&state);
    for value in [
        "s3cr3t secure value",
        "pw with spaces",
        "plain secret value",
        "from-a",
    ] {
        assert!(!log.contains(value), "{value:?} in the agent's log");
        assert!(!state.contains(value), "{value:?} in the checkpoint");
    }
}
