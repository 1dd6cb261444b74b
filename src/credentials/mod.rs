//! Task IAM role credentials: held in memory only (never in the state store,
//! never logged), served on the agent's credentials listener the way the Go
//! agent serves them.
//!
//! # How the engine uses it
//!
//! ```text
//! let creds = CredentialsStore::new();
//! // ACS payload roleCredentials / executionRoleCredentials, and IAMRoleCredentialsMessage:
//! creds.put(&task_arn, RoleCredentials { role_type: RoleType::TaskApplication, .. });
//! // then ack with IAMRoleCredentialsAckRequest, and give the task's containers
//! //   AWS_CONTAINER_CREDENTIALS_RELATIVE_URI = CredentialsStore::relative_uri(&credentials_id)
//! // host-mode tasks, when accepted (any local caller with the id is served):
//! creds.open_task(&task_arn);
//! // bridge/awsvpc tasks, after NetworkManager::setup (refused until then):
//! creds.set_task_sources(&task_arn, info.source_ips.iter().map(|ip| (*ip).into()).collect());
//! // task stopped:
//! creds.remove_task(&task_arn);
//!
//! // serving, on 127.0.0.1:51679 (what 169.254.170.2:80 is DNATed to); the
//! // peer address is needed for the source check, hence connect info:
//! let app = credentials::router(creds.clone(), cfg.endpoints.metadata_rps_limit);
//! axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
//! // (the agent merges this router with task metadata on the same listener;
//! // the credentials routes keep their own buckets, not the metadata limiter's.)
//! ```
//!
//! The built-in limit ([`crate::token_bucket`]) is a token bucket per caller address and path (the
//! keys of the Go agent's tollbooth limiter); over it: 429 with tollbooth's
//! message. Every request is logged at info on target `ecs::audit` with a
//! fingerprint of the credentials id ([`fingerprint`]: for a host-mode task
//! the id is the only secret, so it is never logged), task ARN, role type,
//! caller and status, never a secret.
//!
//! Beyond the Go agent: a task's credentials are bound to the task from the
//! moment they are stored. Once `set_task_sources` / `add_task_sources` was
//! called for a task, only those source addresses get its credentials
//! (others: 403); before that (a bridge or awsvpc task between acceptance and
//! network setup, the whole image pull) nobody does. Only tasks marked with
//! `open_task` (host mode: they share the host's addresses) are served to any
//! local caller with the id, the Go agent's behaviour
//! (ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST).

mod handler;
mod store;

#[cfg(test)]
mod tests;

/// Where containers ask for their credentials (the Go agent's paths): the
/// handler serves them and the store hands out relative URIs under v2.
pub const V1_PATH: &str = "/v1/credentials";
pub const V2_PATH: &str = "/v2/credentials";

pub use crate::model::acs::credentials_fingerprint as fingerprint;
pub use handler::router;
pub use store::{CredentialsError, CredentialsStore, RoleCredentials, RoleType};
