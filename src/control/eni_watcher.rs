//! Task ENI attachments, as the Go agent confirms them (agent/eni/watcher,
//! agent/acs/session/attach_eni_common.go): an AttachTaskNetworkInterfaces
//! message arms one entry per ENI with a deadline of `waitTimeoutMs` from
//! its arrival; as soon as a link with the ENI's MAC is on the host the
//! attachment is reported ATTACHED, once, in a SubmitTaskStateChange that
//! carries only cluster, task and attachments; an entry not reported by its
//! deadline is dropped (logged), as the Go agent removes the record. Nothing
//! is sent when an ENI goes away. Amazon ECS sends the task's payload only
//! after the ATTACHED report, and stops the task itself when none came.
//!
//! The Go agent learns of new links from udev events plus a reconciliation
//! every minute; this watcher lists the host's links every
//! [`POLL_INTERVAL`] while an attachment waits, and not at all otherwise.
//! The entries are checkpointed (`ECS_CHECKPOINT`) whenever they change, and
//! re-armed at start with what is left of their time, as the Go agent
//! re-arms its saved attachments (agent/engine/docker_task_engine.go,
//! synchronizeState); those whose time ran out meanwhile are dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::state::{EniAttachmentRecord, StateError, StateStore};
use crate::task::net::parse_mac;

use super::ecs_client::EcsClient;

/// Where the attachments are kept across restarts.
pub trait AttachmentCheckpoint: Send + Sync + 'static {
    fn save_eni_attachments(&self, list: &[EniAttachmentRecord]) -> Result<(), StateError>;
}

impl AttachmentCheckpoint for StateStore {
    fn save_eni_attachments(&self, list: &[EniAttachmentRecord]) -> Result<(), StateError> {
        StateStore::save_eni_attachments(self, list)
    }
}

/// ECS_CHECKPOINT=false: in memory only.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoAttachmentCheckpoint;

impl AttachmentCheckpoint for NoAttachmentCheckpoint {
    fn save_eni_attachments(&self, _: &[EniAttachmentRecord]) -> Result<(), StateError> {
        Ok(())
    }
}

/// Unix ms now, for the checkpoint's deadlines.
fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// How often the host's links are listed while an attachment waits.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// One task ENI the control plane attached, waiting to be seen on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EniAttachment {
    pub attachment_arn: String,
    pub task_arn: String,
    /// The cluster the attach message named (the report goes to it).
    pub cluster_arn: String,
    pub mac: [u8; 6],
    /// `waitTimeoutMs` after the message arrived.
    pub expires_at: Instant,
}

#[derive(Debug)]
struct Entry {
    attachment: EniAttachment,
    /// Reported ATTACHED: never again.
    sent: bool,
}

/// A message the agent cannot act on, naming the member (Go:
/// validateAttachTaskNetworkInterfacesMessage).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("AttachTaskNetworkInterfacesMessage {field}: {message}")]
pub struct InvalidAttachment {
    pub field: String,
    pub message: String,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> InvalidAttachment {
    InvalidAttachment {
        field: field.into(),
        message: message.into(),
    }
}

/// The attachments of one AttachTaskNetworkInterfacesMessage received at
/// `now`, validated as the Go agent validates them.
pub fn attachments_of(
    m: &crate::model::acs::AttachTaskNetworkInterfacesMessage,
    now: Instant,
) -> Result<Vec<EniAttachment>, InvalidAttachment> {
    let nonempty = |v: &Option<String>, field: &str| {
        v.clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid(field, "is not set"))
    };
    nonempty(&m.message_id, "messageId")?;
    let cluster_arn = nonempty(&m.cluster_arn, "clusterArn")?;
    nonempty(&m.container_instance_arn, "containerInstanceArn")?;
    let task_arn = nonempty(&m.task_arn, "taskArn")?;
    let timeout = m
        .wait_timeout_ms
        .filter(|t| *t > 0)
        .ok_or_else(|| invalid("waitTimeoutMs", "must be a positive number of milliseconds"))?;
    if m.elastic_network_interfaces.is_empty() {
        return Err(invalid("elasticNetworkInterfaces", "is empty"));
    }
    let expires_at = now + Duration::from_millis(timeout.unsigned_abs());
    m.elastic_network_interfaces
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let attachment_arn = nonempty(
                &e.attachment_arn,
                &format!("elasticNetworkInterfaces[{i}].attachmentArn"),
            )?;
            let mac = e.mac_address.as_deref().unwrap_or_default();
            let mac = parse_mac(mac).map_err(|err| {
                invalid(
                    format!("elasticNetworkInterfaces[{i}].macAddress"),
                    err.to_string(),
                )
            })?;
            Ok(EniAttachment {
                attachment_arn,
                task_arn: task_arn.clone(),
                cluster_arn: cluster_arn.clone(),
                mac,
                expires_at,
            })
        })
        .collect()
}

