//! What a container takes from AWS before it is created, with the task's
//! execution role: `secrets` (SSM Parameter Store, Secrets Manager) and
//! `environmentFiles` (S3). Pure: the references as validated from the
//! payload, and the Go agent's rules to read them (Secrets Manager's
//! `:json-key:version-stage:version-id` suffix, S3 ARNs, env-file lines).
//! Only references are kept (and checkpointed); values are fetched each time
//! a container is created and go nowhere but its environment.

use serde::{Deserialize, Serialize};

/// Where a secret lives (ACS `provider`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SecretProvider {
    /// SSM Parameter Store (`ssm`).
    Ssm,
    /// Secrets Manager (`asm`).
    Asm,
}

/// Where a secret's value goes (ACS `target`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SecretTarget {
    /// An environment variable of the container (`CONTAINER`, or none).
    #[default]
    Env,
    /// An option of the container's log driver (`LOG_DRIVER`: the task
    /// definition's `logConfiguration.secretOptions`).
    LogDriver,
}

/// One `secrets` entry: an environment variable, or a log driver option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRef {
    /// The environment variable's name, or the log driver option's.
    pub name: String,
    /// A parameter name or ARN (SSM), a secret ARN with optional suffix (ASM).
    pub value_from: String,
    pub provider: SecretProvider,
    /// Region of the service to ask (ACS `region`: the ARN's, else the task's).
    pub region: String,
    /// A checkpoint from before secretOptions reads as an environment variable.
    #[serde(default)]
    pub target: SecretTarget,
}

/// An `environmentFiles` entry of type s3.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvFileRef {
    /// As the payload has it: `arn:aws:s3:::bucket/key.env`.
    pub arn: String,
    pub bucket: String,
    pub key: String,
}

/// `registryAuthentication` of type asm (`repositoryCredentials`): a Secrets
/// Manager secret holding `{"username": ..., "password": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AsmRegistryAuth {
    /// ARN or name of the secret (`credentialsParameter`).
    pub credentials_parameter: String,
    pub region: String,
}

/// `registryAuthentication` of type ecr: whom to ask for the registry's
/// authorization token (ACS `ECRAuthData`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EcrRegistryAuth {
    /// The registry's account id (`<registryId>.dkr.ecr.<region>.amazonaws.com`).
    pub registry_id: String,
    pub region: String,
    /// ECR's API endpoint instead of the region's (`endpointOverride`).
    #[serde(default)]
    pub endpoint_override: Option<String>,
    /// The token is asked for with the task's execution role, else with the
    /// instance's credentials.
    #[serde(default)]
    pub use_execution_role: bool,
}

/// GetSecretValue's input for a `valueFrom` (Go: asmsecret
/// getASMParametersFromInput, after CloudFormation's dynamic references).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsmQuery {
    pub secret_id: String,
    pub json_key: Option<String>,
    pub version_stage: Option<String>,
    pub version_id: Option<String>,
}

/// The Go agent's message for a Secrets Manager ARN of neither shape.
pub const ASM_INVALID_ARN: &str = "an invalid ARN format for the AWS Secrets Manager secret was specified. Specify a valid ARN and try again.";

/// `arn:partition:service:region:account:resource` split as Go's arn.Parse
/// does (the resource keeps its own colons).
fn arn_sections(arn: &str) -> Result<[&str; 6], String> {
    if !arn.starts_with("arn:") {
        return Err("arn: invalid prefix".into());
    }
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        [a, b, c, d, e, f] => Ok([a, b, c, d, e, f]),
        _ => Err("arn: not enough sections".into()),
    }
}

/// The region an ARN names, if it is an ARN and names one.
pub fn arn_region(value: &str) -> Option<&str> {
    arn_sections(value)
        .ok()
        .map(|s| s[3])
        .filter(|r| !r.is_empty())
}

/// `arn:...:secret:NAME-abc123` asks for the secret as stored;
/// `arn:...:secret:NAME-abc123:json-key:version-stage:version-id` (each part
/// may be empty) picks one key of a JSON secret and a version.
pub fn asm_query(value_from: &str) -> Result<AsmQuery, String> {
    let [_, partition, service, region, account, resource] = arn_sections(value_from)?;
    let params: Vec<&str> = resource.split(':').collect();
    if params.len() == 2 {
        return Ok(AsmQuery {
            secret_id: value_from.to_string(),
            json_key: None,
            version_stage: None,
            version_id: None,
        });
    }
    if params.len() != 5 {
        return Err(ASM_INVALID_ARN.into());
    }
    let some = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
    Ok(AsmQuery {
        secret_id: format!(
            "arn:{partition}:{service}:{region}:{account}:{}:{}",
            params[0], params[1]
        ),
        json_key: some(params[2]),
        version_stage: some(params[3]),
        version_id: some(params[4]),
    })
}

