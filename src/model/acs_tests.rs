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
    // (A payload's tasks are decoded one by one instead: see below.)
    let err = decode(r#"{"type":"TaskManifestMessage","message":{"tasks":[{"taskArn":5}]}}"#)
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("TaskManifestMessage"), "{text}");
    assert!(text.contains("tasks[0].taskArn"), "{text}");
    let err = decode(r#"{"type":"AckRequest","message":"nope"}"#).unwrap_err();
    assert!(matches!(err, DecodeError::Message { .. }), "{err}");
}

/// Go's `encoding/json` matches the envelope's keys case-insensitively
/// (ecs-agent/wsclient/decode.go reads into `ReceivedMessage{Type, Message}`
/// with tags `json:"type"` and `json:"message"`), so a frame the Go agent
/// takes must not be refused here.
#[test]
fn the_envelope_keys_match_case_insensitively_as_in_go() {
    for frame in [
        r#"{"TYPE":"HeartbeatMessage","MESSAGE":{"messageId":"h1"}}"#,
        r#"{"Type":"HeartbeatMessage","Message":{"messageId":"h1"}}"#,
        r#"{"tYpE":"HeartbeatMessage","message":{"messageId":"h1"},"other":1}"#,
        // The Kelvin sign and the long s fold to k and s in Go.
        "{\"type\":\"HeartbeatMessage\",\"me\u{17f}\u{17f}age\":{\"messageId\":\"h1\"}}",
    ] {
        match decode(frame) {
            Ok(AcsMessage::Heartbeat(h)) => {
                assert_eq!(h.message_id.as_deref(), Some("h1"), "{frame}")
            }
            other => panic!("{frame}: {other:?}"),
        }
    }
    // As in Go, the last matching key wins.
    let m = decode(r#"{"type":"PayloadMessage","TYPE":"HeartbeatMessage"}"#).unwrap();
    assert_eq!(m.type_name(), "HeartbeatMessage");
    // A type that is no string is no frame, in Go as here.
    assert!(decode(r#"{"type":5,"message":{}}"#).is_err());
}

/// ecs-agent/wsclient/decode.go `DecodeConnectionError`: the backend's
/// `{"<ErrorType>": "<message>"}` form, without type and message keys.
#[test]
fn the_unframed_error_form_decodes_as_go_does() {
    match decode(r#"{"InvalidInstanceException":"instance is gone"}"#) {
        Ok(AcsMessage::InvalidInstance(e)) => {
            assert_eq!(e.message.as_deref(), Some("instance is gone"))
        }
        other => panic!("{other:?}"),
    }
    assert!(decode(r#"{"a":"1","b":"2"}"#).is_err());
    assert!(decode(r#"{"a":1}"#).is_err());
    assert!(decode("[]").is_err());
}

/// The good task's dockerConfig is shaped as Amazon ECS sends it (the Go
/// agent's fixture agent/statemanager/testdata/v13/1).
fn two_tasks(bad_field: &str) -> String {
    format!(
        r#"{{"type":"PayloadMessage","message":{{"messageId":"m1","seqNum":3,"tasks":[
          {{"arn":"arn:aws:ecs:us-east-1:1:task/c/bad","desiredStatus":"RUNNING",
            "containers":[{{"name":"web","image":"busybox",{bad_field}}},{{"name":"side","image":"busybox"}}]}},
          {{"arn":"arn:aws:ecs:us-east-1:1:task/c/good","desiredStatus":"RUNNING","networkMode":"bridge",
            "containers":[{{"name":"app","image":"busybox","essential":true,
              "dockerConfig":{{"config":"{{}}","hostConfig":"{{\"NetworkMode\":\"bridge\",\"CapAdd\":[],\"CapDrop\":[]}}","version":"1.17"}}}}]}}]}}}}"#
    )
}

#[test]
fn a_task_that_cannot_be_decoded_leaves_the_others_decoded() {
    for (field, path) in [
        (r#""essential":"yes""#, "containers[0].essential"),
        (r#""memory":1e20"#, "containers[0].memory"),
        (r#""portMappings":{"a":1}"#, "containers[0].portMappings"),
    ] {
        let AcsMessage::Payload(p) = decode(&two_tasks(field)).unwrap() else {
            panic!("not a payload")
        };
        assert_eq!(p.message_id.as_deref(), Some("m1"));
        assert_eq!(p.seq_num, Some(3));
        assert_eq!(p.tasks.len(), 1);
        assert_eq!(
            p.tasks[0].arn.as_deref(),
            Some("arn:aws:ecs:us-east-1:1:task/c/good")
        );
        let [bad] = p.undecodable.as_slice() else {
            panic!("{:?}", p.undecodable)
        };
        assert_eq!(bad.index, 0);
        assert_eq!(
            bad.arn.as_deref(),
            Some("arn:aws:ecs:us-east-1:1:task/c/bad")
        );
        assert_eq!(bad.desired_status.as_deref(), Some("RUNNING"));
        assert_eq!(bad.containers, vec!["web".to_string(), "side".to_string()]);
        assert!(bad.error.starts_with(&format!("{path}: ")), "{}", bad.error);
    }
}

#[test]
fn a_broken_payload_envelope_fails_the_message() {
    for body in [
        r#"{"messageId":5,"tasks":[]}"#,
        r#"{"messageId":"m","tasks":"many"}"#,
        r#"{"messageId":"m","seqNum":"x"}"#,
    ] {
        let frame = format!(r#"{{"type":"PayloadMessage","message":{body}}}"#);
        assert!(decode(&frame).is_err(), "{frame}");
    }
    // A task that is no object at all is one undecodable task.
    let AcsMessage::Payload(p) =
        decode(r#"{"type":"PayloadMessage","message":{"tasks":["x"]}}"#).unwrap()
    else {
        panic!()
    };
    assert_eq!(p.undecodable.len(), 1);
    assert_eq!(p.undecodable[0].arn, None);
}

/// Go's `encoding/json` matches every struct field case-insensitively, not
/// only the envelope's: a payload keyed `"Arn"`, `"TASKS"` or `"MessageID"`
/// runs on the Go agent, so it must decode the same here. Map keys (the
/// environment) are data and keep their case.
#[test]
fn message_fields_match_case_insensitively_as_in_go() {
    let frame = r#"{"type":"PayloadMessage","message":{"MessageID":"m1","SEQNUM":4,
      "Tasks":[{"ARN":"arn:aws:ecs:us-east-1:1:task/c/t","DesiredStatus":"RUNNING",
        "Containers":[{"Name":"app","IMAGE":"busybox","Essential":true,
          "Environment":{"Path":"/x","path":"/y"},
          "PortMappings":[{"ContainerPort":80}]}]}]}}"#;
    let AcsMessage::Payload(p) = decode(frame).unwrap() else {
        panic!("not a payload")
    };
    assert_eq!(p.message_id.as_deref(), Some("m1"));
    assert_eq!(p.seq_num, Some(4));
    let t = &p.tasks[0];
    assert_eq!(t.arn.as_deref(), Some("arn:aws:ecs:us-east-1:1:task/c/t"));
    assert_eq!(t.desired_status.as_deref(), Some("RUNNING"));
    let c = &t.containers[0];
    assert_eq!(
        (c.name.as_deref(), c.image.as_deref(), c.essential),
        (Some("app"), Some("busybox"), Some(true))
    );
    assert_eq!(c.port_mappings[0].container_port, Some(80));
    assert_eq!(c.environment.get("Path").map(String::as_str), Some("/x"));
    assert_eq!(c.environment.get("path").map(String::as_str), Some("/y"));
    // An exact key wins over one that only folds to the same field.
    let m = decode(
        r#"{"type":"HeartbeatMessage","message":{"MessageId":"folded","messageId":"exact"}}"#,
    )
    .unwrap();
    let AcsMessage::Heartbeat(h) = m else {
        panic!()
    };
    assert_eq!(h.message_id.as_deref(), Some("exact"));
    // And an undecodable task is still read for its report.
    let AcsMessage::Payload(p) = decode(
        r#"{"type":"PayloadMessage","message":{"tasks":[{"Arn":"a","Containers":[{"NAME":"web","Essential":"yes"}]}]}}"#,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(p.undecodable[0].arn.as_deref(), Some("a"));
    assert_eq!(p.undecodable[0].containers, vec!["web".to_string()]);
    assert!(
        p.undecodable[0]
            .error
            .starts_with("containers[0].essential"),
        "{:?}",
        p.undecodable
    );
}
