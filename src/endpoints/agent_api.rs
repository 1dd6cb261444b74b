//! The agent API containers reach at `${ECS_AGENT_URI}`: task scale-in
//! protection (`/api/<token>/task-protection/v1/state`, GET and PUT), with the
//! Go agent's bodies and status codes. The agent calls ECS on the task's
//! behalf, signed with the task role's credentials, so a task can protect
//! only itself and only if it has a role.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::credentials::{CredentialsStore, RoleCredentials, RoleType};
use crate::observe::view::TaskSource;

pub const TASK_PROTECTION_PATH: &str = "/api/{token}/task-protection/v1/state";

/// What a container asked for with PUT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtectionUpdate {
    pub enabled: bool,
    pub expires_in_minutes: Option<i64>,
}

/// ECS's answer for the one task, already in the Go agent's JSON shape
/// (`ProtectedTask`: ExpirationDate, ProtectionEnabled, TaskArn; `Failure`:
/// Arn, Detail, Reason).
#[derive(Debug, Clone, PartialEq)]
pub enum ProtectionAnswer {
    Protected(Value),
    Failure(Value),
}

/// An ECS error (or no answer at all), passed on to the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectionError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

pub type ProtectionFuture =
    Pin<Box<dyn Future<Output = Result<ProtectionAnswer, ProtectionError>> + Send>>;

/// GetTaskProtection (update None) or UpdateTaskProtection for one task,
/// signed with `creds`. The real one is in `control`.
pub trait TaskProtectionApi: Send + Sync + 'static {
    fn call(
        &self,
        creds: RoleCredentials,
        task_arn: String,
        update: Option<ProtectionUpdate>,
    ) -> ProtectionFuture;
}

#[derive(Clone)]
struct AgentApi {
    source: Arc<dyn TaskSource>,
    credentials: CredentialsStore,
    ecs: Arc<dyn TaskProtectionApi>,
}

pub fn agent_api_router(
    source: Arc<dyn TaskSource>,
    credentials: CredentialsStore,
    ecs: Arc<dyn TaskProtectionApi>,
) -> Router {
    Router::new()
        .route(
            TASK_PROTECTION_PATH,
            get(get_protection).put(put_protection),
        )
        .with_state(AgentApi {
            source,
            credentials,
            ecs,
        })
}

/// `{"requestID"?, "error": {"Arn"?, "Code", "Message"}}`
fn error_body(
    status: StatusCode,
    arn: &str,
    code: &str,
    message: &str,
    request_id: Option<&str>,
) -> Response {
    let mut err = Map::new();
    if !arn.is_empty() {
        err.insert("Arn".into(), json!(arn));
    }
    err.insert("Code".into(), json!(code));
    err.insert("Message".into(), json!(message));
    let mut body = Map::new();
    if let Some(id) = request_id {
        body.insert("requestID".into(), json!(id));
    }
    body.insert("error".into(), Value::Object(err));
    json_response(status, &Value::Object(body))
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// A request refused before ECS is called, with the Go agent's body.
struct Refusal {
    status: StatusCode,
    arn: String,
    code: &'static str,
    message: &'static str,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error_body(self.status, &self.arn, self.code, self.message, None)
    }
}

/// The caller's task, or the Go agent's 404.
fn find_task(app: &AgentApi, token: &str) -> Result<String, Refusal> {
    let snapshot = app.source.snapshot();
    match snapshot.by_token(token) {
        Some((task, _)) => Ok(task.arn.clone()),
        None => Err(Refusal {
            status: StatusCode::NOT_FOUND,
            arn: String::new(),
            code: "ResourceNotFoundException",
            message: "Failed to find a task for the request",
        }),
    }
}

/// The task role's credentials, or the Go agent's 403.
fn role_credentials(app: &AgentApi, arn: &str) -> Result<RoleCredentials, Refusal> {
    app.credentials
        .task_credentials(arn, RoleType::TaskApplication)
        .ok_or_else(|| Refusal {
            status: StatusCode::FORBIDDEN,
            arn: arn.to_string(),
            code: "AccessDeniedException",
            message: "Invalid Request: no task IAM role credentials available for task",
        })
}

async fn answer(
    app: &AgentApi,
    arn: String,
    creds: RoleCredentials,
    update: Option<ProtectionUpdate>,
) -> Response {
    let what = if update.is_some() {
        "UpdateTaskProtection"
    } else {
        "GetTaskProtection"
    };
    match app.ecs.call(creds, arn.clone(), update).await {
        Ok(ProtectionAnswer::Protected(p)) => {
            tracing::info!(task = %arn, call = what, "task protection call succeeded");
            json_response(StatusCode::OK, &json!({ "protection": p }))
        }
        Ok(ProtectionAnswer::Failure(f)) => {
            tracing::warn!(task = %arn, call = what, failure = %f, "ECS reported a task protection failure");
            json_response(StatusCode::OK, &json!({ "failure": f }))
        }
        Err(e) => {
            tracing::warn!(task = %arn, call = what, code = %e.code, message = %e.message, "task protection call failed");
            let status =
                StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            error_body(status, &arn, &e.code, &e.message, e.request_id.as_deref())
        }
    }
}

