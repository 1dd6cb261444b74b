//! OCI and Docker v2 manifests, indexes and image configs: media types,
//! platform selection and chain IDs.
//! Pure: no I/O, so everything here is unit-tested.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::task::container::ImageConfig;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

const DOCKER_SCHEMA1: &[&str] = &[
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
];

/// Layer media types containerd's diff service can apply.
const LAYER_TYPES: &[&str] = &[
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
];

/// The `Accept` header for manifest requests: every type we can parse.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// Manifests are small JSON documents; anything bigger is refused before it fills memory.
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// Image configs are JSON too, but carry history; allow more room.
pub const MAX_CONFIG_BYTES: u64 = 8 << 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest is not valid JSON: {0}")]
    Json(String),
    #[error("image config is not valid JSON: {0}")]
    ConfigJson(String),
    #[error("Docker schema 1 manifests ({0}) are not supported: push the image again with a current client")]
    Schema1(String),
    #[error("unsupported manifest media type {0:?}")]
    UnsupportedMediaType(String),
    #[error("{field}: invalid digest {digest:?}")]
    BadDigest { field: String, digest: String },
    #[error("{field}: invalid size {size}")]
    BadSize { field: String, size: i64 },
    #[error("layer {index} has media type {media_type:?}, which cannot be unpacked on Linux")]
    UnsupportedLayer { index: usize, media_type: String },
    #[error("not a container image: config media type is {0:?}")]
    NotAnImage(String),
    #[error("manifest lists {layers} layers but the image config has {diff_ids} diff ids")]
    LayerCountMismatch { layers: usize, diff_ids: usize },
    #[error("image has no layers")]
    NoLayers,
    #[error("no image for platform {wanted} in the manifest list (it has: {available})")]
    NoMatchingPlatform { wanted: String, available: String },
}

