//! What we ship, checked for real: the systemd unit (`systemd-analyze
//! verify`), the EC2 user data (`cloud-init schema`), the ecs.config example
//! (against the agent's own variable table), and the container image: built by
//! `scripts/image`, imported into the test containerd and run with `ctr run`
//! the way deploy/README.md says, until it has registered with ecs-local and
//! run a task.
//!
//! A missing tool (systemd-analyze, cloud-init, buildah) skips loudly outside
//! CI and fails in CI, like the harness does for the test environment.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::agent_image::{self, missing};
use crate::common::is_root;
use crate::common::{self, tail, text, Aws, EcsLocal, TestEnv};

const REPO: &str = env!("CARGO_MANIFEST_DIR");
const UNIT: &str = "deploy/ecs-agent.service";
const CONFIG_EXAMPLE: &str = "deploy/ecs.config.example";
const USER_DATA: [&str; 2] = [
    "deploy/cloud-init/amazon-linux-2023.yaml",
    "deploy/cloud-init/debian-12.yaml",
];
/// Inside the agent container, as deploy/README.md mounts it.
const SOCKET_IN_CONTAINER: &str = "/run/containerd/containerd.sock";
const AGENT_CONTAINER: &str = "ecs-agent";

fn repo(rel: &str) -> PathBuf {
    Path::new(REPO).join(rel)
}

fn read(rel: &str) -> String {
    fs::read_to_string(repo(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

/// The tool's path on PATH, or a loud skip / CI failure.
fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    match found {
        Some(p) => Some(p),
        None => missing(&format!("`{name}` is not installed")).map(|_| PathBuf::new()),
    }
}

fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"))
}

// ---------------------------------------------------------------- ecs.config

/// `(name, value)` of every setting line: `NAME=value` or `#NAME=value`
/// (a `#` right before the name marks a commented-out setting; prose comments
/// have a space after the `#`).
fn example_settings(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.strip_prefix('#').unwrap_or(line);
            let (name, value) = line.split_once('=')?;
            let is_name = name.starts_with(|c: char| c.is_ascii_uppercase())
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            is_name.then(|| (name.to_string(), value.to_string()))
        })
        .collect()
}

#[test]
fn ecs_config_example_lists_exactly_the_documented_variables() {
    let text = read(CONFIG_EXAMPLE);
    let settings = example_settings(&text);
    let listed: Vec<&str> = settings.iter().map(|(n, _)| n.as_str()).collect();
    let listed_set: BTreeSet<&str> = listed.iter().copied().collect();
    assert_eq!(
        listed.len(),
        listed_set.len(),
        "a variable is listed twice: {listed:?}"
    );
    let documented: BTreeSet<&str> = ecs::config::documented_variables()
        .iter()
        .map(|(name, _, _)| *name)
        .collect();
    let extra: Vec<_> = listed_set.difference(&documented).collect();
    let absent: Vec<_> = documented.difference(&listed_set).collect();
    assert!(
        extra.is_empty() && absent.is_empty(),
        "{CONFIG_EXAMPLE} is out of date with ecs::config::documented_variables(): \
         not honoured by the agent: {extra:?}; missing from the example: {absent:?}"
    );

    // Uncommented, the example is a valid config: the agent's own parser and
    // validation accept every example value.
    let uncommented: String = text
        .lines()
        .map(|l| match l.strip_prefix('#') {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_uppercase()) => rest,
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let pairs = ecs::config::parse_env_file(&uncommented)
        .unwrap_or_else(|e| panic!("{CONFIG_EXAMPLE} uncommented does not parse: {e}"));
    assert_eq!(pairs.len(), documented.len());
    let cfg = ecs::config::Config::from_sources(&BTreeMap::new(), &pairs)
        .unwrap_or_else(|e| panic!("{CONFIG_EXAMPLE} uncommented is rejected: {e}"));
    assert!(
        cfg.unknown_variables.is_empty(),
        "{:?}",
        cfg.unknown_variables
    );
    assert!(
        cfg.ignored_variables.is_empty(),
        "{:?}",
        cfg.ignored_variables
    );
    assert!(
        cfg.warnings.is_empty(),
        "example values are clamped: {:?}",
        cfg.warnings
    );

    // As shipped (comments only but ECS_CLUSTER) it parses too.
    let shipped = ecs::config::parse_env_file(&text).expect("example parses");
    assert_eq!(
        shipped,
        vec![("ECS_CLUSTER".to_string(), "default".to_string())]
    );
}

// ---------------------------------------------------------------- systemd

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for entry in fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display())) {
        let entry = entry.expect("dir entry");
        let dest = to.join(entry.file_name());
        let ft = entry.file_type().expect("file type");
        if ft.is_symlink() {
            let target = fs::read_link(entry.path()).expect("readlink");
            std::os::unix::fs::symlink(target, &dest).expect("symlink");
        } else if ft.is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            fs::copy(entry.path(), &dest).expect("copy");
        }
    }
}