async fn get_protection(State(app): State<AgentApi>, Path(token): Path<String>) -> Response {
    let arn = match find_task(&app, &token) {
        Ok(arn) => arn,
        Err(r) => return r.into_response(),
    };
    match role_credentials(&app, &arn) {
        Ok(creds) => answer(&app, arn, creds, None).await,
        Err(r) => r.into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PutBody {
    #[serde(rename = "ProtectionEnabled")]
    protection_enabled: Option<bool>,
    #[serde(rename = "ExpiresInMinutes")]
    expires_in_minutes: Option<i64>,
}

async fn put_protection(
    State(app): State<AgentApi>,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    let Ok(req) = serde_json::from_slice::<PutBody>(&body) else {
        return error_body(
            StatusCode::BAD_REQUEST,
            "",
            "InvalidParameterException",
            "UpdateTaskProtection: failed to decode request",
            None,
        );
    };
    let arn = match find_task(&app, &token) {
        Ok(arn) => arn,
        Err(r) => return r.into_response(),
    };
    let Some(enabled) = req.protection_enabled else {
        return error_body(
            StatusCode::BAD_REQUEST,
            &arn,
            "InvalidParameterException",
            "Invalid request: does not contain 'ProtectionEnabled' field",
            None,
        );
    };
    let update = ProtectionUpdate {
        enabled,
        expires_in_minutes: req.expires_in_minutes,
    };
    match role_credentials(&app, &arn) {
        Ok(creds) => answer(&app, arn, creds, Some(update)).await,
        Err(r) => r.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::view::{ContainerView, Published, TaskView};
    use axum::body::Body;
    use axum::http::Request;
    use std::sync::Mutex;
    use tower::ServiceExt;

    const ARN: &str = "arn:aws:ecs:us-east-1:0:task/c/t1";

    #[derive(Default)]
    struct FakeEcs {
        calls: Mutex<Vec<(String, String, Option<ProtectionUpdate>)>>,
    }

    impl TaskProtectionApi for Arc<FakeEcs> {
        fn call(
            &self,
            creds: RoleCredentials,
            task_arn: String,
            update: Option<ProtectionUpdate>,
        ) -> ProtectionFuture {
            self.calls
                .lock()
                .unwrap()
                .push((creds.access_key_id, task_arn.clone(), update));
            Box::pin(async move {
                Ok(ProtectionAnswer::Protected(json!({
                    "ExpirationDate": null,
                    "ProtectionEnabled": update.is_some_and(|u| u.enabled),
                    "TaskArn": task_arn,
                })))
            })
        }
    }

    fn setup(with_role: bool) -> (Router, Arc<FakeEcs>) {
        let published = Published::default();
        published.publish_task(TaskView {
            arn: ARN.into(),
            containers: vec![ContainerView {
                token: "tok".into(),
                name: "app".into(),
                ..Default::default()
            }],
            ..Default::default()
        });
        let store = CredentialsStore::new();
        if with_role {
            store
                .put(
                    ARN,
                    RoleCredentials {
                        credentials_id: "cid".into(),
                        role_arn: "arn:aws:iam::0:role/r".into(),
                        access_key_id: "ASIATASK".into(),
                        secret_access_key: "s".into(),
                        session_token: "t".into(),
                        expiration: "2030-01-01T00:00:00Z".into(),
                        role_type: RoleType::TaskApplication,
                    },
                )
                .unwrap();
        }
        let fake = Arc::new(FakeEcs::default());
        let router = agent_api_router(Arc::new(published), store, Arc::new(fake.clone()));
        (router, fake)
    }

    async fn call(router: &Router, method: &str, uri: &str, body: &str) -> (StatusCode, Value) {
        let resp = router
            .clone()
            .oneshot(
                Request::builder()
                    .method(method)
                    .uri(uri)
                    .body(Body::from(body.to_string()))
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    #[tokio::test]
    async fn protection_is_asked_with_the_tasks_own_credentials() {
        let (router, fake) = setup(true);
        let path = "/api/tok/task-protection/v1/state";
        let (s, b) = call(&router, "GET", path, "").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(b["protection"]["TaskArn"], ARN);
        let (s, b) = call(
            &router,
            "PUT",
            path,
            r#"{"ProtectionEnabled":true,"ExpiresInMinutes":10}"#,
        )
        .await;
        assert_eq!(
            (s, &b["protection"]["ProtectionEnabled"]),
            (StatusCode::OK, &json!(true))
        );
        let calls = fake.calls.lock().unwrap().clone();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[1].0, "ASIATASK");
        assert_eq!(
            calls[1].2,
            Some(ProtectionUpdate {
                enabled: true,
                expires_in_minutes: Some(10)
            })
        );
    }

    #[tokio::test]
    async fn refusals_have_the_go_agents_codes() {
        let (router, fake) = setup(false);
        let (s, b) = call(&router, "GET", "/api/nope/task-protection/v1/state", "").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(
            b,
            json!({"error": {"Code": "ResourceNotFoundException", "Message": "Failed to find a task for the request"}})
        );
        let path = "/api/tok/task-protection/v1/state";
        let (s, b) = call(&router, "PUT", path, r#"{"Enabled":true}"#).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(b["error"]["Code"], "InvalidParameterException");
        let (s, b) = call(&router, "PUT", path, r#"{"ExpiresInMinutes":5}"#).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(b["error"]["Arn"], ARN);
        let (s, b) = call(&router, "GET", path, "").await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert_eq!(b["error"]["Code"], "AccessDeniedException");
        assert!(fake.calls.lock().unwrap().is_empty(), "ECS was called");
    }
}
