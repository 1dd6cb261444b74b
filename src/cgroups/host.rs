//! Task cgroups on the host's cgroup file system, v1 (one hierarchy per
//! controller) or v2 (unified), written directly (the cgroupfs way, as runc
//! does with the cgroupfs driver).

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::error::io;
use super::{CgroupError, CpuLimit, Ensured, TaskCgroupSpec, TaskCgroups};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    V1,
    V2,
}

/// The controllers a task cgroup uses; pids only for ECS_TASK_PIDS_LIMIT.
const V2_CONTROLLERS: [&str; 3] = ["cpu", "memory", "pids"];

#[derive(Debug, Clone)]
pub struct HostCgroups {
    /// ECS_CGROUP_PATH: where the cgroup file system is mounted.
    root: PathBuf,
    /// The first path element of every task cgroup (the containerd namespace).
    prefix: String,
    version: CgroupVersion,
}

impl HostCgroups {
    /// Finds out which cgroup version `root` holds, checks that the cpu and
    /// memory controllers are there, and creates `/<prefix>`.
    pub fn init(root: &Path, prefix: &str) -> Result<HostCgroups, CgroupError> {
        let version = if root.join("cgroup.controllers").exists() {
            CgroupVersion::V2
        } else {
            CgroupVersion::V1
        };
        let h = HostCgroups {
            root: root.to_path_buf(),
            prefix: prefix.to_string(),
            version,
        };
        match version {
            CgroupVersion::V1 => {
                for controller in ["cpu", "memory"] {
                    if !root.join(controller).is_dir() {
                        return Err(h.missing(controller));
                    }
                    let dir = root.join(controller).join(prefix);
                    fs::create_dir_all(&dir).map_err(io(&dir))?;
                }
                let pids = root.join("pids");
                if pids.is_dir() {
                    let dir = pids.join(prefix);
                    fs::create_dir_all(&dir).map_err(io(&dir))?;
                }
            }
            CgroupVersion::V2 => {
                let file = root.join("cgroup.controllers");
                let have = fs::read_to_string(&file).map_err(io(&file))?;
                for controller in ["cpu", "memory"] {
                    if !have.split_whitespace().any(|c| c == controller) {
                        return Err(h.missing(controller));
                    }
                }
                enable_controllers(root);
                let dir = root.join(prefix);
                fs::create_dir_all(&dir).map_err(io(&dir))?;
                enable_controllers(&dir);
            }
        }
        Ok(h)
    }

    pub fn version(&self) -> CgroupVersion {
        self.version
    }

    fn missing(&self, controller: &'static str) -> CgroupError {
        let found = fs::read_dir(&self.root)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        CgroupError::MissingController {
            controller,
            root: self.root.clone(),
            found,
        }
    }

    /// The task's directory in `controller`'s hierarchy (v1) or the unified one.
    fn dir(&self, controller: &str, task_id: &str) -> PathBuf {
        match self.version {
            CgroupVersion::V1 => self.root.join(controller).join(&self.prefix).join(task_id),
            CgroupVersion::V2 => self.root.join(&self.prefix).join(task_id),
        }
    }

    fn ensure_v1(&self, task_id: &str, spec: &TaskCgroupSpec) -> Result<(), CgroupError> {
        let cpu = self.dir("cpu", task_id);
        fs::create_dir_all(&cpu).map_err(io(&cpu))?;
        match spec.cpu {
            CpuLimit::Quota {
                quota_us,
                period_us,
            } => {
                write(&cpu.join("cpu.cfs_period_us"), &period_us.to_string())?;
                write(&cpu.join("cpu.cfs_quota_us"), &quota_us.to_string())?;
            }
            CpuLimit::Shares(shares) => write(&cpu.join("cpu.shares"), &shares.to_string())?,
        }
        let memory = self.dir("memory", task_id);
        fs::create_dir_all(&memory).map_err(io(&memory))?;
        // As the Go agent: limits of the task count for its containers' usage.
        // Newer kernels have it always on and may refuse the write.
        if let Err(e) = write(&memory.join("memory.use_hierarchy"), "1") {
            tracing::debug!(error = %e, "memory.use_hierarchy not written");
        }
        if let Some(bytes) = spec.memory_bytes {
            write(&memory.join("memory.limit_in_bytes"), &bytes.to_string())?;
        }
        if let Some(max) = spec.pids_max {
            if !self.root.join("pids").is_dir() {
                return Err(self.missing("pids"));
            }
            let pids = self.dir("pids", task_id);
            fs::create_dir_all(&pids).map_err(io(&pids))?;
            write(&pids.join("pids.max"), &max.to_string())?;
        }
        Ok(())
    }

