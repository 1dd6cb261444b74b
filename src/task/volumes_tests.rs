//! Volumes as Amazon ECS sends them (shapes: the Go agent's
//! agent/statemanager/testdata/v1/1/ecs_agent_data.json and
//! agent/api/task/taskvolume.go), and the mounts Docker would make of them.

use super::*;
use serde_json::json;

fn volumes(v: serde_json::Value) -> Result<Vec<TaskVolume>, String> {
    let acs: Vec<acs::Volume> = serde_json::from_value(v).unwrap();
    task_volumes(&acs)
}

#[test]
fn host_docker_and_untyped_volumes_decode_as_the_go_agent() {
    let v = volumes(json!([
        {"host": {"sourcePath": "/tmp/host/path"}, "name": "host", "type": "host"},
        {"host": {}, "name": "local", "type": "host"},
        {"name": "untyped", "host": {"sourcePath": ""}},
        {"name": "scratch", "type": "docker",
         "dockerVolumeConfiguration": {"scope": "task", "driver": "local",
             "driverOpts": {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"},
             "labels": {"a": "b"}}},
        {"name": "shared", "type": "docker",
         "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": true}}
    ]))
    .unwrap();
    assert_eq!(
        v[0].kind,
        VolumeKind::Bind {
            source_path: "/tmp/host/path".into()
        }
    );
    assert_eq!(v[1].kind, VolumeKind::TaskEmpty);
    assert_eq!(v[2].kind, VolumeKind::TaskEmpty, "no type means host");
    let VolumeKind::Docker(d) = &v[3].kind else {
        panic!("{:?}", v[3])
    };
    assert_eq!(d.scope, Scope::Task);
    assert_eq!(d.driver_opts["type"], "tmpfs");
    assert_eq!(d.labels["a"], "b");
    let VolumeKind::Docker(d) = &v[4].kind else {
        panic!("{:?}", v[4])
    };
    assert_eq!((d.scope, d.autoprovision), (Scope::Shared, true));
}

#[test]
fn bad_volumes_are_refused_naming_the_field() {
    for (v, want) in [
        (
            json!([{"name": "a/b", "host": {}}]),
            "volumes[0].name \"a/b\"",
        ),
        (
            json!([{"name": "..", "host": {}}]),
            "volumes[0].name \"..\"",
        ),
        (
            json!([{"name": "a", "host": {}}, {"name": "a", "host": {}}]),
            "volumes[1].name \"a\" is used twice",
        ),
        (
            json!([{"name": "a", "host": {"sourcePath": "rel/dir"}}]),
            "volumes[0] (\"a\"): host.sourcePath \"rel/dir\"",
        ),
        (
            json!([{"name": "a", "type": "docker"}]),
            "volumes[0] (\"a\"): type docker without dockerVolumeConfiguration",
        ),
        (
            json!([{"name": "a", "type": "docker", "dockerVolumeConfiguration": {"driver": "rexray"}}]),
            "dockerVolumeConfiguration.driver \"rexray\"",
        ),
        (
            json!([{"name": "a", "type": "docker", "dockerVolumeConfiguration": {"driverOpts": {"size": "1g"}}}]),
            "invalid option key \"size\"",
        ),
        (
            json!([{"name": "a", "type": "docker", "dockerVolumeConfiguration": {"driverOpts": {"o": "size=1m"}}}]),
            "device or o given without type",
        ),
        (
            json!([{"name": "a", "type": "efs", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}}]),
            "volumes[0] (\"a\"): efsVolumeConfiguration is not supported",
        ),
        (json!([{"name": "a", "type": "fsx"}]), "type \"fsx\""),
    ] {
        let err = volumes(v.clone()).unwrap_err();
        assert!(err.contains(want), "{v}: {err}");
    }
}

fn vols() -> Vec<TaskVolume> {
    volumes(json!([{"name": "data", "host": {}}, {"name": "logs", "host": {}}])).unwrap()
}

