//! Image pulls into containerd, one of two ways under the same lease,
//! attempts, timeouts and errors:
//!
//! - on 1.6 and 1.7, our own client: resolve and fetch from the registry
//!   (`crate::image`), write blobs into containerd's content store with the
//!   GC labels that keep them, unpack each layer as soon as it and the ones
//!   below are in (`overlap`, `unpack`), and record the image, as `ctr
//!   pull` and nerdctl do (1.6 has no Transfer service; 1.7's reaches
//!   registries over HTTPS only);
//! - on 2.x, containerd's Transfer service (`transfer`), measured faster
//!   there (BENCHMARKS.md, `pull-transfer`).

mod content;
mod error;
mod find;
mod labels;
mod lease;
mod options;
mod overlap;
mod recent;
mod streams;
mod transfer;
mod unpack;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use containerd_client::services::v1::images_client::ImagesClient;
use containerd_client::services::v1::{CreateImageRequest, Image, UpdateImageRequest};
use containerd_client::types::Descriptor as CdDescriptor;
use futures_util::StreamExt as _;
use tokio::sync::Semaphore;
use tonic::Code;

use super::Conn;
use crate::backoff::Backoff;
use crate::config::RegistryCredentials;
use crate::image::manifest::{self, Parsed, MAX_CONFIG_BYTES};
use crate::image::registry::{FetchedManifest, RegistryClient};
use crate::image::RegistryError;
use crate::task::container::PulledImage;
use crate::task::image_ref::{parse_reference, Reference};

pub use error::PullError;
pub use find::{find, find_parsed};
pub use options::{PullOptions, PullTimeouts};
pub use recent::Recent;

use content::{ref_key, Store, Written};
use find::{parse, MAX_INDEX_DEPTH};
use lease::{Lease, LEASE_EXPIRY};

/// Layers downloaded at once, as Docker and containerd default to.
const CONCURRENT_DOWNLOADS: usize = 3;

/// The Go agent's image pull retries (dockerapi `maximumPullRetries`,
/// `minimumPullRetryDelay` ...): 5 attempts, waiting 1.1s doubling up to 5s,
/// plus up to 20%, in between.
pub const PULL_ATTEMPTS: u32 = 5;
const RETRY_MIN: Duration = Duration::from_millis(1100);
const RETRY_MAX: Duration = Duration::from_secs(5);
const RETRY_JITTER: f64 = 0.2;

/// Pull `reference` into containerd and unpack it. Blobs and snapshots already
/// present are not fetched or unpacked again. The returned `digest` is that
/// of the manifest (or index) the image record points at.
pub async fn pull(
    conn: &Conn,
    reference: &str,
    creds: Option<&RegistryCredentials>,
    opts: &PullOptions,
) -> Result<PulledImage, PullError> {
    let r = parse_reference(reference).map_err(RegistryError::from)?;
    pull_parsed(conn, &r, creds, opts).await
}

/// [`pull`] of a reference already parsed (the engine's, from the task's
/// `ImageRef`), so that it is not parsed twice.
pub async fn pull_parsed(
    conn: &Conn,
    reference: &Reference,
    creds: Option<&RegistryCredentials>,
    opts: &PullOptions,
) -> Result<PulledImage, PullError> {
    pull_remembered(conn, reference, creds, opts, &Recent::default()).await
}

/// [`pull_parsed`], which remembers the image in `recent` and, for an image
/// found there, asks containerd only whether it still has it (see
/// [`Recent`]).
pub async fn pull_remembered(
    conn: &Conn,
    reference: &Reference,
    creds: Option<&RegistryCredentials>,
    opts: &PullOptions,
    recent: &Recent,
) -> Result<PulledImage, PullError> {
    let image = pull_inner(conn, reference, creds, opts, Some(recent))
        .await
        .map_err(|e| e.with_socket(conn.socket()))?;
    recent.put(&image);
    Ok(image)
}

