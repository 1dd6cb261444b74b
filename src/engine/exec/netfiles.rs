//! /etc/hosts, /etc/hostname and /etc/resolv.conf for containers in their
//! own network namespace, as Docker writes them for its containers: without
//! them a busybox container has only its image's files, where `localhost`
//! may not resolve. Kept under `$ECS_DATADIR/netfiles/<task id>/` until the
//! task is cleaned up: hosts and resolv.conf once per task for awsvpc (its
//! containers share the namespace and its settings), per container
//! otherwise, hostname per container.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Component, Path, PathBuf};

use crate::task::def::NetworkMode;
use crate::task::netopts::HostEntry;

const DIR: &str = "netfiles";

/// Docker's entries for every container, before the container's own.
const LOCALHOST: &str = "127.0.0.1\tlocalhost\n\
::1\tlocalhost ip6-localhost ip6-loopback\n\
fe00::0\tip6-localnet\n\
ff00::0\tip6-mcastprefix\n\
ff02::1\tip6-allnodes\n\
ff02::2\tip6-allrouters\n";

/// `/etc/hosts` in Docker's order: loopback names, the task definition's
/// extraHosts, the linked containers (`links`), then the namespace's
/// address with the container's hostname when it has an address.
pub(crate) fn hosts(
    hostname: &str,
    ipv4: Option<Ipv4Addr>,
    extra: &[HostEntry],
    links: &[(IpAddr, String)],
) -> String {
    let mut s = LOCALHOST.to_string();
    for e in extra {
        s.push_str(&format!("{}\t{}\n", e.ip, e.hostname));
    }
    for (ip, names) in links {
        s.push_str(&format!("{ip}\t{names}\n"));
    }
    if let Some(ip) = ipv4 {
        s.push_str(&format!("{ip}\t{hostname}\n"));
    }
    s
}

/// Where Docker reads the host's resolver settings: /etc/resolv.conf, or
/// systemd-resolved's upstream list when that names only its local stub
/// (which answers on the host's loopback, not a container's).
pub(crate) fn host_resolv_conf() -> String {
    let main = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    if Resolv::parse(&main).nameservers == ["127.0.0.53"] {
        if let Ok(upstream) = std::fs::read_to_string("/run/systemd/resolve/resolv.conf") {
            return upstream;
        }
    }
    main
}

/// Docker's fallback when no usable nameserver is left.
const DEFAULT_NAMESERVERS: [&str; 2] = ["8.8.8.8", "8.8.4.4"];

/// A resolv.conf as Docker's resolvconf package reads and writes it.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Resolv {
    pub nameservers: Vec<String>,
    search: Vec<String>,
    options: Vec<String>,
    /// Lines that are no directive it knows, kept as written.
    other: Vec<String>,
}

impl Resolv {
    pub(crate) fn parse(text: &str) -> Resolv {
        let mut r = Resolv::default();
        for line in text.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let Some(first) = fields.first() else {
                continue;
            };
            if first.starts_with('#') || first.starts_with(';') {
                continue;
            }
            match (*first, &fields[1..]) {
                (_, []) => {}
                ("nameserver", [ns, ..]) => {
                    if ns.parse::<IpAddr>().is_ok() {
                        r.nameservers.push(ns.to_string());
                    }
                }
                // `domain` is the obsolete spelling; the last one wins.
                ("search" | "domain", rest) => {
                    r.search = rest.iter().map(|s| s.to_string()).collect()
                }
                ("options", rest) => r.options.extend(rest.iter().map(|s| s.to_string())),
                _ => r.other.push(line.to_string()),
            }
        }
        r
    }

    /// The container's file: the host's settings with the task
    /// definition's (or the ENI's) servers and search list in their place.
    /// In a namespace of its own (`namespaced`) the host's loopback and IPv6
    /// servers cannot answer, so Docker drops them (its legacy bridge has no
    /// IPv6) and falls back to public servers; servers given explicitly are
    /// kept as given.
    pub(crate) fn for_container(
        host: &str,
        servers: &[String],
        search: &[String],
        namespaced: bool,
    ) -> String {
        let mut r = Resolv::parse(host);
        if !search.is_empty() {
            r.search = search.iter().filter(|s| *s != ".").cloned().collect();
        }
        if !servers.is_empty() {
            r.nameservers = servers.to_vec();
        } else if namespaced {
            r.nameservers.retain(|ns| match ns.parse::<IpAddr>() {
                Ok(IpAddr::V4(a)) => !a.is_loopback(),
                _ => false,
            });
            if r.nameservers.is_empty() {
                r.nameservers = DEFAULT_NAMESERVERS.map(String::from).to_vec();
            }
        }
        r.render()
    }

    /// Docker's layout: nameservers, search, options, the rest.
    fn render(&self) -> String {
        let mut s = String::new();
        for ns in &self.nameservers {
            s.push_str(&format!("nameserver {ns}\n"));
        }
        if !self.search.is_empty() {
            s.push_str(&format!("search {}\n", self.search.join(" ")));
        }
        if !self.options.is_empty() {
            s.push_str(&format!("options {}\n", self.options.join(" ")));
        }
        for line in &self.other {
            s.push_str(line);
            s.push('\n');
        }
        s
    }
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
    // awsvpc: one namespace and one set of settings for the task. Bridge
    // and none containers each have their own with Docker.
    let namespace = match mode {
        NetworkMode::Awsvpc => task,
        _ => own.clone(),
    };
    Ok((namespace, own))
}

