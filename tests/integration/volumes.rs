//! Task volumes, mountPoints and volumesFrom as a user checks them: from
//! inside the containers and on the host.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{self, sh, task_id, Agent, Aws, EcsLocal};

const START: Duration = Duration::from_secs(60);

struct World {
    env: common::TestEnv,
    _local: EcsLocal,
    agent: Agent,
    aws: Aws,
}

fn world(extra_env: &[(&str, &str)]) -> Option<World> {
    let env = common::env()?;
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, extra_env);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);
    Some(World {
        env,
        _local: local,
        agent,
        aws,
    })
}

impl World {
    fn run(&self, def: Value) -> String {
        let td = common::register_task_definition(&self.aws, def);
        common::run_task(&self.aws, &self.agent, &td)
    }

    #[track_caller]
    fn stopped(&self, arn: &str) -> Value {
        common::wait_task_status(&self.aws, &self.agent, arn, "STOPPED", START)
    }

    fn containers_of(&self, arn: &str) -> Vec<String> {
        let listing = common::ctr(
            &self.env,
            self.agent.namespace(),
            &["containers", "ls", "-q"],
        );
        listing
            .lines()
            .filter(|l| l.starts_with(task_id(arn)))
            .map(str::to_string)
            .collect()
    }
}

fn exit_code(t: &Value, name: &str) -> Value {
    t["containers"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .map(|c| c["exitCode"].clone())
        .unwrap_or(Value::Null)
}

/// One task proves: a host sourcePath is made and what a container writes
/// there is on the host; a task-scoped volume is shared by two containers
/// (one through volumesFrom, read-only: writes fail) and is gone after the
/// task's cleanup (a local-driver tmpfs from driverOpts unmounted with it),
/// while a shared autoprovisioned volume stays.
#[test]
fn volumes_are_shared_by_containers_and_live_as_long_as_their_scope() {
    let Some(w) = world(&[("ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION", "1s")]) else {
        return;
    };
    let host = tempfile::tempdir().unwrap();
    let bind = host.path().join("made/by/the/agent");
    let arn = w.run(json!({
        "family": "volumes", "networkMode": "host",
        "volumes": [
            {"name": "hostdir", "host": {"sourcePath": bind.to_str().unwrap()}},
            {"name": "scratch", "dockerVolumeConfiguration": {"scope": "task", "driver": "local"}},
            {"name": "empty", "host": {}},
            {"name": "ram", "dockerVolumeConfiguration": {"scope": "task", "driver": "local",
                "driverOpts": {"type": "tmpfs", "device": "tmpfs", "o": "size=1m,noexec"},
                "labels": {"purpose": "test"}}},
            {"name": "keep", "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": true}}
        ],
        "containerDefinitions": [
            {"name": "writer", "image": w.env.image(), "memory": 32, "essential": false,
             "mountPoints": [
                 {"sourceVolume": "hostdir", "containerPath": "/host"},
                 {"sourceVolume": "scratch", "containerPath": "/scratch"},
                 {"sourceVolume": "empty", "containerPath": "/empty"},
                 {"sourceVolume": "keep", "containerPath": "/keep"},
                 {"sourceVolume": "ram", "containerPath": "/ram"}],
             "command": sh("echo from-the-container > /host/out && echo task-data > /scratch/f \
                            && echo e > /empty/f && echo kept > /keep/f; \
                            grep ' /ram tmpfs ' /proc/mounts > /host/ram-mount")},
            {"name": "reader", "image": w.env.image(), "memory": 32, "essential": true,
             "dependsOn": [{"containerName": "writer", "condition": "SUCCESS"}],
             "volumesFrom": [{"sourceContainer": "writer", "readOnly": true}],
             "mountPoints": [{"sourceVolume": "hostdir", "containerPath": "/out"}],
             "command": sh("{ echo scratch=$(cat /scratch/f) empty=$(cat /empty/f) keep=$(cat /keep/f); \
                            touch /scratch/x 2>/dev/null && echo writable || echo read-only; } > /out/reader")}
        ]
    }));
    let t = w.stopped(&arn);
    assert_eq!(exit_code(&t, "writer"), 0, "{t}");
    assert_eq!(exit_code(&t, "reader"), 0, "{t}");
    assert_eq!(
        std::fs::read_to_string(bind.join("out")).unwrap(),
        "from-the-container\n",
        "the bind source was made and the file is on the host"
    );
    // Read from the host directory: the containers' logs go at cleanup.
    let mounts = std::fs::read_to_string(bind.join("ram-mount")).unwrap_or_default();
    assert!(
        mounts.contains("size=1024k") && mounts.contains("noexec"),
        "driverOpts mounted a 1 MiB noexec tmpfs: {mounts:?}"
    );
    let log = std::fs::read_to_string(bind.join("reader")).unwrap_or_default();
    assert!(
        log.contains("scratch=task-data empty=e keep=kept"),
        "reader sees the writer's volumes: {log:?}"
    );
    assert!(log.contains("read-only"), "volumesFrom readOnly: {log:?}");
    let task_volumes = w.agent.data_dir().join("volumes/tasks").join(task_id(&arn));
    common::wait_until_with(
        "the task's volumes removed at cleanup",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || (!task_volumes.exists()).then_some(()),
    );
    let shared = w.agent.data_dir().join("volumes/shared/keep/_data/f");
    assert_eq!(std::fs::read_to_string(&shared).unwrap(), "kept\n");
    assert!(
        bind.join("out").exists(),
        "a host directory is never removed"
    );
}

