//! `secrets` and `environmentFiles` as Amazon ECS sends them (shapes: the Go
//! agent's agent/statemanager/testdata/v18/secrets and
//! v28/environmentFiles checkpoints, which hold the payload's fields as
//! received; ecs-agent/acs/model/api/api-2.json `Secret`, `EnvironmentFile`).

use super::from_acs::{task_def, Policy};
use super::log_driver::LogDriver;
use super::resources::{SecretProvider, SecretRef, SecretTarget};
use crate::model::acs;

const ASM_ARN: &str = "arn:aws:secretsmanager:us-west-2:123456789012:secret:db-AbCdEf";

fn task(container: serde_json::Value) -> acs::Task {
    let mut c = serde_json::json!({"name": "app", "image": "busybox"});
    if let (Some(c), Some(extra)) = (c.as_object_mut(), container.as_object()) {
        c.extend(extra.clone());
    }
    serde_json::from_value(serde_json::json!({
        "arn": "arn:aws:ecs:us-west-2:123456789012:task/demo/0123456789abcdef",
        "family": "web", "version": "1", "desiredStatus": "RUNNING", "networkMode": "host",
        "containers": [c]
    }))
    .unwrap()
}

#[test]
fn secrets_and_env_files_are_kept_as_references() {
    let t = task(serde_json::json!({
        "secrets": [
            {"name": "ssm-secret", "valueFrom": "secret-value-from", "provider": "ssm",
             "containerPath": null, "type": "ENVIRONMENT_VARIABLE", "region": "us-west-2"},
            {"name": "CROSS", "valueFrom": "arn:aws:ssm:eu-west-1:123456789012:parameter/app/x",
             "provider": "ssm", "type": "ENVIRONMENT_VARIABLE", "region": "eu-west-1", "target": "CONTAINER"},
            {"name": "asm-secret", "valueFrom": format!("{ASM_ARN}:password:AWSCURRENT:"), "provider": "asm",
             "containerPath": null, "type": "ENVIRONMENT_VARIABLE", "region": "us-west-2"}
        ],
        "environmentFiles": [
            {"type": "s3", "value": "arn:aws:s3:::bucket/key1.env"},
            {"type": "s3", "value": "arn:aws:s3:::bucket/dir/key2.env"}
        ]
    }));
    let d = task_def(&t, Policy::default()).unwrap();
    let aws = &d.containers[0].aws;
    assert_eq!(
        aws.secrets[0],
        SecretRef {
            name: "ssm-secret".into(),
            value_from: "secret-value-from".into(),
            provider: SecretProvider::Ssm,
            region: "us-west-2".into(),
            target: SecretTarget::Env,
        }
    );
    assert_eq!(aws.secrets[1].region, "eu-west-1");
    assert_eq!(aws.secrets[2].provider, SecretProvider::Asm);
    assert_eq!(
        aws.env_files
            .iter()
            .map(|f| (f.bucket.as_str(), f.key.as_str()))
            .collect::<Vec<_>>(),
        [("bucket", "key1.env"), ("bucket", "dir/key2.env")]
    );
    // The checkpoint holds what to fetch, and nothing fetched.
    let saved = serde_json::to_string(&d).unwrap();
    assert!(saved.contains("secret-value-from") && saved.contains("key1.env"));
}

#[test]
fn a_secret_without_region_takes_its_arns() {
    let t = task(serde_json::json!({"secrets": [
        {"name": "A", "valueFrom": ASM_ARN, "provider": "asm", "type": "ENVIRONMENT_VARIABLE"}
    ]}));
    let d = task_def(&t, Policy::default()).unwrap();
    assert_eq!(d.containers[0].aws.secrets[0].region, "us-west-2");
}

#[test]
fn bad_secrets_and_env_files_are_refused_naming_the_field() {
    let cases = [
        (
            serde_json::json!({"secrets": [{"valueFrom": "/x", "provider": "ssm", "region": "r"}]}),
            "container \"app\": secrets[0].name: missing",
        ),
        (
            serde_json::json!({"secrets": [{"name": "A", "provider": "ssm", "region": "r"}]}),
            "container \"app\": secrets[0].valueFrom: missing",
        ),
        (
            serde_json::json!({"secrets": [{"name": "A", "valueFrom": "/x", "provider": "vault", "region": "r"}]}),
            "container \"app\": secrets[0].provider Some(\"vault\"): expected ssm or asm",
        ),
        (
            serde_json::json!({"secrets": [{"name": "A", "valueFrom": "/x", "provider": "ssm"}]}),
            "container \"app\": secrets[0].region: missing",
        ),
        (
            serde_json::json!({"secrets": [{"name": "A", "valueFrom": "/x", "provider": "ssm", "region": "r",
                                            "target": "VOLUME"}]}),
            "container \"app\": secrets[0].target \"VOLUME\": expected CONTAINER or LOG_DRIVER",
        ),
        (
            serde_json::json!({"secrets": [{"name": "A", "valueFrom": format!("{ASM_ARN}:key"), "provider": "asm", "region": "r"}]}),
            "an invalid ARN format for the AWS Secrets Manager secret was specified",
        ),
        (
            serde_json::json!({"environmentFiles": [{"type": "efs", "value": "arn:aws:s3:::b/k"}]}),
            "container \"app\": environmentFiles[0].type Some(\"efs\"): expected s3",
        ),
        (
            serde_json::json!({"environmentFiles": [{"type": "s3", "value": "s3://b/k"}]}),
            "container \"app\": environmentFiles[0].value: invalid s3 arn: s3://b/k",
        ),
    ];
    for (container, want) in cases {
        let reason = task_def(&task(container.clone()), Policy::default())
            .unwrap_err()
            .reason;
        assert!(reason.contains(want), "{container}: {reason}");
    }
}