/// The attachments the agent knows of, by attachment ARN.
pub struct EniWatcher {
    entries: Mutex<HashMap<String, Entry>>,
    wake: tokio::sync::Notify,
    checkpoint: Arc<dyn AttachmentCheckpoint>,
}

impl Default for EniWatcher {
    fn default() -> Self {
        EniWatcher::with_checkpoint(Arc::new(NoAttachmentCheckpoint))
    }
}

/// What one look at the host's links decided.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// On the host and not yet reported: report them ATTACHED.
    pub report: Vec<EniAttachment>,
    /// Not seen by their deadline: dropped.
    pub expired: Vec<EniAttachment>,
}

impl EniWatcher {
    pub fn new() -> EniWatcher {
        EniWatcher::default()
    }

    pub fn with_checkpoint(checkpoint: Arc<dyn AttachmentCheckpoint>) -> EniWatcher {
        EniWatcher {
            entries: Mutex::new(HashMap::new()),
            wake: tokio::sync::Notify::new(),
            checkpoint,
        }
    }

    /// Re-arms the attachments of the last process (`now` and `now_ms`: the
    /// same moment on both clocks). Those not reported whose time ran out
    /// meanwhile are dropped, as the Go agent drops them.
    pub fn restore(&self, records: &[EniAttachmentRecord], now: Instant, now_ms: i64) {
        let mut entries = self.lock();
        for r in records {
            if r.expires_at_ms <= now_ms {
                if !r.sent {
                    tracing::warn!(task = %r.task_arn, attachment = %r.attachment_arn, mac = %r.mac,
                        "ENI attachment expired while the agent was down; attachment record removed");
                }
                continue;
            }
            let Ok(mac) = parse_mac(&r.mac) else {
                tracing::warn!(attachment = %r.attachment_arn, mac = %r.mac, "saved ENI attachment with a bad MAC dropped");
                continue;
            };
            let left = Duration::from_millis(r.expires_at_ms.saturating_sub(now_ms).unsigned_abs());
            entries.insert(
                r.attachment_arn.clone(),
                Entry {
                    attachment: EniAttachment {
                        attachment_arn: r.attachment_arn.clone(),
                        task_arn: r.task_arn.clone(),
                        cluster_arn: r.cluster_arn.clone(),
                        mac,
                        expires_at: now + left,
                    },
                    sent: r.sent,
                },
            );
        }
        let waiting = entries.values().filter(|e| !e.sent).count();
        drop(entries);
        if waiting > 0 {
            tracing::info!(waiting, "ENI attachments from the last run watched again");
        }
        self.wake.notify_one();
    }

