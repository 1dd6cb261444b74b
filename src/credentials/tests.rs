use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

use super::*;
use crate::config::RpsLimit;

const TASK: &str = "arn:aws:ecs:us-east-1:123456789012:task/c/0f3c";

fn creds(id: &str, role_type: RoleType) -> RoleCredentials {
    RoleCredentials {
        credentials_id: id.into(),
        role_arn: "arn:aws:iam::123456789012:role/app".into(),
        access_key_id: "ASIAEXAMPLE".into(),
        secret_access_key: "very-secret".into(),
        session_token: "token/with+chars=".into(),
        expiration: "2026-11-23T09:00:00Z".into(),
        role_type,
    }
}

async fn get(
    app: &axum::Router,
    uri: &str,
    caller: Option<IpAddr>,
) -> (StatusCode, String, Option<String>) {
    let mut req = Request::get(uri).body(Body::empty()).unwrap();
    if let Some(ip) = caller {
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(ip, 40000)));
    }
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap(), ct)
}

fn local() -> Option<IpAddr> {
    Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

fn app_with(store: &CredentialsStore) -> axum::Router {
    router(
        store.clone(),
        RpsLimit {
            steady: 1000,
            burst: 1000,
        },
    )
}

const BODY: &str = r#"{"RoleArn":"arn:aws:iam::123456789012:role/app","AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"very-secret","Token":"token/with+chars=","Expiration":"2026-11-23T09:00:00Z"}"#;

#[tokio::test]
async fn serves_the_go_agent_json_on_v1_and_v2() {
    let store = CredentialsStore::new();
    store.open_task(TASK);
    store
        .put(TASK, creds("abc-1", RoleType::TaskApplication))
        .unwrap();
    let app = app_with(&store);
    assert_eq!(
        CredentialsStore::relative_uri("abc-1"),
        "/v2/credentials/abc-1"
    );
    let (s, b, ct) = get(&app, &CredentialsStore::relative_uri("abc-1"), local()).await;
    assert_eq!(
        (s, b.as_str(), ct.as_deref()),
        (StatusCode::OK, BODY, Some("application/json"))
    );
    let (s, b, _) = get(&app, "/v1/credentials?id=abc-1", local()).await;
    assert_eq!((s, b.as_str()), (StatusCode::OK, BODY));
}

#[tokio::test]
async fn error_bodies_match_the_go_agent() {
    let store = CredentialsStore::new();
    let app = app_with(&store);
    let cases = [
        (
            "/v1/credentials",
            r#"{"code":"NoIdInRequest","message":"CredentialsV1Request: No Credential ID in the request","HTTPErrorCode":400}"#,
        ),
        (
            "/v1/credentials?id=",
            r#"{"code":"NoIdInRequest","message":"CredentialsV1Request: No Credential ID in the request","HTTPErrorCode":400}"#,
        ),
        (
            "/v2/credentials/",
            r#"{"code":"NoIdInRequest","message":"CredentialsV2Request: No Credential ID in the request","HTTPErrorCode":400}"#,
        ),
        (
            "/v1/credentials?id=nope",
            r#"{"code":"InvalidIdInRequest","message":"CredentialsV1Request: Credentials not found","HTTPErrorCode":400}"#,
        ),
        (
            "/v2/credentials/nope",
            r#"{"code":"InvalidIdInRequest","message":"CredentialsV2Request: Credentials not found","HTTPErrorCode":400}"#,
        ),
    ];
    for (uri, want) in cases {
        let (s, b, ct) = get(&app, uri, local()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(b, want, "{uri}");
        assert_eq!(ct.as_deref(), Some("application/json"));
    }
}

#[tokio::test]
async fn restored_ids_are_uninitialized_until_acs_sends_them_again() {
    let store = CredentialsStore::new();
    store.open_task(TASK);
    store.expect(TASK, "abc-1");
    let app = app_with(&store);
    let (s, b, _) = get(&app, "/v2/credentials/abc-1", local()).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        b,
        r#"{"code":"CredentialsUninitialized","message":"CredentialsV2Request: Credentials uninitialized for ID","HTTPErrorCode":503}"#
    );
    store
        .put(TASK, creds("abc-1", RoleType::TaskApplication))
        .unwrap();
    assert_eq!(
        get(&app, "/v2/credentials/abc-1", local()).await.0,
        StatusCode::OK
    );
    store.remove_task(TASK);
    assert_eq!(
        get(&app, "/v2/credentials/abc-1", local()).await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn source_check_for_bridge_and_awsvpc_tasks() {
    let store = CredentialsStore::new();
    store
        .put(TASK, creds("abc-1", RoleType::TaskApplication))
        .unwrap();
    let app = app_with(&store);
    let task_ip: IpAddr = "169.254.172.5".parse().unwrap();
    // Host mode (open, no sources): any local caller.
    store.open_task(TASK);
    assert_eq!(
        get(&app, "/v2/credentials/abc-1", local()).await.0,
        StatusCode::OK
    );
    assert_eq!(
        get(&app, "/v2/credentials/abc-1", None).await.0,
        StatusCode::OK
    );
    store.set_task_sources(TASK, vec![task_ip]);
    assert_eq!(
        get(&app, "/v2/credentials/abc-1", Some(task_ip)).await.0,
        StatusCode::OK
    );
    let mapped: IpAddr = "::ffff:169.254.172.5".parse().unwrap();
    assert_eq!(
        get(&app, "/v2/credentials/abc-1", Some(mapped)).await.0,
        StatusCode::OK
    );
    let (s, b, _) = get(
        &app,
        "/v2/credentials/abc-1",
        Some("169.254.172.6".parse().unwrap()),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(
        !b.contains("very-secret") && b.contains("AccessDenied"),
        "{b}"
    );
    assert_eq!(
        get(&app, "/v1/credentials?id=abc-1", local()).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&app, "/v2/credentials/abc-1", None).await.0,
        StatusCode::FORBIDDEN
    );
    store.remove_task(TASK);
    assert_eq!(
        get(&app, "/v2/credentials/abc-1", Some(task_ip)).await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn rate_limited_with_a_token_bucket() {
    let store = CredentialsStore::new();
    store.open_task(TASK);
    store
        .put(TASK, creds("abc-1", RoleType::TaskApplication))
        .unwrap();
    let app = router(
        store,
        RpsLimit {
            steady: 1,
            burst: 3,
        },
    );
    for _ in 0..3 {
        assert_eq!(
            get(&app, "/v2/credentials/abc-1", local()).await.0,
            StatusCode::OK
        );
    }
    let (s, b, _) = get(&app, "/v2/credentials/abc-1", local()).await;
    assert_eq!(
        (s, b.as_str()),
        (
            StatusCode::TOO_MANY_REQUESTS,
            "You have reached maximum request limit."
        )
    );
    assert_eq!(
        RpsLimit::default(),
        RpsLimit {
            steady: 40,
            burst: 60
        }
    );
}

#[test]
fn token_buckets_per_caller_and_path_refill_at_the_steady_rate() {
    use super::handler::{try_acquire_at, Limiter};
    let t0 = std::time::Instant::now();
    let l = Limiter::new(
        RpsLimit {
            steady: 2,
            burst: 3,
        },
        16,
    );
    let a = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)));
    let b = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3)));
    assert!((0..3).all(|_| try_acquire_at(&l, a, "/v2/credentials/x", t0)));
    assert!(!try_acquire_at(&l, a, "/v2/credentials/x", t0));
    // Other callers and other paths have their own buckets.
    assert!(try_acquire_at(&l, b, "/v2/credentials/x", t0));
    assert!(try_acquire_at(&l, a, "/v2/credentials/y", t0));
    let half = t0 + Duration::from_millis(500);
    assert!(try_acquire_at(&l, a, "/v2/credentials/x", half));
    assert!(!try_acquire_at(&l, a, "/v2/credentials/x", half));
    // Never more than the burst.
    let later = t0 + Duration::from_secs(60);
    assert!((0..3).all(|_| try_acquire_at(&l, a, "/v2/credentials/x", later)));
    assert!(!try_acquire_at(&l, a, "/v2/credentials/x", later));
}

