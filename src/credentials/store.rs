//! The in-memory credentials store.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use serde::Serialize;

/// Which role the credentials are for (ACS `roleType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoleType {
    TaskApplication,
    TaskExecution,
}

impl RoleType {
    pub fn as_str(self) -> &'static str {
        match self {
            RoleType::TaskApplication => "TaskApplication",
            RoleType::TaskExecution => "TaskExecution",
        }
    }
}

impl std::str::FromStr for RoleType {
    type Err = CredentialsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "TaskApplication" => Ok(RoleType::TaskApplication),
            "TaskExecution" => Ok(RoleType::TaskExecution),
            other => Err(CredentialsError::Invalid {
                field: "roleType",
                reason: format!("{other:?} is neither TaskApplication nor TaskExecution"),
            }),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialsError {
    #[error("invalid role credentials {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

/// One set of role credentials as ACS sends them.
#[derive(Clone, PartialEq, Eq)]
pub struct RoleCredentials {
    pub credentials_id: String,
    pub role_arn: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// RFC 3339, echoed as received.
    pub expiration: String,
    pub role_type: RoleType,
}

impl fmt::Debug for RoleCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoleCredentials")
            .field("credentials_id", &super::fingerprint(&self.credentials_id))
            .field("role_arn", &self.role_arn)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &"<redacted>")
            .field("expiration", &self.expiration)
            .field("role_type", &self.role_type)
            .finish()
    }
}

/// The Go agent's response body, field order included.
#[derive(Serialize)]
pub(crate) struct CredentialsBody<'a> {
    #[serde(rename = "RoleArn")]
    pub role_arn: &'a str,
    #[serde(rename = "AccessKeyId")]
    pub access_key_id: &'a str,
    #[serde(rename = "SecretAccessKey")]
    pub secret_access_key: &'a str,
    #[serde(rename = "Token")]
    pub token: &'a str,
    #[serde(rename = "Expiration")]
    pub expiration: &'a str,
}

impl RoleCredentials {
    /// Validates credentials from ACS (payload or IAMRoleCredentialsMessage).
    pub fn from_acs(
        c: &crate::model::acs::IamRoleCredentials,
        role_type: RoleType,
    ) -> Result<Self, CredentialsError> {
        fn required(v: &Option<String>, field: &'static str) -> Result<String, CredentialsError> {
            v.clone()
                .filter(|s| !s.is_empty())
                .ok_or(CredentialsError::Invalid {
                    field,
                    reason: "missing".into(),
                })
        }
        Ok(RoleCredentials {
            credentials_id: required(&c.credentials_id, "credentialsId")?,
            role_arn: c.role_arn.clone().unwrap_or_default(),
            access_key_id: required(&c.access_key_id, "accessKeyId")?,
            secret_access_key: required(&c.secret_access_key, "secretAccessKey")?,
            session_token: c.session_token.clone().unwrap_or_default(),
            expiration: c.expiration.clone().unwrap_or_default(),
            role_type,
        })
    }

    pub(crate) fn body(&self) -> CredentialsBody<'_> {
        CredentialsBody {
            role_arn: &self.role_arn,
            access_key_id: &self.access_key_id,
            secret_access_key: &self.secret_access_key,
            token: &self.session_token,
            expiration: &self.expiration,
        }
    }
}

#[derive(Default)]
struct Inner {
    /// credentials id -> (task ARN, credentials)
    by_id: HashMap<String, (String, RoleCredentials)>,
    /// task ARN -> the only source addresses allowed to read its credentials
    sources: HashMap<String, Vec<IpAddr>>,
    /// Tasks whose credentials any local caller with the id may read (host
    /// mode). A task neither here nor in `sources` is served to nobody.
    open: HashSet<String>,
    /// credentials id -> task ARN: ids of tasks restored after a restart
    /// whose credentials ACS has not sent again yet.
    expected: HashMap<String, String>,
}

/// Shared, cheap to clone.
#[derive(Clone, Default)]
pub struct CredentialsStore {
    inner: Arc<RwLock<Inner>>,
}

impl fmt::Debug for CredentialsStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.inner.read().map(|i| i.by_id.len()).unwrap_or(0);
        f.debug_struct("CredentialsStore")
            .field("credentials", &n)
            .finish()
    }
}

/// What a lookup by id found.
pub(crate) enum Lookup {
    Found {
        task_arn: String,
        creds: RoleCredentials,
    },
    /// The id exists but the caller is not one of the task's addresses.
    Denied {
        task_arn: String,
        role_type: RoleType,
    },
    /// A restored task's id whose credentials have not arrived yet.
    Uninitialized {
        task_arn: String,
    },
    NotFound,
}