    /// The entries as the checkpoint keeps them.
    pub fn records(&self, now: Instant, now_ms: i64) -> Vec<EniAttachmentRecord> {
        let mut list: Vec<EniAttachmentRecord> = self
            .lock()
            .values()
            .map(|e| {
                let left = e.attachment.expires_at.saturating_duration_since(now);
                EniAttachmentRecord {
                    attachment_arn: e.attachment.attachment_arn.clone(),
                    task_arn: e.attachment.task_arn.clone(),
                    cluster_arn: e.attachment.cluster_arn.clone(),
                    mac: mac_str(&e.attachment.mac),
                    expires_at_ms: now_ms
                        .saturating_add(i64::try_from(left.as_millis()).unwrap_or(i64::MAX)),
                    sent: e.sent,
                }
            })
            .collect();
        list.sort_by(|a, b| a.attachment_arn.cmp(&b.attachment_arn));
        list
    }

    /// Writes the entries to the checkpoint; a failure is logged (the
    /// attachment is still watched in this process).
    fn persist(&self) {
        let list = self.records(Instant::now(), unix_ms());
        if let Err(e) = self.checkpoint.save_eni_attachments(&list) {
            tracing::warn!(error = %e, "cannot checkpoint the ENI attachments");
        }
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Arms an attachment. One already known (ACS sent the message again)
    /// gets the new deadline, as the Go agent restarts its timer, and is not
    /// reported twice.
    pub fn add(&self, a: EniAttachment) {
        let mut entries = self.lock();
        match entries.get_mut(&a.attachment_arn) {
            Some(e) => e.attachment.expires_at = a.expires_at,
            None => {
                entries.insert(
                    a.attachment_arn.clone(),
                    Entry {
                        attachment: a,
                        sent: false,
                    },
                );
            }
        }
        drop(entries);
        self.persist();
        self.wake.notify_one();
    }

    /// Whether an attachment waits to be reported.
    pub fn waiting(&self) -> bool {
        self.lock().values().any(|e| !e.sent)
    }

    /// Given the MACs on the host at `now`: what to report and what expired
    /// (removed). Reported entries are kept until their deadline, so that a
    /// repeated message is not reported again.
    pub fn decide(&self, host_macs: &[[u8; 6]], now: Instant) -> Decision {
        let mut d = Decision::default();
        self.lock().retain(|_, e| {
            if e.attachment.expires_at <= now {
                if !e.sent {
                    d.expired.push(e.attachment.clone());
                }
                return false;
            }
            if !e.sent && host_macs.contains(&e.attachment.mac) {
                d.report.push(e.attachment.clone());
            }
            true
        });
        d
    }

    /// The control plane took the ATTACHED report.
    pub fn mark_sent(&self, attachment_arn: &str) {
        if let Some(e) = self.lock().get_mut(attachment_arn) {
            e.sent = true;
        }
        self.persist();
    }

    /// Watches the host's links and reports attachments through `ecs` until
    /// the process ends.
    pub async fn run(self: Arc<Self>, ecs: Arc<EcsClient>) {
        loop {
            if !self.waiting() {
                self.wake.notified().await;
                continue;
            }
            match crate::network::host_macs().await {
                Ok(macs) => {
                    let before = self.len();
                    let d = self.decide(&macs, Instant::now());
                    if self.len() != before {
                        self.persist();
                    }
                    for a in d.expired {
                        tracing::warn!(task = %a.task_arn, attachment = %a.attachment_arn, mac = %mac_str(&a.mac),
                            "the ENI did not appear on the host before waitTimeoutMs; attachment record removed");
                    }
                    for a in d.report {
                        match ecs
                            .submit_attachment(&a.cluster_arn, &a.task_arn, &a.attachment_arn)
                            .await
                        {
                            Ok(()) => {
                                tracing::info!(task = %a.task_arn, attachment = %a.attachment_arn, mac = %mac_str(&a.mac), "ENI attachment reported ATTACHED");
                                self.mark_sent(&a.attachment_arn);
                            }
                            // Tried again on the next look, until the deadline.
                            Err(e) => {
                                tracing::warn!(task = %a.task_arn, attachment = %a.attachment_arn, error = %e, "cannot report the ENI attachment; retrying")
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot list the host's links for the ENI watcher")
                }
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

fn mac_str(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
#[path = "eni_watcher_tests.rs"]
mod tests;