#[test]
fn store_rules() {
    let store = CredentialsStore::new();
    let e = store
        .put(TASK, creds("", RoleType::TaskApplication))
        .unwrap_err();
    assert!(e.to_string().contains("credentialsId"));
    let e = store
        .put("", creds("x", RoleType::TaskApplication))
        .unwrap_err();
    assert!(e.to_string().contains("taskArn"));
    store
        .put(TASK, creds("app", RoleType::TaskApplication))
        .unwrap();
    store
        .put(TASK, creds("exec", RoleType::TaskExecution))
        .unwrap();
    store
        .put("other", creds("o", RoleType::TaskExecution))
        .unwrap();
    assert_eq!(
        store
            .task_credentials(TASK, RoleType::TaskExecution)
            .unwrap()
            .credentials_id,
        "exec"
    );
    assert_eq!(
        store
            .task_credentials(TASK, RoleType::TaskApplication)
            .unwrap()
            .credentials_id,
        "app"
    );
    // Refresh under the same id replaces the keys.
    let mut newer = creds("app", RoleType::TaskApplication);
    newer.access_key_id = "ASIANEW".into();
    store.put(TASK, newer).unwrap();
    assert_eq!(
        store
            .task_credentials(TASK, RoleType::TaskApplication)
            .unwrap()
            .access_key_id,
        "ASIANEW"
    );
    store.remove_task(TASK);
    assert!(store
        .task_credentials(TASK, RoleType::TaskExecution)
        .is_none());
    assert!(store
        .task_credentials("other", RoleType::TaskExecution)
        .is_some());
    assert_eq!(
        "TaskExecution".parse::<RoleType>().unwrap(),
        RoleType::TaskExecution
    );
    assert!("Task"
        .parse::<RoleType>()
        .unwrap_err()
        .to_string()
        .contains("roleType"));
}

