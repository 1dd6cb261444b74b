use super::*;
use crate::model::acs::{AcsMessage, AttachTaskNetworkInterfacesMessage};
use crate::state::EniAttachmentRecord;

const MAC: [u8; 6] = [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x05];

/// The message as Amazon ECS sends it: the shape of the Go agent's own
/// fixture (ecs-agent/acs/session/attach_task_eni_responder_test.go,
/// testAttachTaskENIMessage) and the ACS model (acs-api-2.json,
/// AttachTaskNetworkInterfacesMessage).
fn message(wait_timeout_ms: i64) -> AttachTaskNetworkInterfacesMessage {
    let json = serde_json::json!({
        "type": "AttachTaskNetworkInterfacesMessage",
        "message": {
            "messageId": "m1",
            "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/c",
            "containerInstanceArn": "arn:aws:ecs:us-east-1:123456789012:container-instance/c/i",
            "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/c/t",
            "waitTimeoutMs": wait_timeout_ms,
            "generatedAt": 1_700_000_000,
            "unknownMember": true,
            "elasticNetworkInterfaces": [{
                "attachmentArn": "arn:aws:ecs:us-east-1:123456789012:attachment/a1",
                "ec2Id": "eni-0123456789abcdef0",
                "macAddress": "02:AA:bb:cc:dd:05",
                "ipv4Addresses": [{"primary": true, "privateAddress": "10.0.0.5"}],
                "subnetGatewayIpv4Address": "10.0.0.1/24",
                "interfaceAssociationProtocol": "default"
            }]
        }
    });
    match AcsMessage::decode(&json.to_string()).unwrap() {
        AcsMessage::AttachTaskNetworkInterfaces(m) => m,
        other => panic!("{other:?}"),
    }
}

#[test]
fn messages_are_validated_as_the_go_agent_does() {
    let now = Instant::now();
    let list = attachments_of(&message(5000), now).unwrap();
    assert_eq!(
        list,
        vec![EniAttachment {
            attachment_arn: "arn:aws:ecs:us-east-1:123456789012:attachment/a1".into(),
            task_arn: "arn:aws:ecs:us-east-1:123456789012:task/c/t".into(),
            cluster_arn: "arn:aws:ecs:us-east-1:123456789012:cluster/c".into(),
            mac: MAC,
            expires_at: now + Duration::from_millis(5000),
        }]
    );
    let e = attachments_of(&message(0), now).unwrap_err();
    assert_eq!(e.field, "waitTimeoutMs");
    let mut m = message(5000);
    m.task_arn = None;
    assert_eq!(attachments_of(&m, now).unwrap_err().field, "taskArn");
    let mut m = message(5000);
    m.elastic_network_interfaces[0].mac_address = Some("nope".into());
    let e = attachments_of(&m, now).unwrap_err();
    assert_eq!(e.field, "elasticNetworkInterfaces[0].macAddress");
    assert!(e.to_string().contains("MAC address"), "{e}");
    let mut m = message(5000);
    m.elastic_network_interfaces.clear();
    assert_eq!(
        attachments_of(&m, now).unwrap_err().field,
        "elasticNetworkInterfaces"
    );
}

#[test]
fn reported_once_when_the_mac_appears_and_dropped_after_the_deadline() {
    let now = Instant::now();
    let w = EniWatcher::new();
    let a = attachments_of(&message(1000), now).unwrap().remove(0);
    w.add(a.clone());
    assert!(w.waiting());
    // Not on the host yet: nothing to do.
    assert_eq!(w.decide(&[[1, 2, 3, 4, 5, 6]], now), Decision::default());
    // It appears: report it; once taken, never again (even if ACS repeats the message).
    let d = w.decide(&[[1, 2, 3, 4, 5, 6], MAC], now + Duration::from_millis(10));
    assert_eq!(d.report, vec![a.clone()]);
    w.mark_sent(&a.attachment_arn);
    w.add(a.clone());
    assert!(!w.waiting());
    assert_eq!(
        w.decide(&[MAC], now + Duration::from_millis(20)),
        Decision::default()
    );

    // Another one that never appears is dropped at its deadline, once.
    let mut b = a.clone();
    b.attachment_arn = "arn:aws:ecs:us-east-1:123456789012:attachment/b".into();
    b.mac = [0x02, 0, 0, 0, 0, 9];
    w.add(b.clone());
    let late = b.expires_at + Duration::from_millis(1);
    let d = w.decide(&[MAC], late);
    assert_eq!((d.report, d.expired), (vec![], vec![b]));
    assert!(!w.waiting());
    assert_eq!(w.decide(&[MAC], late), Decision::default());
}

#[test]
fn a_report_that_failed_is_tried_again_until_the_deadline() {
    let now = Instant::now();
    let w = EniWatcher::new();
    let a = attachments_of(&message(1000), now).unwrap().remove(0);
    w.add(a.clone());
    assert_eq!(w.decide(&[MAC], now).report, vec![a.clone()]);
    // Not marked sent (the call failed): reported again on the next look.
    assert_eq!(
        w.decide(&[MAC], now + Duration::from_millis(300)).report,
        vec![a]
    );
}

#[test]
fn attachments_survive_a_restart_with_what_is_left_of_their_time() {
    let now = Instant::now();
    let now_ms = 1_700_000_000_000;
    let w = EniWatcher::new();
    let a = attachments_of(&message(10_000), now).unwrap().remove(0);
    w.add(a.clone());
    let later = now + Duration::from_millis(4000);
    let records = w.records(later, now_ms + 4000);
    assert_eq!(
        records,
        vec![EniAttachmentRecord {
            attachment_arn: a.attachment_arn.clone(),
            task_arn: a.task_arn.clone(),
            cluster_arn: a.cluster_arn.clone(),
            mac: "02:aa:bb:cc:dd:05".into(),
            expires_at_ms: now_ms + 10_000,
            sent: false,
        }]
    );
    // A new process 2 s after that: 4 s of the 10 s are left.
    let after = Instant::now();
    let w2 = EniWatcher::new();
    w2.restore(&records, after, now_ms + 6000);
    assert!(w2.waiting());
    assert_eq!(
        w2.decide(&[MAC], after).report[0].expires_at,
        after + Duration::from_millis(4000)
    );
    // Expired meanwhile: dropped; reported ones are not reported again.
    let w3 = EniWatcher::new();
    w3.restore(&records, after, now_ms + 10_000);
    assert!(!w3.waiting());
    let mut sent = records.clone();
    sent[0].sent = true;
    let w4 = EniWatcher::new();
    w4.restore(&sent, after, now_ms + 5000);
    assert!(!w4.waiting());
    assert_eq!(w4.decide(&[MAC], after), Decision::default());
}
