//! /etc/hosts, /etc/hostname and /etc/resolv.conf for containers in their
//! own network namespace, as Docker writes them for its containers: without
//! them a busybox container has only its image's files, where `localhost`
//! may not resolve. Kept under `$ECS_DATADIR/netfiles/<task id>/` until the
//! task is cleaned up: hosts and resolv.conf once per namespace (the task
//! for awsvpc and none, the container for bridge), hostname per container.

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Component, Path, PathBuf};

use crate::task::def::NetworkMode;

const DIR: &str = "netfiles";

/// Docker's entries for every container, before the container's own.
const LOCALHOST: &str = "127.0.0.1\tlocalhost\n\
::1\tlocalhost ip6-localhost ip6-loopback\n\
fe00::0\tip6-localnet\n\
ff00::0\tip6-mcastprefix\n\
ff02::1\tip6-allnodes\n\
ff02::2\tip6-allrouters\n";

/// `/etc/hosts`: loopback names, then the namespace's address with the
/// container's hostname when it has an address.
pub(crate) fn hosts(hostname: &str, ipv4: Option<Ipv4Addr>) -> String {
    let mut s = LOCALHOST.to_string();
    if let Some(ip) = ipv4 {
        s.push_str(&format!("{ip}\t{hostname}\n"));
    }
    s
}

/// `/etc/resolv.conf` with the ENI's servers and search list, in Docker's order.
pub(crate) fn resolv_conf(nameservers: &[String], search: &[String]) -> String {
    let mut s = String::new();
    for ns in nameservers {
        s.push_str(&format!("nameserver {ns}\n"));
    }
    if !search.is_empty() {
        s.push_str(&format!("search {}\n", search.join(" ")));
    }
    s
}

/// The `nameserver` entries of a resolv.conf.
pub(crate) fn nameservers(resolv: &str) -> Vec<String> {
    resolv
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some("nameserver"))
                .then(|| words.next())
                .flatten()
                .map(str::to_string)
        })
        .collect()
}

/// EC2's host name for a private address (`ip-10-0-1-5`): an awsvpc task's
/// hostname when its ENI names none.
pub(crate) fn ip_hostname(ip: Ipv4Addr) -> String {
    let [a, b, c, d] = ip.octets();
    format!("ip-{a}-{b}-{c}-{d}")
}

