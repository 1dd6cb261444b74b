//! TCS (Telemetry Communication Service) wire types, from tcs-api-2.json.
//!
//! Timestamps are epoch seconds (the Go agent's JSON protocol writes them as
//! numbers). Same leniency rules as `acs`.

use super::frame::{self, DecodeError};
use super::lenient;
use serde::{Deserialize, Serialize};

/// Body of the exception frames (`BadRequestException`, `ServerException`, ...).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExceptionMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One TCS frame, by its `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum TcsMessage {
    /// `PublishMetricsRequest`
    PublishMetrics(PublishMetricsRequest),
    /// `PublishHealthRequest`
    PublishHealth(PublishHealthRequest),
    /// `PublishInstanceStatusRequest`
    PublishInstanceStatus(PublishInstanceStatusRequest),
    /// `StartTelemetrySessionRequest`
    StartTelemetrySession(StartTelemetrySessionRequest),
    /// `HeartbeatMessage`
    Heartbeat(HeartbeatMessage),
    /// `AckPublishMetric`
    AckPublishMetric(AckPublishMetric),
    /// `AckPublishHealth`
    AckPublishHealth(AckPublishHealth),
    /// `AckPublishInstanceStatus`
    AckPublishInstanceStatus(AckPublishInstanceStatus),
    /// `StopTelemetrySessionMessage`
    StopTelemetrySession(StopTelemetrySessionMessage),
    /// `BadRequestException`
    BadRequest(ExceptionMessage),
    /// `ResourceValidationException`
    ResourceValidation(ExceptionMessage),
    /// `InvalidParameterException`
    InvalidParameter(ExceptionMessage),
    /// `ServerException`
    Server(ExceptionMessage),
    /// A frame type this build does not know; callers log and ignore it.
    Unknown { type_name: String },
}

impl TcsMessage {
    /// The `type` string of this message on the wire.
    pub fn type_name(&self) -> &str {
        match self {
            Self::PublishMetrics(_) => "PublishMetricsRequest",
            Self::PublishHealth(_) => "PublishHealthRequest",
            Self::PublishInstanceStatus(_) => "PublishInstanceStatusRequest",
            Self::StartTelemetrySession(_) => "StartTelemetrySessionRequest",
            Self::Heartbeat(_) => "HeartbeatMessage",
            Self::AckPublishMetric(_) => "AckPublishMetric",
            Self::AckPublishHealth(_) => "AckPublishHealth",
            Self::AckPublishInstanceStatus(_) => "AckPublishInstanceStatus",
            Self::StopTelemetrySession(_) => "StopTelemetrySessionMessage",
            Self::BadRequest(_) => "BadRequestException",
            Self::ResourceValidation(_) => "ResourceValidationException",
            Self::InvalidParameter(_) => "InvalidParameterException",
            Self::Server(_) => "ServerException",
            Self::Unknown { type_name } => type_name,
        }
    }

