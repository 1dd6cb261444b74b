//! The router under `--auth` (issue 18 point 10): the /debug hooks, which
//! hand out task secret keys, answer only signed requests; the IMDS stand-in
//! stays unsigned as EC2's metadata service is; an instance's websockets
//! are opened only by the key pair that registered it.

use super::router;
use crate::local::app::App;
use crate::local::config::Config;
use crate::local::sigv4::{sign_for_test, SignedRequest};
use crate::local::store::Store;
use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;

const AK: &str = "AKIDOPERATOR";
const SK: &str = "operator-secret";
/// A second `--auth` principal.
const AK2: &str = "AKIDSECONDUSER";
const SK2: &str = "second-secret";

fn app(dir: &std::path::Path) -> axum::Router {
    let cfg = Config::for_tests(vec![(AK.into(), SK.into()), (AK2.into(), SK2.into())]);
    router(Arc::new(App::new(cfg, Store::open(dir).unwrap()).unwrap()))
}

fn signed(method: &str, path_and_query: &str, secret: &str) -> Request<Body> {
    signed_as(method, path_and_query, (AK, secret), None, b"")
}

/// A request signed with `keys`; `target` is an ECS API operation (sent
/// and signed as X-Amz-Target, with `body`).
fn signed_as(
    method: &str,
    path_and_query: &str,
    keys: (&str, &str),
    target: Option<&str>,
    body: &[u8],
) -> Request<Body> {
    let now = time::OffsetDateTime::now_utc();
    let date = now
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap();
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut headers = vec![
        ("host".to_string(), "x".to_string()),
        ("x-amz-date".to_string(), date.clone()),
    ];
    let target = target.map(|op| format!("AmazonEC2ContainerServiceV20141113.{op}"));
    if let Some(t) = &target {
        headers.push(("x-amz-target".to_string(), t.clone()));
    }
    let req = SignedRequest {
        method,
        raw_path: path,
        raw_query: query,
        headers: &headers,
        body,
    };
    let auth = sign_for_test(&req, keys.0, keys.1, "us-east-1", &date);
    let mut b = Request::builder()
        .method(method)
        .uri(path_and_query)
        .header("host", "x")
        .header("x-amz-date", date)
        .header("authorization", auth);
    if let Some(t) = target {
        b = b.header("x-amz-target", t);
    }
    b.body(Body::from(body.to_vec())).unwrap()
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

/// Issue 18 point 10: under `--auth` an instance's ACS and TCS sessions may be
/// opened only by the key pair that registered it. Another `--auth` principal
/// gets ECS's AccessDeniedException (403) naming the IAM action the session
/// needs (`ecs:Poll`, `ecs:StartTelemetrySession`), and may not re-register
/// the instance to take it over; the registrant gets past the check (to the
/// upgrade itself, which a oneshot request cannot make: 400 "not a websocket
/// upgrade").
#[tokio::test]
async fn websockets_are_bound_to_the_instance_registrant() {
    let dir = tempfile::tempdir().unwrap();
    let r = app(dir.path());
    let body = br#"{"cluster":"default"}"#;
    let (status, v) = send(
        &r,
        signed_as(
            "POST",
            "/",
            (AK, SK),
            Some("RegisterContainerInstance"),
            body,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let instance = v["containerInstance"]["containerInstanceArn"]
        .as_str()
        .unwrap()
        .to_string();
    let enc = instance.replace(':', "%3A").replace('/', "%2F");
    let acs = format!("/acs/ws?clusterArn=default&containerInstanceArn={enc}&seqNum=1");
    let tcs = format!("/tcs/ws?cluster=default&containerInstance={enc}");
    for (path, action) in [(&acs, "ecs:Poll"), (&tcs, "ecs:StartTelemetrySession")] {
        let (status, v) = send(&r, signed_as("GET", path, (AK2, SK2), None, b"")).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {v}");
        assert_eq!(v["type"], "AccessDeniedException", "{v}");
        let m = v["message"]["message"].as_str().unwrap();
        assert!(
            m.contains(AK2) && m.contains(action) && m.contains(&instance),
            "{m}"
        );
        let (status, v) = send(&r, signed_as("GET", path, (AK, SK), None, b"")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {v}");
        assert!(
            v["message"]["message"]
                .as_str()
                .unwrap()
                .contains("not a websocket upgrade"),
            "{v}"
        );
    }
    // TCS for an instance nobody registered: refused under --auth.
    let (status, v) = send(
        &r,
        signed_as("GET", "/tcs/ws?containerInstance=nope", (AK, SK), None, b""),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    // The other principal cannot take the instance over by re-registering it.
    let body = format!(r#"{{"cluster":"default","containerInstanceArn":"{instance}"}}"#);
    let (status, v) = send(
        &r,
        signed_as(
            "POST",
            "/",
            (AK2, SK2),
            Some("RegisterContainerInstance"),
            body.as_bytes(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["__type"], "AccessDeniedException", "{v}");
    let (status, v) = send(
        &r,
        signed_as(
            "POST",
            "/",
            (AK, SK),
            Some("RegisterContainerInstance"),
            body.as_bytes(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
}
