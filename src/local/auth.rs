//! Request authentication: SigV4 against the one `--auth` key pair or, on the
//! ECS API, against the task role keys ecs-local minted; nothing when
//! ecs-local runs without `--auth`. Then authorization: minted task role keys
//! may only manage their own task's scale-in protection.

use super::config::{now_secs, Config};
use super::credentials::Role;
use super::error::{ApiError, ErrorKind};
use super::sigv4::{self, SigV4Error, SignedRequest};
use super::state::{IssuedCredentials, State, TaskRec, ACCOUNT_ID};
use axum::http::{HeaderMap, Method, Uri};

/// What task role keys may call (the agent's task scale-in protection
/// endpoint calls these with the task's own credentials).
pub const TASK_ROLE_OPERATIONS: [&str; 2] = ["UpdateTaskProtection", "GetTaskProtection"];

pub fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect()
}

/// Who signed an ECS API request.
#[derive(Debug, Clone, PartialEq)]
pub enum Caller {
    /// One of the `--auth` key pairs (its access key id), or anyone (`None`)
    /// when ecs-local runs without `--auth`.
    Operator(Option<String>),
    /// Keys ecs-local minted for one of a task's roles.
    Task(TaskPrincipal),
}

/// The role session behind minted keys.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskPrincipal {
    pub task_arn: String,
    pub role: Role,
    pub role_arn: String,
}