/// The container's hostname, as Docker (bridge, none) and the Go agent
/// (awsvpc: the task's pause container's) choose it.
pub(crate) fn hostname(
    mode: NetworkMode,
    defined: Option<&str>,
    container_id: &str,
    task_id: &str,
    ipv4: Option<Ipv4Addr>,
) -> String {
    let short = |id: &str| id.chars().take(12).collect::<String>();
    match (defined, mode) {
        (Some(h), _) => h.to_string(),
        (None, NetworkMode::Awsvpc) => ipv4.map(ip_hostname).unwrap_or_else(|| short(task_id)),
        (None, _) => short(container_id),
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum NetFilesError {
    #[error("{what} {value:?} cannot name a directory")]
    BadName { what: &'static str, value: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn plain(what: &'static str, value: &str) -> Result<(), NetFilesError> {
    let mut parts = Path::new(value).components();
    match (parts.next(), parts.next()) {
        (Some(Component::Normal(_)), None) if !value.contains('/') => Ok(()),
        _ => Err(NetFilesError::BadName {
            what,
            value: value.to_string(),
        }),
    }
}

/// Where one task's files live.
pub(crate) fn task_dir(data_dir: &Path, task_id: &str) -> Result<PathBuf, NetFilesError> {
    plain("task id", task_id)?;
    Ok(data_dir.join(DIR).join(task_id))
}

/// Directories of the namespace's files (hosts, resolv.conf) and of the
/// container's own (hostname).
pub(crate) fn dirs(
    data_dir: &Path,
    task_id: &str,
    mode: NetworkMode,
    container: &str,
) -> Result<(PathBuf, PathBuf), NetFilesError> {
    plain("container name", container)?;
    let task = task_dir(data_dir, task_id)?;
    let own = task.join(container);
    let namespace = match mode {
        NetworkMode::Bridge => own.clone(),
        _ => task,
    };
    Ok((namespace, own))
}

/// Writes `contents` at `path` (mode 0644) through a temporary file and a
/// rename, so a container mounting it never sees half a file and two
/// containers of one task may write the same file at once.
pub(crate) fn write(path: &Path, contents: &str) -> Result<(), NetFilesError> {
    use std::os::unix::fs::PermissionsExt;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| NetFilesError::Io { path, source }
    };
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(contents.as_bytes()).map_err(io(&tmp))?;
        f.set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io(path))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Removes the task's files (at cleanup). Missing is fine.
pub(crate) fn remove_task(data_dir: &Path, task_id: &str) -> Result<(), NetFilesError> {
    let dir = task_dir(data_dir, task_id)?;
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(NetFilesError::Io { path: dir, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lists_localhost_then_the_container() {
        let h = hosts("ip-10-0-1-5", Some(Ipv4Addr::new(10, 0, 1, 5)));
        let lines: Vec<&str> = h.lines().collect();
        assert_eq!(lines[0], "127.0.0.1\tlocalhost");
        assert_eq!(lines[1], "::1\tlocalhost ip6-localhost ip6-loopback");
        assert_eq!(*lines.last().unwrap(), "10.0.1.5\tip-10-0-1-5");
        assert_eq!(lines.len(), 7);
        assert_eq!(
            hosts("abc", None).lines().count(),
            6,
            "no address, no entry"
        );
        assert!(h.ends_with('\n'));
    }

    #[test]
    fn resolv_conf_has_servers_then_search() {
        assert_eq!(
            resolv_conf(
                &["10.0.0.2".into(), "10.0.0.3".into()],
                &["a.example".into(), "b.example".into()]
            ),
            "nameserver 10.0.0.2\nnameserver 10.0.0.3\nsearch a.example b.example\n"
        );
        assert_eq!(
            resolv_conf(&["1.1.1.1".into()], &[]),
            "nameserver 1.1.1.1\n"
        );
        assert_eq!(
            nameservers("# x\nnameserver 127.0.0.53\noptions edns0\nnameserver  ::1 \nsearch y\n"),
            vec!["127.0.0.53", "::1"]
        );
    }

    #[test]
    fn hostnames_follow_docker_and_the_go_agent() {
        let ip = Some(Ipv4Addr::new(10, 0, 1, 5));
        let id = "abcdef0123456789-0-web";
        assert_eq!(
            hostname(NetworkMode::Awsvpc, None, id, "task1234", ip),
            "ip-10-0-1-5"
        );
        assert_eq!(
            hostname(NetworkMode::Awsvpc, None, id, "0123456789abcdef", None),
            "0123456789ab"
        );
        assert_eq!(
            hostname(NetworkMode::Bridge, None, id, "t", ip),
            "abcdef012345"
        );
        assert_eq!(
            hostname(NetworkMode::None, None, id, "t", None),
            "abcdef012345"
        );
        assert_eq!(
            hostname(NetworkMode::Bridge, Some("web"), id, "t", ip),
            "web"
        );
    }

    #[test]
    fn bridge_files_are_per_container_the_others_per_task() {
        let d = Path::new("/data");
        let (ns, own) = dirs(d, "t1", NetworkMode::Bridge, "web").unwrap();
        assert_eq!(ns, Path::new("/data/netfiles/t1/web"));
        assert_eq!(own, ns);
        let (ns, own) = dirs(d, "t1", NetworkMode::Awsvpc, "web").unwrap();
        assert_eq!(ns, Path::new("/data/netfiles/t1"));
        assert_eq!(own, Path::new("/data/netfiles/t1/web"));
        assert!(dirs(d, "..", NetworkMode::None, "web").is_err());
        assert!(dirs(d, "t1", NetworkMode::None, "a/b").is_err());
        assert!(dirs(d, "", NetworkMode::None, "web").is_err());
    }

    #[test]
    fn files_are_written_whole_and_removed_with_the_task() {
        let tmp = tempfile::tempdir().unwrap();
        let (ns, own) = dirs(tmp.path(), "t1", NetworkMode::Awsvpc, "web").unwrap();
        write(&ns.join("hosts"), "one\n").unwrap();
        write(&ns.join("hosts"), "two\n").unwrap();
        write(&own.join("hostname"), "h\n").unwrap();
        assert_eq!(std::fs::read_to_string(ns.join("hosts")).unwrap(), "two\n");
        assert_eq!(
            std::fs::read_dir(&ns).unwrap().count(),
            2,
            "no temp files left"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(ns.join("hosts"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644);
        remove_task(tmp.path(), "t1").unwrap();
        assert!(!ns.exists());
        remove_task(tmp.path(), "t1").unwrap();
    }
}