/// A content descriptor as found in manifests and indexes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: String,
    pub size: i64,
    #[serde(default)]
    pub platform: Option<DescriptorPlatform>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DescriptorPlatform {
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

/// An OCI platform, as used to pick one image out of an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    /// The platform this binary runs on, in OCI spelling.
    pub fn host() -> Platform {
        let (architecture, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "aarch64" => ("arm64", Some("v8")),
            "arm" => ("arm", Some("v7")),
            "x86" => ("386", None),
            "powerpc64" => ("ppc64le", None),
            other => (other, None),
        };
        Platform {
            os: std::env::consts::OS.to_string(),
            architecture: architecture.to_string(),
            variant: variant.map(str::to_string),
        }
    }

    /// How well `candidate` fits: `None` if not at all, higher is better.
    fn score(&self, candidate: &DescriptorPlatform) -> Option<u8> {
        if !candidate.os.eq_ignore_ascii_case(&self.os)
            || normalize_arch(&candidate.architecture) != normalize_arch(&self.architecture)
        {
            return None;
        }
        let theirs = candidate.variant.as_deref().filter(|v| !v.is_empty());
        let ours = self.variant.as_deref().filter(|v| !v.is_empty());
        match (ours, theirs) {
            (a, b) if a == b => Some(2),
            // arm64 images rarely say v8, and v8 is the only arm64 variant that matters.
            (Some("v8"), None) if normalize_arch(&self.architecture) == "arm64" => Some(1),
            _ => None,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

fn normalize_arch(arch: &str) -> String {
    match arch.to_ascii_lowercase().as_str() {
        "x86_64" | "x86-64" => "amd64".to_string(),
        "aarch64" => "arm64".to_string(),
        "i386" => "386".to_string(),
        other => other.to_string(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    pub media_type: String,
    pub manifests: Vec<Descriptor>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub media_type: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Index(Index),
    Manifest(Manifest),
}

#[derive(Deserialize)]
struct RawManifest {
    #[serde(rename = "schemaVersion", default)]
    schema_version: Option<i64>,
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
}

/// True for the media types of indexes (manifest lists).
pub fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST
}

/// True for the media types of single-platform manifests.
pub fn is_manifest(media_type: &str) -> bool {
    media_type == OCI_MANIFEST || media_type == DOCKER_MANIFEST
}

/// Parse a manifest or index. The type comes from the response's
/// `Content-Type` when it names one we know, else from the document itself
/// (registries serving plain `application/json` exist).
pub fn parse_manifest(content_type: Option<&str>, body: &[u8]) -> Result<Parsed, ManifestError> {
    let header_type = content_type
        .map(|ct| ct.split(';').next().unwrap_or("").trim().to_string())
        .filter(|t| !t.is_empty());
    if let Some(t) = &header_type {
        if DOCKER_SCHEMA1.contains(&t.as_str()) {
            return Err(ManifestError::Schema1(t.clone()));
        }
    }
    let raw: RawManifest =
        serde_json::from_slice(body).map_err(|e| ManifestError::Json(e.to_string()))?;
    if raw.schema_version == Some(1) {
        return Err(ManifestError::Schema1(format!(
            "schemaVersion 1{}",
            header_type.map(|t| format!(", {t}")).unwrap_or_default()
        )));
    }
    let known = |t: &String| is_index(t) || is_manifest(t);
    let media_type = match (header_type.filter(known), raw.media_type.clone()) {
        (Some(t), _) => t,
        (None, Some(t)) if !t.is_empty() => t,
        _ if raw.manifests.is_some() => OCI_INDEX.to_string(),
        _ if raw.config.is_some() => OCI_MANIFEST.to_string(),
        _ => return Err(ManifestError::UnsupportedMediaType(String::new())),
    };
    if is_index(&media_type) {
        let manifests = raw.manifests.unwrap_or_default();
        for (i, d) in manifests.iter().enumerate() {
            check_descriptor(&format!("manifests[{i}]"), d)?;
        }
        Ok(Parsed::Index(Index {
            media_type,
            manifests,
        }))
    } else if is_manifest(&media_type) {
        let config = raw
            .config
            .ok_or_else(|| ManifestError::Json("manifest has no config".to_string()))?;
        check_descriptor("config", &config)?;
        let layers = raw.layers.unwrap_or_default();
        for (i, d) in layers.iter().enumerate() {
            check_descriptor(&format!("layers[{i}]"), d)?;
        }
        Ok(Parsed::Manifest(Manifest {
            media_type,
            config,
            layers,
        }))
    } else if DOCKER_SCHEMA1.contains(&media_type.as_str()) {
        Err(ManifestError::Schema1(media_type))
    } else {
        Err(ManifestError::UnsupportedMediaType(media_type))
    }
}

fn check_descriptor(field: &str, d: &Descriptor) -> Result<(), ManifestError> {
    if !crate::task::image_ref::valid_digest(&d.digest) {
        return Err(ManifestError::BadDigest {
            field: field.to_string(),
            digest: d.digest.clone(),
        });
    }
    if d.size < 0 {
        return Err(ManifestError::BadSize {
            field: field.to_string(),
            size: d.size,
        });
    }
    Ok(())
}

/// Pick the entry of `index` for `platform`. Returns its position too, which
/// names its GC label on the index blob.
pub fn select_manifest<'a>(
    index: &'a Index,
    platform: &Platform,
) -> Result<(usize, &'a Descriptor), ManifestError> {
    let mut best: Option<(u8, usize)> = None;
    for (i, d) in index.manifests.iter().enumerate() {
        if !(is_manifest(&d.media_type) || is_index(&d.media_type) || d.media_type.is_empty()) {
            continue;
        }
        // An entry without a platform fits anything, but loses to an explicit match.
        let score = match &d.platform {
            Some(p) => platform.score(p),
            None => Some(0),
        };
        if let Some(s) = score {
            if best.is_none_or(|(b, _)| s > b) {
                best = Some((s, i));
            }
        }
    }
    match best {
        Some((_, i)) => Ok((i, &index.manifests[i])),
        None => {
            let available: Vec<String> = index
                .manifests
                .iter()
                .filter_map(|d| d.platform.as_ref())
                .map(|p| match &p.variant {
                    Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
                    None => format!("{}/{}", p.os, p.architecture),
                })
                .collect();
            Err(ManifestError::NoMatchingPlatform {
                wanted: platform.to_string(),
                available: if available.is_empty() {
                    "none".to_string()
                } else {
                    available.join(", ")
                },
            })
        }
    }
}

/// Check that a manifest describes something we can unpack as a container image.
pub fn check_image_manifest(m: &Manifest) -> Result<(), ManifestError> {
    if m.config.media_type != OCI_CONFIG && m.config.media_type != DOCKER_CONFIG {
        return Err(ManifestError::NotAnImage(m.config.media_type.clone()));
    }
    if m.layers.is_empty() {
        return Err(ManifestError::NoLayers);
    }
    for (index, l) in m.layers.iter().enumerate() {
        if !LAYER_TYPES.contains(&l.media_type.as_str()) {
            return Err(ManifestError::UnsupportedLayer {
                index,
                media_type: l.media_type.clone(),
            });
        }
    }
    Ok(())
}

/// What we need from an image config blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageConfigBlob {
    pub config: ImageConfig,
    pub diff_ids: Vec<String>,
}

#[derive(Deserialize, Default)]
struct RawConfig {
    #[serde(default)]
    config: Option<RawRunConfig>,
    #[serde(default)]
    rootfs: Option<RawRootfs>,
}

#[derive(Deserialize, Default)]
struct RawRunConfig {
    #[serde(rename = "Entrypoint", default)]
    entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", default)]
    cmd: Option<Vec<String>>,
    #[serde(rename = "Env", default)]
    env: Option<Vec<String>>,
    #[serde(rename = "WorkingDir", default)]
    working_dir: Option<String>,
    #[serde(rename = "User", default)]
    user: Option<String>,
    #[serde(rename = "Labels", default)]
    labels: Option<BTreeMap<String, String>>,
    /// `{"/data": {}}`: only the keys mean something.
    #[serde(rename = "Volumes", default)]
    volumes: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(rename = "ExposedPorts", default)]
    exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Deserialize, Default)]