#[test]
fn debug_never_shows_secrets() {
    let c = creds("abc-1", RoleType::TaskApplication);
    let d = format!("{c:?}");
    assert!(
        !d.contains("very-secret") && !d.contains("token/with"),
        "{d}"
    );
    assert!(!d.contains("abc-1") && d.contains("<redacted>"), "{d}");
    assert!(d.contains(&fingerprint("abc-1")), "{d}");
    let store = CredentialsStore::new();
    store.put(TASK, c).unwrap();
    assert!(!format!("{store:?}").contains("very-secret"));
}

/// Between acceptance and network setup (the whole image pull) a bridge or
/// awsvpc task's credentials went to any local caller with the id: they are
/// bound to the task from the moment they are stored.
#[tokio::test]
async fn credentials_go_to_nobody_until_the_task_addresses_are_known() {
    let store = CredentialsStore::new();
    store
        .put(TASK, creds("abc-1", RoleType::TaskApplication))
        .unwrap();
    let app = app_with(&store);
    let task_ip: IpAddr = "169.254.172.5".parse().unwrap();
    for caller in [local(), Some(task_ip), None] {
        let (s, b, _) = get(&app, "/v2/credentials/abc-1", caller).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{caller:?}");
        assert!(!b.contains("very-secret"), "{b}");
    }
    // Network set up: its addresses, and only them.
    store.add_task_sources(TASK, &[task_ip]);
    assert_eq!(
        get(&app, "/v2/credentials/abc-1", Some(task_ip)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        get(&app, "/v2/credentials/abc-1", local()).await.0,
        StatusCode::FORBIDDEN
    );
}

#[test]
fn the_id_is_logged_as_a_short_fingerprint() {
    let f = fingerprint("c3a1e6b2-8d2f-4c3e-9b1a-0f5e6d7c8b9a");
    assert_eq!(f.len(), 8);
    assert!(f.chars().all(|c| c.is_ascii_hexdigit()), "{f}");
    assert_eq!(f, fingerprint("c3a1e6b2-8d2f-4c3e-9b1a-0f5e6d7c8b9a"));
    assert_ne!(f, fingerprint("c3a1e6b2-8d2f-4c3e-9b1a-0f5e6d7c8b9b"));
    // SHA-256("abc") begins ba7816bf.
    assert_eq!(fingerprint("abc"), "ba7816bf");
}
