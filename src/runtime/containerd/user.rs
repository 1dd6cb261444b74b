//! Resolving a container's `user` (`name`, `uid`, `name:group`, `uid:gid`) to
//! numeric ids from the image's /etc/passwd and /etc/group, the way Docker and
//! containerd's `WithUser` do. Pure: the caller reads the files.

/// The ids the container's process runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    /// Groups listing the user as a member (from /etc/group), without `gid`.
    pub additional_gids: Vec<u32>,
    /// Home directory from /etc/passwd, used for `HOME` when the env lacks it.
    pub home: Option<String>,
}

impl ResolvedUser {
    pub fn root() -> ResolvedUser {
        ResolvedUser {
            uid: 0,
            gid: 0,
            additional_gids: Vec::new(),
            home: None,
        }
    }
}

/// Why a user spec could not be resolved; the Display is the reason only, the
/// caller names the field and value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error("no such user in the image's /etc/passwd")]
    NoSuchUser,
    #[error("no such group in the image's /etc/group")]
    NoSuchGroup,
    #[error("the image has no /etc/passwd to look the user name up in")]
    NoPasswd,
    #[error("the image has no /etc/group to look the group name up in")]
    NoGroupFile,
    #[error("malformed user: expected `user`, `uid`, `user:group` or `uid:gid`")]
    Malformed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

/// Lines that do not parse are skipped, as libc does.
fn parse_passwd(text: &str) -> Vec<PasswdEntry<'_>> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim_end_matches('\r');
            if line.starts_with('#') {
                return None;
            }
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 4 || f[0].is_empty() {
                return None;
            }
            Some(PasswdEntry {
                name: f[0],
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: f.get(5).copied().unwrap_or(""),
            })
        })
        .collect()
}

fn parse_group(text: &str) -> Vec<GroupEntry<'_>> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim_end_matches('\r');
            if line.starts_with('#') {
                return None;
            }
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 3 || f[0].is_empty() {
                return None;
            }
            let members = f
                .get(3)
                .map(|m| {
                    m.split(',')
                        .map(str::trim)
                        .filter(|m| !m.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            Some(GroupEntry {
                name: f[0],
                gid: f[2].parse().ok()?,
                members,
            })
        })
        .collect()
}

/// Resolve `user` against the image's files (`None` = file absent).
/// Numeric ids need no file; names do.
pub fn resolve(
    user: &str,
    passwd: Option<&str>,
    group: Option<&str>,
) -> Result<ResolvedUser, UserError> {
    let user = user.trim();
    let (user_part, group_part) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    if group_part.is_some_and(|g| g.is_empty() || g.contains(':')) {
        return Err(UserError::Malformed);
    }
    let passwd_entries = passwd.map(parse_passwd).unwrap_or_default();
    let group_entries = group.map(parse_group).unwrap_or_default();

    let entry = if user_part.is_empty() {
        if group_part.is_some() {
            return Err(UserError::Malformed);
        }
        passwd_entries.iter().find(|e| e.uid == 0)
    } else if let Ok(uid) = user_part.parse::<u32>() {
        passwd_entries.iter().find(|e| e.uid == uid)
    } else {
        if passwd.is_none() {
            return Err(UserError::NoPasswd);
        }
        Some(
            passwd_entries
                .iter()
                .find(|e| e.name == user_part)
                .ok_or(UserError::NoSuchUser)?,
        )
    };

    let uid = match user_part.parse::<u32>() {
        Ok(uid) => uid,
        Err(_) => entry.map(|e| e.uid).unwrap_or(0),
    };
    let gid = match group_part {
        None => entry.map(|e| e.gid).unwrap_or(0),
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => {
                if group.is_none() {
                    return Err(UserError::NoGroupFile);
                }
                group_entries
                    .iter()
                    .find(|e| e.name == g)
                    .ok_or(UserError::NoSuchGroup)?
                    .gid
            }
        },
    };

    let mut additional_gids = Vec::new();
    if let Some(name) = entry.map(|e| e.name) {
        for g in &group_entries {
            if g.gid != gid && g.members.contains(&name) && !additional_gids.contains(&g.gid) {
                additional_gids.push(g.gid);
            }
        }
    }
    let home = entry
        .map(|e| e.home)
        .filter(|h| !h.is_empty())
        .map(str::to_string);
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
        home,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        # comment\n\
        broken line\n\
        nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n\
        app:x:1000:1001:App:/home/app:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nwheel:x:10:app,other\napp:x:1001:\nstaff:x:50: app \n";

    #[test]
    fn empty_is_root_with_home() {
        let u = resolve("", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!((u.uid, u.gid), (0, 0));
        assert_eq!(u.home.as_deref(), Some("/root"));
    }

    #[test]
    fn empty_without_files_is_root() {
        assert_eq!(resolve("", None, None).unwrap(), ResolvedUser::root());
    }

    #[test]
    fn numeric_needs_no_files() {
        let u = resolve("1000:1000", None, None).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 1000));
        let u = resolve("4242", None, None).unwrap();
        assert_eq!((u.uid, u.gid), (4242, 0));
    }

    #[test]
    fn numeric_uid_takes_gid_from_passwd() {
        let u = resolve("1000", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 1001));
        assert_eq!(u.additional_gids, vec![10, 50]);
    }

    #[test]
    fn name_lookup() {
        let u = resolve("nobody", Some(PASSWD), None).unwrap();
        assert_eq!((u.uid, u.gid), (65534, 65534));
        let u = resolve("app:wheel", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 10));
        assert_eq!(u.additional_gids, vec![50]);
        let u = resolve("app:7", Some(PASSWD), None).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 7));
        let u = resolve("0:wheel", None, Some(GROUP)).unwrap();
        assert_eq!((u.uid, u.gid), (0, 10));
    }

    #[test]
    fn errors() {
        assert_eq!(
            resolve("ghost", Some(PASSWD), None),
            Err(UserError::NoSuchUser)
        );
        assert_eq!(resolve("ghost", None, None), Err(UserError::NoPasswd));
        assert_eq!(
            resolve("app:ghost", Some(PASSWD), Some(GROUP)),
            Err(UserError::NoSuchGroup)
        );
        assert_eq!(
            resolve("app:ghost", Some(PASSWD), None),
            Err(UserError::NoGroupFile)
        );
        assert_eq!(
            resolve("a:b:c", Some(PASSWD), None),
            Err(UserError::Malformed)
        );
        assert_eq!(
            resolve("app:", Some(PASSWD), None),
            Err(UserError::Malformed)
        );
        assert_eq!(resolve(":0", Some(PASSWD), None), Err(UserError::Malformed));
    }
}