async fn pull_inner(
    conn: &Conn,
    r: &Reference,
    creds: Option<&RegistryCredentials>,
    opts: &PullOptions,
    recent: Option<&Recent>,
) -> Result<PulledImage, PullError> {
    let started = Instant::now();
    tracing::info!(image = %r, snapshotter = %opts.snapshotter, "pulling image");
    // One lease for every attempt: layers an attempt committed are kept for
    // the next one, and all go together if the pull fails.
    let mut lease = LazyLease::default();
    let whole = opts.timeouts.whole;
    let result =
        match tokio::time::timeout(whole, attempts(conn, &mut lease, r, creds, opts, recent)).await
        {
            Ok(result) => result,
            // The attempt in flight is dropped here; its ingest aborts itself.
            Err(_) => Err(PullError::Timeout {
                transition: "pulled",
                after: whole,
            }),
        };
    let deleted = match (lease.0, &result) {
        (None, _) => Ok(()),
        (Some(lease), Ok(_)) => lease.delete().await,
        (Some(lease), Err(_)) => lease.delete_collecting().await,
    };
    if let Err(e) = deleted {
        // It expires by itself; the image record already holds what we pulled.
        tracing::warn!(image = %r, error = %e, "cannot delete pull lease");
    }
    match result {
        Ok((image, downloaded)) => {
            tracing::info!(
                image = %r,
                digest = %image.digest,
                chain_id = %image.chain_id,
                bytes = downloaded,
                ms = started.elapsed().as_millis() as u64,
                "image pulled"
            );
            Ok(image)
        }
        Err(e) => {
            tracing::warn!(image = %r, error = %e, ms = started.elapsed().as_millis() as u64, "image pull failed");
            Err(e)
        }
    }
}

/// The pull's lease, taken only once something is to be written: a pull
/// that finds its image up to date reads and writes nothing else.
#[derive(Default)]
struct LazyLease(Option<Lease>);

impl LazyLease {
    async fn id(&mut self, conn: &Conn) -> Result<&str, PullError> {
        if self.0.is_none() {
            self.0 = Some(Lease::create(conn, LEASE_EXPIRY).await?);
        }
        Ok(self.0.as_ref().map(Lease::id).unwrap_or_default())
    }
}

