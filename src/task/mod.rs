//! The task/container lifecycle as a pure state machine. It decides; the
//! engine acts. No I/O, no tokio, no clock reads here.

pub mod container;
pub mod def;
pub mod docker_config;
pub mod failure;
pub mod from_acs;
#[cfg(test)]
mod fuzz_tests;
pub mod health;
pub mod image_ref;
pub mod lifecycle;
pub mod limits;
pub mod linux;
pub mod log_driver;
pub mod net;
pub mod netdef;
pub mod netopts;
pub mod resources;
pub mod spec;
pub mod status;
pub mod strftime;
pub mod volumes;

#[cfg(test)]
mod from_acs_resources_tests;
#[cfg(test)]
mod from_acs_tests;
#[cfg(test)]
mod lifecycle_tests;
#[cfg(test)]
mod log_driver_tests;
#[cfg(test)]
mod payload_fixture_tests;
#[cfg(test)]
mod reconcile_tests;
#[cfg(test)]
mod restart_tests;
#[cfg(test)]
mod start_timeout_tests;

pub use def::{ContainerDef, TaskDef};
pub use lifecycle::{Action, ContainerChange, Event, Observed, StateChange, Task};
pub use status::{ContainerStatus, DesiredStatus, TaskStatus};
