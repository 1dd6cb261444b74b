use std::time::Duration;

use super::*;
use crate::task::def::{ContainerDef, TaskDef};
use crate::task::{DesiredStatus, TaskStatus};

fn task(arn: &str) -> Task {
    let c = ContainerDef::minimal("c", "busybox");
    let td = TaskDef::minimal(arn, vec![c]);
    Task::new(td, DesiredStatus::Running, Duration::from_secs(30))
}

pub(super) fn change(arn: &str) -> StateChange {
    StateChange {
        task_arn: arn.into(),
        task_status: Some(TaskStatus::Running),
        reason: None,
        containers: vec![],
        pull_started_at_ms: None,
        pull_stopped_at_ms: None,
        execution_stopped_at_ms: None,
    }
}

fn eni_record() -> EniAttachmentRecord {
    EniAttachmentRecord {
        attachment_arn: "arn:att".into(),
        task_arn: "arn:task".into(),
        cluster_arn: "arn:c".into(),
        mac: "02:aa:bb:cc:dd:05".into(),
        expires_at_ms: 1_700_000_060_000,
        sent: false,
    }
}

#[test]
fn everything_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = StateStore::open(dir.path()).unwrap();
        let rec = InstanceRecord {
            cluster: "c".into(),
            endpoint: "http://x".into(),
            container_instance_arn: "arn:ci".into(),
            cluster_arn: "arn:c".into(),
        };
        s.save_instance(&rec).unwrap();
        s.save_seq_num(42).unwrap();
        s.save_eni_attachments(&[eni_record()]).unwrap();
        s.save_tasks(&[&task("a"), &task("b")]).unwrap();
        assert_eq!(
            s.save_task_with_report(&task("a"), Some(&change("a")))
                .unwrap(),
            Some(1)
        );
        assert_eq!(
            s.save_task_with_report(&task("b"), Some(&change("b")))
                .unwrap(),
            Some(2)
        );
        assert_eq!(s.save_task_with_report(&task("b"), None).unwrap(), None);
        s.delete_report(1).unwrap();
        s.delete_task("b").unwrap();
    }
    let s = StateStore::open(dir.path()).unwrap();
    let saved = s.load().unwrap();
    assert_eq!(saved.instance.unwrap().container_instance_arn, "arn:ci");
    assert_eq!(saved.seq_num, Some(42));
    assert_eq!(saved.eni_attachments, vec![eni_record()]);
    assert_eq!(saved.tasks.len(), 1);
    assert_eq!(saved.tasks[0].arn(), "a");
    assert_eq!(saved.outbox.len(), 1);
    assert_eq!(saved.outbox[0].0, 2);
    assert_eq!(saved.outbox[0].1.task_arn, "b");
    // Ids keep growing after a delete, so order is kept.
    assert_eq!(
        s.save_task_with_report(&task("a"), Some(&change("a")))
            .unwrap(),
        Some(3)
    );
}

#[test]
fn another_instances_data_dir_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let s = StateStore::open(dir.path()).unwrap();
    let rec = InstanceRecord {
        cluster: "prod".into(),
        endpoint: "".into(),
        container_instance_arn: "arn:ci/1".into(),
        cluster_arn: "arn:c".into(),
    };
    assert!(s.check_owner(Some(&rec), "prod", "").is_ok());
    assert!(s.check_owner(None, "other", "").is_ok());
    let e = s
        .check_owner(Some(&rec), "staging", "")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("arn:ci/1")
            && e.contains("\"prod\"")
            && e.contains("\"staging\"")
            && e.contains("ECS_CLUSTER"),
        "{e}"
    );
}

#[test]
fn a_corrupted_file_is_an_error_and_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    std::fs::write(&path, b"this is not a redb file at all, just garbage bytes").unwrap();
    let e = StateStore::open(dir.path()).unwrap_err().to_string();
    assert!(e.contains(&path.display().to_string()), "{e}");
    assert!(e.contains("kept"), "{e}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"this is not a redb file at all, just garbage bytes"
    );
}

fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// The checkpoint holds task environments: owner-only, from creation on.
#[test]
fn a_new_data_dir_and_checkpoint_are_owner_only() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    drop(StateStore::open(&dir).unwrap());
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join(FILE_NAME)), 0o600);
}

#[test]
fn wider_modes_are_narrowed_at_start_and_the_state_is_kept() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    {
        let s = StateStore::open(dir.path()).unwrap();
        s.save_seq_num(42).unwrap();
    }
    let file = dir.path().join(FILE_NAME);
    // As an older agent left them.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let s = StateStore::open(dir.path()).unwrap();
    assert_eq!(mode(dir.path()), 0o700);
    assert_eq!(mode(&file), 0o600);
    assert_eq!(s.load().unwrap().seq_num, Some(42));
}

#[test]
fn awslogs_positions_survive_reopening_until_deleted() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = StateStore::open(dir.path()).unwrap();
        assert_eq!(s.log_offset("t/c").unwrap(), None);
        s.save_log_offset("t/c", b"{\"inode\":1,\"offset\":10}")
            .unwrap();
        s.save_log_offset("t/c", b"{\"inode\":1,\"offset\":20}")
            .unwrap();
        s.save_log_offset("t/d", b"x").unwrap();
    }
    let s = StateStore::open(dir.path()).unwrap();
    assert_eq!(
        s.log_offset("t/c").unwrap().as_deref(),
        Some(&b"{\"inode\":1,\"offset\":20}"[..])
    );
    s.delete_log_offset("t/c").unwrap();
    assert_eq!(s.log_offset("t/c").unwrap(), None);
    assert_eq!(s.log_offset("t/d").unwrap().as_deref(), Some(&b"x"[..]));
}

/// A change goes to its sender while its commit is under way, and the
/// control plane's acceptance of it, arriving at once, is applied after
/// that commit: it removes the row, never runs before the row exists.
#[test]
fn an_acceptance_that_arrives_during_the_commit_removes_the_change() {
    let dir = tempfile::tempdir().unwrap();
    let s = std::sync::Arc::new(StateStore::open(dir.path()).unwrap());
    let mut accepting = Vec::new();
    let mut sent = Vec::new();
    s.save_task_and_send(&task("a"), Some(change("a")), &mut |id, c| {
        sent.push((id, c.task_arn));
        let store = s.clone();
        let id = id.expect("queued in the outbox");
        // The reporter's thread: blocks until the commit has ended.
        accepting.push(std::thread::spawn(move || store.delete_report(id)));
    })
    .unwrap();
    for t in accepting {
        t.join().unwrap().unwrap();
    }
    assert_eq!(sent.len(), 1, "sent once: {sent:?}");
    assert_eq!(sent[0].1, "a");
    let saved = s.load().unwrap();
    assert!(saved.outbox.is_empty(), "left: {:?}", saved.outbox);
    assert_eq!(saved.tasks.len(), 1);

    // No change, nothing sent; the task is saved all the same.
    s.save_task_and_send(&task("b"), None, &mut |_, c| panic!("sent {c:?}"))
        .unwrap();
    assert_eq!(s.load().unwrap().tasks.len(), 2);
}
