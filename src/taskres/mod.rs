//! A container's inputs from AWS, fetched with the task's execution role
//! right before the container is created: `secrets` from SSM Parameter Store
//! and Secrets Manager, `environmentFiles` from S3 (the Go agent's ssmsecret,
//! asmsecret and envFiles task resources).
//!
//! Also the registry logins a pull needs: `repositoryCredentials` from
//! Secrets Manager, and private ECR's authorization tokens (cached as the Go
//! agent caches them, `ecr_cache`).
//!
//! Calls go through the official SDK crates. Endpoints are the SDKs' own:
//! only their standard settings override them (`AWS_ENDPOINT_URL`,
//! `AWS_ENDPOINT_URL_SSM`, `_SECRETS_MANAGER`, `_S3`, `_ECR`; for ECR also
//! the payload's `endpointOverride`), so the binary that talks to moto in
//! the tests talks to AWS in production.
//!
//! Values are held only while the container's spec is built: never logged
//! (errors name the parameter, the secret or the file, not what they hold),
//! never checkpointed (the task keeps the references; a container created
//! after a restart fetches them again).
//!
//! ```text
//! let aws = AwsResources::new("us-west-2", instance_creds).await; // once, at agent start
//! let env = aws.container_env(exec_creds, &def.aws).await?;
//! // env.env_files fill what `environment` does not set; env.secrets override.
//! ```

mod asm;
mod ecr;
mod ecr_cache;
mod error;
mod s3;
mod sdk;
mod ssm;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;

use crate::config::RegistryCredentials;
use crate::credentials::RoleCredentials;
use crate::task::def::AwsInputs;
use crate::task::resources::{
    merge_env_files, AsmRegistryAuth, EcrRegistryAuth, SecretProvider, SecretTarget,
};
use crate::task::spec::set_env;

use ecr_cache::{CacheKey, TokenCache, REFRESH_AHEAD};
pub use error::ResourceError;
use sdk::{key, sdk_credentials};

/// The fetched values: `(variable, value)` pairs. Debug never shows values.
#[derive(Default, Clone, PartialEq, Eq)]
pub struct ContainerEnv {
    /// From `secrets`: they override every other source (Go: MergeEnvironmentVariables).
    pub secrets: Vec<(String, String)>,
    /// From `secrets` of target LOG_DRIVER (`logConfiguration.secretOptions`):
    /// `(option, value)` for the log driver (`PendingLog::resolve`).
    pub log_options: Vec<(String, String)>,
    /// From `environmentFiles`, merged (the first file that sets a key wins):
    /// only for keys the definition's `environment` does not set.
    pub env_files: Vec<(String, String)>,
}

impl fmt::Debug for ContainerEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |v: &[(String, String)]| v.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        f.debug_struct("ContainerEnv")
            .field("secrets", &names(&self.secrets))
            .field("env_files", &names(&self.env_files))
            .field("log_options", &names(&self.log_options))
            .finish()
    }
}

impl ContainerEnv {
    /// Into a container's `KEY=VALUE` list: environment files fill what
    /// `keep` (the definition's `environment` and the agent's own variables)
    /// leaves unset; secrets override everything (Go:
    /// MergeEnvironmentVariablesFromEnvfiles, MergeEnvironmentVariables).
    pub fn apply(self, env: &mut Vec<String>, keep: &[String]) {
        for (k, v) in &self.env_files {
            if !keep.contains(k) {
                set_env(env, k, v);
            }
        }
        for (k, v) in &self.secrets {
            set_env(env, k, v);
        }
    }
}

/// The SDK configuration the clients are built from (HTTP client, retries,
/// endpoint settings from the environment), and the agent's region (S3's
/// first guess for a bucket).
#[derive(Clone)]
pub struct AwsResources {
    base: SdkConfig,
    region: String,
    /// The agent's own credentials (its ECS client's): ECR tokens of a
    /// `registryAuthentication` without useExecutionRole are asked with them.
    instance: Option<SharedCredentialsProvider>,
    ecr_tokens: Arc<Mutex<TokenCache>>,
}

impl fmt::Debug for AwsResources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsResources")
            .field("region", &self.region)
            .finish()
    }
}

impl AwsResources {
    /// `region`: the agent's (AWS_DEFAULT_REGION / the instance's). Loads no
    /// credentials: every call is signed with a task's execution role, or
    /// (ECR without useExecutionRole) with `instance`, the agent's own.
    pub async fn new(region: &str, instance: Option<SharedCredentialsProvider>) -> AwsResources {
        let base = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .no_credentials()
            .load()
            .await;
        AwsResources {
            base,
            region: region.to_string(),
            instance,
            ecr_tokens: Arc::default(),
        }
    }