impl TaskPrincipal {
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/TASK_ID`: Amazon ECS names a
    /// task's role session after the task id.
    pub fn session_arn(&self) -> String {
        let role = self.role_arn.rsplit('/').next().unwrap_or_default();
        let task_id = self.task_arn.rsplit('/').next().unwrap_or_default();
        format!("arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role}/{task_id}")
    }
}

/// Minted keys as the verifier needs them.
#[derive(Debug, Clone, PartialEq)]
pub struct MintedKey {
    pub secret: String,
    pub session_token: String,
    pub expires_at: f64,
    pub principal: TaskPrincipal,
}

fn key_of(t: &TaskRec, role: Role, c: &IssuedCredentials) -> Option<MintedKey> {
    let k = &c.credentials;
    Some(MintedKey {
        secret: k.secret_access_key.clone()?,
        session_token: k.session_token.clone()?,
        expires_at: c.expires_at,
        principal: TaskPrincipal {
            task_arn: t.arn.clone(),
            role,
            role_arn: k.role_arn.clone().unwrap_or_default(),
        },
    })
}

/// The minted keys (current, or replaced by a refresh) with this access key id.
pub fn minted_key(st: &State, access_key_id: &str) -> Option<MintedKey> {
    st.tasks.values().find_map(|t| {
        [
            (Role::Task, &t.role_credentials),
            (Role::Task, &t.previous_role_credentials),
            (Role::Execution, &t.execution_role_credentials),
            (Role::Execution, &t.previous_execution_role_credentials),
        ]
        .into_iter()
        .filter_map(|(role, c)| Some((role, c.as_ref()?)))
        .find(|(_, c)| c.credentials.access_key_id.as_deref() == Some(access_key_id))
        .and_then(|(role, c)| key_of(t, role, c))
    })
}

fn refused(uri: &Uri, e: SigV4Error) -> ApiError {
    let kind = match e {
        SigV4Error::Missing => ErrorKind::MissingAuthenticationToken,
        SigV4Error::Incomplete(_) => ErrorKind::IncompleteSignature,
        SigV4Error::UnknownAccessKey => ErrorKind::UnrecognizedClient,
        SigV4Error::Mismatch | SigV4Error::Expired(_) | SigV4Error::WrongRegion { .. } => {
            ErrorKind::InvalidSignature
        }
    };
    tracing::warn!(path = %uri.path(), error = %e, "request refused: bad signature");
    ApiError::new(kind, e.to_string())
}

/// Checks the request's signature against the `--auth` key pairs when set
/// (the websockets: minted task keys never open them); the access key id
/// that signed it (`None` without `--auth`).
pub fn check(
    cfg: &Config,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<String>, ApiError> {
    if !cfg.auth_on() {
        return Ok(None);
    }
    let pairs = header_pairs(headers);
    let req = SignedRequest {
        method: method.as_str(),
        raw_path: uri.path(),
        raw_query: uri.query().unwrap_or(""),
        headers: &pairs,
        body,
    };
    sigv4::verify(&req, |key| cfg.secret_of(key), now_secs() as i64)
        .and_then(|signer| in_region(cfg, &req).map(|()| Some(signer)))
        .map_err(|e| refused(uri, e))
}

/// A signature good for another region is refused, as a regional Amazon
/// ECS endpoint refuses it: that is how a client with the wrong region finds
/// out.
fn in_region(cfg: &Config, req: &SignedRequest<'_>) -> Result<(), SigV4Error> {
    match sigv4::scope_region(req) {
        Some(given) if given != cfg.region => Err(SigV4Error::WrongRegion {
            given,
            expected: cfg.region.clone(),
        }),
        _ => Ok(()),
    }
}

/// Authenticates an ECS API request: an `--auth` key pair, or keys minted
/// for a task (`lookup` finds them) with their session token and unexpired.
/// `now` is Unix seconds.
pub fn authenticate(
    cfg: &Config,
    lookup: impl FnOnce(&str) -> Option<MintedKey>,
    now: f64,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Caller, ApiError> {
    if !cfg.auth_on() {
        return Ok(Caller::Operator(None));
    }
    let pairs = header_pairs(headers);
    let req = SignedRequest {
        method: method.as_str(),
        raw_path: uri.path(),
        raw_query: uri.query().unwrap_or(""),
        headers: &pairs,
        body,
    };
    let minted = sigv4::access_key_id(&req)
        .filter(|k| cfg.secret_of(k).is_none())
        .and_then(|k| lookup(&k).map(|m| (k, m)));
    let secret_for = |key: &str| {
        cfg.secret_of(key).or_else(|| {
            minted
                .as_ref()
                .filter(|(k, _)| k == key)
                .map(|(_, m)| m.secret.as_str())
        })
    };
    let signer = sigv4::verify(&req, secret_for, now as i64)
        .and_then(|signer| in_region(cfg, &req).map(|()| signer))
        .map_err(|e| refused(uri, e))?;
    if cfg.secret_of(&signer).is_some() {
        return Ok(Caller::Operator(Some(signer)));
    }
    let Some((_, m)) = minted.filter(|(k, _)| *k == signer) else {
        // verify() only accepts keys secret_for knows.
        return Err(refused(uri, SigV4Error::UnknownAccessKey));
    };
    if sigv4::security_token(&req).as_deref() != Some(m.session_token.as_str()) {
        tracing::warn!(task = %m.principal.task_arn, "request refused: task credentials without their session token");
        return Err(ApiError::new(
            ErrorKind::UnrecognizedClient,
            "The security token included in the request is invalid.",
        ));
    }
    if m.expires_at <= now {
        tracing::warn!(task = %m.principal.task_arn, "request refused: expired task credentials");
        return Err(ApiError::new(
            ErrorKind::ExpiredToken,
            "The security token included in the request is expired",
        ));
    }
    Ok(Caller::Task(m.principal))
}

/// IAM's refusal, worded as AWS words it.
pub fn access_denied(p: &TaskPrincipal, op: &str, resource: Option<&str>) -> ApiError {
    let on = resource
        .map(|r| format!(" on resource: {r}"))
        .unwrap_or_default();
    ApiError::new(
        ErrorKind::AccessDenied,
        format!(
            "User: {} is not authorized to perform: ecs:{op}{on} because no identity-based policy allows the ecs:{op} action",
            p.session_arn()
        ),
    )
}

/// Whether `caller` may call `op`; the task principal the handler must hold
/// the call to (none: the operator, unrestricted).
pub fn authorize(caller: &Caller, op: &str) -> Result<Option<TaskPrincipal>, ApiError> {
    match caller {
        Caller::Operator(_) => Ok(None),
        Caller::Task(p) if p.role == Role::Task && TASK_ROLE_OPERATIONS.contains(&op) => {
            Ok(Some(p.clone()))
        }
        Caller::Task(p) => {
            tracing::warn!(task = %p.task_arn, role = %p.role_arn, op, "task credentials refused");
            Err(access_denied(p, op, None))
        }
    }
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
