//! A full disk (issue 18 point 8): ECS_DATADIR and containerd's root on a
//! small loop-mounted ext4 filesystem of the test's own, with its own
//! containerd. Free-space image cleanup (ours, ECS_IMAGE_CLEANUP_FREE_SPACE_THRESHOLD)
//! removes the least recently used unused images until the threshold is met
//! and never a running task's; once nothing is left to remove and the disk is
//! full, a running task keeps running, a new pull fails with a reason that
//! says so, the agent stays up, and once there is room again state changes are
//! delivered, tasks start, and the checkpoint holds what happened.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::common::{
    self, ecs_api, sh, stop_task, wait_task_status, wait_until_with_log, Agent, Aws, EcsLocal,
    TestEnv,
};

const START: Duration = Duration::from_secs(30);
/// ECS_IMAGE_CLEANUP_FREE_SPACE_THRESHOLD in the test.
const THRESHOLD: u64 = 100_000_000;

use common::images::run_ok;

/// Bytes an unprivileged writer may still use on the filesystem of `path`.
fn available(path: &Path) -> u64 {
    let out = run_ok(Command::new("stat").args(["-f", "-c", "%a %S"]).arg(path));
    let mut it = out.split_whitespace().map(|n| n.parse::<u64>().unwrap());
    it.next().unwrap() * it.next().unwrap()
}

/// A 450 MB ext4 filesystem (no reserved blocks) loop-mounted under a temp
/// dir, holding a private containerd's root and the agent's data dir (where
/// the agent copies its own binary as the container logger: 120 MB in a
/// debug build).
struct SmallDisk {
    dir: tempfile::TempDir,
    containerd: Option<Child>,
}

impl SmallDisk {
    fn new() -> SmallDisk {
        let dir = tempfile::Builder::new()
            .prefix("fulldisk-")
            .tempdir_in("/tmp")
            .unwrap();
        let image = dir.path().join("fs.img");
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        run_ok(Command::new("truncate").args(["-s", "450M"]).arg(&image));
        run_ok(
            Command::new("mkfs.ext4")
                .args(["-q", "-F", "-m", "0"])
                .arg(&image),
        );
        run_ok(
            Command::new("mount")
                .args(["-o", "loop"])
                .arg(&image)
                .arg(&mnt),
        );
        let mut disk = SmallDisk {
            dir,
            containerd: None,
        };
        disk.start_containerd();
        disk
    }

    fn mnt(&self) -> PathBuf {
        self.dir.path().join("mnt")
    }

    fn sock(&self) -> PathBuf {
        self.dir.path().join("c.sock")
    }

