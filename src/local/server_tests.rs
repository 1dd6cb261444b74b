//! The router under `--auth` (issue 18 point 10): the /debug hooks, which
//! hand out task secret keys, answer only signed requests; the IMDS stand-in
//! stays unsigned as EC2's metadata service is.

use super::router;
use crate::local::app::App;
use crate::local::config::Config;
use crate::local::sigv4::{sign_for_test, SignedRequest};
use crate::local::store::Store;
use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

const AK: &str = "AKIDOPERATOR";
const SK: &str = "operator-secret";

fn app(dir: &std::path::Path) -> axum::Router {
    let cfg = Config {
        listen: "127.0.0.1:1".parse().unwrap(),
        region: "us-east-1".into(),
        auth: Some((AK.into(), SK.into())),
        heartbeat: Duration::from_secs(30),
        resend: Duration::from_secs(5),
        manifest: Duration::from_secs(60),
        credentials_ttl: Duration::from_secs(3600),
        eni_attach_timeout: Duration::from_secs(60),
    };
    router(Arc::new(App::new(cfg, Store::open(dir).unwrap()).unwrap()))
}

fn signed(method: &str, path_and_query: &str, secret: &str) -> Request<Body> {
    let now = time::OffsetDateTime::now_utc();
    let date = now
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap();
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let headers = vec![
        ("host".to_string(), "x".to_string()),
        ("x-amz-date".to_string(), date.clone()),
    ];
    let req = SignedRequest {
        method,
        raw_path: path,
        raw_query: query,
        headers: &headers,
        body: b"",
    };
    let auth = sign_for_test(&req, AK, secret, "us-east-1", &date);
    Request::builder()
        .method(method)
        .uri(path_and_query)
        .header("host", "x")
        .header("x-amz-date", date)
        .header("authorization", auth)
        .body(Body::empty())
        .unwrap()
}

async fn send(r: &axum::Router, req: Request<Body>) -> (StatusCode, Value) {
    let resp = r.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let body = to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn debug_hooks_need_a_signature_under_auth() {
    let dir = tempfile::tempdir().unwrap();
    let r = app(dir.path());
    for (method, path) in [
        (
            "GET",
            "/debug/credentials?taskArn=arn:aws:ecs:us-east-1:000000000000:task/c/x",
        ),
        ("GET", "/debug/stats"),
        ("GET", "/debug/enis"),
        ("POST", "/debug/forget-task"),
    ] {
        // Unsigned: refused as the ECS API refuses it (was answered).
        let req = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap();
        let (status, v) = send(&r, req).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {v}");
        assert_eq!(v["__type"], "MissingAuthenticationTokenException", "{v}");
        // Signed with the wrong secret: refused too.
        let (status, v) = send(&r, signed(method, path, "wrong")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {path}: {v}");
        assert_eq!(v["__type"], "InvalidSignatureException", "{v}");
    }
    // Signed with the --auth keys: answered.
    let (status, v) = send(&r, signed("GET", "/debug/stats", SK)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, v) = send(
        &r,
        signed(
            "GET",
            "/debug/credentials?taskArn=arn:aws:ecs:us-east-1:000000000000:task/c/x",
            SK,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    // The IMDS stand-in stays unsigned, as IMDS is.
    let req = Request::put("/debug/imds/latest/api/token")
        .header("x-aws-ec2-metadata-token-ttl-seconds", "60")
        .body(Body::empty())
        .unwrap();
    let resp = r.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}
