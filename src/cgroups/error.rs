use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "cgroup {controller} controller not available under {root} (mounted controllers: {found})"
    )]
    MissingController {
        controller: &'static str,
        root: PathBuf,
        found: String,
    },
    #[error("container {container:?} sets memory {container_mib} MiB, more than the task's {task_mib} MiB")]
    ContainerMemoryAboveTask {
        container: String,
        container_mib: u32,
        task_mib: i64,
    },
    #[error("task id {0:?} is not usable as a cgroup name")]
    BadTaskId(String),
}

pub(super) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> CgroupError {
    let path = path.into();
    move |source| CgroupError::Io { path, source }
}