fn executable_placeholder(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, "#!/bin/sh\nexit 0\n").expect("write placeholder");
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn systemd_unit_verifies() {
    let Some(analyze) = tool("systemd-analyze") else {
        return;
    };
    let unit = read(UNIT);
    for line in [
        "Requires=containerd.service",
        "EnvironmentFile=-/etc/ecs/ecs.config",
        "ExecStart=/usr/local/bin/ecs-agent",
        "KillMode=process",
        "Restart=always",
        "LimitNOFILE=",
        "WantedBy=multi-user.target",
    ] {
        assert!(
            unit.lines().any(|l| l.starts_with(line)),
            "{UNIT} lacks {line:?}"
        );
    }
    assert!(
        unit.lines()
            .any(|l| l.starts_with("After=") && l.contains("containerd.service")),
        "{UNIT} must order itself after containerd"
    );

    // `verify` wants every command of the unit to exist, so check it in a
    // scratch root holding the host's system units, the unit installed where
    // deploy/README.md puts it, and the commands it runs.
    let root = tempfile::tempdir().expect("tempdir");
    let units = root.path().join("usr/lib/systemd/system");
    let host_units = Path::new("/usr/lib/systemd/system");
    if host_units.is_dir() {
        copy_dir(host_units, &units);
    }
    fs::create_dir_all(&units).expect("mkdir");
    if !units.join("containerd.service").exists() {
        // Only its presence matters for verify (CI installs containerd anyway).
        fs::write(
            units.join("containerd.service"),
            "[Unit]\nDescription=containerd\n[Service]\nExecStart=/usr/bin/containerd\n",
        )
        .expect("write containerd.service");
        executable_placeholder(&root.path().join("usr/bin/containerd"));
    }
    std::os::unix::fs::symlink("usr/lib", root.path().join("lib")).expect("symlink lib");
    executable_placeholder(&root.path().join("bin/sh"));
    executable_placeholder(&root.path().join("usr/local/bin/ecs-agent"));
    let installed = root.path().join("etc/systemd/system/ecs-agent.service");
    fs::create_dir_all(installed.parent().expect("parent")).expect("mkdir");
    fs::write(&installed, &unit).expect("install unit");

    let out = run(Command::new(&analyze)
        .arg("verify")
        .arg(format!("--root={}", root.path().display()))
        .arg("ecs-agent.service"));
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success() && said.trim().is_empty(),
        "systemd-analyze verify {UNIT}: {}\n{said}",
        out.status
    );

    // And verify does catch mistakes here (a missing ExecStart binary).
    fs::remove_file(root.path().join("usr/local/bin/ecs-agent")).expect("rm");
    let out = run(Command::new(&analyze)
        .arg("verify")
        .arg(format!("--root={}", root.path().display()))
        .arg("ecs-agent.service"));
    assert!(
        !out.status.success(),
        "verify passed without the agent binary"
    );
}

// ---------------------------------------------------------------- cloud-init

#[test]
fn cloud_init_user_data_validates() {
    let Some(cloud_init) = tool("cloud-init") else {
        return;
    };
    let unit = read(UNIT);
    // The unit is embedded verbatim (write_files content, indented 6 spaces).
    let embedded: String = unit
        .lines()
        .map(|l| {
            if l.is_empty() {
                "\n".to_string()
            } else {
                format!("      {l}\n")
            }
        })
        .collect();
    for file in USER_DATA {
        let out = run(Command::new(&cloud_init)
            .args(["schema", "--config-file"])
            .arg(repo(file)));
        let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(
            out.status.success() && said.contains("Valid cloud-config"),
            "cloud-init schema --config-file {file}: {}\n{said}",
            out.status
        );
        let data = read(file);
        assert!(data.starts_with("#cloud-config\n"), "{file}: first line");
        assert!(
            data.contains(&embedded),
            "{file} must embed {UNIT} verbatim: run deploy/cloud-init/sync-unit"
        );
        for want in [
            "path: /etc/ecs/ecs.config",
            "ECS_CLUSTER=",
            "- containerd",
            "- runc",
            "path: /etc/systemd/system/ecs-agent.service",
            "/usr/local/bin/ecs-agent",
            "[systemctl, enable, --now, --no-block, ecs-agent.service]",
        ] {
            assert!(data.contains(want), "{file} lacks {want:?}");
        }
    }
}

// ---------------------------------------------------------------- the image

