//! ListTagsForResource for `/taskWithTags`, with the agent's own credentials.

use std::time::Duration;

use aws_sdk_ecs::error::ProvideErrorMetadata;
use aws_sdk_ecs::operation::RequestId;

use crate::endpoints::tags::{TagsApi, TagsError, TagsFuture};

use super::EcsClient;

/// A slow control plane must not hold a container's metadata request long.
const CALL_TIMEOUT: Duration = Duration::from_secs(4);

#[derive(Clone)]
pub struct ResourceTags {
    ecs: aws_sdk_ecs::Client,
}

impl ResourceTags {
    pub fn new(ecs: &EcsClient) -> ResourceTags {
        ResourceTags {
            ecs: ecs.sdk_client().clone(),
        }
    }

    async fn list(self, arn: String) -> Result<Vec<(String, String)>, TagsError> {
        let call = self.ecs.list_tags_for_resource().resource_arn(&arn).send();
        let out = match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Err(_) => {
                return Err(TagsError {
                    code: "RequestTimeout".into(),
                    message: format!("ListTagsForResource for {arn} did not answer in time"),
                    status: 504,
                    request_id: None,
                })
            }
            Ok(Err(e)) => {
                let request_id = e.request_id().map(str::to_string);
                let status = e.raw_response().map(|r| r.status().as_u16()).unwrap_or(500);
                return Err(TagsError {
                    code: e.code().unwrap_or("ServerException").to_string(),
                    message: e
                        .message()
                        .map(str::to_string)
                        .unwrap_or_else(|| aws_sdk_ecs::error::DisplayErrorContext(&e).to_string()),
                    status,
                    request_id,
                });
            }
            Ok(Ok(out)) => out,
        };
        Ok(out
            .tags()
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_string(),
                    t.value().unwrap_or_default().to_string(),
                ))
            })
            .collect())
    }
}

impl TagsApi for ResourceTags {
    fn tags(&self, arn: String) -> TagsFuture {
        Box::pin(self.clone().list(arn))
    }
}