#[test]
fn mount_points_are_checked() {
    let mps = |v: serde_json::Value| {
        let m: Vec<acs::MountPoint> = serde_json::from_value(v).unwrap();
        mount_points(&m, &vols())
    };
    let ok = mps(json!([{"sourceVolume": "data", "containerPath": "/data/", "readOnly": true}]))
        .unwrap();
    assert_eq!(ok[0].container_path, "/data");
    assert!(ok[0].read_only);
    for (v, want) in [
        (
            json!([{"sourceVolume": "nope", "containerPath": "/x"}]),
            "mountPoints[0].sourceVolume \"nope\": no such volume",
        ),
        (
            json!([{"sourceVolume": "data", "containerPath": "x"}]),
            "mountPoints[0].containerPath \"x\": expected an absolute path",
        ),
        (
            json!([{"sourceVolume": "data", "containerPath": "/"}]),
            "cannot mount over /",
        ),
        (
            json!([{"sourceVolume": "data", "containerPath": "/a/../etc"}]),
            "mountPoints[0].containerPath \"/a/../etc\"",
        ),
        (
            json!([{"sourceVolume": "data", "containerPath": "/a"}, {"sourceVolume": "logs", "containerPath": "/a/"}]),
            "mountPoints[1].containerPath \"/a\": duplicate",
        ),
    ] {
        let err = mps(v.clone()).unwrap_err();
        assert!(err.contains(want), "{v}: {err}");
    }
}

#[test]
fn volumes_from_must_name_another_container_without_a_cycle() {
    assert!(check_volumes_from(&[("a", vec![]), ("b", vec!["a"])]).is_ok());
    let err = check_volumes_from(&[("a", vec!["zz"])]).unwrap_err();
    assert!(
        err.contains("volumesFrom[0].sourceContainer \"zz\""),
        "{err}"
    );
    let err = check_volumes_from(&[("a", vec!["a"])]).unwrap_err();
    assert!(err.contains("names itself"), "{err}");
    let err =
        check_volumes_from(&[("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a"])]).unwrap_err();
    assert!(err.contains("cycle"), "{err}");
}

fn mp(source: &str, path: &str, ro: bool) -> MountPoint {
    MountPoint {
        source_volume: source.into(),
        container_path: path.into(),
        read_only: ro,
    }
}

#[test]
fn plans_mounts_as_docker_does() {
    let app_mps = [mp("data", "/data", false), mp("logs", "/logs", true)];
    let app_imgs = ["/cache".to_string(), "/data".to_string()];
    let side_vf = [VolumesFrom {
        source_container: "app".into(),
        read_only: false,
    }];
    let side_mps = [mp("logs", "/data", false)];
    let reader_vf = [VolumesFrom {
        source_container: "side".into(),
        read_only: true,
    }];
    let cs = [
        ContainerVolumes {
            name: "app",
            mount_points: &app_mps,
            volumes_from: &[],
            image_volumes: &app_imgs,
        },
        ContainerVolumes {
            name: "side",
            mount_points: &side_mps,
            volumes_from: &side_vf,
            image_volumes: &[],
        },
        ContainerVolumes {
            name: "reader",
            mount_points: &[],
            volumes_from: &reader_vf,
            image_volumes: &[],
        },
    ];
    let app = plan(&cs, 0);
    // The image's /data is covered by the mount point; /cache is anonymous.
    assert_eq!(
        app,
        vec![
            PlannedMount {
                source: MountSource::Anonymous {
                    container: "app".into(),
                    path: "/cache".into()
                },
                destination: "/cache".into(),
                read_only: false
            },
            PlannedMount {
                source: MountSource::Volume("data".into()),
                destination: "/data".into(),
                read_only: false
            },
            PlannedMount {
                source: MountSource::Volume("logs".into()),
                destination: "/logs".into(),
                read_only: true
            },
        ]
    );
    // side: app's mounts (its anonymous /cache too), its own /data over app's.
    let side = plan(&cs, 1);
    assert_eq!(side.len(), 3);
    assert_eq!(side[1].source, MountSource::Volume("logs".into()));
    assert!(!side[1].read_only);
    assert_eq!(side[0].source, app[0].source, "the same anonymous volume");
    // reader: everything side has, read-only.
    let reader = plan(&cs, 2);
    assert_eq!(reader.len(), 3);
    assert!(reader.iter().all(|m| m.read_only), "{reader:?}");
}
