//! Why a container's inputs from AWS could not be fetched.

/// Why a container's inputs could not be fetched: the Go agent's terminal
/// reasons, which become the task's stoppedReason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    #[error("{resource} resource: unable to find execution role credentials")]
    NoExecutionRole { resource: &'static str },
    /// GetParameters failed or named parameters it does not know.
    #[error("fetching secret data from SSM Parameter Store in {region}: {detail}")]
    Ssm { region: String, detail: String },
    /// Go: asm.augmentErrMsg for a secret that does not exist.
    #[error("ResourceNotFoundException: The task can't retrieve the secret with ARN '{secret_id}' from AWS Secrets Manager. Check whether the secret exists in the specified Region")]
    AsmNotFound { secret_id: String },
    #[error("secret {secret_id}: {detail}")]
    Asm { secret_id: String, detail: String },
    /// Go: asm.GetDockerAuthFromASM.
    #[error("asm fetching secret from the service for {secret_id}: {detail}")]
    AsmRegistryAuth { secret_id: String, detail: String },
    #[error("{0}")]
    RegistryLogin(&'static str),
    /// Go: engine.setRegistryCredentials without the task's execution
    /// role credentials.
    #[error("engine ecr credentials: not found")]
    EcrNoExecutionRole,
    /// useExecutionRole false and the agent has no credentials of its own.
    #[error("ecr auth: the agent has no instance credentials to ask ECR for the registry {registry_id} token with (set useExecutionRole with a task execution role, or give the agent credentials)")]
    EcrNoInstanceCredentials { registry_id: String },
    /// GetAuthorizationToken failed, or its answer is unusable.
    #[error("ecr auth: GetAuthorizationToken for registry {registry_id} in {region}: {detail}")]
    Ecr {
        registry_id: String,
        region: String,
        detail: String,
    },
    #[error("unable to download env file with key {key} from bucket {bucket}, error: {detail}")]
    EnvFile {
        bucket: String,
        key: String,
        detail: String,
    },
}
