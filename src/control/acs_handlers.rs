//! What the ACS session does with each message: validate at control's
//! boundary, hand the engine typed values through [`TaskSink`], and say
//! what to send back. An acknowledgement always follows the checkpoint of
//! what it acknowledges: unacknowledged, ACS sends the message again.

use std::collections::HashSet;

use crate::credentials::{RoleCredentials, RoleType};
use crate::model::acs::{
    self, AckRequest, AcsMessage, HeartbeatAckRequest, HeartbeatMessage,
    IamRoleCredentialsAckRequest, IamRoleCredentialsMessage, PayloadMessage, TaskIdentifier,
    TaskManifestMessage, TaskStopVerificationAck, TaskStopVerificationMessage,
};
use crate::task::from_acs::{ignored_docker_keys, task_def, Policy};
use crate::task::limits::MAX_CONTAINERS;
use crate::task::{DesiredStatus, TaskStatus};

use super::acs::AcsSession;
use super::acs_reply::{Ended, Reply};
use super::eni_watcher::attachments_of;
use super::sink::{PayloadTask, TaskSink};

impl AcsSession {
    pub(super) fn handle(&self, text: &str, seq_num: &mut i64) -> Reply {
        let msg = match AcsMessage::decode(text) {
            Ok(m) => m,
            Err(e) => {
                // Nothing in it can be acknowledged: without a type or a
                // readable envelope there is no message id to ack.
                tracing::warn!(error = %e, "malformed ACS message ignored");
                self.metrics.inc_error("acs_malformed_message");
                return Reply::None;
            }
        };
        match &msg {
            AcsMessage::Payload(p) => self.on_payload(p, seq_num),
            AcsMessage::Heartbeat(h) => self.on_heartbeat(h),
            AcsMessage::TaskManifest(m) => self.on_manifest(m),
            AcsMessage::TaskStopVerificationAck(a) => self.on_stop_verified(a),
            AcsMessage::IamRoleCredentials(m) => self.on_credentials(m),
            AcsMessage::AttachTaskNetworkInterfaces(m) => {
                // The watcher reports each ENI ATTACHED once its MAC is on the
                // host; the ENIs come again in the task's payload, which is what
                // the engine acts on. As the Go agent (attach_task_eni_responder.go),
                // a message that does not validate is logged and not acknowledged.
                match attachments_of(m, tokio::time::Instant::now()) {
                    Ok(list) => {
                        tracing::info!(message_id = ?m.message_id, task = ?m.task_arn, enis = list.len(), wait_timeout_ms = ?m.wait_timeout_ms, "ENI attachment");
                        for a in list {
                            self.eni_watcher.add(a);
                        }
                        Reply::Send(vec![self.ack(m.message_id.clone())])
                    }
                    Err(e) => {
                        tracing::error!(message_id = ?m.message_id, error = %e, "ENI attachment message refused");
                        Reply::None
                    }
                }
            }
            AcsMessage::Close(c) => {
                tracing::info!(message = ?c.message, "ACS asked to close the connection");
                Reply::End(Ended::Reconnect)
            }
            AcsMessage::InactiveInstance(e) => {
                let reason = e
                    .message
                    .clone()
                    .unwrap_or_else(|| "container instance is inactive".into());
                tracing::error!(reason = %reason, "ACS: this container instance is no longer active");
                Reply::End(Ended::Inactive(reason))
            }
            AcsMessage::Error(e)
            | AcsMessage::AccessDenied(e)
            | AcsMessage::BadRequest(e)
            | AcsMessage::InvalidCluster(e)
            | AcsMessage::InvalidInstance(e)
            | AcsMessage::Server(e) => {
                tracing::warn!(kind = msg.type_name(), message = ?e.message, "ACS reported an error");
                Reply::None
            }
            AcsMessage::Unknown { type_name } => {
                tracing::debug!(type_name = %type_name, "unknown ACS message ignored");
                Reply::None
            }
            other => {
                tracing::info!(
                    type_name = other.type_name(),
                    "ACS message not handled by this agent yet; ignored"
                );
                Reply::None
            }
        }
    }

