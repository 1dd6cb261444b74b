//! Task IAM role credentials as ecs-local mints them: STS-shaped temporary
//! keys for the task role and the execution role, refreshed before they
//! expire. Pure: randomness and the clock come from the caller.

use super::state::IssuedCredentials;
use crate::model::acs::IamRoleCredentials;
use base64::Engine;
use rand::Rng;

/// `roleType` of the task role in IAMRoleCredentialsMessage.
pub const TASK_ROLE: &str = "TaskApplication";
/// `roleType` of the execution role in IAMRoleCredentialsMessage.
pub const EXECUTION_ROLE: &str = "TaskExecution";

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SECRET_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// STS session tokens run to several hundred characters of base64.
const SESSION_TOKEN_BYTES: usize = 264;

/// Which of a task's two roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Task,
    Execution,
}

impl Role {
    pub const BOTH: [Role; 2] = [Role::Task, Role::Execution];

    pub fn role_type(self) -> &'static str {
        match self {
            Role::Task => TASK_ROLE,
            Role::Execution => EXECUTION_ROLE,
        }
    }
}

fn pick(rng: &mut impl Rng, alphabet: &[u8], n: usize) -> String {
    (0..n)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

/// `ASIA` + 16 uppercase letters and digits, as STS temporary keys look.
pub fn access_key_id(rng: &mut impl Rng) -> String {
    format!("ASIA{}", pick(rng, UPPER_ALNUM, 16))
}

pub fn secret_access_key(rng: &mut impl Rng) -> String {
    pick(rng, SECRET_CHARS, 40)
}

pub fn session_token(rng: &mut impl Rng) -> String {
    let mut bytes = vec![0u8; SESSION_TOKEN_BYTES];
    rng.fill(bytes.as_mut_slice());
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// RFC 3339 UTC to the second (`2026-01-02T03:04:05Z`), as ACS sends expirations.
pub fn rfc3339(epoch_secs: f64) -> String {
    let secs = epoch_secs.floor() as i64;
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string())
}

/// When credentials issued at `issued` for `ttl` seconds are replaced: at
/// three quarters of their life, and at least a second before they expire.
pub fn refresh_at(issued: f64, ttl: f64) -> f64 {
    (issued + ttl * 0.75).min(issued + ttl - 1.0).max(issued)
}

/// New keys for `role_arn` under `credentials_id` (kept across refreshes:
/// containers find their credentials by that id, and Amazon ECS keeps it for
/// the life of the task).
pub fn mint(
    rng: &mut impl Rng,
    credentials_id: &str,
    role_arn: &str,
    now: f64,
    ttl: f64,
) -> IssuedCredentials {
    let expires_at = now + ttl;
    IssuedCredentials {
        credentials: IamRoleCredentials {
            credentials_id: Some(credentials_id.to_string()),
            role_arn: Some(role_arn.to_string()),
            access_key_id: Some(access_key_id(rng)),
            secret_access_key: Some(secret_access_key(rng)),
            session_token: Some(session_token(rng)),
            expiration: Some(rfc3339(expires_at)),
            credential_scope: None,
        },
        issued_at: now,
        expires_at,
        refresh_at: refresh_at(now, ttl),
    }
}

/// First credentials for a role: a fresh credentials id.
pub fn issue(rng: &mut impl Rng, role_arn: &str, now: f64, ttl: f64) -> IssuedCredentials {
    let id = uuid::Builder::from_random_bytes(rng.random())
        .into_uuid()
        .to_string();
    mint(rng, &id, role_arn, now, ttl)
}

/// The same credentials id and role with new keys and a new expiration.
pub fn renew(rng: &mut impl Rng, old: &IssuedCredentials, now: f64, ttl: f64) -> IssuedCredentials {
    let id = old
        .credentials
        .credentials_id
        .as_deref()
        .unwrap_or_default();
    let role = old.credentials.role_arn.as_deref().unwrap_or_default();
    mint(rng, id, role, now, ttl)
}

#[cfg(test)]
#[path = "credentials_tests.rs"]
mod tests;