/// `repositoryCredentials` as Amazon ECS sends it: registryAuthentication of
/// type asm (ecs-agent/acs/model/api/api-2.json `RegistryAuthenticationData`,
/// `ASMAuthData`).
#[test]
fn repository_credentials_are_kept() {
    let t = task(serde_json::json!({"registryAuthentication": {"type": "asm",
        "asmAuthData": {"credentialsParameter": ASM_ARN, "region": "us-west-2"}}}));
    let d = task_def(&t, Policy::default()).unwrap();
    let auth = d.containers[0]
        .aws
        .registry_auth
        .as_ref()
        .expect("registry auth");
    assert_eq!(auth.credentials_parameter, ASM_ARN);
    assert_eq!(auth.region, "us-west-2");
    assert_eq!(d.containers[0].aws.ecr_auth, None);
    // Nothing to fetch at create time for it: it is the pull's.
    assert!(d.containers[0].aws.is_empty());
    let t = task(serde_json::json!({"registryAuthentication": {"type": "asm", "asmAuthData": {}}}));
    assert!(task_def(&t, Policy::default())
        .unwrap_err()
        .reason
        .ends_with("registryAuthentication.asmAuthData.credentialsParameter: missing"));
    let t = task(serde_json::json!({"registryAuthentication": {"type": "vault"}}));
    assert_eq!(
        task_def(&t, Policy::default()).unwrap_err().reason,
        "container \"app\": registryAuthentication.type Some(\"vault\"): expected asm or ecr"
    );
}

/// A private ECR image as Amazon ECS sends it: registryAuthentication of type
/// ecr (api-2.json `ECRAuthData`: registryId, region, endpointOverride,
/// useExecutionRole; the Go agent's checkpoint fixture
/// agent/statemanager/testdata/v23/firelens keeps the four as received),
/// decoded through the ACS frame decoder as Go decodes it: keys matched
/// case-insensitively, unknown keys ignored.
#[test]
fn ecr_registry_authentication_is_kept_as_received() {
    let frame = r#"{"type":"PayloadMessage","message":{"messageId":"m","tasks":[{
      "arn":"arn:aws:ecs:us-west-2:123456789012:task/demo/0123456789abcdef",
      "family":"web","version":"1","desiredStatus":"RUNNING","networkMode":"host",
      "containers":[
        {"name":"a","image":"123456789012.dkr.ecr.us-west-2.amazonaws.com/app:1",
         "registryAuthentication":{"type":"ecr","ecrAuthData":{"endpointOverride":"",
           "region":"us-west-2","registryId":"123456789012","useExecutionRole":true,
           "futureField":1}}},
        {"name":"b","image":"210987654321.dkr.ecr.eu-west-1.amazonaws.com/b",
         "RegistryAuthentication":{"Type":"ecr","ECRAuthData":{"RegistryID":"210987654321",
           "REGION":"eu-west-1","EndpointOverride":"https://ecr.example.test"}}}]}]}}"#;
    let crate::model::acs::AcsMessage::Payload(p) = crate::model::acs::decode(frame).unwrap()
    else {
        panic!("not a payload")
    };
    let d = task_def(&p.tasks[0], Policy::default()).unwrap();
    let a = d.containers[0].aws.ecr_auth.clone().expect("ecr auth of a");
    assert_eq!(
        a,
        super::resources::EcrRegistryAuth {
            registry_id: "123456789012".into(),
            region: "us-west-2".into(),
            endpoint_override: None,
            use_execution_role: true,
        }
    );
    assert_eq!(d.containers[0].aws.registry_auth, None);
    let b = d.containers[1].aws.ecr_auth.clone().expect("ecr auth of b");
    assert_eq!(
        (b.registry_id.as_str(), b.region.as_str()),
        ("210987654321", "eu-west-1")
    );
    assert_eq!(
        b.endpoint_override.as_deref(),
        Some("https://ecr.example.test")
    );
    assert!(!b.use_execution_role);

    for (auth, want) in [
        (
            serde_json::json!({"type": "ecr"}),
            "container \"app\": registryAuthentication.ecrAuthData: missing",
        ),
        (
            serde_json::json!({"type": "ecr", "ecrAuthData": {"region": "us-west-2"}}),
            "container \"app\": registryAuthentication.ecrAuthData.registryId: missing",
        ),
        (
            serde_json::json!({"type": "ecr", "ecrAuthData": {"registryId": "1", "region": ""}}),
            "container \"app\": registryAuthentication.ecrAuthData.region: missing",
        ),
    ] {
        let t = task(serde_json::json!({ "registryAuthentication": auth }));
        assert_eq!(task_def(&t, Policy::default()).unwrap_err().reason, want);
    }
}

