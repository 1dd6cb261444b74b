//! No ACS or TCS frame, however malformed, makes the decoders panic.

use crate::fuzz_support;

/// Seeds shaped as Amazon ECS sends them (field names and nesting from
/// acs-api-2.json; dockerConfig strings as in the Go agent's checkpoint
/// fixtures, agent/statemanager/testdata).
pub(crate) const ACS_SEEDS: &[&str] = &[
    r#"{"type":"PayloadMessage","message":{"clusterArn":"arn:aws:ecs:us-west-2:123456789012:cluster/default","containerInstanceArn":"arn:aws:ecs:us-west-2:123456789012:container-instance/default/0a1b","generatedAt":1700000000,"messageId":"m-1","seqNum":7,
      "tasks":[{"arn":"arn:aws:ecs:us-west-2:123456789012:task/default/1c2d","family":"web","version":"3","desiredStatus":"RUNNING","networkMode":"awsvpc","cpu":0.25,"memory":512,"taskDefinitionAccountId":"123456789012","launchType":"EC2",
        "roleCredentials":{"credentialsId":"c-1","roleArn":"arn:aws:iam::123456789012:role/app","accessKeyId":"AKID","secretAccessKey":"SECRET","sessionToken":"TOKEN","expiration":"2026-12-05T20:00:00Z"},
        "elasticNetworkInterfaces":[{"attachmentArn":"arn:aws:ecs:us-west-2:123456789012:attachment/a1","ec2Id":"eni-1","macAddress":"0a:1b:2c:3d:4e:5f","privateDnsName":"ip-10-0-0-5.ec2.internal","domainNameServers":["10.0.0.2"],"domainName":["ec2.internal"],"ipv4Addresses":[{"primary":true,"privateAddress":"10.0.0.5"}],"ipv6Addresses":[],"subnetGatewayIpv4Address":"10.0.0.1/24","interfaceAssociationProtocol":"default"}],
        "containers":[{"name":"app","image":"registry.example.com:5000/team/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","cpu":128,"memory":256,"memoryReservation":128,"essential":true,"entryPoint":["sh","-c"],"command":["sleep 1000"],"environment":{"A":"1"},
          "portMappings":[{"containerPort":80,"hostPort":0,"protocol":"tcp"}],"mountPoints":[],"volumesFrom":[],"links":null,
          "dependsOn":[{"containerName":"init","condition":"SUCCESS"}],"startTimeout":30,"stopTimeout":10,"overrides":"{}",
          "dockerConfig":{"version":"1.24","config":"{\"User\":\"0\",\"HealthCheck\":{\"Test\":[\"CMD\",\"echo\",\"hello\"],\"Interval\":30000000000,\"Timeout\":5000000000,\"Retries\":3}}","hostConfig":"{\"NetworkMode\":\"awsvpc\",\"CapAdd\":[],\"CapDrop\":[],\"Ulimits\":[{\"Name\":\"nofile\",\"Soft\":1024,\"Hard\":4096}]}"}},
          {"name":"init","image":"busybox","essential":false,"command":["true"],"dockerConfig":{"version":"1.17","config":"{}","hostConfig":"{\"CapAdd\":[],\"CapDrop\":[]}"}}]}]}}"#,
    r#"{"type":"PayloadMessage","message":{"clusterArn":"arn:aws:ecs:us-west-2:123456789012:cluster/default","containerInstanceArn":"arn:aws:ecs:us-west-2:123456789012:container-instance/default/0a1b","messageId":"m-2","seqNum":8,
      "tasks":[{"arn":"arn:aws:ecs:us-west-2:123456789012:task/default/3e4f","family":"svc","version":"1","desiredStatus":"RUNNING","networkMode":"host",
        "containers":[{"name":"app","image":"busybox:latest","cpu":10,"memory":64,"essential":true,"command":["sleep","100"],"environment":{"K":"V"},"portMappings":[],
          "dockerConfig":{"version":"1.17","config":"{\"Labels\":{\"a\":\"b\"}}","hostConfig":"{\"Ulimits\":[{\"Name\":\"nofile\",\"Soft\":1024,\"Hard\":4096}]}"}}]}]}}"#,
    r#"{"type":"HeartbeatMessage","message":{"healthy":true,"messageId":"h-1"}}"#,
    r#"{"type":"IAMRoleCredentialsMessage","message":{"clusterArn":"arn:c","containerInstanceArn":"arn:ci","messageId":"r-1","roleType":"TaskApplication","taskArn":"arn:t","roleCredentials":{"credentialsId":"c-1","roleArn":"arn:r","accessKeyId":"A","secretAccessKey":"S","sessionToken":"T","expiration":"2026-12-05T20:00:00Z"}}}"#,
    r#"{"type":"TaskManifestMessage","message":{"clusterArn":"arn:c","containerInstanceArn":"arn:ci","messageId":"t-1","generatedAt":1700000000,"timeline":3,"tasks":[{"taskArn":"arn:t","desiredStatus":"RUNNING","sequenceNumber":2}]}}"#,
    r#"{"type":"TaskStopVerificationAck","message":{"messageId":"v-1","generatedAt":1700000000,"stopTasks":[{"taskArn":"arn:t","desiredStatus":"STOPPED","sequenceNumber":3}]}}"#,
    r#"{"type":"AttachTaskNetworkInterfacesMessage","message":{"clusterArn":"arn:c","containerInstanceArn":"arn:ci","messageId":"e-1","taskArn":"arn:t","waitTimeoutMs":10000,"elasticNetworkInterfaces":[{"attachmentArn":"arn:a","ec2Id":"eni-1","macAddress":"0a:1b:2c:3d:4e:5f","ipv4Addresses":[{"primary":true,"privateAddress":"10.0.0.5"}],"subnetGatewayIpv4Address":"10.0.0.1/24"}]}}"#,
    r#"{"type":"CloseMessage","message":{"message":"bye"}}"#,
    r#"{"type":"InvalidInstanceException","message":{"message":"no such instance"}}"#,
];

const TCS_SEEDS: &[&str] = &[
    r#"{"type":"AckPublishMetric","message":{"message":"ok"}}"#,
    r#"{"type":"HeartbeatMessage","message":{"healthy":true}}"#,
    r#"{"type":"StopTelemetrySessionMessage","message":{"message":"bye"}}"#,
    r#"{"type":"PublishMetricsRequest","message":{"metadata":{"cluster":"default","containerInstance":"arn:ci","idle":false,"fin":true,"messageId":"m"},"timestamp":1.7e9,"taskMetrics":[{"taskArn":"arn:t","taskDefinitionFamily":"web","taskDefinitionVersion":"1","containerMetrics":[{"containerName":"app","cpuStatsSet":{"min":0,"max":1.5,"sampleCount":3,"sum":2.0}}]}]}}"#,
];

#[test]
fn acs_frames_never_panic_the_decoder() {
    fuzz_support::json(ACS_SEEDS, |text| {
        if let Ok(msg) = super::acs::AcsMessage::decode(text) {
            // What decodes must encode again (the agent echoes some frames).
            let _ = msg.encode();
        }
    });
}

#[test]
fn acs_frames_as_bytes_never_panic_the_decoder() {
    fuzz_support::strings(ACS_SEEDS, |text| {
        let _ = super::acs::AcsMessage::decode(text);
    });
}

#[test]
fn tcs_frames_never_panic_the_decoder() {
    fuzz_support::json(TCS_SEEDS, |text| {
        let _ = super::tcs::TcsMessage::decode(text);
    });
}
