//! The control plane as the agent sees it: the ECS API (aws-sdk-ecs) and the
//! ACS and TCS websocket sessions. Control reaches the engine only through
//! the [`sink::TaskSink`] trait it owns.

pub mod acs;
mod acs_handlers;
mod acs_reply;
#[cfg(test)]
mod acs_tests;
pub mod acs_url;
pub mod ecs_client;
pub mod eni_watcher;
pub mod registration;
pub mod signing;
mod signing_credentials;
pub mod sink;
pub mod tags;
pub mod task_protection;
pub mod tcs;
pub mod tcs_frame;
pub mod tcs_health;
pub mod tcs_metrics;
pub mod tcs_url;

pub use acs::AcsSession;
pub use ecs_client::{ControlError, EcsClient};
pub use tcs::TcsSession;
