//! Container stats: the collector polls the runtime's cgroup metrics
//! (`ContainerRuntime::metrics`) plus /proc into `observe`'s typed samples,
//! and task metadata renders them in the Docker stats JSON shape.

pub mod cgroups;
mod collector;
pub mod docker;
pub mod procfs;

#[cfg(test)]
mod tests;

pub use cgroups::HostSample;
pub use collector::{StatsCollector, StatsError};
pub use docker::DockerStats;
