//! Container health for TCS, as the Go agent's stats engine builds it
//! (agent/stats/engine.go `GetTaskHealthMetrics`, `getTaskHealthUnsafe`;
//! ecs-agent/tcs/client `healthToPublishHealthRequests`): one `TaskHealth`
//! per task with a running container that has a health check, each such
//! container with its `healthStatus` (`UNKNOWN` until a check decided) and
//! `statusSince` (now when none yet), 10 tasks per PublishHealthRequest,
//! `fin` on the last; nothing at all when no container has a check. Pure.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::model::tcs::{ContainerHealth, HealthMetadata, PublishHealthRequest, TaskHealth};
use crate::observe::view::Snapshot;
use crate::task::ContainerStatus;

/// Tasks per PublishHealthRequest (the Go client's tasksInHealthMessage).
pub const TASKS_PER_MESSAGE: usize = 10;

fn secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The task health entries of `snapshot` at `now`.
pub fn task_health(snapshot: &Snapshot, now: SystemTime) -> Vec<TaskHealth> {
    snapshot
        .tasks
        .iter()
        .filter_map(|t| {
            let containers: Vec<ContainerHealth> = t
                .containers
                .iter()
                .filter(|c| c.known_status == ContainerStatus::Running)
                .filter_map(|c| {
                    let h = c.health.as_ref()?;
                    Some(ContainerHealth {
                        container_name: Some(c.name.clone()),
                        health_status: Some(match h.status.as_str() {
                            "" => "UNKNOWN".to_string(),
                            s => s.to_string(),
                        }),
                        // Go: "container was started but the health status isn't ready".
                        status_since: Some(secs(h.since.unwrap_or(now))),
                        status_message: None,
                    })
                })
                .collect();
            (!containers.is_empty()).then(|| TaskHealth {
                task_arn: Some(t.arn.clone()),
                cluster_arn: None,
                task_definition_family: Some(t.family.clone()),
                task_definition_version: Some(t.revision.clone()),
                containers,
            })
        })
        .collect()
}

/// The PublishHealthRequests of one publish; none without task health.
pub fn health_requests(
    cluster: &str,
    container_instance: &str,
    message_id: &str,
    tasks: Vec<TaskHealth>,
    now: SystemTime,
) -> Vec<PublishHealthRequest> {
    let chunks: Vec<Vec<TaskHealth>> = tasks
        .chunks(TASKS_PER_MESSAGE)
        .map(<[TaskHealth]>::to_vec)
        .collect();
    let n = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, tasks)| PublishHealthRequest {
            metadata: Some(HealthMetadata {
                cluster: Some(cluster.to_string()),
                container_instance: Some(container_instance.to_string()),
                message_id: Some(message_id.to_string()),
                fin: Some(i + 1 == n),
            }),
            tasks,
            timestamp: Some(secs(now)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::model::tcs::TcsMessage;
    use crate::observe::view::{ContainerView, HealthView, TaskView};

    fn container(name: &str, status: ContainerStatus, health: Option<&str>) -> ContainerView {
        ContainerView {
            name: name.into(),
            known_status: status,
            health: health.map(|s| HealthView {
                status: s.into(),
                since: (!s.is_empty()).then(|| UNIX_EPOCH + Duration::from_secs(100)),
                ..HealthView::default()
            }),
            ..ContainerView::default()
        }
    }

    fn task(arn: &str, containers: Vec<ContainerView>) -> TaskView {
        TaskView {
            arn: arn.into(),
            family: "fam".into(),
            revision: "3".into(),
            containers,
            ..TaskView::default()
        }
    }

    #[test]
    fn only_running_containers_with_a_check_are_reported_as_the_go_agent_does() {
        let now = UNIX_EPOCH + Duration::from_secs(500);
        let snap = Snapshot {
            tasks: [
                task(
                    "arn:t1",
                    vec![
                        container("web", ContainerStatus::Running, Some("HEALTHY")),
                        container("new", ContainerStatus::Running, Some("")),
                        container("plain", ContainerStatus::Running, None),
                        container("gone", ContainerStatus::Stopped, Some("UNHEALTHY")),
                    ],
                ),
                task(
                    "arn:t2",
                    vec![container("plain", ContainerStatus::Running, None)],
                ),
            ]
            .map(Arc::new)
            .to_vec(),
            ..Snapshot::default()
        };
        let tasks = task_health(&snap, now);
        assert_eq!(tasks.len(), 1, "t2 has no check: no entry");
        let reqs = health_requests("c", "ci", "m1", tasks, now);
        assert_eq!(reqs.len(), 1);
        // The wire shape of tcs-api-2.json's PublishHealthRequest.
        let frame: serde_json::Value =
            serde_json::from_str(&TcsMessage::PublishHealth(reqs[0].clone()).encode()).unwrap();
        assert_eq!(
            frame,
            serde_json::json!({"type": "PublishHealthRequest", "message": {
                "metadata": {"cluster": "c", "containerInstance": "ci", "messageId": "m1", "fin": true},
                "tasks": [{"taskArn": "arn:t1", "taskDefinitionFamily": "fam", "taskDefinitionVersion": "3",
                    "containers": [
                        {"containerName": "web", "healthStatus": "HEALTHY", "statusSince": 100.0},
                        {"containerName": "new", "healthStatus": "UNKNOWN", "statusSince": 500.0}
                    ]}],
                "timestamp": 500.0
            }})
        );
    }

    #[test]
    fn ten_tasks_per_request_fin_on_the_last_and_none_without_checks() {
        let now = UNIX_EPOCH;
        let tasks: Vec<TaskHealth> = (0..23)
            .map(|i| TaskHealth {
                task_arn: Some(format!("t{i}")),
                ..TaskHealth::default()
            })
            .collect();
        let reqs = health_requests("c", "ci", "m", tasks, now);
        let sizes: Vec<(usize, Option<bool>)> = reqs
            .iter()
            .map(|r| (r.tasks.len(), r.metadata.as_ref().and_then(|m| m.fin)))
            .collect();
        assert_eq!(
            sizes,
            vec![(10, Some(false)), (10, Some(false)), (3, Some(true))]
        );
        assert!(health_requests("c", "ci", "m", Vec::new(), now).is_empty());
    }
}
