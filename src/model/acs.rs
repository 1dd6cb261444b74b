//! ACS (Agent Communication Service) wire types, from acs-api-2.json.
//!
//! Field types follow the model; enum-valued members stay `String` so a value
//! added by the service later still decodes. Numbers and booleans decode
//! leniently (see `lenient`), absent or `null` lists and maps become empty.

use super::folded;
use super::frame::{self, DecodeError};
use super::lenient;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Body of the exception frames (`AccessDeniedException`, `ServerException`, ...)
/// and of `ErrorMessage`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExceptionMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A short, non-reversible name for a credentials id, for logs: the first 8
/// hex digits of its SHA-256. For a host-mode task the id is the only secret
/// between a local process and the task's role, so the id itself is never
/// logged; the fingerprint still tells which credentials a line is about.
pub fn credentials_fingerprint(id: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(id.as_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

impl fmt::Debug for IamRoleCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IamRoleCredentials")
            .field(
                "credentials_id",
                &self.credentials_id.as_deref().map(credentials_fingerprint),
            )
            .field("role_arn", &self.role_arn)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expiration", &self.expiration)
            .field("credential_scope", &self.credential_scope)
            .finish()
    }
}

/// One ACS frame, by its `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum AcsMessage {
    /// `PayloadMessage`
    Payload(PayloadMessage),
    /// `HeartbeatMessage`
    Heartbeat(HeartbeatMessage),
    /// `HeartbeatAckRequest`
    HeartbeatAck(HeartbeatAckRequest),
    /// `AckRequest`
    Ack(AckRequest),
    /// `NackRequest`
    Nack(NackRequest),
    /// `CloseMessage`
    Close(CloseMessage),
    /// `PollRequest`
    Poll(PollRequest),
    /// `IAMRoleCredentialsMessage`
    IamRoleCredentials(IamRoleCredentialsMessage),
    /// `IAMRoleCredentialsAckRequest`
    IamRoleCredentialsAck(IamRoleCredentialsAckRequest),
    /// `TaskManifestMessage`
    TaskManifest(TaskManifestMessage),
    /// `TaskStopVerificationMessage`
    TaskStopVerification(TaskStopVerificationMessage),
    /// `TaskStopVerificationAck`
    TaskStopVerificationAck(TaskStopVerificationAck),
    /// `AttachTaskNetworkInterfacesMessage`
    AttachTaskNetworkInterfaces(AttachTaskNetworkInterfacesMessage),
    /// `AttachInstanceNetworkInterfacesMessage`
    AttachInstanceNetworkInterfaces(AttachInstanceNetworkInterfacesMessage),
    /// `ConfirmAttachmentMessage`
    ConfirmAttachment(ConfirmAttachmentMessage),
    /// `PerformUpdateMessage`
    PerformUpdate(PerformUpdateMessage),
    /// `StageUpdateMessage`
    StageUpdate(StageUpdateMessage),
    /// `ErrorMessage`
    Error(ExceptionMessage),
    /// `AccessDeniedException`
    AccessDenied(ExceptionMessage),
    /// `BadRequestException`
    BadRequest(ExceptionMessage),
    /// `InactiveInstanceException`
    InactiveInstance(ExceptionMessage),
    /// `InvalidClusterException`
    InvalidCluster(ExceptionMessage),
    /// `InvalidInstanceException`
    InvalidInstance(ExceptionMessage),
    /// `ServerException`
    Server(ExceptionMessage),
    /// A frame type this build does not know; callers log and ignore it.
    Unknown { type_name: String },
}

