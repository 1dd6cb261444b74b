use super::*;

/// A PayloadMessage as Amazon ECS sends it (captured shape, ids changed):
/// dockerConfig strings, dependsOn, portMappings, a float cpu and a `1.0` int.
const PAYLOAD: &str = r#"{
  "type": "PayloadMessage",
  "message": {
    "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/default",
    "containerInstanceArn": "arn:aws:ecs:us-east-1:123456789012:container-instance/default/5f0c3a3b",
    "generatedAt": 1700000000,
    "messageId": "b5a1a1e0-0d3c-4b0e-9b39-3c7c0a1c3d11",
    "seqNum": 1.0,
    "tasks": [{
      "arn": "arn:aws:ecs:us-east-1:123456789012:task/default/0f6b2c8e9a",
      "family": "web",
      "version": "3",
      "desiredStatus": "RUNNING",
      "taskDefinitionAccountId": "123456789012",
      "launchType": "EC2",
      "networkMode": "bridge",
      "cpu": 0.25,
      "memory": 512,
      "volumes": [],
      "elasticNetworkInterfaces": null,
      "associations": [],
      "containers": [{
        "name": "app",
        "image": "busybox:latest",
        "cpu": 128,
        "memory": 256,
        "essential": true,
        "entryPoint": ["sh", "-c"],
        "command": ["sleep 1000"],
        "environment": {"A": "1", "B": "two"},
        "links": null,
        "portMappings": [{"containerPort": 80, "hostPort": 8080, "protocol": "tcp"}],
        "mountPoints": [],
        "volumesFrom": [],
        "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}],
        "startTimeout": 30,
        "stopTimeout": 10,
        "privileged": false,
        "containerArn": "arn:aws:ecs:us-east-1:123456789012:container/default/0f6b2c8e9a/7e1d",
        "overrides": "{}",
        "dockerConfig": {
          "version": "1.17",
          "config": "{\"Labels\":{\"com.example\":\"x\"},\"User\":\"1000\",\"WorkingDir\":\"/srv\"}",
          "hostConfig": "{\"Ulimits\":[{\"Name\":\"nofile\",\"Soft\":1024,\"Hard\":4096}],\"MemoryReservation\":134217728}"
        },
        "someFutureField": {"nested": true}
      }, {
        "name": "init",
        "image": "busybox:latest",
        "essential": false,
        "command": ["true"]
      }]
    }]
  }
}"#;

#[test]
fn decodes_realistic_payload() {
    let AcsMessage::Payload(p) = decode(PAYLOAD).unwrap() else {
        panic!("not a payload")
    };
    assert_eq!(p.seq_num, Some(1));
    assert_eq!(p.generated_at, Some(1_700_000_000));
    let task = &p.tasks[0];
    assert_eq!(task.cpu, Some(0.25));
    assert_eq!(task.memory, Some(512));
    assert_eq!(task.desired_status.as_deref(), Some("RUNNING"));
    assert!(task.elastic_network_interfaces.is_empty());
    let c = &task.containers[0];
    assert_eq!(c.essential, Some(true));
    assert_eq!(c.environment.get("B").map(String::as_str), Some("two"));
    assert_eq!(c.port_mappings[0].host_port, Some(8080));
    assert_eq!(c.port_mappings[0].protocol.as_deref(), Some("tcp"));
    assert_eq!(c.depends_on[0].container_name.as_deref(), Some("init"));
    assert_eq!(c.depends_on[0].condition.as_deref(), Some("SUCCESS"));
    assert!(c.links.is_empty());
    let dc = c.docker_config.as_ref().unwrap();
    assert_eq!(dc.version.as_deref(), Some("1.17"));
    let host: serde_json::Value = serde_json::from_str(dc.host_config.as_deref().unwrap()).unwrap();
    assert_eq!(host["Ulimits"][0]["Name"], "nofile");
    assert_eq!(task.containers[1].cpu, None);
}

#[test]
fn payload_round_trips() {
    let msg = decode(PAYLOAD).unwrap();
    let again = decode(&encode(&msg)).unwrap();
    assert_eq!(msg, again);
}

#[test]
fn small_messages_round_trip() {
    let msgs = vec![
        AcsMessage::Ack(AckRequest {
            cluster: Some("c".into()),
            container_instance: Some("ci".into()),
            message_id: Some("m1".into()),
        }),
        AcsMessage::Heartbeat(HeartbeatMessage {
            healthy: Some(true),
            message_id: Some("h".into()),
        }),
        AcsMessage::HeartbeatAck(HeartbeatAckRequest {
            message_id: Some("h".into()),
        }),
        AcsMessage::InvalidInstance(ExceptionMessage {
            message: Some("gone".into()),
        }),
        AcsMessage::TaskStopVerificationAck(TaskStopVerificationAck {
            generated_at: Some(5),
            message_id: Some("x".into()),
            stop_tasks: vec![TaskIdentifier {
                task_arn: Some("t".into()),
                task_cluster_arn: None,
                desired_status: Some("STOPPED".into()),
            }],
        }),
        AcsMessage::IamRoleCredentials(IamRoleCredentialsMessage {
            message_id: Some("i".into()),
            role_type: Some("TaskApplication".into()),
            role_credentials: Some(IamRoleCredentials {
                secret_access_key: Some("s3cr3t".into()),
                ..Default::default()
            }),
            ..Default::default()
        }),
    ];
    for m in msgs {
        let text = encode(&m);
        assert!(text.starts_with(&format!("{{\"type\":\"{}\"", m.type_name())));
        assert_eq!(decode(&text).unwrap(), m, "{text}");
    }
}

#[test]
fn encode_skips_absent_fields() {
    let text = encode(&AcsMessage::HeartbeatAck(HeartbeatAckRequest {
        message_id: Some("h".into()),
    }));
    assert_eq!(
        text,
        r#"{"type":"HeartbeatAckRequest","message":{"messageId":"h"}}"#
    );
}

#[test]
fn debug_redacts_secrets() {
    let c = IamRoleCredentials {
        secret_access_key: Some("s3cr3t".into()),
        session_token: Some("T0K3N".into()),
        ..Default::default()
    };
    let s = format!("{c:?}");
    assert!(!s.contains("s3cr3t") && !s.contains("T0K3N"), "{s}");
}

#[test]
fn unknown_type_is_not_an_error() {
    let m = decode(r#"{"type":"BrandNewMessage","message":{"x":1}}"#).unwrap();
    assert_eq!(
        m,
        AcsMessage::Unknown {
            type_name: "BrandNewMessage".into()
        }
    );
}

#[test]
fn missing_message_body_is_empty() {
    let m = decode(r#"{"type":"HeartbeatAckRequest"}"#).unwrap();
    assert_eq!(m, AcsMessage::HeartbeatAck(HeartbeatAckRequest::default()));
}

#[test]
fn malformed_frames_are_errors() {
    for bad in ["", "not json", "[]", r#"{"message":{}}"#, r#"{"type":5}"#] {
        assert!(
            matches!(decode(bad), Err(DecodeError::Envelope(_))),
            "{bad}"
        );
    }
    let err = decode(
        r#"{"type":"PayloadMessage","message":{"tasks":[{"containers":[{"cpu":"lots"}]}]}}"#,
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("PayloadMessage"), "{text}");
    assert!(text.contains("tasks[0].containers[0].cpu"), "{text}");
    let err = decode(r#"{"type":"AckRequest","message":"nope"}"#).unwrap_err();
    assert!(matches!(err, DecodeError::Message { .. }), "{err}");
}
