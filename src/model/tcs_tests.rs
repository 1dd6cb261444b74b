use super::*;

#[test]
fn decodes_publish_metrics_as_the_go_agent_sends_it() {
    let text = r#"{"type":"PublishMetricsRequest","message":{
      "metadata":{"cluster":"default","containerInstance":"arn:ci","idle":false,"fin":true,"messageId":"m"},
      "timestamp":1.7000000001e9,
      "taskMetrics":[{"taskArn":"arn:t","taskDefinitionFamily":"web","taskDefinitionVersion":"1",
        "containerMetrics":[{"containerName":"app",
          "cpuStatsSet":{"min":0,"max":1.5,"sampleCount":3,"sum":2.0},
          "memoryStatsSet":{"min":1,"max":2,"sampleCount":3.0,"sum":5},
          "networkStatsSet":{"rxBytes":{"min":0,"max":10,"sampleCount":2,"sum":10}}}]}]}}"#;
    let TcsMessage::PublishMetrics(m) = decode(text).unwrap() else {
        panic!("wrong type")
    };
    let meta = m.metadata.as_ref().unwrap();
    assert_eq!(meta.fin, Some(true));
    assert_eq!(m.timestamp, Some(1.7000000001e9));
    let cm = &m.task_metrics[0].container_metrics[0];
    assert_eq!(cm.memory_stats_set.as_ref().unwrap().sample_count, Some(3));
    let msg = TcsMessage::PublishMetrics(m);
    assert_eq!(decode(&encode(&msg)).unwrap(), msg);
}

#[test]
fn acks_and_heartbeats_round_trip() {
    for m in [
        TcsMessage::AckPublishMetric(AckPublishMetric {
            message: Some("ok".into()),
        }),
        TcsMessage::AckPublishHealth(AckPublishHealth::default()),
        TcsMessage::AckPublishInstanceStatus(AckPublishInstanceStatus::default()),
        TcsMessage::Heartbeat(HeartbeatMessage {
            healthy: Some(true),
        }),
        TcsMessage::StopTelemetrySession(StopTelemetrySessionMessage {
            message: Some("bye".into()),
        }),
        TcsMessage::Server(ExceptionMessage {
            message: Some("boom".into()),
        }),
    ] {
        assert_eq!(decode(&encode(&m)).unwrap(), m);
    }
}

#[test]
fn unknown_and_malformed() {
    assert_eq!(
        decode(r#"{"type":"Whatever","message":{}}"#).unwrap(),
        TcsMessage::Unknown {
            type_name: "Whatever".into()
        }
    );
    let err = decode(r#"{"type":"PublishHealthRequest","message":{"tasks":[{"containers":[{"statusSince":"x"}]}]}}"#)
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("PublishHealthRequest")
            && text.contains("tasks[0].containers[0].statusSince"),
        "{text}"
    );
}