impl AcsMessage {
    /// The `type` string of this message on the wire.
    pub fn type_name(&self) -> &str {
        match self {
            Self::Payload(_) => "PayloadMessage",
            Self::Heartbeat(_) => "HeartbeatMessage",
            Self::HeartbeatAck(_) => "HeartbeatAckRequest",
            Self::Ack(_) => "AckRequest",
            Self::Nack(_) => "NackRequest",
            Self::Close(_) => "CloseMessage",
            Self::Poll(_) => "PollRequest",
            Self::IamRoleCredentials(_) => "IAMRoleCredentialsMessage",
            Self::IamRoleCredentialsAck(_) => "IAMRoleCredentialsAckRequest",
            Self::TaskManifest(_) => "TaskManifestMessage",
            Self::TaskStopVerification(_) => "TaskStopVerificationMessage",
            Self::TaskStopVerificationAck(_) => "TaskStopVerificationAck",
            Self::AttachTaskNetworkInterfaces(_) => "AttachTaskNetworkInterfacesMessage",
            Self::AttachInstanceNetworkInterfaces(_) => "AttachInstanceNetworkInterfacesMessage",
            Self::ConfirmAttachment(_) => "ConfirmAttachmentMessage",
            Self::PerformUpdate(_) => "PerformUpdateMessage",
            Self::StageUpdate(_) => "StageUpdateMessage",
            Self::Error(_) => "ErrorMessage",
            Self::AccessDenied(_) => "AccessDeniedException",
            Self::BadRequest(_) => "BadRequestException",
            Self::InactiveInstance(_) => "InactiveInstanceException",
            Self::InvalidCluster(_) => "InvalidClusterException",
            Self::InvalidInstance(_) => "InvalidInstanceException",
            Self::Server(_) => "ServerException",
            Self::Unknown { type_name } => type_name,
        }
    }

    /// Decodes one text frame. An unknown type is `Unknown`, not an error.
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        let (type_name, body) = frame::split(text)?;
        let msg = match type_name.as_str() {
            "PayloadMessage" => Self::Payload(PayloadMessage::decode(&type_name, body)?),
            "HeartbeatMessage" => Self::Heartbeat(frame::typed(&type_name, body)?),
            "HeartbeatAckRequest" => Self::HeartbeatAck(frame::typed(&type_name, body)?),
            "AckRequest" => Self::Ack(frame::typed(&type_name, body)?),
            "NackRequest" => Self::Nack(frame::typed(&type_name, body)?),
            "CloseMessage" => Self::Close(frame::typed(&type_name, body)?),
            "PollRequest" => Self::Poll(frame::typed(&type_name, body)?),
            "IAMRoleCredentialsMessage" => {
                Self::IamRoleCredentials(frame::typed(&type_name, body)?)
            }
            "IAMRoleCredentialsAckRequest" => {
                Self::IamRoleCredentialsAck(frame::typed(&type_name, body)?)
            }
            "TaskManifestMessage" => Self::TaskManifest(frame::typed(&type_name, body)?),
            "TaskStopVerificationMessage" => {
                Self::TaskStopVerification(frame::typed(&type_name, body)?)
            }
            "TaskStopVerificationAck" => {
                Self::TaskStopVerificationAck(frame::typed(&type_name, body)?)
            }
            "AttachTaskNetworkInterfacesMessage" => {
                Self::AttachTaskNetworkInterfaces(frame::typed(&type_name, body)?)
            }
            "AttachInstanceNetworkInterfacesMessage" => {
                Self::AttachInstanceNetworkInterfaces(frame::typed(&type_name, body)?)
            }
            "ConfirmAttachmentMessage" => Self::ConfirmAttachment(frame::typed(&type_name, body)?),
            "PerformUpdateMessage" => Self::PerformUpdate(frame::typed(&type_name, body)?),
            "StageUpdateMessage" => Self::StageUpdate(frame::typed(&type_name, body)?),
            "ErrorMessage" => Self::Error(frame::typed(&type_name, body)?),
            "AccessDeniedException" => Self::AccessDenied(frame::typed(&type_name, body)?),
            "BadRequestException" => Self::BadRequest(frame::typed(&type_name, body)?),
            "InactiveInstanceException" => Self::InactiveInstance(frame::typed(&type_name, body)?),
            "InvalidClusterException" => Self::InvalidCluster(frame::typed(&type_name, body)?),
            "InvalidInstanceException" => Self::InvalidInstance(frame::typed(&type_name, body)?),
            "ServerException" => Self::Server(frame::typed(&type_name, body)?),
            _ => Self::Unknown { type_name },
        };
        Ok(msg)
    }

    /// Encodes as a text frame. `Unknown` encodes with an empty body.
    pub fn encode(&self) -> String {
        match self {
            Self::Payload(m) => frame::envelope("PayloadMessage", m),
            Self::Heartbeat(m) => frame::envelope("HeartbeatMessage", m),
            Self::HeartbeatAck(m) => frame::envelope("HeartbeatAckRequest", m),
            Self::Ack(m) => frame::envelope("AckRequest", m),
            Self::Nack(m) => frame::envelope("NackRequest", m),
            Self::Close(m) => frame::envelope("CloseMessage", m),
            Self::Poll(m) => frame::envelope("PollRequest", m),
            Self::IamRoleCredentials(m) => frame::envelope("IAMRoleCredentialsMessage", m),
            Self::IamRoleCredentialsAck(m) => frame::envelope("IAMRoleCredentialsAckRequest", m),
            Self::TaskManifest(m) => frame::envelope("TaskManifestMessage", m),
            Self::TaskStopVerification(m) => frame::envelope("TaskStopVerificationMessage", m),
            Self::TaskStopVerificationAck(m) => frame::envelope("TaskStopVerificationAck", m),
            Self::AttachTaskNetworkInterfaces(m) => {
                frame::envelope("AttachTaskNetworkInterfacesMessage", m)
            }
            Self::AttachInstanceNetworkInterfaces(m) => {
                frame::envelope("AttachInstanceNetworkInterfacesMessage", m)
            }
            Self::ConfirmAttachment(m) => frame::envelope("ConfirmAttachmentMessage", m),
            Self::PerformUpdate(m) => frame::envelope("PerformUpdateMessage", m),
            Self::StageUpdate(m) => frame::envelope("StageUpdateMessage", m),
            Self::Error(m) => frame::envelope("ErrorMessage", m),
            Self::AccessDenied(m) => frame::envelope("AccessDeniedException", m),
            Self::BadRequest(m) => frame::envelope("BadRequestException", m),
            Self::InactiveInstance(m) => frame::envelope("InactiveInstanceException", m),
            Self::InvalidCluster(m) => frame::envelope("InvalidClusterException", m),
            Self::InvalidInstance(m) => frame::envelope("InvalidInstanceException", m),
            Self::Server(m) => frame::envelope("ServerException", m),
            Self::Unknown { type_name } => frame::envelope(type_name, &serde_json::json!({})),
        }
    }
}

