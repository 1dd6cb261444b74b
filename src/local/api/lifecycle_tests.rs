use super::*;
use crate::local::state::ContainerRec;

fn task() -> TaskRec {
    TaskRec {
        arn: "t".into(),
        last_status: "PENDING".into(),
        desired_status: "RUNNING".into(),
        containers: vec![ContainerRec {
            name: "app".into(),
            last_status: "PENDING".into(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn task_moves_forward_and_counts_duplicates() {
    let mut t = task();
    assert_eq!(
        apply_task_status(&mut t, "RUNNING", None, 10.0),
        Applied::Changed
    );
    assert_eq!(t.started_at, Some(10.0));
    assert_eq!(
        apply_task_status(&mut t, "RUNNING", None, 11.0),
        Applied::Duplicate
    );
    assert_eq!(
        apply_task_status(&mut t, "PENDING", None, 12.0),
        Applied::Ignored
    );
    assert_eq!(t.last_status, "RUNNING");
    assert_eq!(
        apply_task_status(&mut t, "STOPPED", Some("boom"), 13.0),
        Applied::Changed
    );
    assert_eq!(t.stopped_at, Some(13.0));
    assert_eq!(t.desired_status, "STOPPED");
    assert_eq!(t.stopped_reason.as_deref(), Some("boom"));
    assert_eq!(t.stop_code.as_deref(), Some("EssentialContainerExited"));
    assert_eq!(
        apply_task_status(&mut t, "NONSENSE", None, 14.0),
        Applied::Ignored
    );
}

#[test]
fn user_stop_reason_is_kept() {
    let mut t = task();
    t.desired_status = "STOPPED".into();
    t.stopped_reason = Some("Task stopped by user".into());
    t.stop_code = Some("UserInitiated".into());
    apply_task_status(&mut t, "STOPPED", Some("other"), 1.0);
    assert_eq!(t.stopped_reason.as_deref(), Some("Task stopped by user"));
    assert_eq!(t.stop_code.as_deref(), Some("UserInitiated"));
}

#[test]
fn container_changes() {
    let mut t = task();
    let ch = ContainerChange {
        name: "app".into(),
        status: Some("RUNNING".into()),
        runtime_id: Some("abc".into()),
        ..Default::default()
    };
    assert_eq!(apply_container_change(&mut t, &ch), Applied::Changed);
    assert_eq!(apply_container_change(&mut t, &ch), Applied::Duplicate);
    let stop = ContainerChange {
        name: "app".into(),
        status: Some("STOPPED".into()),
        exit_code: Some(3),
        reason: Some("oom".into()),
        ..Default::default()
    };
    assert_eq!(apply_container_change(&mut t, &stop), Applied::Changed);
    let c = &t.containers[0];
    assert_eq!(
        (c.exit_code, c.reason.as_deref(), c.runtime_id.as_deref()),
        (Some(3), Some("oom"), Some("abc"))
    );
    let unknown = ContainerChange {
        name: "nope".into(),
        status: Some("RUNNING".into()),
        ..Default::default()
    };
    assert_eq!(apply_container_change(&mut t, &unknown), Applied::Ignored);
}

/// The Go agent's manifest-pulled report (agent/api/statechange.go: task
/// MANIFEST_PULLED sent as PENDING, each container PENDING with its
/// resolved imageDigest) records the digests and is no duplicate.
#[test]
fn manifest_pulled_report_records_the_digest() {
    let mut t = task();
    let ch = ContainerChange {
        name: "app".into(),
        status: Some("PENDING".into()),
        image_digest: Some("sha256:abc".into()),
        ..Default::default()
    };
    assert_eq!(apply_container_change(&mut t, &ch), Applied::Changed);
    assert_eq!(t.containers[0].image_digest.as_deref(), Some("sha256:abc"));
    assert_eq!(t.containers[0].last_status, "PENDING");
    // The same again is a duplicate.
    assert_eq!(apply_container_change(&mut t, &ch), Applied::Duplicate);
}
