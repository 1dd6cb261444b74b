//! What one task of an ACS payload may hold: Amazon ECS's own limits, so no
//! payload can make the agent do unbounded work, and nothing Amazon ECS could
//! really send is refused.
//!
//! Sources: "Amazon ECS endpoints and quotas"
//! (<https://docs.aws.amazon.com/general/latest/gr/ecs-service.html>:
//! "Containers per task definition", 10, not adjustable) and the API
//! reference's `RegisterTaskDefinition` / `ContainerDefinition` (family and
//! container names: up to 255 letters, numbers, hyphens and underscores).

/// Containers in one task definition (Amazon ECS's quota).
pub const TASK_DEFINITION_CONTAINERS: usize = 10;

/// Containers in one task as ACS sends it: the definition's, plus the
/// Service Connect proxy that Amazon ECS adds to a Service Connect task.
pub const MAX_CONTAINERS: usize = TASK_DEFINITION_CONTAINERS + 1;

/// Length of a task definition family or a container name.
pub const MAX_NAME_LEN: usize = 255;

/// The reason for a task with more containers than Amazon ECS allows.
pub fn too_many_containers(n: usize) -> String {
    format!(
        "containers: {n} given; Amazon ECS allows at most {TASK_DEFINITION_CONTAINERS} per task \
         definition ({MAX_CONTAINERS} with a Service Connect proxy)"
    )
}