/// Decodes one text frame; see [`AcsMessage::decode`].
pub fn decode(text: &str) -> Result<AcsMessage, DecodeError> {
    AcsMessage::decode(text)
}

/// Encodes one text frame; see [`AcsMessage::encode`].
pub fn encode(msg: &AcsMessage) -> String {
    msg.encode()
}

/// `ASMAuthData`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AsmAuthData {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials_parameter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// `AckRequest`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AckRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_instance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

/// `Association`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Association {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<EncodedString>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub containers: Vec<String>,
}

/// `AttachInstanceNetworkInterfacesMessage`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AttachInstanceNetworkInterfacesMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_instance_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_arn: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub generated_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub wait_timeout_ms: Option<i64>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub elastic_network_interfaces: Vec<ElasticNetworkInterface>,
}

/// `AttachTaskNetworkInterfacesMessage`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AttachTaskNetworkInterfacesMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_instance_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_cluster_arn: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub generated_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub wait_timeout_ms: Option<i64>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub elastic_network_interfaces: Vec<ElasticNetworkInterface>,
}

/// `Attachment`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Attachment {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment_type: Option<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub attachment_properties: Vec<AttachmentProperty>,
}

/// `AttachmentProperty`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AttachmentProperty {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// `CloseMessage`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CloseMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `ConfirmAttachmentMessage`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConfirmAttachmentMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_instance_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_cluster_arn: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub generated_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub wait_timeout_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Attachment>,
}

