//! What the agent's namespace holds, for the sweep at start
//! (`crate::engine::leftovers`): every container record (task containers and
//! namespace holders alike) and every writable snapshot that no record uses,
//! which a create killed between preparing the snapshot and recording the
//! container leaves behind. Each id is one `lifecycle::remove` clears
//! (its task, its record, its snapshot), so the engine needs no more than
//! the names.

use std::collections::BTreeSet;

use containerd_client::services::v1::containers_client::ContainersClient;
use containerd_client::services::v1::snapshots::snapshots_client::SnapshotsClient;
use containerd_client::services::v1::snapshots::{Kind, ListSnapshotsRequest};
use containerd_client::services::v1::ListContainersRequest;

use super::error::from_status;
use super::Conn;
use crate::runtime::RuntimeError;

/// Where an image pull unpacks a layer (`pull::unpack`, and containerd's own
/// unpacker): never a container's, and short-lived under the pull's lease.
const UNPACK_PREFIX: &str = "extract-";

pub(super) async fn ids(conn: &Conn, snapshotter: &str) -> Result<Vec<String>, RuntimeError> {
    let list_err = |kind, message| RuntimeError::List { kind, message };
    let records = ContainersClient::new(conn.channel())
        .list(conn.request(ListContainersRequest { filters: vec![] }))
        .await
        .map_err(|s| from_status(s, |kind, m| list_err(kind, format!("containers: {m}"))))?
        .into_inner()
        .containers;
    let mut ids: BTreeSet<String> = records.iter().map(|c| c.id.clone()).collect();
    let in_use: BTreeSet<&str> = records
        .iter()
        .filter(|c| c.snapshotter == snapshotter)
        .map(|c| c.snapshot_key.as_str())
        .collect();
    let mut stream = SnapshotsClient::new(conn.channel())
        .list(conn.request(ListSnapshotsRequest {
            snapshotter: snapshotter.to_string(),
            filters: vec![],
        }))
        .await
        .map_err(|s| from_status(s, |kind, m| list_err(kind, format!("snapshots: {m}"))))?
        .into_inner();
    let mut orphans = Vec::new();
    while let Some(page) = stream
        .message()
        .await
        .map_err(|s| from_status(s, |kind, m| list_err(kind, format!("snapshots: {m}"))))?
    {
        orphans.extend(
            page.info
                .into_iter()
                .filter(|i| i.kind == Kind::Active as i32)
                .map(|i| i.name)
                .filter(|name| is_orphan(name, &in_use)),
        );
    }
    ids.extend(orphans);
    Ok(ids.into_iter().collect())
}

/// An active snapshot no record uses and no pull is unpacking into.
/// Committed snapshots are image layers; views are not the agent's.
fn is_orphan(name: &str, in_use: &BTreeSet<&str>) -> bool {
    !name.starts_with(UNPACK_PREFIX) && !in_use.contains(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpacks_and_snapshots_in_use_are_no_orphans() {
        let in_use = BTreeSet::from(["t1-0-app"]);
        assert!(!is_orphan("t1-0-app", &in_use));
        assert!(!is_orphan("extract-0123abc-sha256:beef", &in_use));
        assert!(is_orphan("t2-0-app", &in_use));
    }
}
