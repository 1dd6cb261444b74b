//! The introspection API (Go agent port 51678): `/v1/metadata`, `/v1/tasks`
//! (with `?dockerid=` / `?taskarn=`), `/license`, plus our `/metrics`. Any
//! other path answers the list of commands, as the Go agent's ServeMux does.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;

use super::gojson::GoTime;
use super::prometheus::{render, self_rss};
use super::tmds_json::{health_json, HealthJson, PortJson, VolumeJson};
use super::LICENSE_TEXT;
use crate::observe::metadata_json::NetworkJson;
use crate::observe::names;
use crate::observe::view::{ContainerView, Snapshot, TaskSource, TaskView};
use crate::observe::AgentMetrics;
use crate::task::def::NetworkMode;
use crate::task::{DesiredStatus, TaskStatus};

/// Go agent: ids longer than this are full ids, others prefixes.
const SHORT_ID_LEN: usize = 12;

const COMMANDS: [&str; 4] = ["/v1/metadata", "/v1/tasks", "/license", "/metrics"];

#[derive(Clone)]
struct Introspection {
    source: Arc<dyn TaskSource>,
    metrics: Arc<AgentMetrics>,
}

/// The introspection listener's whole router (it has a fallback: serve it on
/// its own listener, 127.0.0.1:51678 by default).
pub fn introspection_router(source: Arc<dyn TaskSource>, metrics: Arc<AgentMetrics>) -> Router {
    Router::new()
        .route("/v1/metadata", get(metadata))
        .route("/v1/tasks", get(tasks))
        .route("/license", get(license))
        .route("/metrics", get(prometheus))
        .fallback(commands)
        .with_state(Introspection { source, metrics })
}

#[derive(Debug, Serialize)]
pub struct AgentMetadataJson {
    #[serde(rename = "Cluster")]
    pub cluster: String,
    #[serde(rename = "ContainerInstanceArn")]
    pub container_instance_arn: Option<String>,
    #[serde(rename = "Version")]
    pub version: String,
}

#[derive(Debug, Serialize, Default)]
pub struct TaskJson {
    #[serde(rename = "Arn")]
    pub arn: String,
    #[serde(rename = "DesiredStatus", skip_serializing_if = "String::is_empty")]
    pub desired_status: String,
    #[serde(rename = "KnownStatus")]
    pub known_status: String,
    #[serde(rename = "Family")]
    pub family: String,
    #[serde(rename = "Version")]
    pub version: String,
    /// `null` in the empty error bodies, as Go prints a nil slice.
    #[serde(rename = "Containers")]
    pub containers: Option<Vec<ContainerJson>>,
}

#[derive(Debug, Serialize)]
pub struct ContainerJson {
    #[serde(rename = "DockerId")]
    pub docker_id: String,
    #[serde(rename = "DockerName")]
    pub docker_name: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Image")]
    pub image: String,
    #[serde(rename = "ImageID")]
    pub image_id: String,
    #[serde(rename = "CreatedAt", skip_serializing_if = "Option::is_none")]
    pub created_at: Option<GoTime>,
    #[serde(rename = "StartedAt", skip_serializing_if = "Option::is_none")]
    pub started_at: Option<GoTime>,
    #[serde(rename = "Ports", skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortJson>,
    #[serde(rename = "Networks", skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<NetworkJson>,
    #[serde(rename = "Volumes", skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<VolumeJson>,
    /// Restarts by its restart policy, for containers with one (Go:
    /// ecs-agent/introspection/v1/response.go).
    #[serde(rename = "RestartCount", skip_serializing_if = "Option::is_none")]
    pub restart_count: Option<u32>,
    /// Beyond the Go agent's introspection: the health task metadata shows.
    #[serde(rename = "Health", skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthJson>,
}

#[derive(Debug, Serialize)]
pub struct TasksJson {
    #[serde(rename = "Tasks")]
    pub tasks: Vec<TaskJson>,
}

fn container_json(task: &TaskView, c: &ContainerView) -> ContainerJson {
    let awsvpc = task.network_mode == NetworkMode::Awsvpc;
    ContainerJson {
        docker_id: c.runtime_id.clone(),
        docker_name: c.docker_name.clone(),
        name: c.name.clone(),
        image: c.image.clone(),
        image_id: c.image_id.clone(),
        created_at: c.created_at.map(GoTime),
        started_at: c.started_at.map(GoTime),
        ports: c
            .ports
            .iter()
            .map(|p| PortJson {
                container_port: p.container_port,
                protocol: names::protocol(p.protocol).to_string(),
                host_port: if awsvpc {
                    p.container_port
                } else {
                    p.host_port
                },
                host_ip: String::new(),
            })
            .collect(),
        // Introspection shows networks for awsvpc tasks only.
        networks: if awsvpc {
            c.networks
                .iter()
                .map(|n| NetworkJson {
                    network_mode: "awsvpc".into(),
                    ipv4_addresses: n.ipv4_addresses.clone(),
                    ipv6_addresses: n.ipv6_addresses.clone(),
                    attachment_index: None,
                    mac_address: String::new(),
                    ipv4_subnet_cidr_block: String::new(),
                    ipv6_subnet_cidr_block: String::new(),
                    domain_name_servers: Vec::new(),
                    domain_name_search_list: Vec::new(),
                    private_dns_name: String::new(),
                    subnet_gateway_ipv4_address: String::new(),
                })
                .collect()
        } else {
            Vec::new()
        },
        volumes: c
            .volumes
            .iter()
            .map(|v| VolumeJson {
                docker_name: v.docker_name.clone(),
                source: v.source.clone(),
                destination: v.destination.clone(),
            })
            .collect(),
        restart_count: c.restart_count,
        health: c.health.as_ref().map(health_json),
    }
}

