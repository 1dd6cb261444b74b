//! The control plane's records and the in-memory state that holds them.
//! Every mutation marks the record dirty; `take_changes` hands the dirty
//! records to the store, which writes them in one transaction.

use super::taskdef_bodies::Bodies;
use crate::model::acs::{
    AcsMessage, AttachTaskNetworkInterfacesMessage, IamRoleCredentials, IamRoleCredentialsMessage,
    PayloadMessage,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub const ACCOUNT_ID: &str = "000000000000";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Table {
    Clusters,
    TaskDefs,
    Instances,
    Tasks,
    Outbox,
    Meta,
    Enis,
    /// Full task definitions (`taskdef_bodies`): written, never loaded whole.
    TaskDefBodies,
}

impl Table {
    pub const ALL: [Table; 8] = [
        Table::Clusters,
        Table::TaskDefs,
        Table::Instances,
        Table::Tasks,
        Table::Outbox,
        Table::Meta,
        Table::Enis,
        Table::TaskDefBodies,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Table::Clusters => "clusters",
            Table::TaskDefs => "task_definitions",
            Table::Instances => "container_instances",
            Table::Tasks => "tasks",
            Table::Outbox => "outbox",
            Table::Meta => "meta",
            Table::Enis => "enis",
            Table::TaskDefBodies => super::taskdef_bodies::TABLE_NAME,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attribute {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
}

/// ECS's `Resource` shape (CPU, MEMORY, PORTS, PORTS_UDP, ...).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    pub name: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub double_value: f64,
    #[serde(default)]
    pub long_value: i64,
    #[serde(default)]
    pub integer_value: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub string_set_value: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterRec {
    pub arn: String,
    pub name: String,
    pub status: String,
    #[serde(default)]
    pub tags: Vec<serde_json::Value>,
    #[serde(default)]
    pub settings: Vec<serde_json::Value>,
}

/// What memory holds of a task definition revision: what lookups, listing
/// and placement need. The definition itself (the registration request as
/// given, minus tags, with ECS's defaults) is in `State::bodies` under the
/// same key, read back when a describe, RunTask or payload needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskDefRec {
    pub arn: String,
    pub family: String,
    pub revision: i64,
    pub status: String,
    pub registered_at: f64,
    #[serde(default)]
    pub deregistered_at: Option<f64>,
    #[serde(default)]
    pub requires_attributes: Vec<Attribute>,
    #[serde(default)]
    pub tags: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceRec {
    pub arn: String,
    pub cluster_arn: String,
    #[serde(default)]
    pub ec2_instance_id: Option<String>,
    pub version: i64,
    #[serde(default)]
    pub version_info: serde_json::Value,
    #[serde(default)]
    pub registered_resources: Vec<Resource>,
    pub status: String,
    #[serde(default)]
    pub status_reason: Option<String>,
    /// Live: true while an ACS websocket is open. Reset at load.
    #[serde(default)]
    pub agent_connected: bool,
    #[serde(default)]
    pub attributes: Vec<Attribute>,
    pub registered_at: f64,
    #[serde(default)]
    pub tags: Vec<serde_json::Value>,
    /// Next ACS payload sequence number for this instance.
    #[serde(default)]
    pub next_seq_num: i64,
    /// The `--auth` access key that registered the instance: the only one
    /// that may open its ACS and TCS sessions (`None` without `--auth`).
    #[serde(default)]
    pub registered_by: Option<String>,
}

/// What a placed task holds on its instance until it is STOPPED.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reservation {
    pub cpu: i64,
    pub memory: i64,
    #[serde(default)]
    pub tcp_ports: Vec<u16>,
    #[serde(default)]
    pub udp_ports: Vec<u16>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerRec {
    pub container_arn: String,
    pub name: String,
    pub image: String,
    pub last_status: String,
    #[serde(default)]
    pub exit_code: Option<i64>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub runtime_id: Option<String>,
    #[serde(default)]
    pub image_digest: Option<String>,
    #[serde(default)]
    pub network_bindings: Vec<serde_json::Value>,
    #[serde(default)]
    pub cpu: Option<i64>,
    #[serde(default)]
    pub memory: Option<i64>,
    #[serde(default)]
    pub memory_reservation: Option<i64>,
    /// From the definition: whether the task stops with it (`None`: true,
    /// ECS's default), and whether it has a `healthCheck`.
    #[serde(default)]
    pub essential: Option<bool>,
    #[serde(default)]
    pub has_health_check: bool,
    /// What the agent last published over TCS (PublishHealthRequest):
    /// HEALTHY, UNHEALTHY or UNKNOWN; none before.
    #[serde(default)]
    pub health_status: Option<String>,
}

impl ContainerRec {
    /// `healthStatus` as describe-tasks shows it.
    pub fn health(&self) -> &str {
        match self.health_status.as_deref() {
            Some(s @ ("HEALTHY" | "UNHEALTHY")) => s,
            _ => "UNKNOWN",
        }
    }
}

/// A task's `healthStatus` as Amazon ECS derives it from its containers':
/// UNHEALTHY when an essential container is, HEALTHY when every essential
/// container with a health check is (and there is one), else UNKNOWN.
/// Non-essential containers do not count.
pub fn task_health(containers: &[ContainerRec]) -> &'static str {
    let checked: Vec<&ContainerRec> = containers
        .iter()
        .filter(|c| c.essential != Some(false) && c.has_health_check)
        .collect();
    if checked.iter().any(|c| c.health() == "UNHEALTHY") {
        "UNHEALTHY"
    } else if !checked.is_empty() && checked.iter().all(|c| c.health() == "HEALTHY") {
        "HEALTHY"
    } else {
        "UNKNOWN"
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRec {
    pub arn: String,
    pub cluster_arn: String,
    pub task_definition_arn: String,
    pub container_instance_arn: String,
    pub last_status: String,
    pub desired_status: String,
    pub created_at: f64,
    #[serde(default)]
    pub started_at: Option<f64>,
    #[serde(default)]
    pub stopping_at: Option<f64>,
    #[serde(default)]
    pub stopped_at: Option<f64>,
    #[serde(default)]
    pub pull_started_at: Option<f64>,
    #[serde(default)]
    pub pull_stopped_at: Option<f64>,
    #[serde(default)]
    pub execution_stopped_at: Option<f64>,
    #[serde(default)]
    pub stopped_reason: Option<String>,
    #[serde(default)]
    pub stop_code: Option<String>,
    #[serde(default)]
    pub started_by: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub cpu: Option<String>,
    #[serde(default)]
    pub memory: Option<String>,
    /// TaskOverride as given to RunTask/StartTask.
    #[serde(default)]
    pub overrides: serde_json::Value,
    #[serde(default)]
    pub containers: Vec<ContainerRec>,
    #[serde(default)]
    pub version: i64,
    #[serde(default)]
    pub reservation: Reservation,
    #[serde(default)]
    pub tags: Vec<serde_json::Value>,
    /// The registered ENI an awsvpc task holds until it is STOPPED (none:
    /// awsvpc-style local mode, or another network mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eni: Option<TaskEni>,
    /// Current credentials of the task role (`roleCredentials`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_credentials: Option<IssuedCredentials>,
    /// Current credentials of the execution role (`executionRoleCredentials`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_role_credentials: Option<IssuedCredentials>,
    /// The task role keys a refresh replaced: like STS keys they stay valid
    /// until they expire (the agent signs with them until it hears of the
    /// new ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_role_credentials: Option<IssuedCredentials>,
    /// The execution role keys a refresh replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_execution_role_credentials: Option<IssuedCredentials>,
    /// Scale-in protection (UpdateTaskProtection): protected until this epoch
    /// second; none when never protected or unprotected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected_until: Option<f64>,
}

/// A test stand-in for an EC2 network interface, registered through
/// `POST /debug/enis`. It is free unless a task that is not STOPPED holds it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EniRec {
    /// `eni-<17 hex>`
    pub network_interface_id: String,
    pub subnet_id: String,
    pub mac_address: String,
    pub private_ipv4_address: String,
    /// `a.b.c.d/prefix` of the subnet.
    pub subnet_cidr: String,
    pub gateway: String,
    #[serde(default)]
    pub dns_servers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_dns_name: Option<String>,
    pub registered_at: f64,
}

/// The ENI attachment of one task (its copy of the ENI as it was attached).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskEni {
    /// The attachment's id (describe-tasks `attachments[].id`).
    pub attachment_id: String,
    pub attachment_arn: String,
    pub eni: EniRec,
    /// Where the attachment is, as describe-tasks shows it while the task
    /// is not STOPPED: PRECREATED until the agent acknowledged the
    /// AttachTaskNetworkInterfacesMessage, ATTACHING until it reported the
    /// ENI ATTACHED (SubmitTaskStateChange `attachments`), then ATTACHED.
    /// Records from before it existed had their payload sent at once.
    #[serde(default = "attached")]
    pub status: String,
    /// Until when (epoch seconds) the agent may report it ATTACHED; after
    /// that the task is stopped. None once ATTACHED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach_deadline: Option<f64>,
    /// The members of the SubmitTaskStateChange request that reported it
    /// ATTACHED, sorted (`GET /debug/enis` shows them): the Go agent sends
    /// only `attachments`, `cluster` and `task`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reported_with: Vec<String>,
}

/// `enis::ATTACHED` (spelled out: `enis` builds on this module).
fn attached() -> String {
    "ATTACHED".to_string()
}

/// Role credentials ecs-local minted for a task.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedCredentials {
    pub credentials: IamRoleCredentials,
    pub issued_at: f64,
    pub expires_at: f64,
    /// When the refresher replaces them (before expiry).
    pub refresh_at: f64,
}

/// An ACS message waiting for the agent's acknowledgement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OutMessage {
    /// Acked with AckRequest.
    Payload(PayloadMessage),
    /// Acked with AckRequest.
    AttachEnis(AttachTaskNetworkInterfacesMessage),
    /// Acked with IAMRoleCredentialsAckRequest.
    Credentials(IamRoleCredentialsMessage),
}