/// A relative containerPath or an unknown sourceVolume stops the task with
/// a reason naming the field, and nothing of it is created.
#[test]
fn bad_mount_points_stop_the_task_naming_the_field() {
    let Some(w) = world(&[]) else { return };
    for (mount, want) in [
        (
            json!({"sourceVolume": "v", "containerPath": "data"}),
            "mountPoints[0].containerPath \"data\": expected an absolute path",
        ),
        (
            json!({"sourceVolume": "nope", "containerPath": "/data"}),
            "mountPoints[0].sourceVolume \"nope\": no such volume in the task",
        ),
    ] {
        let arn = w.run(json!({
            "family": "bad-volumes", "networkMode": "host",
            "volumes": [{"name": "v", "host": {}}],
            "containerDefinitions": [{"name": "c", "image": w.env.image(), "memory": 32,
                "mountPoints": [mount], "command": sh("true")}]
        }));
        let t = w.stopped(&arn);
        let reason = t["stoppedReason"].as_str().unwrap_or_default();
        assert!(reason.contains(want), "{want:?} not in {t}");
        assert_eq!(w.containers_of(&arn), Vec::<String>::new());
        assert!(!w
            .agent
            .data_dir()
            .join("volumes/tasks")
            .join(task_id(&arn))
            .exists());
    }
}

/// The image's own VOLUME: an anonymous volume filled from the image (file
/// content and owner), shared through volumesFrom (read-only) with a
/// container of another image. The image is built as the test env builds
/// its own (scripts/mkimage.py) and pushed to the test registry.
#[test]
fn an_image_volume_gets_the_images_content_and_is_shared_by_volumes_from() {
    let Some(w) = world(&[]) else { return };
    let layout = tempfile::tempdir().unwrap();
    let built = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/mkimage.py"))
        .arg("/bin/busybox")
        .arg(layout.path())
        .arg("--with-volume")
        .status()
        .expect("python3");
    assert!(built.success(), "mkimage.py --with-volume");
    let image = format!("{}/volume-image:latest", w.env.registry);
    let pushed = std::process::Command::new("skopeo")
        .args(["copy", "-q", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:latest", layout.path().display()))
        .arg(format!("docker://{image}"))
        .status()
        .expect("skopeo");
    assert!(pushed.success(), "skopeo copy to {image}");
    let out = tempfile::tempdir().unwrap();
    let arn = w.run(json!({
        "family": "image-volume", "networkMode": "host",
        "volumes": [{"name": "out", "host": {"sourcePath": out.path().to_str().unwrap()}}],
        "containerDefinitions": [
            {"name": "app", "image": image, "memory": 32, "essential": false,
             "command": sh("echo app-wrote > /srv/seed/new")},
            {"name": "side", "image": w.env.image(), "memory": 32, "essential": true,
             "dependsOn": [{"containerName": "app", "condition": "SUCCESS"}],
             "volumesFrom": [{"sourceContainer": "app", "readOnly": true}],
             "mountPoints": [{"sourceVolume": "out", "containerPath": "/out"}],
             "command": sh("{ cat /srv/seed/hello /srv/seed/new; stat -c owner=%u /srv/seed/hello; \
                            touch /srv/seed/x 2>/dev/null && echo writable || echo read-only; } > /out/side")}
        ]
    }));
    let t = w.stopped(&arn);
    assert_eq!(exit_code(&t, "app"), 0, "{t}");
    assert_eq!(exit_code(&t, "side"), 0, "{t}");
    let side = std::fs::read_to_string(out.path().join("side")).unwrap_or_default();
    assert_eq!(
        side, "from-the-image\napp-wrote\nowner=1000\nread-only\n",
        "the image's content, the source's write, kept owner, readOnly"
    );
}