/// `Container`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Container {
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub command: Vec<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub cpu: Option<i64>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub credential_specs: Vec<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub entry_point: Vec<String>,
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub environment: BTreeMap<String, String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub environment_files: Vec<EnvironmentFile>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_bool"
    )]
    pub essential: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<RestartPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub links: Vec<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub memory: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overrides: Option<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub port_mappings: Vec<PortMapping>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub managed_agents: Vec<ManagedAgent>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub mount_points: Vec<MountPoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linux_parameters: Option<LinuxParameters>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_bool"
    )]
    pub privileged: Option<bool>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub network_interface_names: Vec<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub volumes_from: Vec<VolumeFrom>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docker_config: Option<DockerConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry_authentication: Option<RegistryAuthenticationData>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs_auth_strategy: Option<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub secrets: Vec<Secret>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub depends_on: Vec<ContainerDependency>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub start_timeout: Option<i64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub stop_timeout: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firelens_configuration: Option<FirelensConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_arn: Option<String>,
}

/// `RestartPolicy`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RestartPolicy {
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_bool"
    )]
    pub enabled: Option<bool>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub ignored_exit_codes: Vec<i64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub restart_attempt_period: Option<i64>,
}

/// `ContainerDependency`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerDependency {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
}

/// `DockerConfig`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DockerConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_config: Option<String>,
}

/// `DockerVolumeConfiguration`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DockerVolumeConfiguration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_bool"
    )]
    pub autoprovision: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub driver_opts: BTreeMap<String, String>,
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub labels: BTreeMap<String, String>,
}

/// `EBSVolumeConfiguration`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EbsVolumeConfiguration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_id: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_bool"
    )]
    pub delete_on_termination: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filesystem_type: Option<String>,
}

/// `ECRAuthData`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EcrAuthData {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_override: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_bool"
    )]
    pub use_execution_role: Option<bool>,
}

/// `EFSAuthorizationConfig`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EfsAuthorizationConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_point_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iam: Option<String>,
}

/// `EFSVolumeConfiguration`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EfsVolumeConfiguration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_system_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_directory: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transit_encryption: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub transit_encryption_port: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_config: Option<EfsAuthorizationConfig>,
}

/// `ElasticNetworkInterface`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ElasticNetworkInterface {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ec2_id: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub index: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface_association_protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface_tunnel_properties: Option<NetworkInterfaceTunnelProperties>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface_veth_properties: Option<NetworkInterfaceVethProperties>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface_vlan_properties: Option<NetworkInterfaceVlanProperties>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub ipv4_addresses: Vec<Ipv4AddressAssignment>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub ipv6_addresses: Vec<Ipv6AddressAssignment>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub domain_name: Vec<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub domain_name_servers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_dns_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet_gateway_ipv4_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet_gateway_ipv6_address: Option<String>,
}

/// `EncodedString`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EncodedString {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
}

/// `EnvironmentFile`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EnvironmentFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// `ErrorMessage`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ErrorMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `FSxWindowsFileServerAuthorizationConfig`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FsxWindowsFileServerAuthorizationConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials_parameter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}

/// `FSxWindowsFileServerVolumeConfiguration`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FsxWindowsFileServerVolumeConfiguration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_system_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_directory: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_config: Option<FsxWindowsFileServerAuthorizationConfig>,
}

/// `FirelensConfiguration`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FirelensConfiguration {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub options: BTreeMap<String, String>,
}

/// `HeartbeatAckRequest`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HeartbeatAckRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

/// `HeartbeatMessage`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HeartbeatMessage {
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_bool"
    )]
    pub healthy: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

/// `HostVolumeProperties`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HostVolumeProperties {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_path: Option<String>,
}

/// `IAMRoleCredentials`. Debug redacts the secret and the session token.
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IamRoleCredentials {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_scope: Option<String>,
}

/// `IAMRoleCredentialsAckRequest`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IamRoleCredentialsAckRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials_id: Option<String>,
}

