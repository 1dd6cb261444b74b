//! The engine's side of a task's shared PID and IPC namespaces (`pidMode` /
//! `ipcMode` `task`): the holder is started before the first container that
//! joins it is created (Go: the pause container every other container
//! waits for), and removed once the task stopped, and again at cleanup.

use crate::runtime::{ContainerRuntime, NamespaceHolder};
use crate::task::def::{ContainerDef, TaskDef};
use crate::task::linux::IpcMode;
use crate::task::spec::namespace_holder_id;

use super::inner::Inner;

/// Docker's /dev/shm size when none is asked for.
const DEFAULT_SHM_BYTES: u64 = 64 << 20;

/// The holder container `i` joins, if it joins one. Its cgroup parent is
/// the caller's to fill in once the task's cgroup exists.
pub(crate) fn request(def: &TaskDef, i: usize) -> Option<NamespaceHolder> {
    let joins = def.containers.get(i)?.linux.joins_task_namespaces();
    joins.then(|| NamespaceHolder {
        id: namespace_holder_id(def.id()),
        cgroup_parent: None,
    })
}

/// The size of the task's shared /dev/shm when container `i` uses it
/// (`ipcMode: task`). Docker gives the pause container's its default
/// 64 MiB whatever the containers ask; here the largest sharedMemorySize
/// of the containers sharing it counts.
pub(crate) fn shm_size(def: &TaskDef, i: usize) -> Option<u64> {
    let sharing = |c: &&ContainerDef| c.linux.ipc == IpcMode::Task;
    def.containers.get(i).filter(sharing)?;
    Some(
        def.containers
            .iter()
            .filter(sharing)
            .filter_map(|c| c.linux.shm_size_bytes)
            .max()
            .unwrap_or(DEFAULT_SHM_BYTES),
    )
}

impl<R: ContainerRuntime> Inner<R> {
    /// Stops and removes the task's holder, if it has one. Idempotent.
    pub(crate) async fn release_namespace_holder(&self, def: &TaskDef) {
        if !def
            .containers
            .iter()
            .any(|c| c.linux.joins_task_namespaces())
        {
            return;
        }
        let id = namespace_holder_id(def.id());
        if let Err(e) = self.runtime.remove_namespace_holder(&id).await {
            tracing::warn!(task = %def.arn, container = %id, error = %e, "cannot remove the task's namespace holder");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::linux::PidMode;

    #[test]
    fn containers_joining_the_task_namespaces_ask_for_the_holder() {
        let mut a = ContainerDef::minimal("a", "busybox");
        a.linux.pid = PidMode::Task;
        let mut b = ContainerDef::minimal("b", "busybox");
        b.linux.ipc = IpcMode::Task;
        b.linux.shm_size_bytes = Some(256 << 20);
        let mut def = TaskDef::minimal(
            "arn:aws:ecs:us-east-1:0:task/c/t1",
            vec![a, b, ContainerDef::minimal("c", "busybox")],
        );
        let r = request(&def, 0).unwrap();
        assert_eq!(r.id, "t1-ns");
        assert_eq!(request(&def, 1), Some(r));
        assert_eq!(request(&def, 2), None);
        assert_eq!(shm_size(&def, 0), None, "a only shares the PID namespace");
        assert_eq!(shm_size(&def, 1), Some(256 << 20));
        assert_eq!(shm_size(&def, 2), None);
        def.containers[1].linux.shm_size_bytes = None;
        assert_eq!(shm_size(&def, 1), Some(64 << 20));
    }
}