    fn ensure_v2(&self, task_id: &str, spec: &TaskCgroupSpec) -> Result<(), CgroupError> {
        let dir = self.dir("", task_id);
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        enable_controllers(&dir);
        match spec.cpu {
            CpuLimit::Quota {
                quota_us,
                period_us,
            } => write(&dir.join("cpu.max"), &format!("{quota_us} {period_us}"))?,
            CpuLimit::Shares(shares) => write(
                &dir.join("cpu.weight"),
                &shares_to_weight(shares).to_string(),
            )?,
        }
        if let Some(bytes) = spec.memory_bytes {
            write(&dir.join("memory.max"), &bytes.to_string())?;
        }
        if let Some(max) = spec.pids_max {
            write(&dir.join("pids.max"), &max.to_string())?;
        }
        Ok(())
    }
}

impl TaskCgroups for HostCgroups {
    fn path(&self, task_id: &str) -> String {
        format!("/{}/{task_id}", self.prefix)
    }

    fn ensure(&self, task_id: &str, spec: &TaskCgroupSpec) -> Result<Ensured, CgroupError> {
        check_id(task_id)?;
        if self.dir("memory", task_id).is_dir() {
            return Ok(Ensured::Found);
        }
        let made = match self.version {
            CgroupVersion::V1 => self.ensure_v1(task_id, spec),
            CgroupVersion::V2 => self.ensure_v2(task_id, spec),
        };
        if let Err(e) = made {
            // Half-made limits must not be found again as if complete.
            if let Err(rm) = self.remove(task_id) {
                tracing::warn!(task_id, error = %rm, "cannot remove a half-made task cgroup");
            }
            return Err(e);
        }
        Ok(Ensured::Created)
    }

    fn oom_kills(&self, task_id: &str) -> Result<u64, CgroupError> {
        check_id(task_id)?;
        match self.version {
            // v1 counts a kill in the victim's memory cgroup (the
            // container's, under the task's) and not in its parents: add
            // up the task's and its containers'.
            CgroupVersion::V1 => sum_oom_kills(&self.dir("memory", task_id)),
            // v2's memory.events counts the kills of the whole subtree.
            CgroupVersion::V2 => read_oom_kill(&self.dir("", task_id).join("memory.events")),
        }
    }

    fn remove(&self, task_id: &str) -> Result<(), CgroupError> {
        check_id(task_id)?;
        match self.version {
            // runc makes the task's directory in every hierarchy, not only
            // in those this module wrote limits into.
            CgroupVersion::V1 => {
                let hierarchies = fs::read_dir(&self.root).map_err(io(&self.root))?;
                for h in hierarchies.filter_map(|e| e.ok()) {
                    remove_tree(&h.path().join(&self.prefix).join(task_id))?;
                }
                Ok(())
            }
            CgroupVersion::V2 => remove_tree(&self.dir("", task_id)),
        }
    }

    fn list(&self) -> Result<Vec<String>, CgroupError> {
        let parent = match self.version {
            CgroupVersion::V1 => self.root.join("memory").join(&self.prefix),
            CgroupVersion::V2 => self.root.join(&self.prefix),
        };
        Ok(child_cgroups(&parent)?
            .iter()
            .filter_map(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .collect())
    }
}

/// A task id names a directory: nothing that could climb out of the prefix.
fn check_id(task_id: &str) -> Result<(), CgroupError> {
    if task_id.is_empty() || task_id == "." || task_id == ".." || task_id.contains('/') {
        return Err(CgroupError::BadTaskId(task_id.to_string()));
    }
    Ok(())
}

fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    fs::write(path, value).map_err(io(path))
}

/// cgroup v2: let the children of `dir` use the task controllers; one write
/// per controller, so that one the kernel lacks does not stop the others.
fn enable_controllers(dir: &Path) {
    let file = dir.join("cgroup.subtree_control");
    for c in V2_CONTROLLERS {
        if let Err(e) = fs::write(&file, format!("+{c}")) {
            tracing::debug!(path = %file.display(), controller = c, error = %e, "controller not enabled");
        }
    }
}

/// cgroup v1 cpu.shares to v2 cpu.weight, as runc converts them.
fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 100;
    }
    1 + (shares.saturating_sub(2) * 9999) / 262_142
}