/// `IAMRoleCredentialsMessage`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IamRoleCredentialsMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_cluster_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_credentials: Option<IamRoleCredentials>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

/// `IPv4AddressAssignment`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Ipv4AddressAssignment {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_address: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_bool"
    )]
    pub primary: Option<bool>,
}

/// `IPv6AddressAssignment`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Ipv6AddressAssignment {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_bool"
    )]
    pub primary: Option<bool>,
}

/// `LogDriverVolumeConfiguration`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LogDriverVolumeConfiguration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
}

/// `ManagedAgent`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ManagedAgent {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub properties: BTreeMap<String, String>,
}

/// `MountPoint`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MountPoint {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_volume: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_path: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_bool"
    )]
    pub read_only: Option<bool>,
}

/// `KernelCapabilities`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct KernelCapabilities {
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub add: Vec<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub drop: Vec<String>,
}

/// `Device`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Device {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_path: Option<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub permissions: Vec<String>,
}

/// `LinuxParameters`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LinuxParameters {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<KernelCapabilities>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub devices: Vec<Device>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_bool"
    )]
    pub init_process_enabled: Option<bool>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub shared_memory_size: Option<i64>,
}

/// `NackRequest`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NackRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_instance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `NetworkInterfaceTunnelProperties`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NetworkInterfaceTunnelProperties {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface_ip_address: Option<String>,
}

/// `NetworkInterfaceVethProperties`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NetworkInterfaceVethProperties {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_interface: Option<String>,
}

/// `NetworkInterfaceVlanProperties`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NetworkInterfaceVlanProperties {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trunk_interface_mac_address: Option<String>,
}

/// `PayloadMessage`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PayloadMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_instance_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_arn: Option<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub tasks: Vec<Task>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub generated_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub seq_num: Option<i64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub timeline: Option<i64>,
    /// Tasks of the frame that could not be decoded (not on the wire: see
    /// [`PayloadMessage::decode`]).
    #[serde(skip)]
    pub undecodable: Vec<UndecodableTask>,
}

/// A task of a PayloadMessage that could not be decoded: what could still be
/// read of it, and what was wrong, so that it can be reported STOPPED while
/// the message's other tasks run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UndecodableTask {
    /// Its place in the frame's `tasks`.
    pub index: usize,
    pub arn: Option<String>,
    pub desired_status: Option<String>,
    /// The names of its containers that could be read.
    pub containers: Vec<String>,
    /// The JSON path within the task (`containers[0].essential`) and why.
    pub error: String,
}

impl UndecodableTask {
    fn read(index: usize, task: &serde_json::Value, path: String, e: serde_json::Error) -> Self {
        let text = |key: &str| {
            field(task, key)
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
        };
        let containers = field(task, "containers")
            .and_then(serde_json::Value::as_array)
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| field(c, "name")?.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        UndecodableTask {
            index,
            arn: text("arn"),
            desired_status: text("desiredStatus"),
            containers,
            error: match path.as_str() {
                "." => e.to_string(),
                _ => format!("{path}: {e}"),
            },
        }
    }
}

impl PayloadMessage {
    /// Decodes a PayloadMessage body one task at a time: a task that cannot
    /// be decoded (a wrong-typed field anywhere in it) goes to `undecodable`
    /// instead of failing the whole message, so the other tasks run and the
    /// message can be acknowledged. Only a broken envelope (its own fields,
    /// or `tasks` not a list) fails.
    fn decode(type_name: &str, mut body: serde_json::Value) -> Result<Self, DecodeError> {
        // The key as the typed decoder would match it (see `folded`).
        let key = body.as_object().and_then(|o| {
            o.keys()
                .find(|k| *k == "tasks")
                .or_else(|| o.keys().find(|k| folded::fold_eq(k, "tasks")))
                .cloned()
        });
        let tasks = key.and_then(|k| body.as_object_mut()?.remove(&k));
        let tasks = match tasks {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::Array(tasks)) => tasks,
            Some(other) => {
                return Err(DecodeError::Message {
                    type_name: type_name.to_string(),
                    path: "tasks".into(),
                    source: serde::de::Error::custom(format!(
                        "expected a list of tasks, got {}",
                        json_kind(&other)
                    )),
                })
            }
        };
        let mut msg: PayloadMessage = frame::typed(type_name, body)?;
        for (index, task) in tasks.iter().enumerate() {
            match frame::typed_part::<Task>(task) {
                Ok(t) => msg.tasks.push(t),
                Err((path, e)) => msg
                    .undecodable
                    .push(UndecodableTask::read(index, task, path, e)),
            }
        }
        Ok(msg)
    }
}