/// As the Go agent: statuses as ECS names them, and no desired status when
/// it would contradict the known one.
pub fn task_json(task: &TaskView) -> TaskJson {
    // The Go agent also drops a PENDING desired status next to a RUNNING
    // known one; a desired status is never pending here.
    let desired = if task.known_status == TaskStatus::Stopped
        && task.desired_status != DesiredStatus::Stopped
    {
        ""
    } else {
        names::desired_status(task.desired_status)
    };
    TaskJson {
        arn: task.arn.clone(),
        desired_status: desired.to_string(),
        known_status: names::backend_task_status(task.known_status).to_string(),
        family: task.family.clone(),
        version: task.revision.clone(),
        containers: Some(
            task.containers
                .iter()
                .filter(|c| c.container_type.is_empty() || c.container_type == "NORMAL")
                .map(|c| container_json(task, c))
                .collect(),
        ),
    }
}

/// What `/v1/tasks` answers for a query, as (status, body).
/// The body of a `/v1/tasks` answer: all tasks, or one (also the empty
/// task the Go agent sends with its errors).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum TasksBody {
    All(TasksJson),
    One(TaskJson),
}

pub fn tasks_response(snap: &Snapshot, query: &HashMap<String, String>) -> (StatusCode, TasksBody) {
    let docker_id = query.get("dockerid");
    let task_arn = query.get("taskarn");
    let empty = TaskJson::default;
    match (docker_id, task_arn) {
        (Some(_), Some(_)) => (StatusCode::BAD_REQUEST, TasksBody::One(empty())),
        (Some(id), None) => {
            let mut found: Vec<&TaskView> = Vec::new();
            for t in &snap.tasks {
                let hit = t.containers.iter().any(|c| {
                    !c.runtime_id.is_empty()
                        && if id.len() > SHORT_ID_LEN {
                            c.runtime_id == *id
                        } else {
                            c.runtime_id.starts_with(id.as_str())
                        }
                });
                if hit {
                    found.push(t);
                }
            }
            match found.as_slice() {
                [t] => (StatusCode::OK, TasksBody::One(task_json(t))),
                [] => (StatusCode::NOT_FOUND, TasksBody::One(empty())),
                _ => (StatusCode::BAD_REQUEST, TasksBody::One(empty())),
            }
        }
        (None, Some(arn)) => match snap.task_by_arn(arn) {
            Some(t) => (StatusCode::OK, TasksBody::One(task_json(t))),
            None => (StatusCode::NOT_FOUND, TasksBody::One(empty())),
        },
        (None, None) => (
            StatusCode::OK,
            TasksBody::All(TasksJson {
                tasks: snap.tasks.iter().map(|t| task_json(t)).collect(),
            }),
        ),
    }
}

fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(b) => (status, [(header::CONTENT_TYPE, "application/json")], b).into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "application/json")],
            "{}",
        )
            .into_response(),
    }
}

async fn metadata(State(s): State<Introspection>) -> Response {
    let snap = s.source.snapshot();
    json(
        StatusCode::OK,
        &AgentMetadataJson {
            cluster: snap.agent.cluster.clone(),
            container_instance_arn: snap.agent.container_instance_arn.clone(),
            version: snap.agent.version.clone(),
        },
    )
}

async fn tasks(
    State(s): State<Introspection>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let snap = s.source.snapshot();
    let (status, body) = tasks_response(&snap, &query);
    if !status.is_success() {
        tracing::debug!(?query, %status, "introspection task lookup failed");
    }
    json(status, &body)
}

async fn license() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain")],
        LICENSE_TEXT,
    )
        .into_response()
}

async fn prometheus(State(s): State<Introspection>) -> Response {
    let snap = s.source.snapshot();
    // mallinfo2 walks the free lists of the agent's two arenas: short.
    let body = render(
        &s.metrics,
        &snap,
        SystemTime::now(),
        self_rss().await,
        crate::heap::stats(),
    );
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn commands() -> Response {
    #[derive(Serialize)]
    struct Commands {
        #[serde(rename = "AvailableCommands")]
        available_commands: [&'static str; 4],
    }
    match serde_json::to_vec(&Commands {
        available_commands: COMMANDS,
    }) {
        // Go writes it without a Content-Type, so clients see the sniffed type.
        Ok(b) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            b,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