/// The value of one key of a JSON secret, as Go prints it (`%v`: strings as
/// they are, other JSON values in their JSON text).
pub fn json_key_value(secret: &str, key: &str) -> Result<String, String> {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(secret)
        .map_err(|e| format!("the secret is not a JSON object: {e}"))?;
    match map.get(key) {
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(other) => Ok(other.to_string()),
        None => Err(format!(
            "retrieved secret from Secrets Manager did not contain json key {key}"
        )),
    }
}

/// Registry credentials from a secret's text, with the Go agent's messages
/// (asm.extractASMValue).
pub fn registry_login(secret: &str) -> Result<(String, String), &'static str> {
    #[derive(Deserialize)]
    struct Login {
        username: Option<String>,
        password: Option<String>,
    }
    if secret.is_empty() {
        return Err("asm fetching authorization data: empty secrets value");
    }
    let login: Login = serde_json::from_str(secret).map_err(|_| {
        "asm fetching authorization data: unable to unmarshal secret value, invalid schema"
    })?;
    let username = login.username.unwrap_or_default();
    let password = login.password.unwrap_or_default();
    if username.is_empty() {
        return Err("asm fetching username: AuthorizationData is malformed, empty field");
    }
    if password.is_empty() {
        return Err("asm fetching password: AuthorizationData is malformed, empty field");
    }
    Ok((username, password))
}

/// Bucket and key of `arn:PARTITION:s3:::BUCKET/KEY` (Go: s3.ParseS3ARN,
/// `arn:([^:]+):s3:::([^/]+)/(.+)`).
pub fn parse_s3_arn(arn: &str) -> Result<EnvFileRef, String> {
    let invalid = || format!("invalid s3 arn: {arn}");
    let rest = arn.strip_prefix("arn:").ok_or_else(invalid)?;
    let (partition, rest) = rest.split_once(':').ok_or_else(invalid)?;
    let path = rest.strip_prefix("s3:::").ok_or_else(invalid)?;
    let (bucket, key) = path.split_once('/').ok_or_else(invalid)?;
    if partition.is_empty() || bucket.is_empty() || key.is_empty() {
        return Err(invalid());
    }
    // Go also refuses a bucket/key that would escape its download directory;
    // nothing is written to disk here, but the same input stays refused.
    if key.split('/').any(|p| p == "..") || bucket == ".." {
        return Err(format!(
            "invalid path: bucket {bucket:?} key {key:?} escapes envfile resource directory"
        ));
    }
    Ok(EnvFileRef {
        arn: arn.to_string(),
        bucket: bucket.to_string(),
        key: key.to_string(),
    })
}

/// The variables of one environment file, by the Go agent's rules
/// (envFiles readEnvVarsFromFile): a line starting with `#` is a comment, a
/// line without `=` is skipped, the key is everything before the first `=`
/// (nothing trimmed) and must not be empty, the value everything after it; a
/// key repeated in one file takes its last value.
pub fn parse_env_file(content: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in content.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.is_empty() {
            continue;
        }
        match out.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value.to_string(),
            None => out.push((key.to_string(), value.to_string())),
        }
    }
    out
}

