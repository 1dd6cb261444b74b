use super::*;
use crate::task::resources::{AsmRegistryAuth, EcrRegistryAuth, EnvFileRef, SecretRef};

fn secret(provider: SecretProvider) -> SecretRef {
    SecretRef {
        name: "DB_PASSWORD".into(),
        value_from: "/app/db".into(),
        provider,
        region: "us-west-2".into(),
        target: crate::task::resources::SecretTarget::Env,
    }
}

#[tokio::test]
async fn no_execution_role_stops_with_the_go_agents_reason_per_resource() {
    let aws = AwsResources::new("us-west-2", None).await;
    let cases = [
        (
            AwsInputs {
                secrets: vec![secret(SecretProvider::Ssm)],
                ..AwsInputs::default()
            },
            "ssm secret resource: unable to find execution role credentials",
        ),
        (
            AwsInputs {
                secrets: vec![secret(SecretProvider::Asm)],
                ..AwsInputs::default()
            },
            "ASM secret resource: unable to find execution role credentials",
        ),
        (
            AwsInputs {
                env_files: vec![EnvFileRef {
                    arn: "arn:aws:s3:::b/k.env".into(),
                    bucket: "b".into(),
                    key: "k.env".into(),
                }],
                ..AwsInputs::default()
            },
            "environment file resource: unable to find execution role credentials",
        ),
    ];
    for (inputs, want) in cases {
        let err = aws.container_env(None, &inputs).await.unwrap_err();
        assert_eq!(err.to_string(), want);
    }
    let auth = AsmRegistryAuth {
        credentials_parameter: "login".into(),
        region: "us-west-2".into(),
    };
    assert_eq!(
        aws.registry_credentials(None, &auth)
            .await
            .unwrap_err()
            .to_string(),
        "asm resource: unable to find execution role credentials"
    );
    // Nothing to fetch: no credentials needed, no call made.
    assert_eq!(
        aws.container_env(None, &AwsInputs::default())
            .await
            .unwrap(),
        ContainerEnv::default()
    );
}

#[test]
fn reasons_name_the_secret_or_file_as_the_go_agent_does() {
    let e = ResourceError::Ssm {
        region: "us-west-2".into(),
        detail: "invalid parameters: /app/missing".into(),
    };
    assert_eq!(
        e.to_string(),
        "fetching secret data from SSM Parameter Store in us-west-2: invalid parameters: /app/missing"
    );
    let e = ResourceError::AsmNotFound {
        secret_id: "arn:aws:secretsmanager:us-west-2:1:secret:x".into(),
    };
    assert!(e.to_string().starts_with(
        "ResourceNotFoundException: The task can't retrieve the secret with ARN 'arn:aws:secretsmanager:us-west-2:1:secret:x' from AWS Secrets Manager."
    ));
    let e = ResourceError::EnvFile {
        bucket: "b".into(),
        key: "k.env".into(),
        detail: "NoSuchKey: gone".into(),
    };
    assert_eq!(
        e.to_string(),
        "unable to download env file with key k.env from bucket b, error: NoSuchKey: gone"
    );
}

#[test]
fn debug_shows_names_never_values() {
    let env = ContainerEnv {
        secrets: vec![("DB_PASSWORD".into(), "hunter2".into())],
        env_files: vec![("MODE".into(), "s3cr3t-mode".into())],
        log_options: vec![("awslogs-group".into(), "/secret/group".into())],
    };
    let shown = format!("{env:?}");
    assert!(
        shown.contains("DB_PASSWORD") && shown.contains("MODE") && shown.contains("awslogs-group"),
        "{shown}"
    );
    assert!(
        !shown.contains("hunter2") && !shown.contains("s3cr3t") && !shown.contains("/secret/group"),
        "{shown}"
    );
}

#[test]
fn env_files_fill_gaps_and_secrets_override_everything() {
    // The image's env, then the definition's environment and the agent's own
    // variables, as container_spec left them.
    let mut env: Vec<String> = ["PATH=/bin", "FROM_DEF=def", "AWS_EXECUTION_ENV=AWS_ECS_EC2"]
        .map(String::from)
        .to_vec();
    let keep = ["FROM_DEF".to_string(), "AWS_EXECUTION_ENV".to_string()];
    ContainerEnv {
        secrets: vec![
            ("FROM_DEF".into(), "secret".into()),
            ("TOKEN".into(), "t".into()),
        ],
        env_files: vec![
            ("PATH".into(), "/file/bin".into()),
            ("FROM_DEF".into(), "file".into()),
            ("AWS_EXECUTION_ENV".into(), "file".into()),
            ("ONLY_FILE".into(), "f".into()),
        ],
        log_options: Vec::new(),
    }
    .apply(&mut env, &keep);
    assert_eq!(
        env,
        [
            "PATH=/file/bin",
            "FROM_DEF=secret",
            "AWS_EXECUTION_ENV=AWS_ECS_EC2",
            "ONLY_FILE=f",
            "TOKEN=t"
        ]
        .map(String::from)
        .to_vec()
    );
}

/// Without the credentials it is to use, the ECR login fails before any
/// call: the Go agent's reason for a missing execution role, ours naming the
/// registry for an agent without credentials of its own.
#[tokio::test]
async fn an_ecr_login_without_its_credentials_names_what_is_missing() {
    let aws = AwsResources::new("us-west-2", None).await;
    let mut auth = EcrRegistryAuth {
        registry_id: "123456789012".into(),
        region: "us-west-2".into(),
        endpoint_override: None,
        use_execution_role: true,
    };
    assert_eq!(
        aws.ecr_login(None, &auth).await.unwrap_err().to_string(),
        "engine ecr credentials: not found"
    );
    auth.use_execution_role = false;
    let err = aws.ecr_login(None, &auth).await.unwrap_err().to_string();
    assert!(
        err.starts_with("ecr auth: the agent has no instance credentials to ask ECR for the registry 123456789012 token"),
        "{err}"
    );
}