    /// Everything `inputs` names, fetched with `creds` (the task's execution
    /// role, `None` when the task has none or they are not there yet).
    pub async fn container_env(
        &self,
        creds: Option<&RoleCredentials>,
        inputs: &AwsInputs,
    ) -> Result<ContainerEnv, ResourceError> {
        let mut out = ContainerEnv::default();
        if inputs.is_empty() {
            return Ok(out);
        }
        let ssm: Vec<_> = inputs
            .secrets
            .iter()
            .filter(|s| s.provider == SecretProvider::Ssm)
            .collect();
        let asm: Vec<_> = inputs
            .secrets
            .iter()
            .filter(|s| s.provider == SecretProvider::Asm)
            .collect();
        let need =
            |resource: &'static str| creds.ok_or(ResourceError::NoExecutionRole { resource });
        let mut fetched: Vec<(String, String)> = Vec::new();
        if !ssm.is_empty() {
            let creds = sdk_credentials(need("ssm secret")?);
            fetched.extend(ssm::fetch(&self.base, &creds, &ssm).await?);
        }
        if !asm.is_empty() {
            let creds = sdk_credentials(need("ASM secret")?);
            fetched.extend(asm::fetch(&self.base, &creds, &asm).await?);
        }
        // In the definition's order (a name given twice: the last wins, as a
        // map insert in Go).
        for s in &inputs.secrets {
            if let Some((_, v)) = fetched
                .iter()
                .find(|(from, _)| *from == key(&s.value_from, &s.region))
            {
                let to = match s.target {
                    SecretTarget::Env => &mut out.secrets,
                    SecretTarget::LogDriver => &mut out.log_options,
                };
                to.push((s.name.clone(), v.clone()));
            }
        }
        if !inputs.env_files.is_empty() {
            let creds = sdk_credentials(need("environment file")?);
            let files = s3::fetch(&self.base, &self.region, &creds, &inputs.env_files).await?;
            out.env_files = merge_env_files(files);
        }
        Ok(out)
    }
}

impl AwsResources {
    /// The registry login a `registryAuthentication` of type asm names,
    /// fetched with the execution role (Go: the asmauth task resource).
    pub async fn registry_credentials(
        &self,
        creds: Option<&RoleCredentials>,
        auth: &AsmRegistryAuth,
    ) -> Result<RegistryCredentials, ResourceError> {
        let creds = creds.ok_or(ResourceError::NoExecutionRole { resource: "asm" })?;
        asm::registry_login(&self.base, &sdk_credentials(creds), auth).await
    }
}

impl AwsResources {
    /// The registry login of a `registryAuthentication` of type ecr: a
    /// cached token while it is good (see `ecr_cache`), else a new one from
    /// GetAuthorizationToken, with the execution role when useExecutionRole
    /// (`creds`), else with the agent's own credentials.
    pub async fn ecr_login(
        &self,
        creds: Option<&RoleCredentials>,
        auth: &EcrRegistryAuth,
    ) -> Result<RegistryCredentials, ResourceError> {
        let (key, provider) = if auth.use_execution_role {
            let c = creds.ok_or(ResourceError::EcrNoExecutionRole)?;
            let key = CacheKey {
                credentials_id: c.credentials_id.clone(),
                role_arn: c.role_arn.clone(),
                region: auth.region.clone(),
                registry_id: auth.registry_id.clone(),
                endpoint_override: auth.endpoint_override.clone().unwrap_or_default(),
            };
            (key, SharedCredentialsProvider::new(sdk_credentials(c)))
        } else {
            let provider =
                self.instance
                    .clone()
                    .ok_or_else(|| ResourceError::EcrNoInstanceCredentials {
                        registry_id: auth.registry_id.clone(),
                    })?;
            let key = CacheKey {
                credentials_id: String::new(),
                role_arn: String::new(),
                region: auth.region.clone(),
                registry_id: auth.registry_id.clone(),
                endpoint_override: auth.endpoint_override.clone().unwrap_or_default(),
            };
            (key, provider)
        };
        if let Some(login) = self.tokens().get(&key, SystemTime::now()) {
            tracing::debug!(registry_id = %auth.registry_id, region = %auth.region, "ECR token from the cache");
            return Ok(login);
        }
        tracing::debug!(registry_id = %auth.registry_id, region = %auth.region, execution_role = auth.use_execution_role, "calling ECR GetAuthorizationToken");
        let token = ecr::authorization_token(&self.base, provider, auth).await?;
        let login = token.login.clone();
        let jitter = REFRESH_AHEAD.mul_f64(rand::random::<f64>());
        self.tokens().put(key, token, SystemTime::now(), jitter);
        // Used whatever its expiresAt says, as Go uses a token it was just given.
        Ok(login)
    }

    fn tokens(&self) -> std::sync::MutexGuard<'_, TokenCache> {
        self.ecr_tokens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests;
