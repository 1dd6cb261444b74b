//! ecs-agent: an Amazon ECS container agent that drives containerd directly,
//! and ecs-local, a local ECS control plane. See ARCHITECTURE in the README.

pub mod agent;
pub mod awslogs;
pub mod backoff;
pub mod blocking;
pub mod cgroups;
pub mod code_pages;
pub mod config;
pub mod control;
pub mod credentials;
#[cfg(test)]
mod cycle_tests;
pub mod endpoints;
pub mod engine;
#[cfg(test)]
mod fuzz_support;
pub mod heap;
pub mod image;
pub mod local;
pub mod logger;
pub mod model;
pub mod network;
pub mod observe;
pub mod runtime;
pub mod state;
pub mod task;
pub mod taskres;
pub mod token_bucket;

#[cfg(test)]
mod layering_tests;