/// Everything the image test created in containerd, removed on drop.
struct Cleanup {
    env: TestEnv,
    namespaces: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for ns in &self.namespaces {
            common::cleanup_ns(&self.env, ns);
        }
        // Namespace removal fails until containerd's GC has dropped the
        // content; give it a few seconds.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut left: Vec<String> = self.namespaces.clone();
        while !left.is_empty() && Instant::now() < deadline {
            left.retain(|ns| {
                !Command::new("ctr")
                    .arg("-a")
                    .arg(&self.env.containerd_sock)
                    .args(["namespaces", "rm", ns])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            });
            if !left.is_empty() {
                std::thread::sleep(Duration::from_millis(500));
            }
        }
        if !left.is_empty() {
            eprintln!("warning: containerd namespaces not removed: {left:?}");
        }
    }
}

/// The overlayfs snapshotter's directory, as containerd reports it. The agent
/// reads image files (/etc/passwd for `user` names) from there, so the
/// container needs it at the same path.
fn snapshotter_root(env: &TestEnv) -> PathBuf {
    let out = common::ctr(env, "default", &["plugins", "ls", "--detailed"]);
    let mut in_overlay = false;
    for line in out.lines() {
        let line = line.trim();
        if let Some(id) = line.strip_prefix("ID:") {
            in_overlay = id.trim() == "overlayfs";
        } else if in_overlay {
            if let Some(root) = line.strip_prefix("root") {
                return PathBuf::from(root.trim());
            }
        }
    }
    panic!("no overlayfs root in `ctr plugins ls --detailed`:\n{out}");
}

