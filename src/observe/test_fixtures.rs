//! The host-mode task and agent view that the endpoint tests and the
//! container metadata file's tests both render (one fixture, so the two
//! renderings are checked against the same input).

use super::view::{AgentView, ContainerView, PortView, TaskView};
use crate::task::def::{NetworkMode, Protocol};
use crate::task::{ContainerStatus, DesiredStatus, TaskStatus};

pub const HOST_TASK_ARN: &str = "arn:aws:ecs:us-west-2:111122223333:task/default/1111aaaa2222bbbb";
pub const HOST_CID: &str = "ecs-host-web-0123456789abcdef";

pub fn host_task() -> TaskView {
    TaskView {
        arn: HOST_TASK_ARN.into(),
        family: "web".into(),
        revision: "3".into(),
        desired_status: DesiredStatus::Running,
        // With a created container: task metadata prints CREATED.
        known_status: TaskStatus::Pending,
        launch_type: "EC2".into(),
        network_mode: NetworkMode::Host,
        containers: vec![
            ContainerView {
                token: "tok-web".into(),
                runtime_id: HOST_CID.into(),
                name: "web".into(),
                docker_name: "ecs-web-3-web-1".into(),
                image: "busybox".into(),
                desired_status: DesiredStatus::Running,
                known_status: ContainerStatus::Running,
                exit_code: None,
                cpu: 0,
                memory_mib: 32,
                ports: vec![PortView {
                    container_port: 8080,
                    host_port: 8080,
                    protocol: Protocol::Tcp,
                    host_ip: "0.0.0.0".into(),
                }],
                ..ContainerView::default()
            },
            ContainerView {
                token: "tok-pending".into(),
                name: "sidecar".into(),
                desired_status: DesiredStatus::Running,
                known_status: ContainerStatus::None,
                ..ContainerView::default()
            },
        ],
        ..TaskView::default()
    }
}

pub fn agent() -> AgentView {
    AgentView {
        cluster: "default".into(),
        container_instance_arn: None,
        version: "ecs-agent v0.1.0".into(),
        containerd_version: "1.7.24~ds1".into(),
        pulls_through_transfer: false,
        container_instance_tags: vec![("rack".into(), "r1".into())],
        vpc_id: "vpc-1234".into(),
    }
}