struct RawRootfs {
    #[serde(default)]
    diff_ids: Option<Vec<String>>,
}

/// Parse an OCI or Docker image config. Absent and `null` fields alike become empty.
pub fn parse_config(body: &[u8]) -> Result<ImageConfigBlob, ManifestError> {
    let raw: RawConfig =
        serde_json::from_slice(body).map_err(|e| ManifestError::ConfigJson(e.to_string()))?;
    let run = raw.config.unwrap_or_default();
    let diff_ids = raw.rootfs.and_then(|r| r.diff_ids).unwrap_or_default();
    for (i, d) in diff_ids.iter().enumerate() {
        if !crate::task::image_ref::valid_digest(d) {
            return Err(ManifestError::BadDigest {
                field: format!("rootfs.diff_ids[{i}]"),
                digest: d.clone(),
            });
        }
    }
    Ok(ImageConfigBlob {
        config: ImageConfig {
            entrypoint: run.entrypoint.unwrap_or_default(),
            cmd: run.cmd.unwrap_or_default(),
            env: run.env.unwrap_or_default(),
            working_dir: run.working_dir.unwrap_or_default(),
            user: run.user.unwrap_or_default(),
            labels: run.labels.unwrap_or_default(),
            volumes: run.volumes.unwrap_or_default().into_keys().collect(),
            exposed_ports: run.exposed_ports.unwrap_or_default().into_keys().collect(),
        },
        diff_ids,
    })
}

/// Check that the config's layers line up with the manifest's.
pub fn check_layers(m: &Manifest, cfg: &ImageConfigBlob) -> Result<(), ManifestError> {
    if m.layers.len() != cfg.diff_ids.len() {
        return Err(ManifestError::LayerCountMismatch {
            layers: m.layers.len(),
            diff_ids: cfg.diff_ids.len(),
        });
    }
    Ok(())
}

