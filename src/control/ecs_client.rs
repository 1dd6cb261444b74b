//! The ECS API as the agent uses it, through aws-sdk-ecs: register the
//! instance, discover the ACS endpoint, submit state changes.

use aws_config::BehaviorVersion;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use aws_sdk_ecs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ecs::primitives::DateTime;
use aws_sdk_ecs::types::{
    AttachmentStateChange, Attribute, ContainerStateChange, Resource, Tag, TransportProtocol,
    VersionInfo,
};

use crate::task::def::{NetworkBinding, Protocol};

use crate::task::StateChange;

use super::registration::Registration;

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("{call} failed: {message}")]
    Api {
        call: &'static str,
        code: Option<String>,
        message: String,
        retryable: bool,
    },
    #[error("{call}: the response has no {field}")]
    Incomplete {
        call: &'static str,
        field: &'static str,
    },
    #[error("invalid attribute {name:?}: {message}")]
    Attribute { name: String, message: String },
    #[error("no AWS credentials to sign requests with: {0}")]
    Credentials(String),
}

impl ControlError {
    pub fn code(&self) -> Option<&str> {
        match self {
            ControlError::Api { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    pub fn is_retryable(&self) -> bool {
        match self {
            ControlError::Api { retryable, .. } => *retryable,
            ControlError::Credentials(_) => true,
            _ => false,
        }
    }
}

fn api_error<E, R>(call: &'static str, err: SdkError<E, R>) -> ControlError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let (code, retryable) = match &err {
        SdkError::ServiceError(se) => {
            let code = se.err().code().map(str::to_string);
            // Server-side faults and throttling are worth retrying; a refusal of the request is not.
            let retryable = matches!(
                code.as_deref(),
                Some("ServerException" | "ThrottlingException" | "ServiceUnavailableException")
            ) || code.is_none();
            (code, retryable)
        }
        _ => (None, true),
    };
    ControlError::Api {
        call,
        code,
        message: DisplayErrorContext(&err).to_string(),
        retryable,
    }
}

#[derive(Clone, Debug)]
pub struct EcsClient {
    client: aws_sdk_ecs::Client,
    credentials: Option<SharedCredentialsProvider>,
    // Shared by the clones (ACS, TCS and the reporter hold one each).
    signing: std::sync::Arc<super::signing_credentials::SigningCredentials>,
    region: String,
    cluster: String,
}

impl EcsClient {
    /// `endpoint`: ECS_BACKEND_HOST, else the SDK's regional endpoint.
    /// `credentials`: static keys from the config file; otherwise the SDK's
    /// default chain (environment, profile, instance role).
    pub async fn new(
        region: &str,
        endpoint: Option<&str>,
        cluster: &str,
        credentials: Option<Credentials>,
    ) -> EcsClient {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_string()));
        if let Some(c) = credentials {
            loader = loader.credentials_provider(c);
        }
        let shared = loader.load().await;
        let mut builder = aws_sdk_ecs::config::Builder::from(&shared);
        if let Some(ep) = endpoint {
            builder = builder.endpoint_url(ep);
        }
        EcsClient {
            client: aws_sdk_ecs::Client::from_conf(builder.build()),
            credentials: shared.credentials_provider(),
            signing: Default::default(),
            region: region.to_string(),
            cluster: cluster.to_string(),
        }
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// The SDK client (endpoint, region, HTTP stack), for calls signed with
    /// other credentials (task protection on a task's behalf).
    pub fn sdk_client(&self) -> &aws_sdk_ecs::Client {
        &self.client
    }

    /// The agent's own credentials (static keys or the default chain), for
    /// other AWS calls made as the instance (ECR tokens without the
    /// execution role).
    pub fn credentials_provider(&self) -> Option<SharedCredentialsProvider> {
        self.credentials.clone()
    }

    /// Credentials for signing the websocket upgrade requests and TCS
    /// frames, kept until shortly before they expire.
    pub async fn credentials(&self) -> Result<Credentials, ControlError> {
        let provider = self.credentials.as_ref().ok_or_else(|| {
            ControlError::Credentials("no credentials provider is configured".into())
        })?;
        self.signing
            .get(provider, std::time::SystemTime::now())
            .await
            .map_err(|e| ControlError::Credentials(DisplayErrorContext(&e).to_string()))
    }

    /// RegisterContainerInstance; returns (container instance ARN, cluster ARN).
    pub async fn register(&self, reg: &Registration) -> Result<(String, String), ControlError> {
        const CALL: &str = "RegisterContainerInstance";
        let mut req = self
            .client
            .register_container_instance()
            .cluster(&self.cluster)
            .set_container_instance_arn(reg.existing_arn.clone())
            .total_resources(integer("CPU", reg.cpu))
            .total_resources(integer("MEMORY", reg.memory_mib))
            .total_resources(string_set("PORTS", &reg.reserved_ports))
            .total_resources(string_set("PORTS_UDP", &reg.reserved_ports_udp))
            .version_info(
                VersionInfo::builder()
                    .agent_version(&reg.agent_version)
                    .agent_hash(&reg.agent_hash)
                    .docker_version(&reg.runtime_version)
                    .build(),
            );
        for (name, value) in &reg.attributes {
            let attr = Attribute::builder()
                .name(name)
                .set_value(value.clone())
                .build()
                .map_err(|e| ControlError::Attribute {
                    name: name.clone(),
                    message: e.to_string(),
                })?;
            req = req.attributes(attr);
        }
        for (k, v) in &reg.tags {
            req = req.tags(Tag::builder().key(k).value(v).build());
        }
        if let Some(id) = &reg.instance_identity {
            req = req
                .instance_identity_document(&id.document)
                .instance_identity_document_signature(&id.signature);
        }
        let out = req.send().await.map_err(|e| api_error(CALL, e))?;
        let ci = out.container_instance().ok_or(ControlError::Incomplete {
            call: CALL,
            field: "containerInstance",
        })?;
        let arn = ci
            .container_instance_arn()
            .ok_or(ControlError::Incomplete {
                call: CALL,
                field: "containerInstance.containerInstanceArn",
            })?
            .to_string();
        let cluster_arn = cluster_arn_from_instance_arn(&arn, &self.cluster);
        Ok((arn, cluster_arn))
    }

    pub async fn create_cluster(&self) -> Result<(), ControlError> {
        self.client
            .create_cluster()
            .cluster_name(&self.cluster)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| api_error("CreateCluster", e))
    }