/// Writes `contents` at `path` (mode 0644) through a temporary file and a
/// rename, so a container mounting it never sees half a file and two
/// containers of one task may write the same file at once. `durable`: synced
/// to disk first. Files of a container in a task namespace need not be:
/// that namespace (a bind mount under /run) does not survive the host crash
/// that could lose them, so nothing could ever mount a lost one, and an
/// agent restart finds them in the page cache. Three syncs a container were
/// on the start path of bridge and awsvpc tasks (a few ms on a network disk).
pub(crate) fn write(path: &Path, contents: &str, durable: bool) -> Result<(), NetFilesError> {
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
        if durable {
            f.sync_all().map_err(io(&tmp))?;
        }
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
    fn hosts_lists_localhost_extra_hosts_links_then_the_container() {
        let h = hosts("ip-10-0-1-5", Some(Ipv4Addr::new(10, 0, 1, 5)), &[], &[]);
        let lines: Vec<&str> = h.lines().collect();
        assert_eq!(lines[0], "127.0.0.1\tlocalhost");
        assert_eq!(lines[1], "::1\tlocalhost ip6-localhost ip6-loopback");
        assert_eq!(*lines.last().unwrap(), "10.0.1.5\tip-10-0-1-5");
        assert_eq!(lines.len(), 7);
        assert_eq!(
            hosts("abc", None, &[], &[]).lines().count(),
            6,
            "no address, no entry"
        );
        assert!(h.ends_with('\n'));
        // Docker's order: defaults, --add-host entries, links, own address.
        let extra = [HostEntry {
            hostname: "db.example".into(),
            ip: "192.0.2.10".parse().unwrap(),
        }];
        let links = [(
            "172.17.0.3".parse().unwrap(),
            "database abcdef012345 t-0-db".to_string(),
        )];
        let h = hosts("web", Some(Ipv4Addr::new(172, 17, 0, 2)), &extra, &links);
        let tail: Vec<&str> = h.lines().skip(6).collect();
        assert_eq!(
            tail,
            [
                "192.0.2.10\tdb.example",
                "172.17.0.3\tdatabase abcdef012345 t-0-db",
                "172.17.0.2\tweb"
            ]
        );
    }

    #[test]
    fn resolv_conf_is_docker_s() {
        let host = "# managed\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nnameserver fd00::1\n\
                    search a.example\nsearch b.example\noptions edns0\noptions ndots:2\nsortlist 10.0.0.0\n";
        // A namespace of its own: the host's loopback and IPv6 servers go.
        assert_eq!(
            Resolv::for_container(host, &[], &[], true),
            "nameserver 10.0.0.2\nsearch b.example\noptions edns0 ndots:2\nsortlist 10.0.0.0\n"
        );
        // None left: Docker's public fallback.
        assert_eq!(
            Resolv::for_container("nameserver 127.0.0.53\n", &[], &[], true),
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        // Given servers and search list replace the host's; options stay.
        assert_eq!(
            Resolv::for_container(
                host,
                &["10.9.9.9".into(), "127.0.0.1".into()],
                &["x.example".into(), "y.example".into()],
                true
            ),
            "nameserver 10.9.9.9\nnameserver 127.0.0.1\nsearch x.example y.example\n\
             options edns0 ndots:2\nsortlist 10.0.0.0\n"
        );
        // A search list alone keeps the host's servers; "." means none.
        assert_eq!(
            Resolv::for_container(host, &[], &[".".into()], false),
            "nameserver 127.0.0.53\nnameserver 10.0.0.2\nnameserver fd00::1\n\
             options edns0 ndots:2\nsortlist 10.0.0.0\n"
        );
        assert_eq!(
            Resolv::parse("nameserver  ::1 \nnameserver bogus\ndomain d.example\n").nameservers,
            vec!["::1"]
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
    fn awsvpc_files_are_per_task_the_others_per_container() {
        let d = Path::new("/data");
        let (ns, own) = dirs(d, "t1", NetworkMode::Bridge, "web").unwrap();
        assert_eq!(ns, Path::new("/data/netfiles/t1/web"));
        assert_eq!(own, ns);
        let (ns, own) = dirs(d, "t1", NetworkMode::Awsvpc, "web").unwrap();
        assert_eq!(ns, Path::new("/data/netfiles/t1"));
        assert_eq!(own, Path::new("/data/netfiles/t1/web"));
        let (ns, own) = dirs(d, "t1", NetworkMode::None, "web").unwrap();
        assert_eq!(ns, own);
        assert!(dirs(d, "..", NetworkMode::None, "web").is_err());
        assert!(dirs(d, "t1", NetworkMode::None, "a/b").is_err());
        assert!(dirs(d, "", NetworkMode::None, "web").is_err());
    }

    #[test]
    fn files_are_written_whole_and_removed_with_the_task() {
        let tmp = tempfile::tempdir().unwrap();
        let (ns, own) = dirs(tmp.path(), "t1", NetworkMode::Awsvpc, "web").unwrap();
        write(&ns.join("hosts"), "one\n", true).unwrap();
        write(&ns.join("hosts"), "two\n", false).unwrap();
        write(&own.join("hostname"), "h\n", false).unwrap();
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