/// `sha256:` + hex of the SHA-256 of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// Chain IDs per the OCI image spec: the first is the first diff ID, each next
/// one is `sha256(parent_chain + " " + diff_id)`. Snapshots are named by them.
pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(parent) => sha256_digest(format!("{parent} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const C: &str = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

    fn amd64() -> Platform {
        Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }

    fn arm64() -> Platform {
        Platform {
            os: "linux".into(),
            architecture: "arm64".into(),
            variant: Some("v8".into()),
        }
    }

    // The test registry's busybox manifest, byte for byte.
    const BUSYBOX_MANIFEST: &str = r#"{"config":{"digest":"sha256:b556c8bfc15b42e6242264e691df0ab7661ac8c5d53a156387da8ff622fb1355","mediaType":"application/vnd.oci.image.config.v1+json","size":382},"layers":[{"digest":"sha256:56b2c5f18527289468fb1f39cca97ce9cfa7c2864ee1021c755a9ef1fbd63f1b","mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":1031895}],"mediaType":"application/vnd.oci.image.manifest.v1+json","schemaVersion":2}"#;

    fn index_json() -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST_LIST}","manifests":[
              {{"mediaType":"{DOCKER_MANIFEST}","digest":"{A}","size":10,"platform":{{"os":"linux","architecture":"arm","variant":"v7"}}}},
              {{"mediaType":"{DOCKER_MANIFEST}","digest":"{B}","size":11,"platform":{{"os":"linux","architecture":"arm64"}}}},
              {{"mediaType":"{DOCKER_MANIFEST}","digest":"{C}","size":12,"platform":{{"os":"linux","architecture":"amd64"}}}},
              {{"mediaType":"{OCI_MANIFEST}","digest":"{A}","size":13,"platform":{{"os":"unknown","architecture":"unknown"}}}}
            ]}}"#
        )
    }

    #[test]
    fn parses_a_manifest() {
        let Parsed::Manifest(m) =
            parse_manifest(Some(OCI_MANIFEST), BUSYBOX_MANIFEST.as_bytes()).unwrap()
        else {
            panic!("not a manifest")
        };
        assert_eq!(m.media_type, OCI_MANIFEST);
        assert_eq!(m.config.size, 382);
        assert_eq!(m.layers.len(), 1);
        assert_eq!(m.layers[0].size, 1031895);
        check_image_manifest(&m).unwrap();
        assert_eq!(
            sha256_digest(BUSYBOX_MANIFEST.as_bytes()),
            "sha256:7c6a29c4b6c5e4d4d7b6baba82b00f62747c2a445f16fab09774a74a90eb7cd0"
        );
    }

    #[test]
    fn media_type_from_body_when_header_is_generic() {
        let p = parse_manifest(
            Some("application/json; charset=utf-8"),
            BUSYBOX_MANIFEST.as_bytes(),
        )
        .unwrap();
        assert!(matches!(p, Parsed::Manifest(_)));
        let p = parse_manifest(None, index_json().as_bytes()).unwrap();
        assert!(matches!(p, Parsed::Index(ref i) if i.media_type == DOCKER_MANIFEST_LIST));
        // No mediaType anywhere: sniff the shape.
        let bare = format!(r#"{{"schemaVersion":2,"manifests":[{{"digest":"{A}","size":1}}]}}"#);
        assert!(matches!(
            parse_manifest(None, bare.as_bytes()).unwrap(),
            Parsed::Index(_)
        ));
    }

    #[test]
    fn rejects_schema1_and_garbage() {
        assert!(matches!(
            parse_manifest(
                Some("application/vnd.docker.distribution.manifest.v1+prettyjws"),
                b"{}"
            ),
            Err(ManifestError::Schema1(_))
        ));
        assert!(matches!(
            parse_manifest(None, br#"{"schemaVersion":1,"name":"x","fsLayers":[]}"#),
            Err(ManifestError::Schema1(_))
        ));
        assert!(matches!(
            parse_manifest(None, b"not json"),
            Err(ManifestError::Json(_))
        ));
        let bad = format!(
            r#"{{"mediaType":"{OCI_MANIFEST}","config":{{"digest":"sha256:zz","size":1}},"layers":[]}}"#
        );
        assert!(matches!(
            parse_manifest(None, bad.as_bytes()),
            Err(ManifestError::BadDigest { ref field, .. }) if field == "config"
        ));
        let neg = format!(
            r#"{{"mediaType":"{OCI_MANIFEST}","config":{{"digest":"{A}","size":-1}},"layers":[]}}"#
        );
        assert!(matches!(
            parse_manifest(None, neg.as_bytes()),
            Err(ManifestError::BadSize { .. })
        ));
        let weird = r#"{"mediaType":"application/vnd.cncf.helm.chart"}"#;
        assert!(matches!(
            parse_manifest(None, weird.as_bytes()),
            Err(ManifestError::UnsupportedMediaType(_))
        ));
    }

    #[test]
    fn selects_the_host_platform() {
        let Parsed::Index(idx) = parse_manifest(None, index_json().as_bytes()).unwrap() else {
            panic!()
        };
        let (pos, d) = select_manifest(&idx, &amd64()).unwrap();
        assert_eq!((pos, d.digest.as_str()), (2, C));
        // arm64/v8 matches an arm64 entry that names no variant.
        let (pos, d) = select_manifest(&idx, &arm64()).unwrap();
        assert_eq!((pos, d.digest.as_str()), (1, B));
        let armv7 = Platform {
            os: "linux".into(),
            architecture: "arm".into(),
            variant: Some("v7".into()),
        };
        assert_eq!(select_manifest(&idx, &armv7).unwrap().0, 0);
        let s390 = Platform {
            os: "linux".into(),
            architecture: "s390x".into(),
            variant: None,
        };
        let err = select_manifest(&idx, &s390).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no image for platform linux/s390x in the manifest list (it has: linux/arm/v7, linux/arm64, linux/amd64, unknown/unknown)"
        );
    }

    #[test]
    fn exact_variant_beats_missing_one_and_platformless_entries_are_fallbacks() {
        let idx = Index {
            media_type: OCI_INDEX.into(),
            manifests: vec![
                Descriptor {
                    media_type: OCI_MANIFEST.into(),
                    digest: A.into(),
                    size: 1,
                    platform: None,
                },
                Descriptor {
                    media_type: OCI_MANIFEST.into(),
                    digest: B.into(),
                    size: 1,
                    platform: Some(DescriptorPlatform {
                        os: "linux".into(),
                        architecture: "arm64".into(),
                        variant: None,
                    }),
                },
                Descriptor {
                    media_type: OCI_MANIFEST.into(),
                    digest: C.into(),
                    size: 1,
                    platform: Some(DescriptorPlatform {
                        os: "linux".into(),
                        architecture: "arm64".into(),
                        variant: Some("v8".into()),
                    }),
                },
            ],
        };
        assert_eq!(select_manifest(&idx, &arm64()).unwrap().1.digest, C);
        assert_eq!(select_manifest(&idx, &amd64()).unwrap().1.digest, A);
        let amd64_v2 = Platform {
            os: "linux".into(),
            architecture: "x86_64".into(),
            variant: None,
        };
        assert_eq!(select_manifest(&idx, &amd64_v2).unwrap().0, 0);
    }

    #[test]
    fn host_platform_is_oci_spelled() {
        let p = Platform::host();
        assert_eq!(p.os, "linux");
        assert!(!p.architecture.contains('_'), "{p}");
        #[cfg(target_arch = "x86_64")]
        assert_eq!(p, amd64());
    }

    #[test]
    fn parses_image_configs() {
        let cfg = parse_config(
            br#"{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/e"],"Cmd":["sh","-c","x"],
              "Env":["PATH=/bin","A=b"],"WorkingDir":"/w","User":"1000:1000","Labels":{"k":"v"},
              "ExposedPorts":{"8080/tcp":{},"53/udp":{}}},
              "rootfs":{"type":"layers","diff_ids":["sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]}}"#,
        )
        .unwrap();
        assert_eq!(cfg.config.entrypoint, vec!["/e"]);
        assert_eq!(cfg.config.cmd, vec!["sh", "-c", "x"]);
        assert_eq!(cfg.config.env, vec!["PATH=/bin", "A=b"]);
        assert_eq!(cfg.config.working_dir, "/w");
        assert_eq!(cfg.config.user, "1000:1000");
        assert_eq!(cfg.config.labels.get("k").map(String::as_str), Some("v"));
        assert_eq!(cfg.config.exposed_ports, vec!["53/udp", "8080/tcp"]);
        assert_eq!(cfg.diff_ids, vec![A.to_string()]);

        // Docker writes nulls for unset fields.
        let cfg = parse_config(br#"{"config":{"Entrypoint":null,"Cmd":null,"Env":null,"Labels":null,"ExposedPorts":null},"rootfs":{"diff_ids":[]}}"#).unwrap();
        assert_eq!(cfg.config, ImageConfig::default());
        assert!(parse_config(b"{}").unwrap().diff_ids.is_empty());
        assert!(matches!(
            parse_config(br#"{"rootfs":{"diff_ids":["md5:x"]}}"#),
            Err(ManifestError::BadDigest { ref field, .. }) if field == "rootfs.diff_ids[0]"
        ));
    }

    #[test]
    fn checks_manifest_against_config() {
        let Parsed::Manifest(m) = parse_manifest(None, BUSYBOX_MANIFEST.as_bytes()).unwrap() else {
            panic!()
        };
        let two = ImageConfigBlob {
            config: ImageConfig::default(),
            diff_ids: vec![A.into(), B.into()],
        };
        assert_eq!(
            check_layers(&m, &two),
            Err(ManifestError::LayerCountMismatch {
                layers: 1,
                diff_ids: 2
            })
        );
        let mut foreign = m.clone();
        foreign.layers[0].media_type =
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip".into();
        assert!(matches!(
            check_image_manifest(&foreign),
            Err(ManifestError::UnsupportedLayer { index: 0, .. })
        ));
        let mut helm = m.clone();
        helm.config.media_type = "application/vnd.cncf.helm.config.v1+json".into();
        assert!(matches!(
            check_image_manifest(&helm),
            Err(ManifestError::NotAnImage(_))
        ));
    }

    #[test]
    fn chain_ids_match_known_values() {
        // Reference values computed independently with Python's hashlib:
        //   c1 = d1; c2 = sha256(f"{c1} {d2}"); c3 = sha256(f"{c2} {d3}")
        let diff_ids = vec![A.to_string(), B.to_string(), C.to_string()];
        let chain = chain_ids(&diff_ids);
        assert_eq!(chain[0], A);
        assert_eq!(
            chain[1],
            "sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c"
        );
        assert_eq!(
            chain[2],
            "sha256:c1377126441fb2f5ec2c21ae2a60255331d639e830f0ee1b40a36e52d4c40588"
        );
        assert!(chain_ids(&[]).is_empty());
    }
}