    fn start_containerd(&mut self) {
        let d = self.dir.path();
        // Root on the small filesystem; state (shim sockets, rootfs mounts) not.
        let config = format!(
            "version = 2\nroot = \"{root}\"\nstate = \"{state}\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{sock}\"\n[ttrpc]\n  address = \"{sock}.ttrpc\"\n",
            root = self.mnt().join("containerd").display(),
            state = d.join("state").display(),
            sock = self.sock().display(),
        );
        std::fs::write(d.join("config.toml"), config).unwrap();
        let log = std::fs::File::create(d.join("containerd.log")).unwrap();
        let child = Command::new("containerd")
            .arg("--config")
            .arg(d.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("containerd");
        self.containerd = Some(child);
        let sock = self.sock();
        common::wait_until(Duration::from_secs(20), Duration::from_millis(100), || {
            Command::new("ctr")
                .arg("-a")
                .arg(&sock)
                .arg("version")
                .output()
                .ok()
                .filter(|o| o.status.success())
        });
    }

    /// Fills the filesystem until only `leave` bytes are available.
    fn fill(&self, name: &str, leave: u64) {
        // fallocate needs room for its own extent blocks; dd takes the rest.
        let size = available(&self.mnt()).saturating_sub(leave.max(2_000_000));
        let path = self.mnt().join(name);
        run_ok(
            Command::new("fallocate")
                .args(["-l", &size.to_string()])
                .arg(&path),
        );
        if leave == 0 {
            let _ = Command::new("dd")
                .args(["if=/dev/zero", "bs=4k"])
                .arg(format!("of={}.rest", path.display()))
                .stderr(Stdio::null())
                .status();
        }
    }

    fn unfill(&self) {
        for e in std::fs::read_dir(self.mnt()).unwrap() {
            let p = e.unwrap().path();
            if p.file_name().unwrap().to_string_lossy().starts_with("fill") {
                std::fs::remove_file(p).unwrap();
            }
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let env = TestEnv {
            containerd_sock: self.sock(),
            ..common::env().expect("env")
        };
        let ns = Command::new("ctr")
            .arg("-a")
            .arg(self.sock())
            .args(["namespaces", "ls", "-q"])
            .output();
        for ns in ns
            .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
            .unwrap_or_default()
            .lines()
        {
            common::cleanup_ns(&env, ns);
        }
        if let Some(mut c) = self.containerd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("umount")
            .arg("-R")
            .arg(self.dir.path().join("state"))
            .stderr(Stdio::null())
            .status();
        let ok = Command::new("umount")
            .arg("-d")
            .arg(self.mnt())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount")
                .args(["-l", "-d"])
                .arg(self.mnt())
                .status();
        }
    }
}

/// Builds an image whose only layer holds `mib` MiB of seeded random bytes
/// and pushes it as `name`, in a thread of its own.
fn push_filler_image(
    env: &TestEnv,
    name: &str,
    mib: u32,
    seed: u32,
) -> std::thread::JoinHandle<String> {
    let (env, name) = (env.clone(), name.to_string());
    std::thread::spawn(move || common::images::push_busybox_with_filler(&env, &name, mib, seed))
}

#[test]
fn a_full_disk_is_cleaned_by_free_space_and_survived() {
    let Some(env) = common::env() else { return };
    let disk = SmallDisk::new();
    let denv = TestEnv {
        containerd_sock: disk.sock(),
        ..env.clone()
    };
    // Four images with no layer in common, about 13 MB each once pulled and unpacked.
    let images: Vec<String> = (1..=4)
        .map(|seed| push_filler_image(&env, &format!("fulldisk-{seed}"), 6, seed))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().expect("image build"))
        .collect();
    let (old, middle, newest, used) = (&images[0], &images[1], &images[2], &images[3]);

