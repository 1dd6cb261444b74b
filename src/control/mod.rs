//! The control plane as the agent sees it: the ECS API (aws-sdk-ecs) and the
//! ACS and TCS websocket sessions.

pub mod acs;
pub mod acs_url;
pub mod ecs_client;
pub mod registration;
pub mod signing;
pub mod tags;
pub mod task_protection;
pub mod tcs;
pub mod tcs_frame;
pub mod tcs_metrics;
pub mod tcs_url;

pub use acs::AcsSession;
pub use ecs_client::{ControlError, EcsClient};
pub use tcs::TcsSession;
