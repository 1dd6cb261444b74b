//! What the local endpoints (task metadata, introspection) see of a task:
//! a `TaskView` built from the actor's `Task` after every change.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::observe::view::{
    ContainerView, EniView, HealthView, NetworkView, PortView, TaskLimits, TaskView,
};
use crate::task::def::NetworkMode;
use crate::task::health::HealthStatus;
use crate::task::spec::{container_id, ecs_labels};
use crate::task::Task;

/// The Go agent's name for container types the agent runs for the user.
const NORMAL: &str = "NORMAL";
const LAUNCH_TYPE: &str = "EC2";

fn at(ms: Option<i64>) -> Option<SystemTime> {
    let ms = u64::try_from(ms?).ok()?;
    Some(UNIX_EPOCH + Duration::from_millis(ms))
}

/// The awsvpc ENI as task metadata shows it.
fn eni_view(eni: &crate::task::net::Eni) -> EniView {
    let subnet = eni
        .ipv4
        .first()
        .map(|(ip, prefix)| {
            let mask = u32::MAX.checked_shl(32 - u32::from(*prefix)).unwrap_or(0);
            format!(
                "{}/{prefix}",
                std::net::Ipv4Addr::from(u32::from(*ip) & mask)
            )
        })
        .unwrap_or_default();
    EniView {
        mac_address: eni.mac.to_ascii_lowercase(),
        ipv4_subnet_cidr_block: subnet,
        ipv6_subnet_cidr_block: String::new(),
        domain_name_servers: eni.dns.iter().map(|d| d.to_string()).collect(),
        domain_name_search_list: eni.dns_search.clone(),
        private_dns_name: eni.private_dns_name.clone().unwrap_or_default(),
        subnet_gateway_ipv4_address: eni.gateway.map(|g| g.to_string()).unwrap_or_default(),
    }
}

