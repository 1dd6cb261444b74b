//! Unpack an image's layers into committed snapshots named by chain ID, the
//! way containerd's own unpacker does: Prepare an extraction snapshot on the
//! parent chain, Apply the layer with the Diff service, Commit under the chain ID.

use std::collections::HashMap;
use std::time::Instant;

use containerd_client::services::v1::diff_client::DiffClient;
use containerd_client::services::v1::leases_client::LeasesClient;
use containerd_client::services::v1::snapshots::snapshots_client::SnapshotsClient;
use containerd_client::services::v1::snapshots::{
    CommitSnapshotRequest, PrepareSnapshotRequest, RemoveSnapshotRequest, StatSnapshotRequest,
};
use containerd_client::services::v1::ApplyRequest;
use containerd_client::services::v1::{AddResourceRequest, Resource};
use containerd_client::types::Descriptor as CdDescriptor;
use tonic::Code;

use super::content::Store;
use super::error::PullError;
use super::labels::LABEL_UNCOMPRESSED;
use super::overlap::Arrivals;
use crate::image::manifest::{chain_ids, Descriptor};
use crate::runtime::containerd::Conn;

/// Tells remote snapshotters which committed snapshot an extraction is for;
/// containerd's unpacker sets it on Prepare and Commit.
const LABEL_SNAPSHOT_REF: &str = "containerd.io/snapshot.ref";
/// Prepare collisions on a random key are near impossible; bound them anyway.
const MAX_PREPARE_ATTEMPTS: usize = 3;

pub struct Unpacker<'a> {
    pub conn: &'a Conn,
    pub lease: &'a str,
    pub snapshotter: &'a str,
    /// For messages: the image being unpacked.
    pub image: &'a str,
}

