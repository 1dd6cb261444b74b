//! Container stats: the collector polls containerd's Tasks.Metrics (cgroup
//! v1 or v2) plus /proc into `observe`'s typed samples, and task metadata
//! renders them in the Docker stats JSON shape.

pub mod cgroups;
mod collector;
pub mod docker;
pub mod procfs;

#[cfg(test)]
mod tests;

pub use cgroups::{CgroupMetrics, HostSample};
pub use collector::{StatsCollector, StatsError};
pub use docker::DockerStats;