    /// DiscoverPollEndpoint: (ACS endpoint, telemetry endpoint).
    pub async fn discover(
        &self,
        instance_arn: &str,
    ) -> Result<(String, Option<String>), ControlError> {
        const CALL: &str = "DiscoverPollEndpoint";
        let out = self
            .client
            .discover_poll_endpoint()
            .cluster(&self.cluster)
            .container_instance(instance_arn)
            .send()
            .await
            .map_err(|e| api_error(CALL, e))?;
        let endpoint = out.endpoint().ok_or(ControlError::Incomplete {
            call: CALL,
            field: "endpoint",
        })?;
        Ok((
            endpoint.to_string(),
            out.telemetry_endpoint().map(str::to_string),
        ))
    }

    /// Confirms a task ENI attachment as the Go agent does
    /// (ecs-agent/api/ecs/client/ecs_client.go, submitTaskStateChange with an
    /// Attachment): a SubmitTaskStateChange carrying only cluster, task and
    /// `attachments: [{attachmentArn, status: "ATTACHED"}]`.
    pub async fn submit_attachment(
        &self,
        cluster_arn: &str,
        task_arn: &str,
        attachment_arn: &str,
    ) -> Result<(), ControlError> {
        const CALL: &str = "SubmitTaskStateChange";
        let attachment = AttachmentStateChange::builder()
            .attachment_arn(attachment_arn)
            .status("ATTACHED")
            .build()
            .map_err(|e| ControlError::Api {
                call: CALL,
                code: None,
                message: e.to_string(),
                retryable: false,
            })?;
        self.client
            .submit_task_state_change()
            .cluster(cluster_arn)
            .task(task_arn)
            .attachments(attachment)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| api_error(CALL, e))
    }

    /// SubmitTaskStateChange, or SubmitContainerStateChange for a change
    /// without a task status.
    pub async fn submit_change(&self, change: &StateChange) -> Result<(), ControlError> {
        match change.task_status {
            Some(status) => {
                let mut req = self
                    .client
                    .submit_task_state_change()
                    .cluster(&self.cluster)
                    .task(&change.task_arn)
                    .status(status.wire())
                    .set_reason(trimmed(change.reason.as_deref()))
                    .set_pull_started_at(change.pull_started_at_ms.map(DateTime::from_millis))
                    .set_pull_stopped_at(change.pull_stopped_at_ms.map(DateTime::from_millis))
                    .set_execution_stopped_at(
                        change.execution_stopped_at_ms.map(DateTime::from_millis),
                    );
                for c in &change.containers {
                    req = req.containers(
                        ContainerStateChange::builder()
                            .container_name(&c.name)
                            .status(c.status.backend_wire())
                            .set_exit_code(c.exit_code)
                            .set_reason(trimmed(c.reason.as_deref()))
                            .set_runtime_id(c.runtime_id.clone())
                            .set_image_digest(c.image_digest.clone())
                            .set_network_bindings(bindings(&c.network_bindings))
                            .build(),
                    );
                }
                req.send()
                    .await
                    .map(|_| ())
                    .map_err(|e| api_error("SubmitTaskStateChange", e))
            }
            // A container changed but the task did not: one call per container, as ECS expects.
            None => {
                for c in &change.containers {
                    self.client
                        .submit_container_state_change()
                        .cluster(&self.cluster)
                        .task(&change.task_arn)
                        .container_name(&c.name)
                        .set_status(c.status.wire().map(str::to_string))
                        .set_exit_code(c.exit_code)
                        .set_reason(trimmed(c.reason.as_deref()))
                        .set_runtime_id(c.runtime_id.clone())
                        .set_network_bindings(bindings(&c.network_bindings))
                        .send()
                        .await
                        .map_err(|e| api_error("SubmitContainerStateChange", e))?;
                }
                Ok(())
            }
        }
    }
}

