//! What the agent shows of itself and its tasks, as plain values that the
//! engine fills and the endpoints and telemetry read: the published task
//! views, the agent's counters and the latest stats sample of each container.
//! Above `task` (whose types the views use), below `engine`, `endpoints` and
//! `control`. Nothing here renders JSON or text beyond the Go agent's names
//! for typed values; the renderings are with their readers.

pub mod metadata_json;
pub mod metrics;
pub mod names;
pub mod view;

pub use metrics::{AgentMetrics, PullGuard};
pub use view::{
    AgentView, ContainerView, EniView, HealthView, NetworkView, PortView, Published, Snapshot,
    TaskLimits, TaskSource, TaskView, VolumeView,
};
