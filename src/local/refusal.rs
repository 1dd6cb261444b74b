//! Every refusal in the AWS JSON 1.1 error shape (`{"__type", "message"}`
//! with `x-amzn-errortype`), also those the HTTP layer makes before a handler
//! runs: no such route (404), wrong method (405), a body over the limit
//! (413), a body an extractor could not read. The one exception is the IMDS
//! stand-in under /debug/imds, which answers plain text as EC2's instance
//! metadata service does.

use super::error::json_error;
use axum::body::to_bytes;
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::Response;

/// The largest request body ecs-local reads (axum's default, named here so
/// the 413 can say it).
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// The `__type` for a refusal the HTTP layer made. 413 is
/// RequestEntityTooLargeException, the type AWS JSON services (Lambda's
/// Invoke, for one) return with that status.
fn type_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => "UnknownOperationException",
        StatusCode::PAYLOAD_TOO_LARGE => "RequestEntityTooLargeException",
        s if s.is_server_error() => "ServerException",
        _ => "SerializationException",
    }
}

fn is_json(resp: &Response) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.contains("json"))
}

/// Middleware (`axum::middleware::map_response`): reshapes a refusal that
/// is not JSON already; successes and JSON refusals pass unchanged.
pub async fn shape(method: Method, uri: Uri, resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error())
        || is_json(&resp)
        || uri.path().starts_with("/debug/imds")
    {
        return resp;
    }
    let path = uri.path();
    let message = match status {
        StatusCode::NOT_FOUND => {
            format!("No route for {method} {path}: the ECS API is POST / with X-Amz-Target.")
        }
        StatusCode::METHOD_NOT_ALLOWED => format!("{method} is not allowed on {path}."),
        StatusCode::PAYLOAD_TOO_LARGE => {
            format!("The request body is larger than ecs-local's limit of {BODY_LIMIT} bytes.")
        }
        _ => {
            // What the extractor said, e.g. "Failed to deserialize the JSON body".
            let text = to_bytes(resp.into_body(), 16 * 1024)
                .await
                .map(|b| String::from_utf8_lossy(&b).trim().to_string())
                .unwrap_or_default();
            if text.is_empty() {
                status.canonical_reason().unwrap_or("Error").to_string()
            } else {
                text
            }
        }
    };
    json_error(status, type_for(status), &message)
}

#[cfg(test)]
#[path = "refusal_tests.rs"]
mod tests;
