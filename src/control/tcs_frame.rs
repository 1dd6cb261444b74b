//! Outgoing TCS frames, signed as the Go agent signs them: each payload is
//! the body of a SigV4-signed `GET <websocket URL>` (service `ecs`), and the
//! frame is that request's header block, a blank line, then the JSON.

use std::time::SystemTime;

use super::signing::{sign_get, SignError};
use aws_credential_types::Credentials;

/// `Header: value` lines (sorted, CRLF-terminated), an empty line, `payload`.
pub fn signed_frame(
    url: &str,
    payload: &str,
    credentials: &Credentials,
    region: &str,
    now: SystemTime,
) -> Result<String, SignError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e: http::uri::InvalidUri| SignError::Sign {
            url: url.to_string(),
            message: e.to_string(),
        })?;
    let host = uri.authority().map(|a| a.to_string()).unwrap_or_default();
    let instructions = sign_get(url, &host, payload.as_bytes(), credentials, region, now)?;
    let mut lines: Vec<(String, String)> = instructions
        .headers()
        .map(|(k, v)| (canonical_key(k), v.to_string()))
        .collect();
    lines.push(("Host".to_string(), host));
    lines.sort();
    let mut frame = String::new();
    for (k, v) in lines {
        frame.push_str(&k);
        frame.push_str(": ");
        frame.push_str(&v);
        frame.push_str("\r\n");
    }
    frame.push_str("\r\n");
    frame.push_str(payload);
    Ok(frame)
}

/// Go's canonical MIME header key: `x-amz-date` -> `X-Amz-Date`.
fn canonical_key(k: &str) -> String {
    k.split('-')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn frame_is_signed_headers_then_payload() {
        let creds = Credentials::new("AKID", "SECRET", Some("TOKEN".into()), None, "test");
        let now = UNIX_EPOCH + Duration::from_secs(1_767_323_045);
        let payload = r#"{"type":"PublishMetricsRequest","message":{}}"#;
        let f = signed_frame(
            "ws://127.0.0.1:9000/tcs/ws?cluster=c",
            payload,
            &creds,
            "us-east-1",
            now,
        )
        .unwrap();
        let (head, body) = f.split_once("\r\n\r\n").unwrap();
        assert_eq!(body, payload);
        let keys: Vec<&str> = head
            .split("\r\n")
            .map(|l| l.split_once(": ").unwrap().0)
            .collect();
        assert_eq!(
            keys,
            vec![
                "Authorization",
                "Host",
                "X-Amz-Date",
                "X-Amz-Security-Token"
            ]
        );
        assert!(head.contains("Host: 127.0.0.1:9000"));
        assert!(head.contains("X-Amz-Date: 20260102T030405Z"));
        assert!(head.contains(
            "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260102/us-east-1/ecs/aws4_request"
        ));
        // The body is part of the signature: another payload signs differently.
        let other = signed_frame(
            "ws://127.0.0.1:9000/tcs/ws?cluster=c",
            "{}",
            &creds,
            "us-east-1",
            now,
        )
        .unwrap();
        let auth = |s: &str| {
            s.lines()
                .find(|l| l.starts_with("Authorization"))
                .map(str::to_string)
        };
        assert_ne!(auth(&f), auth(&other));
    }

    #[test]
    fn canonical_header_keys() {
        assert_eq!(
            canonical_key("x-amz-security-token"),
            "X-Amz-Security-Token"
        );
        assert_eq!(canonical_key("authorization"), "Authorization");
    }
}