#[test]
fn agent_image_registers_with_ecs_local_and_runs_a_task() {
    let Some(env) = common::env() else { return };
    if !is_root() {
        missing("buildah and ctr need root");
        return;
    }
    if tool("buildah").is_none() || tool("file").is_none() {
        return;
    }
    let image_ns = common::unique_ns("ship-image");
    let task_ns = common::unique_ns("ship-tasks");
    let _cleanup = Cleanup {
        env: env.clone(),
        namespaces: vec![image_ns.clone(), task_ns.clone()],
    };
    let work = tempfile::Builder::new()
        .prefix("ecs-ship-")
        .tempdir()
        .expect("tempdir");

    // Build (static cargo build of ECS_IMAGE_PROFILE, release unless set; CI's
    // scripts/test sets dev; buildah) and import, as a user would.
    let archive = work.path().join("ecs-agent.oci.tar");
    agent_image::build(&[
        "--output".as_ref(),
        archive.as_os_str(),
        "--import".as_ref(),
        env.containerd_sock.as_os_str(),
        image_ns.as_ref(),
    ]);
    let image = "localhost/ecs-agent:latest";
    let images = common::ctr(&env, &image_ns, &["images", "ls"]);
    let size = images
        .lines()
        .find(|l| l.starts_with(image))
        .unwrap_or_else(|| panic!("{image} not imported: {images}"))
        .split_whitespace()
        .skip(3)
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let archive_len = fs::metadata(&archive).expect("archive").len();
    eprintln!("ecs-agent image size: {size} in containerd, OCI archive {archive_len} bytes");
    assert!(
        archive_len < 100 << 20,
        "a scratch image with one binary should be small: {archive_len} bytes"
    );

    // The host side the README asks for: a config directory, ECS_DATADIR.
    let local = EcsLocal::start(&env);
    let aws = Aws::new(&env, &local);
    let cluster = common::unique_ns("ship");
    aws.ecs_ok(&["create-cluster", "--cluster-name", &cluster]);
    let etc_ecs = work.path().join("etc-ecs");
    let data_dir = work.path().join("data");
    fs::create_dir_all(&etc_ecs).expect("mkdir");
    fs::create_dir_all(&data_dir).expect("mkdir");
    fs::write(
        etc_ecs.join("ecs.config"),
        format!(
            "ECS_CLUSTER={cluster}\nECS_BACKEND_HOST={}\nAWS_DEFAULT_REGION={}\n\
             ECS_DATADIR={}\nCONTAINERD_ADDRESS={SOCKET_IN_CONTAINER}\n\
             CONTAINERD_NAMESPACE={task_ns}\nECS_LOGLEVEL=info\n",
            local.endpoint(),
            common::REGION,
            data_dir.display(),
        ),
    )
    .expect("write ecs.config");
    let agent_log = work.path().join("agent.log");
    let snapshots = snapshotter_root(&env);

    // deploy/README.md's `ctr run` line, with the test's paths.
    let mounts = [
        format!(
            "type=bind,src={},dst={SOCKET_IN_CONTAINER},options=bind:rw",
            env.containerd_sock.display()
        ),
        format!(
            "type=bind,src={0},dst={0},options=rbind:rw",
            data_dir.display()
        ),
        format!(
            "type=bind,src={0},dst={0},options=rbind:ro",
            snapshots.display()
        ),
        format!(
            "type=bind,src={},dst=/etc/ecs,options=rbind:ro",
            etc_ecs.display()
        ),
    ];
    let mut args: Vec<String> = vec!["run".into(), "--detach".into(), "--net-host".into()];
    args.push(format!("--log-uri=file://{}", agent_log.display()));
    // The AWS SDK takes static credentials from the process environment only
    // (on EC2 they come from the instance profile instead), so they cannot
    // live in the mounted ecs.config.
    args.push(format!("--env=AWS_ACCESS_KEY_ID={}", common::ACCESS_KEY_ID));
    args.push(format!(
        "--env=AWS_SECRET_ACCESS_KEY={}",
        common::SECRET_ACCESS_KEY
    ));
    for m in &mounts {
        args.push("--mount".into());
        args.push(m.clone());
    }
    args.push(image.into());
    args.push(AGENT_CONTAINER.into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    common::ctr(&env, &image_ns, &args);
    let agent_log_text = || fs::read_to_string(&agent_log).unwrap_or_default();

    let state = || {
        format!(
            "agent container:\n{}\nagent log tail:\n{}",
            common::try_ctr(&env, &image_ns, &["tasks", "ls"]).unwrap_or_default(),
            tail(&agent_log_text(), 40)
        )
    };
    let wait = |what: &str, timeout: Duration, f: &mut dyn FnMut() -> bool| {
        agent_image::wait_for(what, timeout, f, &state)
    };

    wait(
        "the containerized agent to register",
        Duration::from_secs(60),
        &mut || agent_image::registered(&aws, &cluster),
    );

    // A task as in e2e.rs, with a user *name*: resolving it needs the image's
    // /etc/passwd from the snapshotter directory mounted above.
    let td = json!({
        "family": "shipped",
        "networkMode": "host",
        "containerDefinitions": [{
            "name": "hello", "image": env.image(), "memory": 32, "essential": true,
            "user": "app",
            "command": ["sh", "-c", "echo shipped-agent-ran-me uid=$(id -u)"]
        }]
    });
    let out = aws.ecs_ok(&[
        "register-task-definition",
        "--cli-input-json",
        &td.to_string(),
    ]);
    let td_arn = out["taskDefinition"]["taskDefinitionArn"]
        .as_str()
        .expect("taskDefinitionArn")
        .to_string();
    let out = aws.ecs_ok(&[
        "run-task",
        "--cluster",
        &cluster,
        "--task-definition",
        &td_arn,
    ]);
    assert_eq!(out["failures"], json!([]), "run-task: {out}");
    let task_arn = out["tasks"][0]["taskArn"]
        .as_str()
        .expect("taskArn")
        .to_string();
    let mut last = serde_json::Value::Null;
    wait("the task to stop", Duration::from_secs(90), &mut || {
        if let Ok(v) = aws.ecs(&[
            "describe-tasks",
            "--cluster",
            &cluster,
            "--tasks",
            &task_arn,
        ]) {
            last = v["tasks"][0].clone();
        }
        last["lastStatus"] == "STOPPED"
    });
    assert_eq!(last["containers"][0]["exitCode"], 0, "{last}");

    // The shim wrote the log at the agent's ECS_DATADIR path, on the host:
    // the reason the data directory is mounted at an identical path.
    let task_id = task_arn.rsplit('/').next().unwrap_or_default();
    let log_path = data_dir.join("logs").join(task_id).join("hello-json.log");
    let log = common::json_log_text(&log_path);
    assert!(
        log.contains("shipped-agent-ran-me uid=1000"),
        "container log {} on the host: {log:?}",
        log_path.display()
    );

    // The agent is PID 1 in its container: SIGTERM must still stop it.
    common::ctr(
        &env,
        &image_ns,
        &["tasks", "kill", "--signal", "SIGTERM", AGENT_CONTAINER],
    );
    wait(
        "the agent to exit on SIGTERM",
        Duration::from_secs(20),
        &mut || {
            common::try_ctr(&env, &image_ns, &["tasks", "ls"])
                .map(|t| {
                    t.lines()
                        .any(|l| l.starts_with(AGENT_CONTAINER) && l.contains("STOPPED"))
                })
                .unwrap_or(false)
        },
    );
    common::ctr(&env, &image_ns, &["tasks", "delete", AGENT_CONTAINER]);
    common::ctr(&env, &image_ns, &["containers", "delete", AGENT_CONTAINER]);
}
