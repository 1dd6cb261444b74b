//! GetTaskProtection / UpdateTaskProtection on a task's behalf, signed with
//! its role's credentials (as the Go agent's agent API does), answering in
//! the Go agent's JSON shapes.

use std::time::Duration;

use aws_credential_types::Credentials;
use aws_sdk_ecs::config::http::HttpResponse;
use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecs::operation::RequestId;
use aws_sdk_ecs::types::{Failure, ProtectedTask};
use serde_json::{json, Value};

use crate::credentials::RoleCredentials;
use crate::endpoints::agent_api::{
    ProtectionAnswer, ProtectionError, ProtectionFuture, ProtectionUpdate, TaskProtectionApi,
};
use crate::endpoints::format_go_time;

use super::EcsClient;

/// The Go agent's limit on one ECS call made for the agent API.
const CALL_TIMEOUT: Duration = Duration::from_secs(4);

/// The real [`TaskProtectionApi`]: the agent's ECS endpoint and cluster, with
/// the task's credentials per call.
#[derive(Clone)]
pub struct TaskProtection {
    ecs: aws_sdk_ecs::Client,
    cluster: String,
}

impl TaskProtection {
    pub fn new(ecs: &EcsClient, cluster_arn: &str) -> TaskProtection {
        TaskProtection {
            ecs: ecs.sdk_client().clone(),
            cluster: cluster_arn.to_string(),
        }
    }

    fn client_for(&self, creds: &RoleCredentials) -> aws_sdk_ecs::Client {
        let creds = Credentials::new(
            creds.access_key_id.clone(),
            creds.secret_access_key.clone(),
            Some(creds.session_token.clone()).filter(|t| !t.is_empty()),
            None,
            "task-role",
        );
        let conf = self
            .ecs
            .config()
            .to_builder()
            .credentials_provider(creds)
            .build();
        aws_sdk_ecs::Client::from_conf(conf)
    }

    async fn run(
        self,
        creds: RoleCredentials,
        task_arn: String,
        update: Option<ProtectionUpdate>,
    ) -> Result<ProtectionAnswer, ProtectionError> {
        let client = self.client_for(&creds);
        let call = async {
            match update {
                Some(u) => client
                    .update_task_protection()
                    .cluster(&self.cluster)
                    .tasks(&task_arn)
                    .protection_enabled(u.enabled)
                    .set_expires_in_minutes(
                        u.expires_in_minutes.and_then(|m| i32::try_from(m).ok()),
                    )
                    .send()
                    .await
                    .map(|o| {
                        (
                            o.protected_tasks.unwrap_or_default(),
                            o.failures.unwrap_or_default(),
                        )
                    })
                    .map_err(error_of),
                None => client
                    .get_task_protection()
                    .cluster(&self.cluster)
                    .tasks(&task_arn)
                    .send()
                    .await
                    .map(|o| {
                        (
                            o.protected_tasks.unwrap_or_default(),
                            o.failures.unwrap_or_default(),
                        )
                    })
                    .map_err(error_of),
            }
        };
        let (protected, failures) =
            tokio::time::timeout(CALL_TIMEOUT, call)
                .await
                .map_err(|_| ProtectionError {
                    status: 504,
                    code: "RequestCanceled".into(),
                    message: "Timed out calling ECS Task Protection API".into(),
                    request_id: None,
                })??;
        answer_of(&protected, &failures)
    }
}

impl TaskProtectionApi for TaskProtection {
    fn call(
        &self,
        creds: RoleCredentials,
        task_arn: String,
        update: Option<ProtectionUpdate>,
    ) -> ProtectionFuture {
        Box::pin(self.clone().run(creds, task_arn, update))
    }
}

fn server_error(message: &str) -> ProtectionError {
    ProtectionError {
        status: 500,
        code: "ServerException".into(),
        message: message.into(),
        request_id: None,
    }
}

/// One protected task or one failure, as the Go agent insists.
fn answer_of(
    protected: &[ProtectedTask],
    failures: &[Failure],
) -> Result<ProtectionAnswer, ProtectionError> {
    match (protected, failures) {
        (_, [f]) => Ok(ProtectionAnswer::Failure(json!({
            "Arn": f.arn(),
            "Detail": f.detail(),
            "Reason": f.reason(),
        }))),
        ([p], []) => Ok(ProtectionAnswer::Protected(protected_json(p))),
        _ => Err(server_error("Unexpected error occurred")),
    }
}

fn protected_json(p: &ProtectedTask) -> Value {
    let expiration = p.expiration_date().and_then(|d| {
        let nanos = d.as_nanos();
        let at =
            std::time::UNIX_EPOCH.checked_add(Duration::from_nanos(u64::try_from(nanos).ok()?))?;
        Some(format_go_time(at))
    });
    json!({
        "ExpirationDate": expiration,
        "ProtectionEnabled": p.protection_enabled(),
        "TaskArn": p.task_arn(),
    })
}

fn error_of<E>(e: SdkError<E, HttpResponse>) -> ProtectionError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let request_id = e.request_id().map(str::to_string);
    match &e {
        SdkError::ServiceError(se) => {
            let err = se.err();
            let status = se.raw().status().as_u16();
            ProtectionError {
                status,
                code: err.code().unwrap_or("ServerException").to_string(),
                message: err.message().unwrap_or_default().to_string(),
                request_id,
            }
        }
        other => ProtectionError {
            request_id,
            ..server_error(&aws_sdk_ecs::error::DisplayErrorContext(other).to_string())
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::primitives::DateTime;

    #[test]
    fn one_protection_or_one_failure_in_the_go_agents_shape() {
        let p = ProtectedTask::builder()
            .task_arn("arn:aws:ecs:us-east-1:0:task/c/t")
            .protection_enabled(true)
            .expiration_date(DateTime::from_secs(1_800_000_000))
            .build();
        assert_eq!(
            answer_of(&[p], &[]).unwrap(),
            ProtectionAnswer::Protected(json!({
                "ExpirationDate": "2027-01-15T08:00:00Z",
                "ProtectionEnabled": true,
                "TaskArn": "arn:aws:ecs:us-east-1:0:task/c/t",
            }))
        );
        let f = Failure::builder()
            .arn("arn:aws:ecs:us-east-1:0:task/c/t")
            .reason("TASK_NOT_VALID")
            .build();
        assert_eq!(
            answer_of(&[], &[f]).unwrap(),
            ProtectionAnswer::Failure(json!({
                "Arn": "arn:aws:ecs:us-east-1:0:task/c/t",
                "Detail": null,
                "Reason": "TASK_NOT_VALID",
            }))
        );
        assert_eq!(answer_of(&[], &[]).unwrap_err().status, 500);
    }
}