pub(crate) fn task_view(task: &Task, cluster_arn: &str) -> TaskView {
    let mode = task.def().network_mode;
    let containers = task
        .def()
        .containers
        .iter()
        .zip(task.containers())
        .enumerate()
        .map(|(i, (def, state))| {
            let created = state.runtime_id.is_some();
            let mut labels: Vec<(String, String)> = def
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            for (k, v) in ecs_labels(cluster_arn, task.def(), def) {
                labels.retain(|(existing, _)| existing != k);
                labels.push((k.to_string(), v.to_string()));
            }
            let ports = match (&state.network, task.def().network_mode) {
                // Bridge: the host ports the network layer forwarded.
                (Some(net), _) if !net.bindings.is_empty() => net
                    .bindings
                    .iter()
                    .map(|b| PortView {
                        container_port: b.container_port,
                        host_port: b.host_port,
                        protocol: b.protocol,
                        host_ip: b.bind_ip.to_string(),
                    })
                    .collect(),
                // Host and awsvpc: the container's own ports, as declared.
                (_, NetworkMode::Host | NetworkMode::Awsvpc) if created => def
                    .port_mappings
                    .iter()
                    .map(|p| PortView {
                        container_port: p.container_port,
                        host_port: p.host_port.unwrap_or(p.container_port),
                        protocol: p.protocol,
                        host_ip: "0.0.0.0".into(),
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let ipv4_addresses = state
                .network
                .as_ref()
                .and_then(|n| n.ipv4)
                .map(|ip| vec![ip.to_string()])
                .unwrap_or_default();
            ContainerView {
                token: state.token.clone(),
                runtime_id: state.runtime_id.clone().unwrap_or_default(),
                name: def.name.clone(),
                docker_name: container_id(task.def().id(), i, &def.name),
                image: def.image.as_written().to_string(),
                image_id: state.image_digest.clone().unwrap_or_default(),
                labels,
                desired_status: task.desired(),
                known_status: state.known,
                exit_code: state.exit_code,
                cpu: def.cpu,
                memory_mib: def.memory_mib.unwrap_or(0),
                created_at: at(state.created_at_ms),
                started_at: at(state.started_at_ms),
                finished_at: at(state.finished_at_ms),
                container_arn: def.container_arn.clone().unwrap_or_default(),
                log_driver: String::new(),
                log_options: Vec::new(),
                ports,
                volumes: Vec::new(),
                networks: vec![NetworkView {
                    ipv4_addresses,
                    eni: task.def().eni.as_ref().map(eni_view),
                    ..NetworkView::new(mode)
                }],
                // As the Go agent: shown for containers with a check; the
                // status is left out while UNKNOWN.
                health: def.health_check.as_ref().map(|_| HealthView {
                    status: match state.health.status {
                        HealthStatus::Unknown => String::new(),
                        s => s.backend().to_string(),
                    },
                    since: at(state.health.since_ms),
                    exit_code: state.health.exit_code,
                    output: state.health.output.clone(),
                }),
                container_type: NORMAL.into(),
                restart_count: def.restart_policy.as_ref().map(|_| state.restart_count),
            }
        })
        .collect();
    TaskView {
        arn: task.arn().to_string(),
        family: task.def().family.clone(),
        revision: task.def().version.clone(),
        desired_status: task.desired(),
        known_status: task.known(),
        limits: TaskLimits {
            cpu: task.def().limits.cpu,
            memory: task.def().limits.memory_mib,
        },
        pull_started_at: at(task.pull_started_at_ms()),
        pull_stopped_at: at(task.pull_stopped_at_ms()),
        execution_stopped_at: at(task.execution_stopped_at_ms()),
        availability_zone: String::new(),
        launch_type: LAUNCH_TYPE.into(),
        tags: Vec::new(),
        network_mode: mode,
        service_name: String::new(),
        containers,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::observe::metadata_json::{networks_json, Version};
    use crate::observe::names;
    use crate::task::def::{ContainerDef, PortMapping, Protocol, TaskDef};
    use crate::task::{ContainerStatus, DesiredStatus, Event};

    fn def(name: &str) -> ContainerDef {
        ContainerDef {
            cpu: 256,
            memory_mib: Some(64),
            labels: BTreeMap::from([("team".into(), "a".into())]),
            port_mappings: vec![PortMapping {
                container_port: 8080,
                host_port: None,
                protocol: Protocol::Tcp,
            }],
            container_arn: Some("arn:aws:ecs:us-east-1:0:container/c/x".into()),
            ..ContainerDef::minimal(name, "127.0.0.1:5000/busybox:latest")
        }
    }

    fn task() -> Task {
        task_with(|_| {})
    }

    /// The test task, its definition changed by `edit` before it is made.
    fn task_with(edit: impl FnOnce(&mut TaskDef)) -> Task {
        let mut def = TaskDef {
            arn: "arn:aws:ecs:us-east-1:0:task/c/abc".into(),
            family: "fam".into(),
            version: "3".into(),
            network_mode: NetworkMode::Host,
            eni: None,
            eni_attachment_arn: None,
            credentials_id: None,
            execution_credentials_id: None,
            limits: Default::default(),
            volumes: Vec::new(),
            containers: vec![def("web"), def("side")],
        };
        edit(&mut def);
        let mut t = Task::new(def, DesiredStatus::Running, Duration::from_secs(30));
        let mut tokens = ["tok-0", "tok-1"].into_iter();
        t.assign_tokens(|| tokens.next().unwrap_or_default().to_string());
        t
    }

    #[test]
    fn a_new_task_has_tokens_and_no_runtime_facts() {
        let v = task_view(&task(), "arn:aws:ecs:us-east-1:0:cluster/c");
        assert_eq!(v.arn, "arn:aws:ecs:us-east-1:0:task/c/abc");
        assert_eq!((v.family.as_str(), v.revision.as_str()), ("fam", "3"));
        assert_eq!(names::task_status(&v), "NONE");
        assert_eq!(v.desired_status, DesiredStatus::Running);
        assert_eq!(v.network_mode, NetworkMode::Host);
        assert_eq!(v.launch_type, "EC2");
        let c = &v.containers[1];
        assert_eq!(c.token, "tok-1");
        assert_eq!(c.runtime_id, "", "not created yet");
        assert_eq!(c.docker_name, "abc-1-side");
        assert!(c.ports.is_empty());
        assert_eq!(c.cpu, 256);
        assert_eq!(c.memory_mib, 64);
        assert_eq!(c.container_arn, "arn:aws:ecs:us-east-1:0:container/c/x");
        assert!(c.labels.contains(&("team".into(), "a".into())));
        assert!(c.labels.contains(&(
            "com.amazonaws.ecs.cluster".into(),
            "arn:aws:ecs:us-east-1:0:cluster/c".into()
        )));
    }

    #[test]
    fn task_limits_show_in_vcpu_and_mib() {
        let t = task();
        assert_eq!(task_view(&t, "c").limits, TaskLimits::default());
        let t = task_with(|d| {
            d.limits = crate::task::def::TaskLimits {
                cpu: Some(0.5),
                memory_mib: Some(512),
            }
        });
        let v = task_view(&t, "c");
        assert_eq!(
            v.limits,
            TaskLimits {
                cpu: Some(0.5),
                memory: Some(512)
            }
        );
        // How task metadata prints them: endpoints' tests
        // (`task_limits_print_in_vcpu_and_mib`).
        assert_eq!(v.launch_type, "EC2");
    }

    fn with_network(edit: impl FnOnce(&mut TaskDef), ip: [u8; 4]) -> Task {
        let mut t = task_with(edit);
        t.next_actions();
        t.apply(Event::NetworkReady {
            container: 0,
            network: crate::task::def::ContainerNetwork {
                ipv4: Some(ip.into()),
                ..Default::default()
            },
        });
        t
    }

    #[test]
    fn bridge_and_awsvpc_containers_show_their_address() {
        let t = with_network(|d| d.network_mode = NetworkMode::Bridge, [169, 254, 172, 5]);
        let v = task_view(&t, "c");
        let n = &v.containers[0].networks[0];
        assert_eq!(n.mode, NetworkMode::Bridge);
        assert_eq!(n.ipv4_addresses, vec!["169.254.172.5"]);
        assert!(n.eni.is_none());

        let t = with_network(
            |d| {
                d.network_mode = NetworkMode::Awsvpc;
                d.eni = Some(crate::task::net::Eni {
                    mac: "0A:1B:2C:3D:4E:5F".into(),
                    ipv4: vec![([10, 0, 1, 5].into(), 24)],
                    gateway: Some([10, 0, 1, 1].into()),
                    dns: vec![[10, 0, 0, 2].into()],
                    dns_search: vec!["corp.example".into()],
                    private_dns_name: None,
                });
            },
            [10, 0, 1, 5],
        );
        let v = task_view(&t, "c");
        let c = &v.containers[0];
        let j = serde_json::to_value(networks_json(&v, c, Version::V4)).unwrap();
        assert_eq!(
            j,
            serde_json::json!([{
                "NetworkMode": "awsvpc",
                "IPv4Addresses": ["10.0.1.5"],
                "AttachmentIndex": 0,
                "MACAddress": "0a:1b:2c:3d:4e:5f",
                "IPv4SubnetCIDRBlock": "10.0.1.0/24",
                "DomainNameServers": ["10.0.0.2"],
                "DomainNameSearchList": ["corp.example"],
                "SubnetGatewayIpv4Address": "10.0.1.1",
            }])
        );
    }

    #[test]
    fn checkpoints_from_before_tokens_still_load() {
        let mut saved = serde_json::to_value(task()).unwrap();
        for c in saved["containers"].as_array_mut().unwrap() {
            let c = c.as_object_mut().unwrap();
            for field in ["token", "created_at_ms", "started_at_ms", "finished_at_ms"] {
                assert!(c.remove(field).is_some(), "{field} is saved");
            }
        }
        let old: Task = serde_json::from_value(saved).unwrap();
        assert_eq!(
            old.containers()[0].token,
            "",
            "filled in by the engine at restore"
        );
        assert_eq!(old.containers()[0].created_at_ms, None);
    }

    #[test]
    fn runtime_facts_show_once_known() {
        let mut t = task();
        t.next_actions();
        t.apply(Event::PullStarted { at_ms: 1_000 });
        t.apply(Event::Pulled {
            container: 0,
            result: Ok("sha256:d".into()),
        });
        t.apply(Event::PullStopped { at_ms: 2_000 });
        t.apply(Event::Created {
            container: 0,
            result: Ok("abc-0-web".into()),
        });
        t.record_created(0, 3_000);
        t.apply(Event::Started {
            container: 0,
            result: Ok(()),
        });
        t.apply(Event::Exited {
            container: 0,
            exit_code: 3,
            at_ms: 5_000,
        });
        let v = task_view(&t, "c");
        let c = &v.containers[0];
        assert_eq!(c.runtime_id, "abc-0-web");
        assert_eq!(c.image_id, "sha256:d");
        assert_eq!(c.known_status, ContainerStatus::Stopped);
        assert_eq!(c.exit_code, Some(3));
        assert_eq!(c.created_at, Some(UNIX_EPOCH + Duration::from_secs(3)));
        assert_eq!(c.finished_at, Some(UNIX_EPOCH + Duration::from_secs(5)));
        assert_eq!(c.ports[0].host_port, 8080, "host mode binds as declared");
        assert_eq!(v.pull_started_at, Some(UNIX_EPOCH + Duration::from_secs(1)));
        assert_eq!(v.pull_stopped_at, Some(UNIX_EPOCH + Duration::from_secs(2)));
        assert_eq!(
            v.desired_status,
            DesiredStatus::Stopped,
            "essential container exited"
        );
    }
}
