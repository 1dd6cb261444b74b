//! What the agent shows of itself and its tasks, as plain values that the
//! engine fills and the endpoints and telemetry read: the published task
//! views, the agent's counters and the latest stats sample of each container.
//! Above `task` (whose types the views use), below `engine`, `endpoints` and
//! `control`. The renderings are with their readers; only what two of them
//! must print alike is here: the Go agent's names for typed values
//! (`names`) and the `Networks` entries that task metadata and the container
//! metadata file share (`metadata_json`).

pub mod metadata_json;
pub mod metrics;
pub mod names;
pub mod stats;
pub mod stats_store;
#[cfg(test)]
pub mod test_fixtures;
pub mod view;

pub use metrics::{AgentMetrics, PullGuard};
pub use stats::ContainerSample;
pub use stats_store::StatsStore;
pub use view::{
    AgentView, ContainerView, EniView, HealthView, NetworkView, PortView, Published, Snapshot,
    TaskLimits, TaskSource, TaskView, VolumeView,
};