/// `networkBindings` as ECS takes them; None when there are none.
fn bindings(b: &[NetworkBinding]) -> Option<Vec<aws_sdk_ecs::types::NetworkBinding>> {
    if b.is_empty() {
        return None;
    }
    Some(
        b.iter()
            .map(|b| {
                aws_sdk_ecs::types::NetworkBinding::builder()
                    .bind_ip(b.bind_ip.to_string())
                    .container_port(i32::from(b.container_port))
                    .host_port(i32::from(b.host_port))
                    .protocol(match b.protocol {
                        Protocol::Tcp => TransportProtocol::Tcp,
                        Protocol::Udp => TransportProtocol::Udp,
                    })
                    .build()
            })
            .collect(),
    )
}

fn integer(name: &str, value: i64) -> Resource {
    Resource::builder()
        .name(name)
        .r#type("INTEGER")
        .integer_value(value as i32)
        .build()
}

fn string_set(name: &str, ports: &[u16]) -> Resource {
    Resource::builder()
        .name(name)
        .r#type("STRINGSET")
        .set_string_set_value(Some(ports.iter().map(|p| p.to_string()).collect()))
        .build()
}

/// `arn:aws:ecs:R:A:container-instance/CLUSTER/ID` -> `arn:aws:ecs:R:A:cluster/CLUSTER`.
/// Old-style instance ARNs carry no cluster name: fall back to the configured one.
pub fn cluster_arn_from_instance_arn(instance_arn: &str, cluster: &str) -> String {
    let Some((prefix, resource)) = instance_arn.split_once(":container-instance/") else {
        return cluster.to_string();
    };
    match resource.split_once('/') {
        Some((name, _id)) => format!("{prefix}:cluster/{name}"),
        None => format!("{prefix}:cluster/{cluster}"),
    }
}

/// The Go agent's limit on a task's or container's reason
/// (`ecsMaxTaskReasonLength`, `ecsMaxContainerReasonLength`): longer
/// reasons are cut, as it cuts them, so that a reason quoting a long input
/// cannot make the change undeliverable.
const MAX_REASON_LEN: usize = 1024;