/// The variables of several files in the order the definition lists them:
/// the first file that sets a key wins (Go: MergeEnvironmentVariablesFromEnvfiles).
pub fn merge_env_files(files: Vec<Vec<(String, String)>>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for file in files {
        for (k, v) in file {
            if !out.iter().any(|(seen, _)| *seen == k) {
                out.push((k, v));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ASM: &str = "arn:aws:secretsmanager:us-west-2:123456789012:secret:db-AbCdEf";

    #[test]
    fn asm_plain_arn_is_the_secret_id() {
        let q = asm_query(ASM).unwrap();
        assert_eq!(q.secret_id, ASM);
        assert_eq!(
            (q.json_key, q.version_stage, q.version_id),
            (None, None, None)
        );
    }

    #[test]
    fn asm_suffix_is_json_key_stage_and_version() {
        let q = asm_query(&format!("{ASM}:password:AWSCURRENT:")).unwrap();
        assert_eq!(q.secret_id, ASM);
        assert_eq!(q.json_key.as_deref(), Some("password"));
        assert_eq!(q.version_stage.as_deref(), Some("AWSCURRENT"));
        assert_eq!(q.version_id, None);
        let q = asm_query(&format!("{ASM}:::v-1")).unwrap();
        assert_eq!((q.json_key, q.version_stage), (None, None));
        assert_eq!(q.version_id.as_deref(), Some("v-1"));
    }

    #[test]
    fn asm_other_shapes_are_refused_with_gos_messages() {
        assert_eq!(
            asm_query(&format!("{ASM}:key")).unwrap_err(),
            ASM_INVALID_ARN
        );
        assert_eq!(asm_query("db-secret").unwrap_err(), "arn: invalid prefix");
        assert_eq!(
            asm_query("arn:aws:secretsmanager").unwrap_err(),
            "arn: not enough sections"
        );
    }

    #[test]
    fn json_keys_print_as_go_prints_them() {
        let s = r#"{"user":"admin","port":5432,"on":true}"#;
        assert_eq!(json_key_value(s, "user").unwrap(), "admin");
        assert_eq!(json_key_value(s, "port").unwrap(), "5432");
        assert_eq!(json_key_value(s, "on").unwrap(), "true");
        assert_eq!(
            json_key_value(s, "nope").unwrap_err(),
            "retrieved secret from Secrets Manager did not contain json key nope"
        );
        assert!(json_key_value("plain", "user").is_err());
    }

    #[test]
    fn registry_logins_read_as_the_go_agent_reads_them() {
        assert_eq!(
            registry_login(r#"{"username":"u","password":"p","extra":1}"#).unwrap(),
            ("u".to_string(), "p".to_string())
        );
        for (text, want) in [
            ("", "asm fetching authorization data: empty secrets value"),
            (
                "not json",
                "asm fetching authorization data: unable to unmarshal secret value, invalid schema",
            ),
            (
                r#"{"password":"p"}"#,
                "asm fetching username: AuthorizationData is malformed, empty field",
            ),
            (
                r#"{"username":"u","password":""}"#,
                "asm fetching password: AuthorizationData is malformed, empty field",
            ),
        ] {
            assert_eq!(registry_login(text).unwrap_err(), want, "{text}");
        }
    }

    #[test]
    fn arn_region_is_the_fourth_section() {
        assert_eq!(arn_region(ASM), Some("us-west-2"));
        assert_eq!(arn_region("/plain/name"), None);
        assert_eq!(arn_region("arn:aws:s3:::b/k"), None);
    }

    #[test]
    fn s3_arns_split_into_bucket_and_key() {
        let f = parse_s3_arn("arn:aws:s3:::my-bucket/dir/app.env").unwrap();
        assert_eq!(
            (f.bucket.as_str(), f.key.as_str()),
            ("my-bucket", "dir/app.env")
        );
        for bad in [
            "arn:aws:s3:::bucket",
            "arn:aws:s3:::/key",
            "arn:aws:s3:::bucket/",
            "s3://bucket/key",
            "arn:aws:ssm:::bucket/key",
            "arn:aws:s3:::bucket/../../etc/passwd",
        ] {
            assert!(parse_s3_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn env_files_follow_the_go_agents_rules() {
        let text = "# comment\nA=1\nB=x=y\n\nno equals\n=empty key\n C=spaced\nA=2\nD=\r\n#E=no\n";
        assert_eq!(
            parse_env_file(text),
            vec![
                ("A".to_string(), "2".to_string()),
                ("B".to_string(), "x=y".to_string()),
                (" C".to_string(), "spaced".to_string()),
                ("D".to_string(), String::new()),
            ]
        );
    }

    #[test]
    fn the_first_file_that_sets_a_key_wins() {
        let a = parse_env_file("K=from-a\nONLY_A=a\n");
        let b = parse_env_file("K=from-b\nONLY_B=b\n");
        let merged = merge_env_files(vec![a, b]);
        assert_eq!(
            merged,
            vec![
                ("K".to_string(), "from-a".to_string()),
                ("ONLY_A".to_string(), "a".to_string()),
                ("ONLY_B".to_string(), "b".to_string()),
            ]
        );
    }
}
