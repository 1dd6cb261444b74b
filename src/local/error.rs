//! ECS API errors in the AWS JSON 1.1 error shape.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The `__type` of an error, as Amazon ECS (and the AWS front end) names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Client,
    InvalidParameter,
    ClusterNotFound,
    ClusterContainsContainerInstances,
    ClusterContainsTasks,
    ResourceNotFound,
    Server,
    AccessDenied,
    UnrecognizedClient,
    ExpiredToken,
    InvalidSignature,
    MissingAuthenticationToken,
    IncompleteSignature,
    UnknownOperation,
    Serialization,
}

impl ErrorKind {
    pub fn type_name(self) -> &'static str {
        match self {
            Self::Client => "ClientException",
            Self::InvalidParameter => "InvalidParameterException",
            Self::ClusterNotFound => "ClusterNotFoundException",
            Self::ClusterContainsContainerInstances => "ClusterContainsContainerInstancesException",
            Self::ClusterContainsTasks => "ClusterContainsTasksException",
            Self::ResourceNotFound => "ResourceNotFoundException",
            Self::Server => "ServerException",
            Self::AccessDenied => "AccessDeniedException",
            Self::UnrecognizedClient => "UnrecognizedClientException",
            Self::ExpiredToken => "ExpiredTokenException",
            Self::InvalidSignature => "InvalidSignatureException",
            Self::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            Self::IncompleteSignature => "IncompleteSignatureException",
            Self::UnknownOperation => "UnknownOperationException",
            Self::Serialization => "SerializationException",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Self::Client
            | Self::InvalidParameter
            | Self::ClusterNotFound
            | Self::ClusterContainsContainerInstances
            | Self::ClusterContainsTasks
            | Self::ResourceNotFound
            | Self::UnrecognizedClient
            | Self::ExpiredToken
            | Self::InvalidSignature
            | Self::IncompleteSignature
            | Self::UnknownOperation
            | Self::Serialization => StatusCode::BAD_REQUEST,
            Self::AccessDenied | Self::MissingAuthenticationToken => StatusCode::FORBIDDEN,
            Self::Server => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error returned to an ECS API caller.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {message}", kind.type_name())]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
    pub fn client(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Client, message)
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParameter, message)
    }
    pub fn cluster_not_found() -> Self {
        Self::new(ErrorKind::ClusterNotFound, "Cluster not found.")
    }
    pub fn server(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Server, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_error(self.kind.status(), self.kind.type_name(), &self.message)
    }
}

/// A response in the AWS JSON 1.1 error shape: `{"__type", "message"}`,
/// content type `application/x-amz-json-1.1`, `x-amzn-errortype`.
pub fn json_error(status: StatusCode, type_name: &'static str, message: &str) -> Response {
    let body = serde_json::json!({
        "__type": type_name,
        "message": message,
    });
    let mut resp = (status, body.to_string()).into_response();
    let headers = resp.headers_mut();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    headers.insert("x-amzn-errortype", HeaderValue::from_static(type_name));
    resp
}