impl OutMessage {
    pub fn to_acs(&self) -> AcsMessage {
        match self {
            Self::Payload(p) => AcsMessage::Payload(p.clone()),
            Self::AttachEnis(m) => AcsMessage::AttachTaskNetworkInterfaces(m.clone()),
            Self::Credentials(m) => AcsMessage::IamRoleCredentials(m.clone()),
        }
    }
}

/// A message waiting for its acknowledgement; re-sent until then.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outgoing {
    pub message_id: String,
    pub instance_arn: String,
    pub task_arn: String,
    /// Send order across kinds (0 in records written before it existed).
    #[serde(default)]
    pub order: u64,
    // Flattened so that records holding `"payload": {...}` (the only kind
    // there once was) still load.
    #[serde(flatten)]
    pub message: OutMessage,
}

impl Outgoing {
    pub fn payload(&self) -> Option<&PayloadMessage> {
        match &self.message {
            OutMessage::Payload(p) => Some(p),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    #[serde(default)]
    pub duplicate_state_changes: u64,
    /// Per cluster ARN.
    #[serde(default)]
    pub duplicates_by_cluster: BTreeMap<String, u64>,
    /// Next `Outgoing::order`.
    #[serde(default)]
    pub next_order: u64,
    /// AttachTaskNetworkInterfacesMessages the agents acknowledged.
    #[serde(default)]
    pub eni_attachment_acks: u64,
    /// IAMRoleCredentialsMessages (refreshes) the agents acknowledged.
    #[serde(default)]
    pub credential_refresh_acks: u64,
}

pub const META_KEY: &str = "meta";

/// One record to write (`Some`) or delete (`None`).
pub type Change = (Table, String, Option<Vec<u8>>);

#[derive(Debug, Default)]
pub struct State {
    pub clusters: BTreeMap<String, ClusterRec>,
    pub taskdefs: BTreeMap<String, TaskDefRec>,
    pub instances: BTreeMap<String, InstanceRec>,
    pub tasks: BTreeMap<String, TaskRec>,
    pub outbox: BTreeMap<String, Outgoing>,
    pub meta: Meta,
    /// By network interface id.
    pub enis: BTreeMap<String, EniRec>,
    /// Full task definitions, by `taskdef_key`.
    pub bodies: Bodies,
    dirty: BTreeSet<(Table, String)>,
}

/// A stored task definition record as written before bodies had their own
/// table: the definition inline.
#[derive(Deserialize)]
struct InlineDefinition {
    #[serde(default)]
    definition: Option<serde_json::Map<String, serde_json::Value>>,
}

pub fn taskdef_key(family: &str, revision: i64) -> String {
    format!("{family}:{revision}")
}

impl State {
    pub fn mark(&mut self, table: Table, key: &str) {
        self.dirty.insert((table, key.to_string()));
    }

    pub fn put_cluster(&mut self, c: ClusterRec) {
        self.mark(Table::Clusters, &c.name);
        self.clusters.insert(c.name.clone(), c);
    }
    pub fn put_taskdef(&mut self, t: TaskDefRec) {
        let key = taskdef_key(&t.family, t.revision);
        self.mark(Table::TaskDefs, &key);
        self.taskdefs.insert(key, t);
    }
    /// A new revision's full definition, serialized (outside the lock).
    pub fn put_taskdef_body(&mut self, key: &str, body: Vec<u8>) {
        self.mark(Table::TaskDefBodies, key);
        self.bodies.put(key.to_string(), body);
    }
    pub fn put_instance(&mut self, i: InstanceRec) {
        self.mark(Table::Instances, &i.arn);
        self.instances.insert(i.arn.clone(), i);
    }
    pub fn put_task(&mut self, t: TaskRec) {
        self.mark(Table::Tasks, &t.arn);
        self.tasks.insert(t.arn.clone(), t);
    }
    pub fn put_outgoing(&mut self, o: Outgoing) {
        self.mark(Table::Outbox, &o.message_id);
        self.outbox.insert(o.message_id.clone(), o);
    }
    pub fn put_eni(&mut self, e: EniRec) {
        self.mark(Table::Enis, &e.network_interface_id);
        self.enis.insert(e.network_interface_id.clone(), e);
    }
    /// The next send order for an outgoing message.
    pub fn next_order(&mut self) -> u64 {
        self.meta.next_order += 1;
        self.mark(Table::Meta, META_KEY);
        self.meta.next_order
    }
    pub fn count_eni_attachment_ack(&mut self) {
        self.meta.eni_attachment_acks += 1;
        self.mark(Table::Meta, META_KEY);
    }
    pub fn count_credential_refresh_ack(&mut self) {
        self.meta.credential_refresh_acks += 1;
        self.mark(Table::Meta, META_KEY);
    }
    pub fn remove_outgoing(&mut self, message_id: &str) -> Option<Outgoing> {
        self.mark(Table::Outbox, message_id);
        self.outbox.remove(message_id)
    }
    pub fn count_duplicate(&mut self, cluster_arn: &str) {
        self.meta.duplicate_state_changes += 1;
        *self
            .meta
            .duplicates_by_cluster
            .entry(cluster_arn.to_string())
            .or_default() += 1;
        self.mark(Table::Meta, META_KEY);
    }

    /// Serialized dirty records, clearing the dirty set.
    pub fn take_changes(&mut self) -> Result<Vec<Change>, serde_json::Error> {
        let dirty = std::mem::take(&mut self.dirty);
        let mut out = Vec::with_capacity(dirty.len());
        for (table, key) in dirty {
            let value = match table {
                Table::Clusters => self.clusters.get(&key).map(serde_json::to_vec),
                Table::TaskDefs => self.taskdefs.get(&key).map(serde_json::to_vec),
                Table::Instances => self.instances.get(&key).map(serde_json::to_vec),
                Table::Tasks => self.tasks.get(&key).map(serde_json::to_vec),
                Table::Outbox => self.outbox.get(&key).map(serde_json::to_vec),
                Table::Meta => Some(serde_json::to_vec(&self.meta)),
                Table::Enis => self.enis.get(&key).map(serde_json::to_vec),
                Table::TaskDefBodies => self.bodies.take_for_write(&key).map(Ok),
            }
            .transpose()?;
            out.push((table, key, value));
        }
        Ok(out)
    }

    /// Loads one stored record (used by the store at start-up).
    pub fn load_record(
        &mut self,
        table: Table,
        key: &str,
        bytes: &[u8],
    ) -> Result<(), serde_json::Error> {
        match table {
            Table::Clusters => {
                self.clusters
                    .insert(key.to_string(), serde_json::from_slice(bytes)?);
            }
            Table::TaskDefs => {
                let rec: TaskDefRec = serde_json::from_slice(bytes)?;
                // Move an inline definition (older records) to its own table;
                // the slim record is written back with it.
                if let Some(def) = serde_json::from_slice::<InlineDefinition>(bytes)?.definition {
                    self.put_taskdef_body(key, serde_json::to_vec(&def)?);
                    self.mark(Table::TaskDefs, key);
                }
                self.taskdefs.insert(key.to_string(), rec);
            }
            // Read on demand (`bodies`), never loaded.
            Table::TaskDefBodies => {}
            Table::Instances => {
                let mut i: InstanceRec = serde_json::from_slice(bytes)?;
                // No websocket survives a restart of the control plane.
                i.agent_connected = false;
                self.instances.insert(key.to_string(), i);
            }
            Table::Tasks => {
                self.tasks
                    .insert(key.to_string(), serde_json::from_slice(bytes)?);
            }
            Table::Outbox => {
                self.outbox
                    .insert(key.to_string(), serde_json::from_slice(bytes)?);
            }
            Table::Meta => self.meta = serde_json::from_slice(bytes)?,
            Table::Enis => {
                self.enis
                    .insert(key.to_string(), serde_json::from_slice(bytes)?);
            }
        }
        Ok(())
    }
}