    fn ack(&self, message_id: Option<String>) -> AcsMessage {
        AcsMessage::Ack(AckRequest {
            cluster: Some(self.cluster_arn.clone()),
            container_instance: Some(self.instance_arn.clone()),
            message_id,
        })
    }

    fn on_payload(&self, p: &PayloadMessage, seq_num: &mut i64) -> Reply {
        tracing::info!(message_id = ?p.message_id, seq_num = ?p.seq_num, tasks = p.tasks.len(), "ACS payload");
        let mut tasks: Vec<PayloadTask> = p
            .tasks
            .iter()
            .filter_map(|t| payload_task(self.sink.as_ref(), t, self.policy))
            .collect();
        for t in &p.undecodable {
            match undecodable_task(t) {
                Some(task) => tasks.push(task),
                None => {
                    tracing::warn!(message_id = ?p.message_id, index = t.index, error = %t.error, "payload task without a readable arn ignored");
                    self.metrics.inc_error("acs_malformed_task");
                }
            }
        }
        // Acknowledged only once every task is checkpointed: unacked, ACS sends it again.
        if let Err(e) = self.sink.accept(tasks) {
            tracing::error!(error = %e, message_id = ?p.message_id, "cannot checkpoint the payload; not acknowledging it");
            return Reply::None;
        }
        if let Some(s) = p.seq_num.filter(|s| *s > *seq_num) {
            *seq_num = s;
            if let Err(e) = self.seq_checkpoint.save_seq_num(s) {
                tracing::warn!(error = %e, "cannot checkpoint the ACS sequence number");
            }
        }
        Reply::Send(vec![self.ack(p.message_id.clone())])
    }

    fn on_heartbeat(&self, h: &HeartbeatMessage) -> Reply {
        tracing::debug!(message_id = ?h.message_id, "ACS heartbeat");
        self.metrics.record_heartbeat();
        Reply::Send(vec![AcsMessage::HeartbeatAck(HeartbeatAckRequest {
            message_id: h.message_id.clone(),
        })])
    }

    fn on_manifest(&self, m: &TaskManifestMessage) -> Reply {
        let listed: HashSet<String> = m.tasks.iter().filter_map(|t| t.task_arn.clone()).collect();
        let stopped: Vec<String> = m
            .tasks
            .iter()
            .filter(|t| desired_status(t.desired_status.as_deref()) == Some(DesiredStatus::Stopped))
            .filter_map(|t| t.task_arn.clone())
            .collect();
        self.sink
            .stop(&stopped, "desired STOPPED in the task manifest");
        let candidates = self.sink.stop_candidates(&listed);
        tracing::info!(message_id = ?m.message_id, listed = listed.len(), candidates = candidates.len(), "task manifest");
        let mut replies = vec![self.ack(m.message_id.clone())];
        if !candidates.is_empty() {
            // The control plane confirms before anything is stopped: a manifest
            // generated just before a new payload must not stop that task.
            replies.push(AcsMessage::TaskStopVerification(
                TaskStopVerificationMessage {
                    message_id: Some(uuid::Uuid::new_v4().to_string()),
                    stop_candidates: candidates
                        .into_iter()
                        .map(|arn| TaskIdentifier {
                            task_arn: Some(arn),
                            task_cluster_arn: Some(self.cluster_arn.clone()),
                            // A desired status on the wire: the same word as the task status.
                            desired_status: Some(TaskStatus::Stopped.wire().into()),
                        })
                        .collect(),
                },
            ));
        }
        Reply::Send(replies)
    }

    fn on_stop_verified(&self, a: &TaskStopVerificationAck) -> Reply {
        let arns: Vec<String> = a
            .stop_tasks
            .iter()
            .filter_map(|t| t.task_arn.clone())
            .collect();
        tracing::info!(tasks = arns.len(), "control plane confirmed tasks to stop");
        self.sink
            .stop(&arns, "the control plane no longer knows this task");
        Reply::None
    }