/// A field of a JSON object as the typed decoder finds it: the exact key, or
/// one that equals it case-insensitively (see `folded`).
fn field<'a>(v: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    let obj = v.as_object()?;
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| folded::fold_eq(k, name))
            .map(|(_, v)| v)
    })
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

/// `PerformUpdateMessage`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PerformUpdateMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_instance_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_info: Option<UpdateInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

/// `PollRequest`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PollRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_instance: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub seq_num: Option<i64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub timeline: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_info: Option<VersionInfo>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_bool"
    )]
    pub send_credentials: Option<bool>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub protocol_version: Option<i64>,
}

/// `PortMapping`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PortMapping {
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub container_port: Option<i64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub host_port: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_port_range: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

/// `ProxyConfiguration`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProxyConfiguration {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub properties: BTreeMap<String, String>,
}

/// `RegistryAuthenticationData`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RegistryAuthenticationData {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ecr_auth_data: Option<EcrAuthData>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asm_auth_data: Option<AsmAuthData>,
}

/// `Secret`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Secret {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_path: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// `StageUpdateMessage`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StageUpdateMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_instance_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_info: Option<UpdateInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

/// `Task`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Task {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_cluster_arn: Option<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub containers: Vec<Container>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overrides: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_definition_account_id: Option<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub volumes: Vec<Volume>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_credentials: Option<IamRoleCredentials>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_role_credentials: Option<IamRoleCredentials>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub elastic_network_interfaces: Vec<ElasticNetworkInterface>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_f64"
    )]
    pub cpu: Option<f64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub memory: Option<i64>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub associations: Vec<Association>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipc_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_configuration: Option<ProxyConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_configuration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_type: Option<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub attachments: Vec<Attachment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_bool"
    )]
    pub enable_fault_injection: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_execution_configuration: Option<TrustedExecutionConfiguration>,
}

/// `TaskIdentifier`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TaskIdentifier {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_cluster_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired_status: Option<String>,
}

/// `TaskManifestMessage`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TaskManifestMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_instance_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_arn: Option<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub tasks: Vec<TaskIdentifier>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub generated_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub timeline: Option<i64>,
}

/// `TaskStopVerificationAck`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TaskStopVerificationAck {
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub generated_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub stop_tasks: Vec<TaskIdentifier>,
}

/// `TaskStopVerificationMessage`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TaskStopVerificationMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub stop_candidates: Vec<TaskIdentifier>,
}

/// `TrustedExecutionConfiguration`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TrustedExecutionConfiguration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isolation_mode: Option<String>,
}

/// `UpdateInfo`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UpdateInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// `VersionInfo`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VersionInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docker_version: Option<String>,
}

/// `Volume`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Volume {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<HostVolumeProperties>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docker_volume_configuration: Option<DockerVolumeConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub efs_volume_configuration: Option<EfsVolumeConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fsx_windows_file_server_volume_configuration:
        Option<FsxWindowsFileServerVolumeConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ebs_volume_configuration: Option<EbsVolumeConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_driver_volume_configuration: Option<LogDriverVolumeConfiguration>,
}

/// `VolumeFrom`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VolumeFrom {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_container: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_bool"
    )]
    pub read_only: Option<bool>,
}

#[cfg(test)]
#[path = "acs_tests.rs"]
mod tests;