/// Up to [`PULL_ATTEMPTS`] attempts with the Go agent's backoff between
/// them; the last attempt's error is the pull's, as in the Go agent.
async fn attempts(
    conn: &Conn,
    lease: &mut LazyLease,
    r: &Reference,
    creds: Option<&RegistryCredentials>,
    opts: &PullOptions,
    recent: Option<&Recent>,
) -> Result<(PulledImage, u64), PullError> {
    let mut backoff = Backoff::go(RETRY_MIN, RETRY_MAX, RETRY_JITTER);
    let mut attempt = 1;
    loop {
        let attempted = if opts.transfer {
            match lease.id(conn).await {
                Ok(id) => transfer::attempt(conn, id, r, creds, opts).await,
                Err(e) => Err(e),
            }
        } else {
            attempt_once(conn, lease, r, creds, opts, recent).await
        };
        match attempted {
            Err(e) if attempt < PULL_ATTEMPTS && e.is_retriable() => {
                let wait = backoff.next(rand::random::<f64>());
                tracing::warn!(
                    image = %r,
                    attempt,
                    error = %e,
                    retry_in_ms = wait.as_millis() as u64,
                    "image pull attempt failed; retrying"
                );
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Err(e) => {
                if attempt > 1 {
                    tracing::warn!(image = %r, attempts = attempt, error = %e, "image pull failed on its last attempt");
                }
                return Err(e);
            }
            Ok(pulled) => return Ok(pulled),
        }
    }
}

/// One attempt: the manifest within the begin timeout, then the rest with
/// the inactivity timeout on every wait for the registry.
async fn attempt_once(
    conn: &Conn,
    lease: &mut LazyLease,
    r: &Reference,
    creds: Option<&RegistryCredentials>,
    opts: &PullOptions,
    recent: Option<&Recent>,
) -> Result<(PulledImage, u64), PullError> {
    let registry = RegistryClient::new(
        r,
        creds.cloned(),
        &opts.insecure_registries,
        opts.timeouts.inactivity,
    )?;
    let begin = opts.timeouts.begin;
    // While the registry is asked, containerd is asked whether it still has
    // the image this runtime last had under the name.
    // (No `recent`: the registry alone, for the tests of its retries.)
    let name = r.to_string();
    let known = recent.and_then(|c| c.get(&name));
    let kept = async {
        match recent {
            Some(_) => recent::still_there(conn, &opts.snapshotter, &name, known.as_ref())
                .await
                .map(|(kept, record)| (kept, Some(record))),
            None => Ok((false, None)),
        }
    };
    let manifest = tokio::time::timeout(begin, registry.manifest(r.object(), r.digest()));
    let (top, kept) = tokio::join!(manifest, kept);
    // `record`: the image record's target as read just now, if it was.
    let (kept, record) = match kept {
        Ok(kept) => kept,
        // Not the registry's fault, and not for this loop to wait out.
        Err(e) if e.is_unavailable() => return Err(e),
        Err(e) => {
            tracing::debug!(image = %r, error = %e, "cannot check the image containerd had");
            (false, None)
        }
    };
    let top = match top {
        Ok(top) => top?,
        Err(_) => {
            return Err(PullError::Timeout {
                transition: "pullBegin",
                after: begin,
            })
        }
    };
    registry.began();
    if let Some(image) = known.filter(|k| kept && k.digest == top.digest) {
        tracing::debug!(image = %r, digest = %image.digest, "image up to date");
        return Ok((image, 0));
    }
    if let Some(image) = up_to_date(conn, r, opts, &top, record).await {
        return Ok((image, 0));
    }
    let lease = lease.id(conn).await?;
    Puller {
        conn,
        lease,
        reference: r,
        registry: &registry,
        opts,
    }
    .run(top)
    .await
}

/// The image as containerd has it, if that is what the registry has under
/// the reference now (the same top digest) and it is unpacked: nothing to
/// fetch, write or unpack, as `docker pull` says "Image is up to date".
/// Reading it is four calls to containerd where the whole pull of a present
/// image made about a dozen, writes included (BENCHMARKS.md, the image step
/// of a task start). Anything unreadable leaves the decision to the pull.
async fn up_to_date(
    conn: &Conn,
    r: &Reference,
    opts: &PullOptions,
    top: &FetchedManifest,
    record: Option<Option<containerd_client::types::Descriptor>>,
) -> Option<PulledImage> {
    let found = match record {
        // The record was read alongside the registry: not read again.
        Some(None) => Ok(None),
        Some(Some(target)) if target.digest != top.digest => Ok(None),
        Some(Some(target)) => {
            find::find_at(conn, r, target, &opts.snapshotter, &opts.platform).await
        }
        None => find::find_inner(conn, r, &opts.snapshotter, &opts.platform).await,
    };
    match found {
        Ok(Some(image)) if image.digest == top.digest => {
            tracing::debug!(image = %r, digest = %image.digest, "image up to date");
            Some(image)
        }
        Ok(_) => None,
        Err(e) => {
            tracing::debug!(image = %r, error = %e, "the image in containerd is unreadable; pulling it");
            None
        }
    }
}

struct Puller<'a> {
    conn: &'a Conn,
    lease: &'a str,
    reference: &'a Reference,
    registry: &'a RegistryClient,
    opts: &'a PullOptions,
}

/// An index on the way down to the manifest, and which entry we took.
struct IndexStep {
    fetched: FetchedManifest,
    position: usize,
    child: String,
}