impl CredentialsStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        // A panic while holding the lock leaves plain maps behind: still usable.
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds or refreshes (same credentials id) a task's credentials.
    /// Empty ids or task ARNs are refused, as by the Go agent.
    pub fn put(&self, task_arn: &str, creds: RoleCredentials) -> Result<(), CredentialsError> {
        if creds.credentials_id.is_empty() {
            return Err(CredentialsError::Invalid {
                field: "credentialsId",
                reason: "is empty".into(),
            });
        }
        if task_arn.is_empty() {
            return Err(CredentialsError::Invalid {
                field: "taskArn",
                reason: "is empty".into(),
            });
        }
        tracing::info!(task = %task_arn, credentials = %super::fingerprint(&creds.credentials_id),
            role_type = creds.role_type.as_str(), expiration = %creds.expiration, "role credentials stored");
        self.write()
            .by_id
            .insert(creds.credentials_id.clone(), (task_arn.to_string(), creds));
        Ok(())
    }

    /// Host mode: the task's credentials go to any local caller with the id
    /// (its containers share the host's addresses), as in the Go agent.
    pub fn open_task(&self, task_arn: &str) {
        self.write().open.insert(task_arn.to_string());
    }

    /// Restricts the task's credentials to these source addresses.
    pub fn set_task_sources(&self, task_arn: &str, ips: Vec<IpAddr>) {
        let ips = ips.into_iter().map(|ip| ip.to_canonical()).collect();
        self.write().sources.insert(task_arn.to_string(), ips);
    }

    /// A credentials id the task had before a restart: until ACS sends its
    /// credentials again, requests for it get 503 rather than 400.
    pub fn expect(&self, task_arn: &str, credentials_id: &str) {
        self.write()
            .expected
            .insert(credentials_id.to_string(), task_arn.to_string());
    }

    /// Adds addresses to the task's allowed sources (bridge tasks have one
    /// per container).
    pub fn add_task_sources(&self, task_arn: &str, ips: &[IpAddr]) {
        let mut inner = self.write();
        let list = inner.sources.entry(task_arn.to_string()).or_default();
        for ip in ips.iter().map(|ip| ip.to_canonical()) {
            if !list.contains(&ip) {
                list.push(ip);
            }
        }
    }

    /// Forgets every credential of the task and its source restriction.
    pub fn remove_task(&self, task_arn: &str) {
        let mut inner = self.write();
        inner.by_id.retain(|_, (arn, _)| arn != task_arn);
        inner.expected.retain(|_, arn| arn != task_arn);
        inner.sources.remove(task_arn);
        inner.open.remove(task_arn);
    }

    /// The latest credentials of this role type for a task (e.g. the
    /// execution role, for pulls and logs).
    /// Nothing of any task is kept (ids, credentials, sources).
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        let i = self.read();
        i.by_id.is_empty() && i.sources.is_empty() && i.open.is_empty() && i.expected.is_empty()
    }

    pub fn task_credentials(&self, task_arn: &str, role_type: RoleType) -> Option<RoleCredentials> {
        self.read()
            .by_id
            .values()
            .filter(|(arn, c)| arn == task_arn && c.role_type == role_type)
            .map(|(_, c)| c.clone())
            .max_by(|a, b| a.expiration.cmp(&b.expiration))
    }

    /// `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` for an id.
    pub fn relative_uri(credentials_id: &str) -> String {
        format!("{}/{credentials_id}", super::V2_PATH)
    }

    pub(crate) fn lookup(&self, id: &str, caller: Option<IpAddr>) -> Lookup {
        let inner = self.read();
        let Some((task_arn, creds)) = inner.by_id.get(id) else {
            return match inner.expected.get(id) {
                Some(task_arn) => Lookup::Uninitialized {
                    task_arn: task_arn.clone(),
                },
                None => Lookup::NotFound,
            };
        };
        let ok = match inner.sources.get(task_arn) {
            Some(allowed) => caller.is_some_and(|c| allowed.contains(&c.to_canonical())),
            // Bound from the start: until its addresses are known, a bridge
            // or awsvpc task's credentials go to nobody.
            None => inner.open.contains(task_arn),
        };
        if !ok {
            return Lookup::Denied {
                task_arn: task_arn.clone(),
                role_type: creds.role_type,
            };
        }
        Lookup::Found {
            task_arn: task_arn.clone(),
            creds: creds.clone(),
        }
    }
}
