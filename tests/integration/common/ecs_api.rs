//! ECS JSON-protocol calls signed in-process, for polling loops only.
//!
//! The aws CLI costs ~0.4 s of CPU per call (Python start-up and botocore's
//! model loading); a wait that polls it every 250 ms keeps a core busy, and
//! in the first measurement 70% of the integration tests' time went to it
//! (130 of 205 calls in `e2e::` were describe-tasks polls). Waits therefore
//! poll with this small client and confirm the awaited state with one real
//! CLI call before returning, so every value a test asserts on still comes
//! from the aws CLI.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use serde_json::Value;

use super::Aws;

/// `action` (e.g. `DescribeTasks`) with `body`, as the CLI would send it.
/// Plain HTTP only: ecs-local listens on loopback.
pub fn call(aws: &Aws, action: &str, body: &Value) -> Result<Value, String> {
    let authority = aws
        .endpoint
        .strip_prefix("http://")
        .ok_or_else(|| format!("not a plain-HTTP endpoint: {}", aws.endpoint))?
        .trim_end_matches('/');
    let url = format!("http://{authority}/");
    let payload = body.to_string();
    let target = format!("AmazonEC2ContainerServiceV20141113.{action}");
    let content_type = "application/x-amz-json-1.1";
    let headers = [
        ("host", authority),
        ("content-type", content_type),
        ("x-amz-target", target.as_str()),
    ];
    let credentials = Credentials::new(&aws.keys.0, &aws.keys.1, None, None, "integration");
    let identity: Identity = credentials.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&aws.region)
        .name("ecs")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let signable = SignableRequest::new(
        "POST",
        &url,
        headers.iter().copied(),
        SignableBody::Bytes(payload.as_bytes()),
    )
    .map_err(|e| e.to_string())?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts();

    let mut request = String::from("POST / HTTP/1.1\r\nconnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    for (k, v) in instructions.headers() {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str(&format!(
        "content-length: {}\r\n\r\n{payload}",
        payload.len()
    ));

    let mut stream = TcpStream::connect(authority).map_err(|e| format!("{authority}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| e.to_string())?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no HTTP response: {response}"))?;
    let status = head.split(' ').nth(1).unwrap_or("");
    if status != "200" {
        return Err(format!("{action}: HTTP {status}: {body}"));
    }
    if head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    }) {
        return Err(format!("{action}: chunked response not handled: {head}"));
    }
    serde_json::from_str(body).map_err(|e| format!("{action}: not JSON ({e}): {body}"))
}