fn trimmed(reason: Option<&str>) -> Option<String> {
    let r = reason?;
    let mut end = r.len().min(MAX_REASON_LEN);
    while !r.is_char_boundary(end) {
        end -= 1;
    }
    Some(r[..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Serves one request on 127.0.0.1, answers `{}` and returns its JSON
    /// body; `call` gets the port.
    async fn capture<F: std::future::Future<Output = ()>>(
        call: impl FnOnce(u16) -> F,
    ) -> serde_json::Value {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let n = s.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        let resp = "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: 2\r\n\r\n{}";
                        s.write_all(resp.as_bytes()).await.unwrap();
                        return serde_json::from_str::<serde_json::Value>(body).unwrap();
                    }
                }
            }
        });
        call(port).await;
        server.await.unwrap()
    }

    async fn client(port: u16) -> EcsClient {
        let keys = Credentials::new("AK", "SK", None, None, "test");
        EcsClient::new(
            "us-east-1",
            Some(&format!("http://127.0.0.1:{port}")),
            "default",
            Some(keys),
        )
        .await
    }

    /// The Go agent's attachment confirmation
    /// (ecs-agent/api/ecs/client/ecs_client.go, submitTaskStateChange with
    /// an Attachment): cluster, task and attachments, nothing else.
    #[tokio::test]
    async fn the_attachment_report_has_the_go_agents_shape() {
        let body = capture(|port| async move {
            client(port)
                .await
                .submit_attachment("arn:cluster", "arn:task", "arn:attachment")
                .await
                .unwrap();
        })
        .await;
        assert_eq!(
            body,
            serde_json::json!({"cluster": "arn:cluster", "task": "arn:task",
                "attachments": [{"attachmentArn": "arn:attachment", "status": "ATTACHED"}]})
        );
    }

    /// The Go agent's manifest-pulled report (agent/api/statechange.go,
    /// MANIFEST_PULLED as PENDING): task and container PENDING, imageDigest.
    #[tokio::test]
    async fn the_digests_report_has_the_go_agents_shape() {
        use crate::task::{ContainerChange, ContainerStatus, TaskStatus};
        let change = StateChange {
            task_arn: "arn:task".into(),
            task_status: Some(TaskStatus::Pending),
            reason: None,
            containers: vec![ContainerChange {
                name: "app".into(),
                status: ContainerStatus::Pulled,
                exit_code: None,
                reason: None,
                runtime_id: None,
                image_digest: Some("sha256:abc".into()),
                network_bindings: Vec::new(),
            }],
            pull_started_at_ms: None,
            pull_stopped_at_ms: None,
            execution_stopped_at_ms: None,
        };
        let body = capture(|port| async move {
            client(port).await.submit_change(&change).await.unwrap();
        })
        .await;
        assert_eq!(
            body,
            serde_json::json!({"cluster": "default", "task": "arn:task", "status": "PENDING",
                "containers": [{"containerName": "app", "status": "PENDING",
                                "imageDigest": "sha256:abc"}]})
        );
    }

    #[test]
    fn cluster_arn_is_derived_from_the_instance_arn() {
        assert_eq!(
            cluster_arn_from_instance_arn(
                "arn:aws:ecs:us-east-1:000000000000:container-instance/demo/abc",
                "x"
            ),
            "arn:aws:ecs:us-east-1:000000000000:cluster/demo"
        );
        assert_eq!(
            cluster_arn_from_instance_arn(
                "arn:aws:ecs:us-east-1:0:container-instance/abc",
                "default"
            ),
            "arn:aws:ecs:us-east-1:0:cluster/default"
        );
        assert_eq!(cluster_arn_from_instance_arn("weird", "c"), "c");
    }

    #[test]
    fn reasons_are_cut_at_the_go_agent_limit_on_a_character_boundary() {
        assert_eq!(trimmed(None), None);
        assert_eq!(trimmed(Some("short")).as_deref(), Some("short"));
        let long = "é".repeat(600); // 1200 bytes
        let cut = trimmed(Some(&long)).unwrap();
        assert_eq!(cut.len(), 1024);
        assert!(long.starts_with(&cut));
    }
}