impl Puller<'_> {
    fn store(&self) -> Store<'_> {
        Store::new(self.conn, self.lease)
    }

    /// Returns the image and the number of bytes downloaded.
    async fn run(&self, top: FetchedManifest) -> Result<(PulledImage, u64), PullError> {
        let r = self.reference;
        let mut parsed = parse(r, top.content_type.as_deref(), &top.bytes)?;
        let target = CdDescriptor {
            media_type: media_type_of(&parsed),
            digest: top.digest.clone(),
            size: top.bytes.len() as i64,
            annotations: HashMap::new(),
        };

        // Walk down the index(es) to our platform's manifest.
        let mut steps: Vec<IndexStep> = Vec::new();
        let mut current = top;
        let m = loop {
            match parsed {
                Parsed::Manifest(m) => break m,
                Parsed::Index(idx) => {
                    if steps.len() >= MAX_INDEX_DEPTH {
                        return Err(PullError::bad_image(r, "indexes nested too deep"));
                    }
                    let (position, d) = manifest::select_manifest(&idx, &self.opts.platform)
                        .map_err(|e| RegistryError::manifest(r, e))?;
                    let d = d.clone();
                    let child = self.registry.manifest(&d.digest, Some(&d.digest)).await?;
                    if child.bytes.len() as i64 != d.size {
                        return Err(RegistryError::SizeMismatch {
                            reference: r.to_string(),
                            registry: self.registry.host().to_string(),
                            digest: d.digest.clone(),
                            expected: u64::try_from(d.size).unwrap_or(0),
                            actual: child.bytes.len() as u64,
                        }
                        .into());
                    }
                    parsed = parse(
                        r,
                        child.content_type.as_deref().or(Some(&d.media_type)),
                        &child.bytes,
                    )?;
                    steps.push(IndexStep {
                        fetched: current,
                        position,
                        child: d.digest.clone(),
                    });
                    current = child;
                }
            }
        };
        manifest::check_image_manifest(&m).map_err(|e| RegistryError::manifest(r, e))?;

        // The config is tiny; take it from containerd when we have it already.
        let (config_bytes, config_from_registry) = match self
            .store()
            .read_all(&m.config.digest, MAX_CONFIG_BYTES)
            .await?
        {
            Some(b) if manifest::sha256_digest(&b) == m.config.digest => (b, false),
            _ => (
                self.registry
                    .small_blob(&m.config, MAX_CONFIG_BYTES)
                    .await?,
                true,
            ),
        };
        let cfg =
            manifest::parse_config(&config_bytes).map_err(|e| RegistryError::manifest(r, e))?;
        manifest::check_layers(&m, &cfg).map_err(|e| RegistryError::manifest(r, e))?;

        // Each layer is unpacked as soon as it and the ones below it are in
        // the content store, while the later ones still download.
        let image_name = r.to_string();
        let config_len = config_bytes.len() as u64;
        let (downloaded_tx, mut arrivals) = overlap::channel(m.layers.len());
        let downloads = async {
            let layers = self.fetch_layers(&m.layers, downloaded_tx).await?;
            let metadata = self
                .put_metadata(&m, config_bytes, &current, &steps)
                .await?;
            Ok(layers + metadata)
        };
        let unpack = unpack::Unpacker {
            conn: self.conn,
            lease: self.lease,
            snapshotter: &self.opts.snapshotter,
            image: &image_name,
        };
        let unpack = unpack.unpack(&m.layers, &cfg.diff_ids, &mut arrivals);
        let (mut downloaded, chain_id) = overlap::side_by_side(downloads, unpack).await?;
        if config_from_registry {
            downloaded += config_len;
        }
        let store = self.store();
        let (key, value) = labels::snapshot_gc_label(&self.opts.snapshotter, &chain_id);
        store
            .set_labels(&m.config.digest, HashMap::from([(key, value)]))
            .await?;

        self.record_image(&image_name, target.clone()).await?;
        Ok((
            PulledImage {
                name: image_name,
                digest: target.digest,
                chain_id,
                config: cfg.config,
            },
            downloaded,
        ))
    }

    /// Write the config, the manifest and the indexes above it once the
    /// layers are in: children before parents, each parent labelled with
    /// its children. Returns the bytes written.
    async fn put_metadata(
        &self,
        m: &manifest::Manifest,
        config_bytes: Bytes,
        current: &FetchedManifest,
        steps: &[IndexStep],
    ) -> Result<u64, PullError> {
        let store = self.store();
        store
            .put_bytes(
                &ref_key("config", &m.config.digest),
                &m.config.digest,
                config_bytes,
                HashMap::new(),
            )
            .await?;
        store
            .put_bytes(
                &ref_key("manifest", &current.digest),
                &current.digest,
                current.bytes.clone(),
                labels::manifest_gc_labels(m),
            )
            .await?;
        let mut written = current.bytes.len() as u64;
        for step in steps.iter().rev() {
            store
                .put_bytes(
                    &ref_key("index", &step.fetched.digest),
                    &step.fetched.digest,
                    step.fetched.bytes.clone(),
                    labels::index_gc_labels(step.position, &step.child),
                )
                .await?;
            written += step.fetched.bytes.len() as u64;
        }
        Ok(written)
    }

    /// Download missing layers, a few at a time (lowest first, as the
    /// unpack needs them), straight into containerd, and report each to
    /// the unpack once it is there. `downloaded` is dropped on return.
    async fn fetch_layers(
        &self,
        layers: &[manifest::Descriptor],
        downloaded: overlap::Downloaded,
    ) -> Result<u64, PullError> {
        let permits = Semaphore::new(CONCURRENT_DOWNLOADS);
        let jobs = layers.iter().enumerate().map(|(index, layer)| {
            let (permits, downloaded) = (&permits, &downloaded);
            async move {
                let _permit = permits.acquire().await.map_err(|_| PullError::Containerd {
                    op: "layer download",
                    code: Code::Cancelled,
                    message: "download slots closed".to_string(),
                })?;
                let bytes = self.fetch_layer(layer).await?;
                downloaded.layer(index);
                Ok::<u64, PullError>(bytes)
            }
        });
        let sizes = futures_util::future::try_join_all(jobs).await?;
        Ok(sizes.into_iter().sum())
    }

    async fn fetch_layer(&self, layer: &manifest::Descriptor) -> Result<u64, PullError> {
        let store = self.store();
        if store.present(&layer.digest).await? {
            tracing::debug!(image = %self.reference, layer = %layer.digest, "layer already present");
            return Ok(0);
        }
        let started = Instant::now();
        let size = u64::try_from(layer.size).unwrap_or(0);
        let stream = self
            .registry
            .blob_stream(layer)
            .await?
            .map(|chunk| chunk.map_err(PullError::from));
        let written = store
            .write(
                &ref_key("layer", &layer.digest),
                &layer.digest,
                size,
                stream,
                HashMap::new(),
            )
            .await?;
        match written {
            Written::Bytes(n) => {
                tracing::info!(
                    image = %self.reference,
                    layer = %layer.digest,
                    bytes = n,
                    ms = started.elapsed().as_millis() as u64,
                    "layer downloaded"
                );
                Ok(n)
            }
            Written::Present => Ok(0),
        }
    }

    /// Create the image record, or point an existing one at what we pulled.
    async fn record_image(&self, name: &str, target: CdDescriptor) -> Result<(), PullError> {
        let image = Image {
            name: name.to_string(),
            labels: HashMap::new(),
            target: Some(target),
            created_at: None,
            updated_at: None,
        };
        let mut client = ImagesClient::new(self.conn.channel());
        // Create, else update; a record deleted in between is created again.
        for _ in 0..3 {
            let created = client
                .create(self.conn.leased_request(
                    CreateImageRequest {
                        image: Some(image.clone()),
                        source_date_epoch: None,
                    },
                    self.lease,
                ))
                .await;
            match created {
                Ok(_) => return Ok(()),
                Err(s) if s.code() == Code::AlreadyExists => {}
                Err(s) => return Err(PullError::grpc("image create", s)),
            }
            let updated = client
                .update(self.conn.leased_request(
                    UpdateImageRequest {
                        image: Some(image.clone()),
                        update_mask: None,
                        source_date_epoch: None,
                    },
                    self.lease,
                ))
                .await;
            match updated {
                Ok(_) => return Ok(()),
                Err(s) if s.code() == Code::NotFound => continue,
                Err(s) => return Err(PullError::grpc("image update", s)),
            }
        }
        Err(PullError::Containerd {
            op: "image update",
            code: Code::Aborted,
            message: format!("image record {name} keeps disappearing while it is updated"),
        })
    }
}

