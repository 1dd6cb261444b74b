//! The whole router, in process: refusals made before any handler runs come
//! back in AWS's JSON error shape (issue 18 point 14).

use crate::local::app::App;
use crate::local::config::Config;
use crate::local::server::router;
use crate::local::store::Store;
use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;

fn app(dir: &std::path::Path) -> axum::Router {
    let cfg = Config::for_tests(Vec::new());
    router(Arc::new(App::new(cfg, Store::open(dir).unwrap()).unwrap()))
}

async fn send(r: &axum::Router, req: Request<Body>) -> (StatusCode, String, Option<String>, Value) {
    let resp = r.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let etype = resp
        .headers()
        .get("x-amzn-errortype")
        .map(|v| v.to_str().unwrap().to_string());
    let body = to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, ctype, etype, v)
}

fn api(target: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post("/")
        .header(
            "x-amz-target",
            format!("AmazonEC2ContainerServiceV20141113.{target}"),
        )
        .header("content-type", "application/x-amz-json-1.1")
        .body(body.into())
        .unwrap()
}

fn assert_aws_error(
    got: &(StatusCode, String, Option<String>, Value),
    status: u16,
    type_name: &str,
) {
    let (s, ctype, etype, v) = got;
    assert_eq!(s.as_u16(), status, "{v}");
    assert_eq!(ctype, "application/x-amz-json-1.1", "{v}");
    assert_eq!(v["__type"], type_name, "{v}");
    assert_eq!(etype.as_deref(), Some(type_name));
    assert!(!v["message"].as_str().unwrap_or("").is_empty(), "{v}");
}

#[tokio::test]
async fn http_layer_refusals_have_the_aws_json_shape() {
    let dir = tempfile::tempdir().unwrap();
    let r = app(dir.path());
    // 404: no such route (was an empty body).
    let got = send(&r, Request::get("/nope").body(Body::empty()).unwrap()).await;
    assert_aws_error(&got, 404, "UnknownOperationException");
    // 405: a method the route does not take (was an empty body).
    let got = send(&r, Request::delete("/").body(Body::empty()).unwrap()).await;
    assert_aws_error(&got, 405, "UnknownOperationException");
    // 413: over the body limit (was plain text).
    let big = vec![b' '; crate::local::refusal::BODY_LIMIT + 1];
    let got = send(&r, api("ListClusters", big)).await;
    assert_aws_error(&got, 413, "RequestEntityTooLargeException");
    // A debug hook's extractor refusal (was plain text).
    let got = send(
        &r,
        Request::post("/debug/forget-task")
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap(),
    )
    .await;
    assert_eq!(got.3["__type"], "SerializationException", "{:?}", got.3);
    // A debug hook's own refusal keeps its `error`/`field` beside the shape.
    let got = send(
        &r,
        Request::get("/debug/credentials")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(got.0, StatusCode::BAD_REQUEST);
    assert_eq!(got.3["__type"], "InvalidParameterException");
    assert_eq!(got.3["field"], "taskArn");
    // The IMDS stand-in answers plain text as EC2's does.
    let (s, ctype, _, _) = send(
        &r,
        Request::get("/debug/imds/latest/meta-data/instance-id")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(ctype, "text/plain");
}

#[tokio::test]
async fn a_duplicate_key_is_a_malformed_request() {
    let dir = tempfile::tempdir().unwrap();
    let r = app(dir.path());
    let got = send(
        &r,
        api(
            "CreateCluster",
            r#"{"clusterName": "a", "clusterName": "b"}"#,
        ),
    )
    .await;
    assert_aws_error(&got, 400, "SerializationException");
    assert!(got.3["message"].as_str().unwrap().contains("duplicate key"));
    // Nothing was created.
    let got = send(&r, api("ListClusters", "{}")).await;
    assert_eq!(got.3["clusterArns"], serde_json::json!([]));
}