impl Unpacker<'_> {
    fn snapshots(&self) -> SnapshotsClient<tonic::transport::Channel> {
        SnapshotsClient::new(self.conn.channel())
    }

    /// Unpack `layers` (whose uncompressed digests are `diff_ids`) and return the
    /// top chain ID. Layers whose snapshot already exists are skipped. Each
    /// layer is applied as soon as `arrivals` says its blob is in the content
    /// store (the ones below it are applied by then), while later ones may
    /// still be downloading. `None` if the downloads ended without a layer
    /// this needed: they failed, and their error is the pull's.
    pub async fn unpack(
        &self,
        layers: &[Descriptor],
        diff_ids: &[String],
        arrivals: &mut Arrivals,
    ) -> Result<Option<String>, PullError> {
        let chain = chain_ids(diff_ids);
        let store = Store::new(self.conn, self.lease);
        // A committed snapshot keeps its parents, so the highest existing one
        // tells what is left to do; usually one Stat for an unpacked image.
        let mut done = 0;
        for i in (0..chain.len()).rev() {
            // An existing snapshot may be garbage already (its child was
            // removed, nothing references it): put it in the pull's lease
            // before building on it, then check that GC did not win the race.
            if self.exists(&chain[i]).await? {
                self.protect(&chain[i]).await?;
                if self.exists(&chain[i]).await? {
                    done = i + 1;
                    break;
                }
                tracing::debug!(image = %self.image, chain_id = %chain[i], "snapshot collected while checked; looking further down");
            }
        }
        if done > 0 {
            tracing::debug!(image = %self.image, layers = done, chain_id = %chain[done - 1], "snapshots exist, layers skipped");
        }
        for (i, (layer, chain_id)) in layers.iter().zip(&chain).enumerate() {
            // Even a layer whose snapshot exists is waited for: its blob
            // gets the label below, and the image record needs it.
            let waiting = Instant::now();
            if !arrivals.wait_for(i).await {
                return Ok(None);
            }
            if i >= done {
                let parent = if i == 0 { "" } else { chain[i - 1].as_str() };
                let started = Instant::now();
                self.apply_layer(i, layer, &diff_ids[i], chain_id, parent)
                    .await?;
                tracing::info!(
                    image = %self.image,
                    layer = %layer.digest,
                    chain_id = %chain_id,
                    bytes = layer.size,
                    waited_ms = started.duration_since(waiting).as_millis() as u64,
                    ms = started.elapsed().as_millis() as u64,
                    "layer unpacked"
                );
            }
            // Recorded only once Apply has proved it, as containerd does.
            store
                .set_labels(
                    &layer.digest,
                    HashMap::from([(LABEL_UNCOMPRESSED.to_string(), diff_ids[i].clone())]),
                )
                .await?;
        }
        chain
            .last()
            .cloned()
            .map(Some)
            .ok_or_else(|| PullError::bad_image(self.image, "image has no layers"))
    }

    pub async fn exists(&self, key: &str) -> Result<bool, PullError> {
        exists(self.conn, self.snapshotter, key).await
    }

    /// Adds the snapshot (and so its parents) to the pull's lease.
    async fn protect(&self, key: &str) -> Result<(), PullError> {
        LeasesClient::new(self.conn.channel())
            .add_resource(self.conn.request(AddResourceRequest {
                id: self.lease.to_string(),
                resource: Some(Resource {
                    id: key.to_string(),
                    r#type: format!("snapshots/{}", self.snapshotter),
                }),
            }))
            .await
            .map(|_| ())
            .map_err(|s| PullError::grpc("lease add snapshot", s))
    }

    async fn apply_layer(
        &self,
        index: usize,
        layer: &Descriptor,
        diff_id: &str,
        chain_id: &str,
        parent: &str,
    ) -> Result<(), PullError> {
        let labels = HashMap::from([(LABEL_SNAPSHOT_REF.to_string(), chain_id.to_string())]);
        let mut attempt = 0;
        let (key, mounts) = loop {
            attempt += 1;
            let key = format!("extract-{}-{chain_id}", uuid::Uuid::new_v4().simple());
            let res = self
                .snapshots()
                .prepare(self.conn.leased_request(
                    PrepareSnapshotRequest {
                        snapshotter: self.snapshotter.to_string(),
                        key: key.clone(),
                        parent: parent.to_string(),
                        labels: labels.clone(),
                    },
                    self.lease,
                ))
                .await;
            match res {
                Ok(r) => break (key, r.into_inner().mounts),
                // The snapshotter refuses an extraction whose target (the
                // snapshot.ref label) a concurrent pull has just committed:
                // use theirs, as containerd's unpacker does.
                Err(s) if s.code() == Code::AlreadyExists && self.exists(chain_id).await? => {
                    tracing::debug!(image = %self.image, chain_id, "layer unpacked by a concurrent pull");
                    return self.protect(chain_id).await;
                }
                Err(s) if s.code() == Code::AlreadyExists && attempt < MAX_PREPARE_ATTEMPTS => {
                    continue
                }
                Err(s) => return Err(PullError::grpc("snapshot prepare", s)),
            }
        };

        let applied = self
            .apply_and_commit(index, layer, diff_id, chain_id, &key, mounts, labels)
            .await;
        if applied.is_err() {
            self.remove(&key).await;
        }
        applied
    }

    #[allow(clippy::too_many_arguments)]
    async fn apply_and_commit(
        &self,
        index: usize,
        layer: &Descriptor,
        diff_id: &str,
        chain_id: &str,
        key: &str,
        mounts: Vec<containerd_client::types::Mount>,
        labels: HashMap<String, String>,
    ) -> Result<(), PullError> {
        let req = ApplyRequest {
            diff: Some(CdDescriptor {
                media_type: layer.media_type.clone(),
                digest: layer.digest.clone(),
                size: layer.size,
                annotations: HashMap::new(),
            }),
            mounts,
            payloads: HashMap::new(),
            sync_fs: false,
        };
        let applied = DiffClient::new(self.conn.channel())
            .apply(self.conn.leased_request(req, self.lease))
            .await
            .map_err(|s| PullError::grpc("diff apply", s))?
            .into_inner()
            .applied;
        let applied_digest = applied.map(|d| d.digest).unwrap_or_default();
        if applied_digest != diff_id {
            return Err(PullError::bad_image(
                self.image,
                format!(
                    "layer {index} ({}) unpacks to {applied_digest}, but the image config says {diff_id}",
                    layer.digest
                ),
            ));
        }
        let res = self
            .snapshots()
            .commit(self.conn.leased_request(
                CommitSnapshotRequest {
                    snapshotter: self.snapshotter.to_string(),
                    name: chain_id.to_string(),
                    key: key.to_string(),
                    labels,
                },
                self.lease,
            ))
            .await;
        match res {
            Ok(_) => Ok(()),
            // A concurrent pull committed the same layer first: use theirs.
            Err(s) if s.code() == Code::AlreadyExists => {
                self.remove(key).await;
                Ok(())
            }
            Err(s) => Err(PullError::grpc("snapshot commit", s)),
        }
    }

    /// Best effort: an extraction snapshot left behind is only disk space, and
    /// the lease lets GC collect it.
    async fn remove(&self, key: &str) {
        let res = self
            .snapshots()
            .remove(self.conn.leased_request(
                RemoveSnapshotRequest {
                    snapshotter: self.snapshotter.to_string(),
                    key: key.to_string(),
                },
                self.lease,
            ))
            .await;
        if let Err(s) = res {
            if s.code() != Code::NotFound {
                tracing::warn!(key, error = %s.message(), "cannot remove extraction snapshot");
            }
        }
    }
}

/// Whether snapshot `key` exists in `snapshotter`.
pub async fn exists(conn: &Conn, snapshotter: &str, key: &str) -> Result<bool, PullError> {
    let res = SnapshotsClient::new(conn.channel())
        .stat(conn.request(StatSnapshotRequest {
            snapshotter: snapshotter.to_string(),
            key: key.to_string(),
        }))
        .await;
    match res {
        Ok(_) => Ok(true),
        Err(s) if s.code() == Code::NotFound => Ok(false),
        Err(s) => Err(PullError::grpc("snapshot stat", s)),
    }
}