    /// Decodes one text frame. An unknown type is `Unknown`, not an error.
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        let (type_name, body) = frame::split(text)?;
        let msg = match type_name.as_str() {
            "PublishMetricsRequest" => Self::PublishMetrics(frame::typed(&type_name, body)?),
            "PublishHealthRequest" => Self::PublishHealth(frame::typed(&type_name, body)?),
            "PublishInstanceStatusRequest" => {
                Self::PublishInstanceStatus(frame::typed(&type_name, body)?)
            }
            "StartTelemetrySessionRequest" => {
                Self::StartTelemetrySession(frame::typed(&type_name, body)?)
            }
            "HeartbeatMessage" => Self::Heartbeat(frame::typed(&type_name, body)?),
            "AckPublishMetric" => Self::AckPublishMetric(frame::typed(&type_name, body)?),
            "AckPublishHealth" => Self::AckPublishHealth(frame::typed(&type_name, body)?),
            "AckPublishInstanceStatus" => {
                Self::AckPublishInstanceStatus(frame::typed(&type_name, body)?)
            }
            "StopTelemetrySessionMessage" => {
                Self::StopTelemetrySession(frame::typed(&type_name, body)?)
            }
            "BadRequestException" => Self::BadRequest(frame::typed(&type_name, body)?),
            "ResourceValidationException" => {
                Self::ResourceValidation(frame::typed(&type_name, body)?)
            }
            "InvalidParameterException" => Self::InvalidParameter(frame::typed(&type_name, body)?),
            "ServerException" => Self::Server(frame::typed(&type_name, body)?),
            _ => Self::Unknown { type_name },
        };
        Ok(msg)
    }

    /// Encodes as a text frame. `Unknown` encodes with an empty body.
    pub fn encode(&self) -> String {
        match self {
            Self::PublishMetrics(m) => frame::envelope("PublishMetricsRequest", m),
            Self::PublishHealth(m) => frame::envelope("PublishHealthRequest", m),
            Self::PublishInstanceStatus(m) => frame::envelope("PublishInstanceStatusRequest", m),
            Self::StartTelemetrySession(m) => frame::envelope("StartTelemetrySessionRequest", m),
            Self::Heartbeat(m) => frame::envelope("HeartbeatMessage", m),
            Self::AckPublishMetric(m) => frame::envelope("AckPublishMetric", m),
            Self::AckPublishHealth(m) => frame::envelope("AckPublishHealth", m),
            Self::AckPublishInstanceStatus(m) => frame::envelope("AckPublishInstanceStatus", m),
            Self::StopTelemetrySession(m) => frame::envelope("StopTelemetrySessionMessage", m),
            Self::BadRequest(m) => frame::envelope("BadRequestException", m),
            Self::ResourceValidation(m) => frame::envelope("ResourceValidationException", m),
            Self::InvalidParameter(m) => frame::envelope("InvalidParameterException", m),
            Self::Server(m) => frame::envelope("ServerException", m),
            Self::Unknown { type_name } => frame::envelope(type_name, &serde_json::json!({})),
        }
    }
}

/// Decodes one text frame; see [`TcsMessage::decode`].
pub fn decode(text: &str) -> Result<TcsMessage, DecodeError> {
    TcsMessage::decode(text)
}

/// Encodes one text frame; see [`TcsMessage::encode`].
pub fn encode(msg: &TcsMessage) -> String {
    msg.encode()
}

/// `AckPublishHealth`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AckPublishHealth {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `AckPublishInstanceStatus`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AckPublishInstanceStatus {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `AckPublishMetric`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AckPublishMetric {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `CWStatsSet`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CwStatsSet {
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_f64"
    )]
    pub min: Option<f64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_f64"
    )]
    pub max: Option<f64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub sample_count: Option<i64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_f64"
    )]
    pub sum: Option<f64>,
}

/// `ContainerHealth`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerHealth {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_status: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_f64"
    )]
    pub status_since: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
}

/// `ContainerMetric`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerMetric {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_stats_set: Option<CwStatsSet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_stats_set: Option<CwStatsSet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_stats_set: Option<NetworkStatsSet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_stats_set: Option<StorageStatsSet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_stats_set: Option<RestartStatsSet>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub general_metrics_payload: Vec<GeneralMetricsWrapper>,
}

/// `Dimension`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Dimension {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// `EphemeralStorageMetrics`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EphemeralStorageMetrics {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_utilized: Option<ULongStatsSet>,
}

/// `GeneralMetric`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GeneralMetric {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_name: Option<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub metric_values: Vec<f64>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub metric_counts: Vec<i64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_f64"
    )]
    pub metric_value_double: Option<f64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub metric_value_long: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_value_stats_set: Option<CwStatsSet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// `GeneralMetricsWrapper`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GeneralMetricsWrapper {
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub dimensions: Vec<Dimension>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_type: Option<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub general_metrics: Vec<GeneralMetric>,
}

