//! ecs-local's refusals seen as a user sees them: the real `aws` CLI names
//! the error type only when the body has AWS's JSON error shape
//! (`{"__type", "message"}`, awsJson1_1), and raw HTTP for what the CLI
//! cannot send (issue 18 points 13 and 14).

use crate::common::{self, Aws, EcsLocal};
use serde_json::{json, Value};
use std::io::{Read, Write};

fn cli_err(r: Result<Value, String>) -> String {
    match r {
        Ok(v) => panic!("expected the CLI to fail, got {v}"),
        Err(e) => e,
    }
}

/// A raw HTTP/1.1 request: (status, x-amzn-errortype, JSON body or Null).
fn http(port: u16, method: &str, path: &str, headers: &str, body: &str) -> (u16, String, Value) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let etype = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("x-amzn-errortype"))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    (
        status,
        etype,
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

#[test]
fn refusals_have_the_aws_json_error_shape() {
    let Some(env) = common::env() else { return };
    let local = EcsLocal::start(&env);
    let aws = Aws::new(&env, &local);

    // 413 (was plain text, which the CLI could not name).
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.json");
    let defs = json!([{"name": "app", "image": "busybox", "memory": 64,
        "environment": [{"name": "PAD", "value": "x".repeat(3 * 1024 * 1024)}]}]);
    std::fs::write(&big, defs.to_string()).unwrap();
    let e = cli_err(aws.ecs(&[
        "register-task-definition",
        "--family",
        "big",
        "--container-definitions",
        &format!("file://{}", big.display()),
    ]));
    assert!(
        e.contains(
            "(RequestEntityTooLargeException) when calling the RegisterTaskDefinition operation"
        ),
        "{e}"
    );

    // Point 13: two containers with cpu i64::MAX (their sum once wrapped).
    let e = cli_err(
        aws.ecs(&[
            "register-task-definition",
            "--family",
            "huge",
            "--container-definitions",
            &json!([
                {"name": "a", "image": "busybox", "memory": 64, "cpu": i64::MAX},
                {"name": "b", "image": "busybox", "memory": 64, "cpu": i64::MAX}
            ])
            .to_string(),
        ]),
    );
    assert!(
        e.contains("(ClientException)") && e.contains("out of range"),
        "{e}"
    );

    let port = local.port();
    // 404 and 405 (were empty bodies).
    let (status, etype, v) = http(port, "GET", "/nope", "", "");
    assert_eq!(
        (status, etype.as_str()),
        (404, "UnknownOperationException"),
        "{v}"
    );
    assert_eq!(v["__type"], "UnknownOperationException", "{v}");
    let (status, _, v) = http(port, "DELETE", "/", "", "");
    assert_eq!(status, 405, "{v}");
    assert_eq!(v["__type"], "UnknownOperationException", "{v}");
    // A duplicate key is a malformed request, not "the last one wins".
    let (status, _, v) = http(
        port,
        "POST",
        "/",
        "X-Amz-Target: AmazonEC2ContainerServiceV20141113.CreateCluster\r\nContent-Type: application/x-amz-json-1.1\r\n",
        r#"{"clusterName": "a", "clusterName": "b"}"#,
    );
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["__type"], "SerializationException", "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("duplicate key"),
        "{v}"
    );
    let clusters = aws.ecs_ok(&["list-clusters"]);
    assert_eq!(clusters["clusterArns"], json!([]), "{clusters}");
}
