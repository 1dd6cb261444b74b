//! The containerd labels that tie a pulled image's blobs and snapshots
//! together, so that containerd's GC keeps what the image record reaches.

use std::collections::HashMap;

use crate::image::manifest::Manifest;

pub const LABEL_UNCOMPRESSED: &str = "containerd.io/uncompressed";
const LABEL_GC_CONFIG: &str = "containerd.io/gc.ref.content.config";
const LABEL_GC_LAYER_PREFIX: &str = "containerd.io/gc.ref.content.l.";
const LABEL_GC_MANIFEST_PREFIX: &str = "containerd.io/gc.ref.content.m.";
const LABEL_GC_SNAPSHOT_PREFIX: &str = "containerd.io/gc.ref.snapshot.";

/// Labels a manifest blob needs so that GC keeps its config and layers.
pub fn manifest_gc_labels(m: &Manifest) -> HashMap<String, String> {
    let mut labels = HashMap::new();
    labels.insert(LABEL_GC_CONFIG.to_string(), m.config.digest.clone());
    for (i, l) in m.layers.iter().enumerate() {
        labels.insert(format!("{LABEL_GC_LAYER_PREFIX}{i}"), l.digest.clone());
    }
    labels
}

/// Label an index blob needs so that GC keeps the manifest we chose (at `position`).
pub fn index_gc_labels(position: usize, manifest_digest: &str) -> HashMap<String, String> {
    HashMap::from([(
        format!("{LABEL_GC_MANIFEST_PREFIX}{position}"),
        manifest_digest.to_string(),
    )])
}

/// Label the config blob needs so that GC keeps the unpacked snapshots.
pub fn snapshot_gc_label(snapshotter: &str, top_chain_id: &str) -> (String, String) {
    (
        format!("{LABEL_GC_SNAPSHOT_PREFIX}{snapshotter}"),
        top_chain_id.to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::manifest::{parse_manifest, Parsed, OCI_MANIFEST};

    const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    // The test registry's busybox manifest, byte for byte.
    const BUSYBOX_MANIFEST: &str = r#"{"config":{"digest":"sha256:b556c8bfc15b42e6242264e691df0ab7661ac8c5d53a156387da8ff622fb1355","mediaType":"application/vnd.oci.image.config.v1+json","size":382},"layers":[{"digest":"sha256:56b2c5f18527289468fb1f39cca97ce9cfa7c2864ee1021c755a9ef1fbd63f1b","mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":1031895}],"mediaType":"application/vnd.oci.image.manifest.v1+json","schemaVersion":2}"#;

    #[test]
    fn manifest_labels_reach_config_and_layers() {
        let Parsed::Manifest(m) =
            parse_manifest(Some(OCI_MANIFEST), BUSYBOX_MANIFEST.as_bytes()).unwrap()
        else {
            panic!("not a manifest")
        };
        let labels = manifest_gc_labels(&m);
        assert_eq!(labels[LABEL_GC_CONFIG], m.config.digest);
        assert_eq!(
            labels["containerd.io/gc.ref.content.l.0"],
            m.layers[0].digest
        );
    }

    #[test]
    fn index_and_snapshot_labels() {
        let l = index_gc_labels(3, A);
        assert_eq!(l["containerd.io/gc.ref.content.m.3"], A);
        assert_eq!(
            snapshot_gc_label("overlayfs", B),
            (
                "containerd.io/gc.ref.snapshot.overlayfs".to_string(),
                B.to_string()
            )
        );
    }
}
