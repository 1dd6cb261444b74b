//! An image already in containerd: its record, the manifest for our
//! platform, its config, and its top snapshot, read without the network.

use bytes::Bytes;
use containerd_client::services::v1::images_client::ImagesClient;
use containerd_client::services::v1::GetImageRequest;
use tonic::Code;

use super::content::Store;
use super::error::PullError;
use super::unpack;
use crate::image::manifest::{self, Parsed, MAX_CONFIG_BYTES, MAX_MANIFEST_BYTES};
use crate::image::{Platform, RegistryError};
use crate::runtime::containerd::Conn;
use crate::task::container::PulledImage;
use crate::task::image_ref::{parse_reference, Reference};

/// Indexes nested in indexes are legal but rare; refuse absurd depths.
pub(super) const MAX_INDEX_DEPTH: usize = 4;

/// The image if containerd has it recorded, its blobs present and its top
/// snapshot unpacked in `snapshotter`. Never touches the network.
pub async fn find(
    conn: &Conn,
    reference: &str,
    snapshotter: &str,
) -> Result<Option<PulledImage>, PullError> {
    let r = parse_reference(reference).map_err(RegistryError::from)?;
    find_parsed(conn, &r, snapshotter).await
}

/// [`find`] of a reference already parsed.
pub async fn find_parsed(
    conn: &Conn,
    reference: &Reference,
    snapshotter: &str,
) -> Result<Option<PulledImage>, PullError> {
    find_inner(conn, reference, snapshotter, &Platform::host())
        .await
        .map_err(|e| e.with_socket(conn.socket()))
}

pub(super) async fn find_inner(
    conn: &Conn,
    r: &Reference,
    snapshotter: &str,
    platform: &Platform,
) -> Result<Option<PulledImage>, PullError> {
    let Some(target) = record_target(conn, &r.to_string()).await? else {
        return Ok(None);
    };
    find_at(conn, r, target, snapshotter, platform).await
}

/// [`find_inner`] of an image whose record's target was read already.
pub(super) async fn find_at(
    conn: &Conn,
    r: &Reference,
    target: containerd_client::types::Descriptor,
    snapshotter: &str,
    platform: &Platform,
) -> Result<Option<PulledImage>, PullError> {
    let name = r.to_string();
    let store = Store::new(conn, "");
    let mut media_type = target.media_type.clone();
    let mut digest = target.digest.clone();
    let mut depth = 0;
    let m = loop {
        let Some(bytes) = store.read_all(&digest, MAX_MANIFEST_BYTES).await? else {
            return Ok(None);
        };
        match parse(r, Some(&media_type), &bytes)? {
            Parsed::Manifest(m) => break m,
            Parsed::Index(idx) => {
                depth += 1;
                if depth > MAX_INDEX_DEPTH {
                    return Err(PullError::bad_image(r, "indexes nested too deep"));
                }
                let (_, d) = manifest::select_manifest(&idx, platform)
                    .map_err(|e| RegistryError::manifest(r, e))?;
                media_type = d.media_type.clone();
                digest = d.digest.clone();
            }
        }
    };
    let Some(config_bytes) = store.read_all(&m.config.digest, MAX_CONFIG_BYTES).await? else {
        return Ok(None);
    };
    let cfg = manifest::parse_config(&config_bytes).map_err(|e| RegistryError::manifest(r, e))?;
    let Some(chain_id) = manifest::chain_ids(&cfg.diff_ids).pop() else {
        return Ok(None);
    };
    if !unpack::exists(conn, snapshotter, &chain_id).await? {
        return Ok(None);
    }
    Ok(Some(PulledImage {
        name,
        digest: target.digest,
        chain_id,
        config: cfg.config,
    }))
}

/// What containerd's image record `name` points at; `None` without one.
pub(super) async fn record_target(
    conn: &Conn,
    name: &str,
) -> Result<Option<containerd_client::types::Descriptor>, PullError> {
    match ImagesClient::new(conn.channel())
        .get(conn.request(GetImageRequest {
            name: name.to_string(),
        }))
        .await
    {
        Ok(resp) => Ok(resp.into_inner().image.and_then(|i| i.target)),
        Err(s) if s.code() == Code::NotFound => Ok(None),
        Err(s) => Err(PullError::grpc("image get", s)),
    }
}

pub(super) fn parse(
    r: &Reference,
    content_type: Option<&str>,
    bytes: &Bytes,
) -> Result<Parsed, PullError> {
    Ok(manifest::parse_manifest(content_type, bytes).map_err(|e| RegistryError::manifest(r, e))?)
}