/// `HealthMetadata`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HealthMetadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_instance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_bool"
    )]
    pub fin: Option<bool>,
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
}

/// `InstanceMetrics`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InstanceMetrics {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<InstanceStorageMetrics>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub general_metrics_payload: Vec<GeneralMetricsWrapper>,
}

/// `InstanceStatus`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InstanceStatus {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_f64"
    )]
    pub last_updated: Option<f64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_f64"
    )]
    pub last_status_change: Option<f64>,
}

/// `InstanceStatusMetadata`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InstanceStatusMetadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_instance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// `InstanceStorageMetrics`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InstanceStorageMetrics {
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_f64"
    )]
    pub root_filesystem: Option<f64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_f64"
    )]
    pub data_filesystem: Option<f64>,
}

/// `MetricsMetadata`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MetricsMetadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_instance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_bool"
    )]
    pub idle: Option<bool>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_bool"
    )]
    pub fin: Option<bool>,
}

/// `NetworkStatsSet`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NetworkStatsSet {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rx_bytes_per_second: Option<UDoubleCwStatsSet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rx_bytes: Option<ULongStatsSet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rx_dropped: Option<ULongStatsSet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rx_errors: Option<ULongStatsSet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rx_packets: Option<ULongStatsSet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx_bytes_per_second: Option<UDoubleCwStatsSet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx_bytes: Option<ULongStatsSet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx_dropped: Option<ULongStatsSet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx_errors: Option<ULongStatsSet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx_packets: Option<ULongStatsSet>,
}

/// `PublishHealthRequest`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PublishHealthRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<HealthMetadata>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub tasks: Vec<TaskHealth>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_f64"
    )]
    pub timestamp: Option<f64>,
}

/// `PublishInstanceStatusRequest`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PublishInstanceStatusRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<InstanceStatusMetadata>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub statuses: Vec<InstanceStatus>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_f64"
    )]
    pub timestamp: Option<f64>,
}

/// `PublishMetricsRequest`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PublishMetricsRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<MetricsMetadata>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_metrics: Option<InstanceMetrics>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub task_metrics: Vec<TaskMetric>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_f64"
    )]
    pub timestamp: Option<f64>,
}

/// `RestartStatsSet`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RestartStatsSet {
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub restart_count: Option<i64>,
}

/// `StartTelemetrySessionRequest`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StartTelemetrySessionRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_instance: Option<String>,
}

/// `StopTelemetrySessionMessage`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StopTelemetrySessionMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `StorageStatsSet`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StorageStatsSet {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_size_bytes: Option<ULongStatsSet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_size_bytes: Option<ULongStatsSet>,
}

/// `TaskHealth`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TaskHealth {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_definition_family: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_definition_version: Option<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub containers: Vec<ContainerHealth>,
}

/// `TaskMetric`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TaskMetric {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_definition_family: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_definition_version: Option<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub container_metrics: Vec<ContainerMetric>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage_metrics: Option<EphemeralStorageMetrics>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub volume_metrics: Vec<VolumeMetric>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub service_connect_metrics_wrapper: Vec<GeneralMetricsWrapper>,
}

/// `UDoubleCWStatsSet`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UDoubleCwStatsSet {
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_f64"
    )]
    pub min: Option<f64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_f64"
    )]
    pub max: Option<f64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub sample_count: Option<i64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_f64"
    )]
    pub sum: Option<f64>,
}

/// `ULongStatsSet`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ULongStatsSet {
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub min: Option<i64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub max: Option<i64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub sample_count: Option<i64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub sum: Option<i64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub overflow_min: Option<i64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub overflow_max: Option<i64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub overflow_sum: Option<i64>,
}

/// `VolumeMetric`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VolumeMetric {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utilized: Option<UDoubleCwStatsSet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<UDoubleCwStatsSet>,
}

#[cfg(test)]
#[path = "tcs_tests.rs"]
mod tests;