/// The `oom_kill N` line of memory.events (v2) or memory.oom_control (v1).
fn parse_oom_kill(text: &str) -> u64 {
    text.lines()
        .filter_map(|l| l.strip_prefix("oom_kill "))
        .find_map(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

fn read_oom_kill(file: &Path) -> Result<u64, CgroupError> {
    match fs::read_to_string(file) {
        Ok(text) => Ok(parse_oom_kill(&text)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(0),
        Err(e) => Err(io(file)(e)),
    }
}

/// `memory.oom_control`'s oom_kill of `dir` and every cgroup below it (v1).
fn sum_oom_kills(dir: &Path) -> Result<u64, CgroupError> {
    let mut n = read_oom_kill(&dir.join("memory.oom_control"))?;
    for child in child_cgroups(dir)? {
        n += sum_oom_kills(&child)?;
    }
    Ok(n)
}

/// The cgroups directly below `dir`; none if `dir` is gone.
fn child_cgroups(dir: &Path) -> Result<Vec<PathBuf>, CgroupError> {
    let entries = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(dir)(e)),
    };
    Ok(entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .map(|e| e.path())
        .collect())
}

/// rmdir, deepest first: a cgroup's files cannot be unlinked, only its
/// (empty) directories removed. A directory still holding processes stays
/// (EBUSY), which is reported.
fn remove_tree(dir: &Path) -> Result<(), CgroupError> {
    for child in child_cgroups(dir)? {
        remove_tree(&child)?;
    }
    match fs::remove_dir(dir) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(io(dir)(e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A v1 mount as a plain directory: writes land in ordinary files.
    fn v1(root: &Path) -> HostCgroups {
        for c in ["cpu", "memory", "pids"] {
            fs::create_dir_all(root.join(c)).unwrap();
        }
        HostCgroups::init(root, "ecs").unwrap()
    }

    fn read(p: PathBuf) -> String {
        fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn v1_limits_go_into_each_controllers_hierarchy() {
        let t = tempfile::tempdir().unwrap();
        let h = v1(t.path());
        assert_eq!(h.version(), CgroupVersion::V1);
        let spec = TaskCgroupSpec {
            cpu: CpuLimit::Quota {
                quota_us: 50_000,
                period_us: 100_000,
            },
            memory_bytes: Some(64 << 20),
            pids_max: Some(32),
        };
        assert_eq!(h.ensure("t1", &spec).unwrap(), Ensured::Created);
        let r = t.path();
        assert_eq!(read(r.join("cpu/ecs/t1/cpu.cfs_quota_us")), "50000");
        assert_eq!(read(r.join("cpu/ecs/t1/cpu.cfs_period_us")), "100000");
        assert_eq!(
            read(r.join("memory/ecs/t1/memory.limit_in_bytes")),
            "67108864"
        );
        assert_eq!(read(r.join("pids/ecs/t1/pids.max")), "32");
        assert_eq!(h.path("t1"), "/ecs/t1");
        assert_eq!(h.list().unwrap(), vec!["t1".to_string()]);
        // Found again (an agent restart): left as it is.
        fs::write(r.join("memory/ecs/t1/memory.limit_in_bytes"), "1").unwrap();
        assert_eq!(h.ensure("t1", &spec).unwrap(), Ensured::Found);
        assert_eq!(read(r.join("memory/ecs/t1/memory.limit_in_bytes")), "1");
    }

    #[test]
    fn v2_limits_go_into_the_unified_directory() {
        let t = tempfile::tempdir().unwrap();
        fs::write(
            t.path().join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .unwrap();
        let h = HostCgroups::init(t.path(), "ecs").unwrap();
        assert_eq!(h.version(), CgroupVersion::V2);
        let spec = TaskCgroupSpec {
            cpu: CpuLimit::Shares(1024),
            memory_bytes: Some(64 << 20),
            pids_max: None,
        };
        h.ensure("t1", &spec).unwrap();
        let d = t.path().join("ecs/t1");
        assert_eq!(read(d.join("cpu.weight")), "39");
        assert_eq!(read(d.join("memory.max")), "67108864");
        assert!(!d.join("pids.max").exists());
        fs::write(
            d.join("memory.events"),
            "low 0\nhigh 0\nmax 9\noom 2\noom_kill 2\n",
        )
        .unwrap();
        assert_eq!(h.oom_kills("t1").unwrap(), 2);
        assert_eq!(h.oom_kills("gone").unwrap(), 0);
    }

    #[test]
    fn missing_controllers_and_bad_ids_are_named() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join("cpu")).unwrap();
        let e = HostCgroups::init(t.path(), "ecs").unwrap_err().to_string();
        assert!(e.contains("memory controller not available"), "{e}");
        let h = v1(t.path());
        assert!(matches!(h.remove("../x"), Err(CgroupError::BadTaskId(_))));
    }

    #[test]
    fn v1_oom_kills_of_the_task_and_its_containers_add_up() {
        let t = tempfile::tempdir().unwrap();
        let h = v1(t.path());
        let spec = TaskCgroupSpec {
            cpu: CpuLimit::Shares(2),
            memory_bytes: Some(64 << 20),
            pids_max: None,
        };
        h.ensure("t1", &spec).unwrap();
        assert_eq!(h.oom_kills("t1").unwrap(), 0);
        let task = t.path().join("memory/ecs/t1");
        fs::create_dir(task.join("c1")).unwrap();
        fs::write(
            task.join("c1/memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
        )
        .unwrap();
        fs::write(
            task.join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
        )
        .unwrap();
        assert_eq!(h.oom_kills("t1").unwrap(), 1);
    }

    #[test]
    fn v1_oom_kills_come_from_memory_oom_control() {
        assert_eq!(
            parse_oom_kill("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"),
            3
        );
        assert_eq!(parse_oom_kill("oom_kill_disable 0\nunder_oom 0\n"), 0);
    }
}
