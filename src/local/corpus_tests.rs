//! The corpus of bad ecs-local API requests (tests/corpus/api, see its
//! README), replayed through the whole router on every run: each is refused
//! with its status and AWS error type, the message naming what was wrong, and
//! none creates anything.

use crate::local::app::App;
use crate::local::config::Config;
use crate::local::server::router;
use crate::local::store::Store;
use axum::body::{to_bytes, Body};
use axum::http::Request;
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;

fn app(dir: &std::path::Path) -> axum::Router {
    let cfg = Config::for_tests(Vec::new());
    router(Arc::new(App::new(cfg, Store::open(dir).unwrap()).unwrap()))
}

async fn call(r: &axum::Router, op: &str, body: String) -> (u16, Value) {
    let req = Request::post("/")
        .header(
            "x-amz-target",
            format!("AmazonEC2ContainerServiceV20141113.{op}"),
        )
        .header("content-type", "application/x-amz-json-1.1")
        .body(Body::from(body))
        .unwrap();
    let resp = r.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn corpus_requests_are_refused_as_expected() {
    let dir = tempfile::tempdir().unwrap();
    let r = app(dir.path());
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/api");
    let mut files: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{files:?}");
    for path in &files {
        let name = path.display().to_string();
        let case: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let body = match (&case["raw"], &case["body"]) {
            (Value::String(raw), _) => raw.clone(),
            (_, b) => b.to_string(),
        };
        let (status, v) = call(&r, case["op"].as_str().unwrap(), body).await;
        assert_eq!(
            Some(u64::from(status)),
            case["status"].as_u64(),
            "{name}: {v}"
        );
        if let Some(t) = case["type"].as_str() {
            assert_eq!(v["__type"], t, "{name}: {v}");
        }
        let message = v["message"].as_str().unwrap_or_default();
        let mentions = case["mentions"].as_str().unwrap();
        assert!(message.contains(mentions), "{name}: {message}");
    }
    // Nothing was created by any of them.
    let (status, v) = call(&r, "ListTaskDefinitions", "{}".into()).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["taskDefinitionArns"], serde_json::json!([]), "{v}");
}