    fn on_credentials(&self, m: &IamRoleCredentialsMessage) -> Reply {
        let credentials_id = m
            .role_credentials
            .as_ref()
            .and_then(|c| c.credentials_id.clone());
        let expiration = m
            .role_credentials
            .as_ref()
            .and_then(|c| c.expiration.clone());
        let stored = match (&m.task_arn, &m.role_credentials, m.role_type.as_deref()) {
            (Some(arn), Some(creds), Some(role)) => role
                .parse::<RoleType>()
                .and_then(|role| RoleCredentials::from_acs(creds, role))
                .and_then(|creds| self.sink.put_credentials(arn, creds))
                .map_err(|e| e.to_string()),
            _ => Err("taskArn, roleCredentials and roleType are required".to_string()),
        };
        match stored {
            Ok(()) => {
                tracing::info!(message_id = ?m.message_id, task = ?m.task_arn,
                    credentials = ?credentials_id.as_deref().map(crate::credentials::fingerprint),
                    "role credentials refreshed");
                // The Go agent acknowledges only what it stored: unacked, ACS sends again.
                Reply::Send(vec![AcsMessage::IamRoleCredentialsAck(
                    IamRoleCredentialsAckRequest {
                        message_id: m.message_id.clone(),
                        expiration,
                        credentials_id,
                    },
                )])
            }
            Err(e) => {
                tracing::warn!(message_id = ?m.message_id, error = %e, "IAMRoleCredentialsMessage ignored");
                Reply::None
            }
        }
    }
}

fn desired_status(wire: Option<&str>) -> Option<DesiredStatus> {
    wire.and_then(DesiredStatus::from_wire)
}

/// A payload task that could not be decoded: reported STOPPED with the
/// decode error (or stopped, if that is what the control plane wants);
/// None without an ARN to report it under.
fn undecodable_task(t: &acs::UndecodableTask) -> Option<PayloadTask> {
    let arn = t.arn.clone().filter(|a| !a.is_empty())?;
    tracing::warn!(task = %arn, error = %t.error, "payload task cannot be decoded");
    if desired_status(t.desired_status.as_deref()) == Some(DesiredStatus::Stopped) {
        return Some(PayloadTask::Stop { arn });
    }
    Some(PayloadTask::Refuse {
        arn,
        containers: t.containers.iter().take(MAX_CONTAINERS).cloned().collect(),
        reason: format!("the task cannot be decoded: {}", t.error),
    })
}

