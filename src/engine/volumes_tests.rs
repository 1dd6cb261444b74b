//! Volumes made where they belong, shared ones matched as the Go agent
//! matches them, a task's removed at cleanup.

use super::*;
use crate::model::acs;
use crate::task::from_acs::{task_def, Policy};

fn def(volumes: serde_json::Value, containers: serde_json::Value) -> TaskDef {
    let t: acs::Task = serde_json::from_value(serde_json::json!({
        "arn": "arn:aws:ecs:us-east-1:0:task/c/t1", "family": "f", "version": "1",
        "desiredStatus": "RUNNING", "networkMode": "host",
        "volumes": volumes, "containers": containers
    }))
    .unwrap();
    task_def(&t, Policy::default()).unwrap()
}

fn settings(dir: &Path, full: bool) -> VolumeSettings {
    VolumeSettings {
        data_dir: dir.to_path_buf(),
        host_data_dir: None,
        shared_match_full_config: full,
    }
}

fn prepare(s: &VolumeSettings, d: &TaskDef, i: usize) -> Result<Vec<BindMount>, String> {
    VolumeRequest::new(s.clone(), d, i, &|_| Vec::new())
        .map(|r| r.prepare().map(|p| p.mounts))
        .unwrap_or(Ok(Vec::new()))
}

#[test]
fn host_and_task_volumes_are_made_and_removed_with_the_task() {
    let tmp = tempfile::tempdir().unwrap();
    let s = settings(tmp.path(), false);
    let host = tmp.path().join("host/dir");
    let d = def(
        serde_json::json!([
            {"name": "h", "type": "host", "host": {"sourcePath": host.to_str().unwrap()}},
            {"name": "e", "type": "host", "host": {}},
            {"name": "t", "type": "docker", "dockerVolumeConfiguration": {"scope": "task", "driver": "local"}}
        ]),
        serde_json::json!([
            {"name": "a", "image": "x", "mountPoints": [
                {"sourceVolume": "h", "containerPath": "/h", "readOnly": true},
                {"sourceVolume": "e", "containerPath": "/e"},
                {"sourceVolume": "t", "containerPath": "/t"}]},
            {"name": "b", "image": "x", "volumesFrom": [{"sourceContainer": "a", "readOnly": true}]}
        ]),
    );
    let a = prepare(&s, &d, 0).unwrap();
    assert_eq!(a.len(), 3);
    assert_eq!(a[1].source, host, "a missing sourcePath is made");
    assert!(host.is_dir());
    assert!(a[1].read_only);
    assert_eq!(a[0].source, tmp.path().join("volumes/tasks/t1/v/e"));
    assert!(a[0].source.is_dir() && !a[0].read_only);
    let b = prepare(&s, &d, 1).unwrap();
    assert_eq!(
        b.iter().map(|m| &m.source).collect::<Vec<_>>(),
        a.iter().map(|m| &m.source).collect::<Vec<_>>(),
        "volumesFrom mounts the same volumes"
    );
    assert!(b.iter().all(|m| m.read_only));
    std::fs::write(host.join("keep"), "x").unwrap();
    remove_task(tmp.path(), "t1");
    assert!(!tmp.path().join("volumes/tasks/t1").exists());
    assert!(host.join("keep").exists(), "a bind source is never removed");
}

#[test]
fn shared_volumes_are_provisioned_once_and_matched_by_config() {
    let tmp = tempfile::tempdir().unwrap();
    let shared = |autoprovision: bool, labels: serde_json::Value| {
        def(
            serde_json::json!([{"name": "db", "type": "docker", "dockerVolumeConfiguration":
                {"scope": "shared", "autoprovision": autoprovision, "labels": labels}}]),
            serde_json::json!([{"name": "a", "image": "x", "mountPoints": [
                {"sourceVolume": "db", "containerPath": "/db"}]}]),
        )
    };
    let loose = settings(tmp.path(), false);
    let err = prepare(&loose, &shared(false, serde_json::json!({})), 0).unwrap_err();
    assert!(err.contains("autoprovision is set to false"), "{err}");
    let m = prepare(&loose, &shared(true, serde_json::json!({"v": "1"})), 0).unwrap();
    assert_eq!(m[0].source, tmp.path().join("volumes/shared/db/_data"));
    std::fs::write(m[0].source.join("row"), "1").unwrap();
    remove_task(tmp.path(), "t1");
    assert!(m[0].source.join("row").exists(), "shared volumes stay");
    // Found by name: other labels are fine unless the full config must match.
    assert!(prepare(&loose, &shared(false, serde_json::json!({"v": "2"})), 0).is_ok());
    let strict = settings(tmp.path(), true);
    let err = prepare(&strict, &shared(true, serde_json::json!({"v": "2"})), 0).unwrap_err();
    assert!(
        err.contains("volume \"db\": the shared volume exists with other labels"),
        "{err}"
    );
    assert!(prepare(&strict, &shared(true, serde_json::json!({"v": "1"})), 0).is_ok());
}