fn media_type_of(p: &Parsed) -> String {
    match p {
        Parsed::Index(i) => i.media_type.clone(),
        Parsed::Manifest(m) => m.media_type.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unreachable_containerd_is_unavailable() {
        let dir = std::env::temp_dir().join(format!("no-containerd-{}", uuid::Uuid::new_v4()));
        let conn = Conn::lazy(&dir.join("containerd.sock"), "test").unwrap();
        let err = find(&conn, "busybox", "overlayfs").await.unwrap_err();
        assert!(err.is_unavailable(), "{err:?}");
        // The registry is down too: containerd is asked alongside it, and
        // its absence is the pull's error, not five registry attempts.
        let err = pull(&conn, "127.0.0.1:9/busybox", None, &PullOptions::default())
            .await
            .unwrap_err();
        assert!(err.is_unavailable(), "{err:?}");
    }

    #[tokio::test]
    async fn bad_reference_fails_before_any_io() {
        let conn = Conn::lazy(std::path::Path::new("/nonexistent.sock"), "test").unwrap();
        let err = pull(&conn, "Bad//Ref", None, &PullOptions::default())
            .await
            .unwrap_err();
        assert!(
            matches!(err, PullError::Registry(RegistryError::Reference(_))),
            "{err:?}"
        );
        assert!(!err.is_unavailable());
    }
}

/// The Go agent's begin timeout and retries, on tokio's paused clock
/// against a scripted registry (containerd is never reached: the socket
/// does not exist, which ends an attempt that gets that far).
#[cfg(test)]
mod retry_tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use tokio::time::Instant;

    use super::*;
    use crate::image::manifest::OCI_MANIFEST;
    use crate::image::scripted::{Reply, Scripted};

    fn conn() -> Conn {
        let dir = std::env::temp_dir().join(format!("no-containerd-{}", uuid::Uuid::new_v4()));
        Conn::lazy(&dir.join("containerd.sock"), "test").unwrap()
    }

    fn reference(addr: &str) -> Reference {
        parse_reference(&format!("{addr}/team/app:latest")).unwrap()
    }

    const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","size":2}]}"#;

    #[tokio::test(start_paused = true)]
    async fn a_pull_that_never_begins_times_out_after_five_minutes() {
        let registry = Scripted::start(|_, _| Reply::Hang).await;
        let started = Instant::now();
        let err = attempt_once(
            &conn(),
            &mut LazyLease::default(),
            &reference(&registry.addr),
            None,
            &PullOptions::default(),
            None,
        )
        .await
        .unwrap_err();
        // The Go agent's DockerTimeoutError{DockerPullBeginTimeout, "pullBegin"}.
        assert_eq!(
            err.to_string(),
            "Could not transition to pullBegin; timed out after waiting 5m0s"
        );
        assert!(err.is_retriable());
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(300) && waited < Duration::from_secs(301),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_registry_is_tried_five_times_with_the_go_backoff() {
        for status in [503, 500, 404, 401] {
            let registry = Scripted::start(move |_, _| Reply::Status(status)).await;
            let started = Instant::now();
            let err = attempts(
                &conn(),
                &mut LazyLease::default(),
                &reference(&registry.addr),
                None,
                &PullOptions::default(),
                None,
            )
            .await
            .unwrap_err();
            assert_eq!(registry.requests(), 5, "HTTP {status}");
            assert!(
                err.to_string().contains(&format!("(HTTP {status} from ")),
                "{err}"
            );
            // 1.1s + 2.2s + 4.4s + 5s between the attempts, each plus up to 20%.
            let waited = started.elapsed();
            assert!(
                waited >= Duration::from_millis(12_700) && waited <= Duration::from_millis(15_240),
                "HTTP {status}: {waited:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_registry_that_recovers_is_used_and_containerd_down_is_not_retried() {
        let manifests = Arc::new(AtomicUsize::new(0));
        let seen = manifests.clone();
        let registry = Scripted::start(move |path, _| {
            if !path.contains("/manifests/") {
                return Reply::Status(404);
            }
            match seen.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Reply::Status(503),
                _ => Reply::ok(OCI_MANIFEST, MANIFEST.as_bytes()),
            }
        })
        .await;
        let err = attempts(
            &conn(),
            &mut LazyLease::default(),
            &reference(&registry.addr),
            None,
            &PullOptions::default(),
            None,
        )
        .await
        .unwrap_err();
        // The third attempt got the manifest and reached containerd, which
        // is not there: that is the engine's to wait out, not a retry here.
        assert_eq!(manifests.load(Ordering::SeqCst), 3);
        assert!(err.is_unavailable(), "{err:?}");
    }
}