/// One payload task validated at control's boundary, after its role
/// credentials are stored; None without an ARN.
fn payload_task(sink: &dyn TaskSink, t: &acs::Task, policy: Policy) -> Option<PayloadTask> {
    let Some(arn) = t.arn.clone().filter(|a| !a.is_empty()) else {
        tracing::warn!("payload task without an arn ignored");
        return None;
    };
    for (creds, role_type) in [
        (&t.role_credentials, RoleType::TaskApplication),
        (&t.execution_role_credentials, RoleType::TaskExecution),
    ] {
        if let Some(c) = creds {
            let stored =
                RoleCredentials::from_acs(c, role_type).and_then(|c| sink.put_credentials(&arn, c));
            if let Err(e) = stored {
                tracing::warn!(task = %arn, role_type = role_type.as_str(), error = %e, "payload credentials ignored");
            }
        }
    }
    let refuse = |reason: String| PayloadTask::Refuse {
        arn: arn.clone(),
        // Bounded: a task refused for having too many containers reports
        // as many as Amazon ECS could know of.
        containers: t
            .containers
            .iter()
            .filter_map(|c| c.name.clone())
            .take(MAX_CONTAINERS)
            .collect(),
        reason,
    };
    Some(match desired_status(t.desired_status.as_deref()) {
        None => refuse(format!(
            "desiredStatus {:?}: expected RUNNING or STOPPED",
            t.desired_status
        )),
        Some(DesiredStatus::Stopped) => PayloadTask::Stop { arn },
        Some(DesiredStatus::Running) => {
            let ignored = ignored_docker_keys(t);
            if !ignored.is_empty() {
                // The Go agent drops these silently; a typo in a task
                // definition's dockerConfig deserves a line in the log.
                tracing::warn!(task = %arn, keys = ?ignored, "dockerConfig keys that Docker's API does not define are ignored");
            }
            match task_def(t, policy) {
                Ok(def) => PayloadTask::Run(Box::new(def)),
                Err(invalid) => refuse(invalid.reason),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::credentials::CredentialsError;
    use crate::state::StateError;

    /// Records the role credentials it is given; nothing else is called here.
    #[derive(Default)]
    struct Recording {
        credentials: Mutex<Vec<(String, RoleType)>>,
    }

    impl TaskSink for Recording {
        fn accept(&self, _: Vec<PayloadTask>) -> Result<(), StateError> {
            Ok(())
        }
        fn stop(&self, _: &[String], _: &str) {}
        fn stop_candidates(&self, _: &HashSet<String>) -> Vec<String> {
            Vec::new()
        }
        fn put_credentials(&self, arn: &str, c: RoleCredentials) -> Result<(), CredentialsError> {
            self.credentials
                .lock()
                .unwrap()
                .push((arn.to_string(), c.role_type));
            Ok(())
        }
    }

    const ARN: &str = "arn:aws:ecs:us-east-1:000000000000:task/demo/0123456789abcdef";

    fn task(desired: &str, image: &str) -> acs::Task {
        serde_json::from_value(serde_json::json!({
            "arn": ARN, "family": "web", "version": "4", "desiredStatus": desired,
            "networkMode": "host",
            // dockerConfig as Amazon ECS sends it for a definition without Docker
            // extras (the Go agent's fixture agent/statemanager/testdata/v13/1, with
            // this task's network mode).
            "containers": [{"name": "app", "image": image, "essential": true, "memory": 32,
                            "dockerConfig": {"config": "{}", "version": "1.17",
                                             "hostConfig": "{\"NetworkMode\":\"host\",\"CapAdd\":[],\"CapDrop\":[]}"}}],
            "roleCredentials": {"credentialsId": "c1", "accessKeyId": "AK", "secretAccessKey": "S",
                                "sessionToken": "T", "expiration": "2030-01-01T00:00:00Z",
                                "roleArn": "arn:aws:iam::000000000000:role/r"}
        }))
        .unwrap()
    }

    #[test]
    fn payload_tasks_are_validated_at_the_boundary() {
        let sink = Recording::default();
        let policy = Policy::default();
        match payload_task(&sink, &task("RUNNING", "busybox"), policy) {
            Some(PayloadTask::Run(def)) => assert_eq!(def.arn, ARN),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            payload_task(&sink, &task("STOPPED", "busybox"), policy),
            Some(PayloadTask::Stop { arn: ARN.into() })
        );
        match payload_task(&sink, &task("PAUSED", "busybox"), policy) {
            Some(PayloadTask::Refuse {
                arn,
                containers,
                reason,
            }) => {
                assert_eq!((arn.as_str(), containers), (ARN, vec!["app".to_string()]));
                assert!(reason.contains("desiredStatus"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        match payload_task(&sink, &task("RUNNING", ""), policy) {
            Some(PayloadTask::Refuse { reason, .. }) => {
                assert!(reason.contains("image"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        // The role credentials are stored whatever becomes of the task.
        assert_eq!(
            sink.credentials.lock().unwrap().len(),
            4,
            "{:?}",
            sink.credentials
        );
        let mut no_arn = task("RUNNING", "busybox");
        no_arn.arn = None;
        assert_eq!(payload_task(&sink, &no_arn, policy), None);
    }

    /// A sink whose checkpoint fails or succeeds, and a recorded sequence number.
    struct Checkpointing {
        fails: bool,
    }

    impl TaskSink for Checkpointing {
        fn accept(&self, _: Vec<PayloadTask>) -> Result<(), StateError> {
            match self.fails {
                true => Err(StateError::Serialize(
                    serde_json::from_str::<i32>("disk full").unwrap_err(),
                )),
                false => Ok(()),
            }
        }
        fn stop(&self, _: &[String], _: &str) {}
        fn stop_candidates(&self, _: &HashSet<String>) -> Vec<String> {
            Vec::new()
        }
        fn put_credentials(&self, _: &str, _: RoleCredentials) -> Result<(), CredentialsError> {
            Ok(())
        }
    }

    #[derive(Default)]
    struct Seqs(Mutex<Vec<i64>>);

    impl super::super::sink::SeqCheckpoint for Seqs {
        fn save_seq_num(&self, seq: i64) -> Result<(), StateError> {
            self.0.lock().unwrap().push(seq);
            Ok(())
        }
    }

    async fn session(fails: bool, seqs: std::sync::Arc<Seqs>) -> AcsSession {
        session_with(std::sync::Arc::new(Checkpointing { fails }), seqs).await
    }

    async fn session_with(
        sink: std::sync::Arc<dyn TaskSink>,
        seqs: std::sync::Arc<Seqs>,
    ) -> AcsSession {
        use std::sync::Arc;
        let keys = aws_credential_types::Credentials::new("AK", "SK", None, None, "test");
        let ecs = super::super::EcsClient::new(
            "us-east-1",
            Some("http://127.0.0.1:9"),
            "default",
            Some(keys),
        )
        .await;
        AcsSession {
            ecs: Arc::new(ecs),
            sink,
            policy: Policy::default(),
            cluster_arn: "cluster".into(),
            instance_arn: "instance".into(),
            agent_hash: "hash".into(),
            runtime_version: "containerd".into(),
            connected: tokio::sync::watch::channel(false).0,
            seq_checkpoint: seqs,
            initial_seq_num: 1,
            metrics: Arc::new(crate::observe::AgentMetrics::new()),
            eni_watcher: Arc::new(super::super::eni_watcher::EniWatcher::new()),
        }
    }

    fn payload() -> String {
        AcsMessage::Payload(PayloadMessage {
            message_id: Some("m1".into()),
            seq_num: Some(5),
            tasks: vec![task("RUNNING", "busybox")],
            ..Default::default()
        })
        .encode()
    }

    #[tokio::test]
    async fn a_payload_is_acknowledged_only_after_its_checkpoint() {
        let seqs = std::sync::Arc::new(Seqs::default());
        let failing = session(true, seqs.clone()).await;
        let mut seq_num = 1;
        assert!(matches!(
            failing.handle(&payload(), &mut seq_num),
            Reply::None
        ));
        assert_eq!(seq_num, 1);
        assert!(seqs.0.lock().unwrap().is_empty());

        let ok = session(false, seqs.clone()).await;
        match ok.handle(&payload(), &mut seq_num) {
            Reply::Send(msgs) => match msgs.as_slice() {
                [AcsMessage::Ack(a)] => assert_eq!(a.message_id.as_deref(), Some("m1")),
                other => panic!("{other:?}"),
            },
            _ => panic!("no acknowledgement"),
        }
        assert_eq!((seq_num, seqs.0.lock().unwrap().clone()), (5, vec![5]));
    }

    /// Records the tasks of each accepted payload.
    #[derive(Default)]
    struct Accepting(Mutex<Vec<PayloadTask>>);

    impl TaskSink for Accepting {
        fn accept(&self, tasks: Vec<PayloadTask>) -> Result<(), StateError> {
            self.0.lock().unwrap().extend(tasks);
            Ok(())
        }
        fn stop(&self, _: &[String], _: &str) {}
        fn stop_candidates(&self, _: &HashSet<String>) -> Vec<String> {
            Vec::new()
        }
        fn put_credentials(&self, _: &str, _: RoleCredentials) -> Result<(), CredentialsError> {
            Ok(())
        }
    }

    /// Handles one frame; the tasks the sink was given and the ids acknowledged.
    async fn handled(frame: &str) -> (Vec<PayloadTask>, Vec<String>, AcsSession) {
        let sink = std::sync::Arc::new(Accepting::default());
        let session = session_with(sink.clone(), Default::default()).await;
        let mut seq_num = 1;
        let acked = match session.handle(frame, &mut seq_num) {
            Reply::Send(msgs) => msgs
                .iter()
                .filter_map(|m| match m {
                    AcsMessage::Ack(a) => a.message_id.clone(),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let tasks = std::mem::take(&mut *sink.0.lock().unwrap());
        (tasks, acked, session)
    }

    #[tokio::test]
    async fn an_undecodable_task_is_refused_naming_the_field_and_the_others_run() {
        // The good task's dockerConfig is shaped as Amazon ECS sends it (the Go
        // agent's fixture agent/statemanager/testdata/v13/1, with its network mode).
        let frame = r#"{"type":"PayloadMessage","message":{"messageId":"m1","seqNum":2,"tasks":[
          {"arn":"arn:aws:ecs:us-east-1:1:task/c/bad","desiredStatus":"RUNNING",
           "containers":[{"name":"web","image":"busybox","essential":"yes"}]},
          {"arn":"arn:aws:ecs:us-east-1:1:task/c/good","desiredStatus":"RUNNING","networkMode":"host",
           "containers":[{"name":"app","image":"busybox","essential":true,
             "dockerConfig":{"config":"{}","hostConfig":"{\"NetworkMode\":\"host\",\"CapAdd\":[],\"CapDrop\":[]}","version":"1.17"}}]}]}}"#;
        let (tasks, acked, _) = handled(frame).await;
        assert_eq!(acked, vec!["m1".to_string()]);
        let [PayloadTask::Run(good), PayloadTask::Refuse {
            arn,
            containers,
            reason,
        }] = tasks.as_slice()
        else {
            panic!("{tasks:?}")
        };
        assert_eq!(good.arn, "arn:aws:ecs:us-east-1:1:task/c/good");
        assert_eq!(arn, "arn:aws:ecs:us-east-1:1:task/c/bad");
        assert_eq!(containers, &vec!["web".to_string()]);
        assert_eq!(
            reason,
            "the task cannot be decoded: containers[0].essential: expected a boolean, got string \"yes\""
        );
    }

    /// What the outside probe sent through RegisterTaskDefinition and
    /// RunTask: 18,000 containers, each depending on the next. The
    /// recursive cycle check overflowed the stack on it.
    #[tokio::test]
    async fn an_18000_container_chain_is_refused_naming_the_limit_and_acknowledged() {
        let containers: Vec<serde_json::Value> = (0..18_000)
            .map(|i| {
                serde_json::json!({"name": format!("c{i}"), "image": "busybox", "essential": true,
                    "dependsOn": [{"containerName": format!("c{}", i + 1), "condition": "START"}]})
            })
            .collect();
        let frame = serde_json::json!({"type": "PayloadMessage", "message": {"messageId": "big",
            "tasks": [{"arn": ARN, "desiredStatus": "RUNNING", "containers": containers}]}})
        .to_string();
        let (tasks, acked, _) = handled(&frame).await;
        assert_eq!(acked, vec!["big".to_string()]);
        let [PayloadTask::Refuse {
            containers, reason, ..
        }] = tasks.as_slice()
        else {
            panic!("{tasks:?}")
        };
        assert!(
            reason.starts_with("containers: 18000 given; Amazon ECS allows at most 10"),
            "{reason}"
        );
        assert_eq!(containers.len(), MAX_CONTAINERS);
    }

    #[tokio::test]
    async fn a_broken_envelope_is_counted_and_a_task_without_arn_too() {
        let (tasks, acked, session) =
            handled(r#"{"type":"PayloadMessage","message":{"messageId":7}}"#).await;
        assert!(tasks.is_empty() && acked.is_empty());
        assert_eq!(session.metrics.errors("acs_malformed_message"), 1);
        let (tasks, acked, session) = handled(
            r#"{"type":"PayloadMessage","message":{"messageId":"m","tasks":[{"containers":5}]}}"#,
        )
        .await;
        assert!(tasks.is_empty());
        // Nothing in it can run: acknowledged, so that it is not sent forever.
        assert_eq!(acked, vec!["m".to_string()]);
        assert_eq!(session.metrics.errors("acs_malformed_task"), 1);
    }

    /// The oracle, independent of the decoder: the message id of a
    /// PayloadMessage frame whose own fields have their types (ids and ARNs
    /// strings, numbers numbers, `tasks` a list), whatever the tasks hold.
    fn readable_payload_envelope(text: &str) -> Option<String> {
        use serde_json::Value;
        let v: Value = serde_json::from_str(text).ok()?;
        let obj = v.as_object()?;
        if obj.len() != 2 || v.get("type")? != "PayloadMessage" {
            return None;
        }
        let m = v.get("message")?.as_object()?;
        // Keys match case-insensitively, as in Go's decoder and ours: the
        // fuzzer renames `seqNum` to `SEQNUM` and may then give it a string.
        let mut id = None;
        for (k, val) in m {
            let ok = match k.to_ascii_lowercase().as_str() {
                "messageid" => {
                    id = val.as_str().map(str::to_string);
                    id.is_some()
                }
                "clusterarn" | "containerinstancearn" => val.is_string(),
                "seqnum" | "generatedat" | "timeline" => val.as_i64().is_some(),
                "tasks" => val.is_array(),
                _ => true,
            };
            if !ok {
                return None;
            }
        }
        id
    }

    /// Fuzz-style: frames derived from Amazon ECS-shaped seeds with values of
    /// the wrong type at random paths. Whatever a payload's tasks hold, a
    /// payload whose envelope decodes is acknowledged (unacknowledged, the
    /// control plane re-sends it forever), and nothing panics.
    #[tokio::test]
    async fn every_payload_with_a_readable_envelope_is_acknowledged() {
        let sink = std::sync::Arc::new(Accepting::default());
        let session = session_with(sink.clone(), Default::default()).await;
        crate::fuzz_support::json(crate::model::fuzz_tests::ACS_SEEDS, |text| {
            let mut seq_num = 1;
            let reply = session.handle(text, &mut seq_num);
            sink.0.lock().unwrap().clear();
            let Some(id) = readable_payload_envelope(text) else {
                return;
            };
            let acked = matches!(&reply, Reply::Send(msgs)
                if msgs.iter().any(|m| matches!(m, AcsMessage::Ack(a) if a.message_id.as_deref() == Some(id.as_str()))));
            assert!(acked, "not acknowledged: {text}");
        });
    }

    /// The corpus of bad ACS frames (tests/corpus/acs, see its README): each
    /// has its outcome. The good task beside each bad one is shaped as Amazon
    /// ECS sends it (dockerConfig from the Go fixture
    /// agent/statemanager/testdata/v13/1) and must run.
    #[tokio::test]
    async fn corpus_frames_have_their_outcomes() {
        use serde_json::Value;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/acs");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        assert!(files.len() >= 10, "{files:?}");
        for path in files {
            let case: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let frame = match &case["frame"] {
                Value::String(s) => s.clone(),
                v => v.to_string(),
            };
            let name = path.display().to_string();
            let (tasks, acked, session) = handled(&frame).await;
            match case["expect"].as_str().unwrap() {
                "stopped" => {
                    let id = case["frame"]["message"]["messageId"].as_str().unwrap();
                    assert_eq!(acked, vec![id.to_string()], "{name}");
                    let field = case["field"].as_str().unwrap();
                    let bad = tasks.iter().find_map(|t| match t {
                        PayloadTask::Refuse { arn, reason, .. }
                            if arn == case["arn"].as_str().unwrap() =>
                        {
                            Some(reason)
                        }
                        _ => None,
                    });
                    let reason = bad.unwrap_or_else(|| panic!("{name}: not refused: {tasks:?}"));
                    assert!(reason.contains(field), "{name}: {reason}");
                    assert!(
                        tasks
                            .iter()
                            .any(|t| matches!(t, PayloadTask::Run(r) if r.arn.ends_with("/good"))),
                        "{name}: the good task does not run: {tasks:?}"
                    );
                    assert_eq!(session.metrics.errors("acs_malformed_message"), 0, "{name}");
                }
                "malformed" => {
                    assert!(
                        tasks.is_empty() && acked.is_empty(),
                        "{name}: {tasks:?} {acked:?}"
                    );
                    assert_eq!(session.metrics.errors("acs_malformed_message"), 1, "{name}");
                }
                "acked-no-task" => {
                    assert!(tasks.is_empty(), "{name}: {tasks:?}");
                    assert_eq!(acked.len(), 1, "{name}");
                    assert_eq!(session.metrics.errors("acs_malformed_task"), 1, "{name}");
                }
                other => panic!("{name}: unknown expect {other:?}"),
            }
        }
    }

    #[test]
    fn manifest_desired_status_is_typed() {
        assert_eq!(
            desired_status(Some("STOPPED")),
            Some(DesiredStatus::Stopped)
        );
        assert_eq!(desired_status(Some("stopped")), None);
        assert_eq!(desired_status(None), None);
    }
}