    let data = disk.mnt().join("data");
    // A free-space path the agent cannot see stops it at start, naming it.
    let out = Command::new(env!("CARGO_BIN_EXE_ecs-agent"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ECS_CONFIG_FILE", "/nonexistent/ecs.config")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("CONTAINERD_ADDRESS", disk.sock())
        .env("ECS_DATADIR", &data)
        .env("ECS_IMAGE_FILESYSTEM_PATH", "/nonexistent/containerd")
        .output()
        .expect("ecs-agent");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && stderr.contains("ECS_IMAGE_FILESYSTEM_PATH=/nonexistent/containerd"),
        "{stderr}"
    );
    let local = EcsLocal::start(&env);
    let mut agent = Agent::start(
        &denv,
        &local,
        &[
            ("ECS_DATADIR", data.to_str().unwrap()),
            ("ECS_IMAGE_CLEANUP_INTERVAL", "1s"),
            // The age rule alone would remove nothing during this test.
            ("ECS_IMAGE_MINIMUM_CLEANUP_AGE", "1h"),
            ("ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION", "1s"),
            (
                "ECS_IMAGE_CLEANUP_FREE_SPACE_THRESHOLD",
                &THRESHOLD.to_string(),
            ),
        ],
    );
    let aws = Aws::new(&env, &local);
    let instance = agent.wait_registered(&aws, START);
    // Registered and run in-process (ecs_api): the CLI's start-up would
    // double this test's time; describe-tasks below still goes through it.
    let cluster = agent.cluster().to_string();
    let run = |family: &str, image: &str, script: &str| {
        let td = json!({"family": family, "networkMode": "host", "containerDefinitions": [
            {"name": "c", "image": image, "memory": 32, "essential": true, "command": sh(script)}]});
        ecs_api::call(&aws, "RegisterTaskDefinition", &td).expect("register");
        let out = ecs_api::call(
            &aws,
            "RunTask",
            &json!({"cluster": cluster, "taskDefinition": family}),
        )
        .expect("run-task");
        out["tasks"][0]["taskArn"]
            .as_str()
            .expect("taskArn")
            .to_string()
    };
    let forever = "trap 'exit 0' TERM; while true; do sleep 1; done";
    // Used in this order: `old` is the least recently used.
    for (i, image) in [old, middle, newest].into_iter().enumerate() {
        let arn = run(&format!("fd-short-{i}"), image, "true");
        wait_task_status(&aws, &agent, &arn, "STOPPED", START);
    }
    let running = run("fd-running", used, forever);
    wait_task_status(&aws, &agent, &running, "RUNNING", START);
    let images_left = || common::ctr(&denv, agent.namespace(), &["images", "ls", "-q"]);
    // The short tasks are cleaned up (their images no longer in use).
    wait_until_with_log(&agent, "short tasks cleaned up", START, || {
        let c = common::ctr(&denv, agent.namespace(), &["containers", "ls", "-q"]);
        (c.lines().count() == 1).then_some(())
    });
    assert!(
        available(&disk.mnt()) > THRESHOLD + 20_000_000,
        "the test needs room above the threshold: {} available; {}",
        available(&disk.mnt()),
        run_ok(
            Command::new("sh")
                .args(["-c", "du -axk data | sort -n | tail -8; ls -la data"])
                .current_dir(disk.mnt())
        )
    );

    // 1. A little below the threshold: the least recently used unused image
    // goes, which is enough, so the others stay.
    disk.fill("fill-1", THRESHOLD - 5_000_000);
    wait_until_with_log(&agent, "the oldest unused image removed", START, || {
        (!images_left().contains(old.as_str())).then_some(())
    });
    std::thread::sleep(Duration::from_millis(2500));
    let left = images_left();
    assert!(
        left.contains(middle.as_str())
            && left.contains(newest.as_str())
            && left.contains(used.as_str()),
        "only as many images as needed go: {left}"
    );
    assert!(available(&disk.mnt()) >= THRESHOLD);

    // 2. Far below: every unused image goes, the running task's never.
    disk.fill("fill-2", 0);
    wait_until_with_log(&agent, "every unused image removed", START, || {
        let left = images_left();
        (!left.contains(middle.as_str()) && !left.contains(newest.as_str())).then_some(left)
    });
    assert!(images_left().contains(used.as_str()));
    // The pass logs this after its last removal, which ctr may see first.
    wait_until_with_log(&agent, "the pass says nothing is left", START, || {
        agent
            .log()
            .contains("no unused image left to remove")
            .then_some(())
    });

    // 3. Full: nothing left to remove, not a byte free.
    disk.fill("fill-3", 0);
    assert!(
        available(&disk.mnt()) < 1_000_000,
        "{}",
        available(&disk.mnt())
    );
    let pulled = run("fd-new-pull", &env.image(), "true");
    let t = wait_task_status(&aws, &agent, &pulled, "STOPPED", START);
    let reason = t["containers"][0]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        reason.starts_with("CannotPullContainerError")
            && reason.contains("no space left on device"),
        "{t}"
    );
    std::thread::sleep(Duration::from_secs(1));
    let t = common::describe_task(&aws, &agent, &running).unwrap();
    assert_eq!(t["lastStatus"], "RUNNING", "{t}");
    let tasks = common::ctr(&denv, agent.namespace(), &["tasks", "ls"]);
    assert!(tasks.contains("RUNNING"), "{tasks}");
    stop_task(&aws, &agent, &running);
    wait_until_with_log(
        &agent,
        "the container stopped on the full disk",
        START,
        || {
            let tasks = common::ctr(&denv, agent.namespace(), &["tasks", "ls"]);
            (!tasks.contains("RUNNING")).then_some(())
        },
    );
    assert!(agent.is_running(), "{}", agent.log());

    // 4. Room again: the stop is reported, new tasks run, and the checkpoint
    // (written again) holds them.
    disk.unfill();
    wait_task_status(&aws, &agent, &running, "STOPPED", START);
    let after = run("fd-after", &env.image(), forever);
    wait_task_status(&aws, &agent, &after, "RUNNING", START);
    assert!(agent.is_running(), "{}", agent.log());
    agent.stop();
    let saved = ecs::state::StateStore::open(&data)
        .expect("the checkpoint opens")
        .load()
        .expect("the checkpoint reads");
    assert!(
        saved.tasks.iter().any(|t| t.arn() == after),
        "the task started after the disk was full is checkpointed"
    );
    agent.restart();
    assert_eq!(agent.wait_registered(&aws, START), instance);
    assert!(agent.is_running(), "{}", agent.log());
    let t = common::describe_task(&aws, &agent, &after).unwrap();
    assert_eq!(t["lastStatus"], "RUNNING", "{t}");
}