/// `logConfiguration.secretOptions` as Amazon ECS sends them: `secrets` of
/// target LOG_DRIVER without a type (the Go agent's engine tests' payloads;
/// the ACS model's `SecretTarget`), with LogConfig in hostConfig.
fn log_task(log_config: serde_json::Value, secrets: serde_json::Value) -> acs::Task {
    task(serde_json::json!({
        "secrets": secrets,
        "dockerConfig": {"hostConfig": serde_json::json!({"LogConfig": log_config}).to_string()}
    }))
}

#[test]
fn secret_options_are_kept_as_references_for_the_log_driver() {
    let t = log_task(
        serde_json::json!({"Type": "awslogs", "Config": {"awslogs-region": "us-west-2"}}),
        serde_json::json!([
            {"name": "awslogs-group", "valueFrom": "/app/group", "provider": "ssm",
             "region": "us-west-2", "target": "LOG_DRIVER"},
            {"name": "TOKEN", "valueFrom": "/app/token", "provider": "ssm",
             "region": "us-west-2", "type": "ENVIRONMENT_VARIABLE", "target": "CONTAINER"},
            // The Go agent's PopulateSecrets: a type ENVIRONMENT_VARIABLE
            // goes to the environment whatever the target.
            {"name": "ALSO_ENV", "valueFrom": "/app/x", "provider": "ssm",
             "region": "us-west-2", "type": "ENVIRONMENT_VARIABLE", "target": "LOG_DRIVER"}
        ]),
    );
    let mut t = t;
    t.containers[0].logs_auth_strategy = Some("ExecutionRole".into());
    let d = task_def(&t, Policy::default()).unwrap();
    let c = &d.containers[0];
    let targets: Vec<_> = c
        .aws
        .secrets
        .iter()
        .map(|s| (s.name.as_str(), s.target))
        .collect();
    assert_eq!(
        targets,
        [
            ("awslogs-group", SecretTarget::LogDriver),
            ("TOKEN", SecretTarget::Env),
            ("ALSO_ENV", SecretTarget::Env)
        ]
    );
    let LogDriver::Pending(p) = &c.log else {
        panic!("{:?}", c.log)
    };
    assert_eq!(p.kind, "awslogs");
    assert_eq!(p.secret_names, ["awslogs-group"]);
    assert!(p.execution_role);
    // Resolved at create with the fetched value, as if it had been sent.
    let LogDriver::Awslogs(a) = p
        .resolve(&[("awslogs-group".into(), "/ecs/from-ssm".into())])
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(a.group, "/ecs/from-ssm");
    assert_eq!(a.region.as_deref(), Some("us-west-2"));
    assert!(a.execution_role);
    // A checkpoint of before reads its secrets as environment variables.
    let old: SecretRef = serde_json::from_value(serde_json::json!({
        "name": "A", "value_from": "/x", "provider": "Ssm", "region": "r"}))
    .unwrap();
    assert_eq!(old.target, SecretTarget::Env);
}

#[test]
fn a_secret_option_the_driver_does_not_know_is_refused_by_name() {
    for (log_config, name, want) in [
        (
            serde_json::json!({"Type": "awslogs", "Config": {}}),
            "awslogs-token",
            "unknown log opt 'awslogs-token' for awslogs log driver",
        ),
        (
            serde_json::json!({"Type": "json-file"}),
            "splunk-token",
            "unknown log opt 'splunk-token' for json-file log driver",
        ),
        (
            serde_json::json!({"Type": "awslogs"}),
            "tag",
            "Config.tag: not supported by this agent's awslogs",
        ),
    ] {
        let t = log_task(
            log_config,
            serde_json::json!([{"name": name, "valueFrom": "/p", "provider": "ssm",
                                "region": "us-west-2", "target": "LOG_DRIVER"}]),
        );
        let reason = task_def(&t, Policy::default()).unwrap_err().reason;
        assert!(
            reason.starts_with("container \"app\": dockerConfig.hostConfig.LogConfig"),
            "{reason}"
        );
        assert!(reason.contains(want), "{name}: {reason}");
    }
    // Docker's none driver checks no option: accepted, and discarded.
    let t = log_task(
        serde_json::json!({"Type": "none"}),
        serde_json::json!([{"name": "anything", "valueFrom": "/p", "provider": "ssm",
                            "region": "us-west-2", "target": "LOG_DRIVER"}]),
    );
    assert!(task_def(&t, Policy::default()).is_ok());
}
