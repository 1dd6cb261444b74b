//! Image pulls into the real containerd from the real test registries.
//! Each test uses its own containerd namespace.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use containerd_client::services::v1::content_client::ContentClient;
use containerd_client::services::v1::images_client::ImagesClient;
use containerd_client::services::v1::leases_client::LeasesClient;
use containerd_client::services::v1::snapshots::snapshots_client::SnapshotsClient;
use containerd_client::services::v1::snapshots::{RemoveSnapshotRequest, ViewSnapshotRequest};
use containerd_client::services::v1::{
    AddResourceRequest, CreateRequest, DeleteRequest, GetImageRequest, InfoRequest, ListRequest,
    Resource, WriteAction, WriteContentRequest,
};
use ecs::config::RegistryCredentials;
use ecs::image;
use ecs::runtime::containerd::probe;
use ecs::runtime::containerd::pull::{self, PullOptions};
use ecs::runtime::containerd::Conn;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{self, TestEnv};
use crate::pull_faults::{Fault, Standin};

/// A namespace whose images and content are removed when the test ends.
pub(crate) struct Ns {
    env: TestEnv,
    pub(crate) name: String,
    pub(crate) conn: Conn,
}

impl Ns {
    pub(crate) fn new(env: &TestEnv, prefix: &str) -> Ns {
        let name = common::unique_ns(prefix);
        let conn = Conn::lazy(&env.containerd_sock, &name).unwrap();
        Ns {
            env: env.clone(),
            name,
            conn,
        }
    }

    fn ctr(&self, args: &[&str]) -> String {
        common::ctr(&self.env, &self.name, args)
    }

    pub(crate) fn image_names(&self) -> Vec<String> {
        lines(&self.ctr(&["images", "ls", "-q"]))
    }

    /// `(name, parent, kind)` of every snapshot in `overlayfs`.
    pub(crate) fn snapshots(&self) -> Vec<(String, String, String)> {
        self.ctr(&["snapshots", "--snapshotter", "overlayfs", "ls"])
            .lines()
            .skip(1)
            .filter_map(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                match cols.as_slice() {
                    [key, kind] => Some((key.to_string(), String::new(), kind.to_string())),
                    [key, parent, kind] => {
                        Some((key.to_string(), parent.to_string(), kind.to_string()))
                    }
                    _ => None,
                }
            })
            .collect()
    }

    pub(crate) fn content_digests(&self) -> Vec<String> {
        lines(&self.ctr(&["content", "ls", "-q"]))
    }

    /// Refs of the ingests in progress (`ctr content active`, header skipped).
    pub(crate) fn active_ingests(&self) -> Vec<String> {
        self.ctr(&["content", "active"])
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect()
    }

    /// The labels `ctr content ls` shows for `digest` (comma-separated k=v).
    fn content_labels(&self, digest: &str) -> String {
        self.ctr(&["content", "ls"])
            .lines()
            .find(|l| l.starts_with(digest))
            .map(|l| l.split_whitespace().last().unwrap_or("").to_string())
            .unwrap_or_default()
    }

    pub(crate) async fn leases(&self) -> Vec<String> {
        LeasesClient::new(self.conn.channel())
            .list(self.conn.request(ListRequest { filters: vec![] }))
            .await
            .unwrap()
            .into_inner()
            .leases
            .into_iter()
            .map(|l| l.id)
            .collect()
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        // A synchronous removal lets GC empty the namespace so it can go too.
        for image in lines(
            &common::try_ctr(&self.env, &self.name, &["images", "ls", "-q"]).unwrap_or_default(),
        ) {
            let _ = common::try_ctr(&self.env, &self.name, &["images", "rm", "--sync", &image]);
        }
        common::cleanup_ns(&self.env, &self.name);
    }
}

fn lines(s: &str) -> Vec<String> {
    s.lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// What the agent pulls with on the test's containerd: through its Transfer
/// service on 2.x (the probe says), with our own client before.
pub(crate) async fn opts_for(conn: &Conn) -> PullOptions {
    static TRANSFER: tokio::sync::OnceCell<bool> = tokio::sync::OnceCell::const_new();
    let transfer = *TRANSFER
        .get_or_init(|| async {
            probe::probe(conn, "overlayfs", std::time::Duration::from_secs(10))
                .await
                .unwrap()
                .transfer
        })
        .await;
    PullOptions {
        transfer,
        ..PullOptions::default()
    }
}

fn creds(env: &TestEnv) -> RegistryCredentials {
    RegistryCredentials {
        username: env.auth_user.clone(),
        password: env.auth_password.clone(),
    }
}

async fn create_lease(conn: &Conn, id: &str) {
    LeasesClient::new(conn.channel())
        .create(conn.request(CreateRequest {
            id: id.to_string(),
            labels: HashMap::new(),
        }))
        .await
        .unwrap();
}

/// Writes and commits `data` as one blob under `lease`; its digest.
async fn write_blob(conn: &Conn, lease: &str, data: Vec<u8>) -> String {
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&data)));
    let commit = WriteContentRequest {
        action: WriteAction::Commit as i32,
        r#ref: format!("test-{lease}"),
        total: data.len() as i64,
        expected: digest.clone(),
        offset: 0,
        data,
        labels: HashMap::new(),
    };
    let mut write = ContentClient::new(conn.channel())
        .write(conn.leased_request(tokio_stream::iter(vec![commit]), lease))
        .await
        .unwrap()
        .into_inner();
    while write.message().await.unwrap().is_some() {}
    digest
}

/// Runs a synchronous GC in containerd and proves that it ran: a blob held
/// only by a lease is gone once the lease is deleted with `sync`.
/// When containerd last wrote the image record `name`.
async fn image_updated_at(conn: &Conn, name: &str) -> Option<prost_types::Timestamp> {
    ImagesClient::new(conn.channel())
        .get(conn.request(GetImageRequest {
            name: name.to_string(),
        }))
        .await
        .unwrap()
        .into_inner()
        .image
        .and_then(|i| i.updated_at)
}

async fn force_gc(conn: &Conn) {
    let lease = format!("gc-probe-{}", uuid::Uuid::new_v4());
    create_lease(conn, &lease).await;
    let digest = write_blob(conn, &lease, format!("gc probe {lease}").into_bytes()).await;
    let info = |d: String| async move {
        ContentClient::new(conn.channel())
            .info(conn.request(InfoRequest { digest: d }))
            .await
    };
    assert!(
        info(digest.clone()).await.is_ok(),
        "probe blob was not written"
    );
    delete_lease(conn, lease, true).await;
    let gone = info(digest).await.unwrap_err();
    assert_eq!(
        gone.code(),
        tonic::Code::NotFound,
        "GC did not run: probe blob survived"
    );
}

/// A TCP proxy in front of a registry that counts the manifest and blob GETs
/// going through it, to see what a pull really downloads.
struct CountingProxy {
    port: u16,
    manifests: Arc<AtomicUsize>,
    blobs: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl CountingProxy {
    async fn start(upstream: &str) -> CountingProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let manifests = Arc::new(AtomicUsize::new(0));
        let blobs = Arc::new(AtomicUsize::new(0));
        let (m, b, up) = (manifests.clone(), blobs.clone(), upstream.to_string());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (m, b, up) = (m.clone(), b.clone(), up.clone());
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(&up).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let upward = async move {
                        let mut buf = vec![0u8; 16 << 10];
                        let mut pending: Vec<u8> = Vec::new();
                        loop {
                            let n = match cr.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            pending.extend_from_slice(&buf[..n]);
                            while let Some(i) = pending.windows(2).position(|w| w == b"\r\n") {
                                let line: Vec<u8> = pending.drain(..i + 2).collect();
                                let line = String::from_utf8_lossy(&line);
                                if line.starts_with("GET /v2/") && line.contains("/manifests/") {
                                    m.fetch_add(1, Ordering::SeqCst);
                                }
                                if line.starts_with("GET /v2/") && line.contains("/blobs/") {
                                    b.fetch_add(1, Ordering::SeqCst);
                                }
                            }
                            if sw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = sw.shutdown().await;
                    };
                    let downward = async move {
                        let _ = tokio::io::copy(&mut sr, &mut cw).await;
                        let _ = cw.shutdown().await;
                    };
                    tokio::join!(upward, downward);
                });
            }
        });
        CountingProxy {
            port,
            manifests,
            blobs,
            task,
        }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// (manifest GETs, blob GETs) since the last call.
    fn take(&self) -> (usize, usize) {
        (
            self.manifests.swap(0, Ordering::SeqCst),
            self.blobs.swap(0, Ordering::SeqCst),
        )
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_busybox_unpacks_records_and_survives_gc() {
    let Some(env) = common::env() else { return };
    let ns = Ns::new(&env, "pull-busybox");
    let proxy = CountingProxy::start(&env.registry).await;
    // Its own layer, so that every blob is downloaded here: containerd 2.x
    // takes blobs another namespace has without asking the registry.
    let (repo, _, _) = common::images::push_unique_busybox(&env, "pulltest-busybox");
    let reference = format!("{}/{repo}:latest", proxy.addr());

    assert_eq!(
        pull::find(&ns.conn, &reference, "overlayfs").await.unwrap(),
        None
    );

    let pulled = pull::pull(&ns.conn, &reference, None, &opts_for(&ns.conn).await)
        .await
        .unwrap();
    assert_eq!(
        proxy.take(),
        (1, 2),
        "first pull: one manifest, config and layer blobs"
    );

    assert_eq!(pulled.name, reference);
    assert!(
        pulled.digest.starts_with("sha256:") && pulled.digest.len() == 71,
        "{pulled:?}"
    );
    assert_eq!(pulled.config.cmd, vec!["sh"]);
    assert!(
        pulled.config.env.iter().any(|e| e.starts_with("PATH=")),
        "{pulled:?}"
    );

    // What ctr sees.
    assert_eq!(ns.image_names(), vec![reference.clone()]);
    let listing = ns.ctr(&["images", "ls"]);
    assert!(listing.contains(&pulled.digest), "{listing}");
    let snapshots = ns.snapshots();
    assert!(
        snapshots
            .iter()
            .any(|(k, _, kind)| *k == pulled.chain_id && kind == "Committed"),
        "{snapshots:?}"
    );
    assert!(
        snapshots.iter().all(|(k, _, _)| !k.starts_with("extract-")),
        "extraction snapshot left behind: {snapshots:?}"
    );
    assert!(ns.leases().await.is_empty(), "pull lease left behind");
    let check = ns.ctr(&["images", "check"]);
    assert!(check.contains("complete"), "{check}");

    // GC labels as ctr sets them.
    let manifest_labels = ns.content_labels(&pulled.digest);
    assert!(
        manifest_labels.contains("containerd.io/gc.ref.content.config=sha256:"),
        "{manifest_labels}"
    );
    assert!(
        manifest_labels.contains("containerd.io/gc.ref.content.l.0=sha256:"),
        "{manifest_labels}"
    );
    let all_labels = ns.ctr(&["content", "ls"]);
    assert!(
        all_labels.contains(&format!(
            "containerd.io/gc.ref.snapshot.overlayfs={}",
            pulled.chain_id
        )),
        "{all_labels}"
    );
    assert!(
        all_labels.contains("containerd.io/uncompressed=sha256:"),
        "{all_labels}"
    );

    assert_eq!(
        pull::find(&ns.conn, &reference, "overlayfs").await.unwrap(),
        Some(pulled.clone())
    );

    // Again: only the manifest is fetched, nothing is downloaded or unpacked,
    // and (our own client) nothing is written: the image record is as it was.
    let recorded = image_updated_at(&ns.conn, &reference).await;
    let again = pull::pull(&ns.conn, &reference, None, &opts_for(&ns.conn).await)
        .await
        .unwrap();
    assert_eq!(again, pulled);
    if !opts_for(&ns.conn).await.transfer {
        assert_eq!(
            image_updated_at(&ns.conn, &reference).await,
            recorded,
            "an image up to date is not recorded again"
        );
    }
    // (containerd's Transfer resolves with a HEAD and reads the manifest
    // it has: no GET at all.)
    let (manifests, blobs) = proxy.take();
    assert!(manifests <= 1, "second pull: {manifests} manifest GETs");
    assert_eq!(blobs, 0, "second pull must not download blobs");

    // Containerd's GC must leave everything that was pulled in place.
    let content_before = ns.content_digests();
    assert_eq!(content_before.len(), 3, "{content_before:?}");
    force_gc(&ns.conn).await;
    let mut content_after = ns.content_digests();
    content_after.sort();
    let mut expected = content_before.clone();
    expected.sort();
    assert_eq!(content_after, expected, "GC removed pulled content");
    let snapshots_after = ns.snapshots();
    assert!(
        snapshots_after
            .iter()
            .any(|(k, _, _)| *k == pulled.chain_id),
        "GC removed the unpacked snapshot: {snapshots_after:?}"
    );
    assert_eq!(
        pull::find(&ns.conn, &reference, "overlayfs").await.unwrap(),
        Some(pulled.clone())
    );

    // The unpacked image runs (ctr makes the container's snapshot on our chain ID).
    let out = ns.ctr(&[
        "run",
        "--rm",
        &reference,
        "pull-test-run",
        "/bin/sh",
        "-c",
        "echo hello from $(pwd)",
    ]);
    assert_eq!(out.trim(), "hello from /");
    assert_eq!(
        proxy.take(),
        (0, 0),
        "ctr run found the image complete and unpacked"
    );

    // Not unpacked means not found; a pull unpacks again from the local blobs.
    ns.ctr(&[
        "snapshots",
        "--snapshotter",
        "overlayfs",
        "rm",
        &pulled.chain_id,
    ]);
    assert_eq!(
        pull::find(&ns.conn, &reference, "overlayfs").await.unwrap(),
        None
    );
    let again = pull::pull(&ns.conn, &reference, None, &opts_for(&ns.conn).await)
        .await
        .unwrap();
    assert_eq!(again, pulled);
    let (manifests, blobs) = proxy.take();
    assert!(manifests <= 1, "re-unpacking: {manifests} manifest GETs");
    assert_eq!(blobs, 0, "re-unpacking needs no download");
    assert!(ns.snapshots().iter().any(|(k, _, _)| *k == pulled.chain_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_a_docker_v2_schema2_image() {
    let Some(env) = common::env() else { return };
    let ns = Ns::new(&env, "pull-v2s2");
    let repo = common::unique_ns("pulltest-v2s2").to_ascii_lowercase();
    let reference = format!("{}/{repo}:latest", env.registry);
    let push = Command::new("skopeo")
        .args([
            "copy",
            "-q",
            "--format",
            "v2s2",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
        ])
        .arg(format!("docker://{}", env.image()))
        .arg(format!("docker://{reference}"))
        .output()
        .unwrap();
    assert!(
        push.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&push.stderr)
    );

    let pulled = pull::pull(&ns.conn, &reference, None, &opts_for(&ns.conn).await)
        .await
        .unwrap();
    assert_eq!(pulled.config.cmd, vec!["sh"]);
    let listing = ns.ctr(&["images", "ls"]);
    assert!(
        listing.contains("application/vnd.docker.distribution.manifest.v2+json"),
        "{listing}"
    );
    let check = ns.ctr(&["images", "check"]);
    assert!(check.contains("complete"), "{check}");
    let out = ns.ctr(&[
        "run",
        "--rm",
        &reference,
        "pull-v2s2-run",
        "/bin/busybox",
        "echo",
        "ok",
    ]);
    assert_eq!(out.trim(), "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_from_the_auth_registry_needs_credentials() {
    let Some(env) = common::env() else { return };
    let ns = Ns::new(&env, "pull-auth");
    let reference = env.auth_image();

    let err = pull::pull(&ns.conn, &reference, None, &opts_for(&ns.conn).await)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("unauthorized"), "{msg}");
    assert!(!err.is_unavailable());

    let wrong = RegistryCredentials {
        username: env.auth_user.clone(),
        password: "not-the-password".to_string(),
    };
    let msg = pull::pull(
        &ns.conn,
        &reference,
        Some(&wrong),
        &opts_for(&ns.conn).await,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(msg.contains("unauthorized"), "{msg}");
    assert!(ns.image_names().is_empty());

    let pulled = pull::pull(
        &ns.conn,
        &reference,
        Some(&creds(&env)),
        &opts_for(&ns.conn).await,
    )
    .await
    .unwrap();
    assert_eq!(pulled.name, reference);
    assert_eq!(ns.image_names(), vec![reference.clone()]);
    assert!(ns.snapshots().iter().any(|(k, _, _)| *k == pulled.chain_id));
    assert!(ns.leases().await.is_empty(), "pull lease left behind");
}

/// A tag moved to another image is pulled again, not taken as up to date:
/// the check compares the registry's digest with the one containerd recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_moved_to_another_image_is_pulled_again() {
    let Some(env) = common::env() else { return };
    let ns = Ns::new(&env, "pull-moved");
    let repo = common::unique_ns("pulltest-moved").to_ascii_lowercase();
    let opts = opts_for(&ns.conn).await;
    let first_ref = common::images::push_busybox_with_filler(&env, &repo, 1, 1);
    let first = pull::pull(&ns.conn, &first_ref, None, &opts).await.unwrap();
    let moved_ref = common::images::push_busybox_with_filler(&env, &repo, 1, 2);
    assert_eq!(moved_ref, first_ref, "the same tag");
    let moved = pull::pull(&ns.conn, &moved_ref, None, &opts).await.unwrap();
    assert_ne!(moved.digest, first.digest);
    assert_ne!(moved.chain_id, first.chain_id);
    assert_eq!(
        pull::find(&ns.conn, &moved_ref, "overlayfs").await.unwrap(),
        Some(moved.clone())
    );
    // And then it is up to date: the same image, nothing recorded again.
    let recorded = image_updated_at(&ns.conn, &moved_ref).await;
    let again = pull::pull(&ns.conn, &moved_ref, None, &opts).await.unwrap();
    assert_eq!(again, moved);
    if !opts.transfer {
        assert_eq!(image_updated_at(&ns.conn, &moved_ref).await, recorded);
    }
}

/// The runtime remembers the images it pulled (`pull::Recent`), and trusts
/// what it remembers only while containerd's record still points at the
/// same manifest and the registry still names it: a tag moved, or an image
/// removed behind the agent's back, is pulled again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remembered_image_is_trusted_only_while_containerd_and_the_registry_still_have_it() {
    let Some(env) = common::env() else { return };
    let ns = Ns::new(&env, "pull-recent");
    let repo = common::unique_ns("pulltest-recent").to_ascii_lowercase();
    let opts = opts_for(&ns.conn).await;
    let recent = pull::Recent::default();
    let remembered = |reference: String| {
        let parsed = ecs::task::image_ref::parse_reference(&reference).expect("reference");
        let (conn, opts, recent) = (&ns.conn, &opts, &recent);
        async move {
            pull::pull_remembered(conn, &parsed, None, opts, recent)
                .await
                .unwrap()
        }
    };
    let first_ref = common::images::push_busybox_with_filler(&env, &repo, 1, 1);
    let first = remembered(first_ref.clone()).await;
    let recorded = image_updated_at(&ns.conn, &first_ref).await;
    assert_eq!(remembered(first_ref.clone()).await, first);
    if !opts.transfer {
        assert_eq!(image_updated_at(&ns.conn, &first_ref).await, recorded);
    }

    let moved_ref = common::images::push_busybox_with_filler(&env, &repo, 1, 2);
    let moved = remembered(moved_ref.clone()).await;
    assert_ne!(moved.digest, first.digest, "a moved tag is pulled again");
    assert_eq!(
        pull::find(&ns.conn, &moved_ref, "overlayfs").await.unwrap(),
        Some(moved.clone())
    );

    ns.ctr(&["images", "rm", &moved.name]);
    assert_eq!(
        pull::find(&ns.conn, &moved_ref, "overlayfs").await.unwrap(),
        None
    );
    assert_eq!(remembered(moved_ref.clone()).await, moved);
    assert_eq!(
        pull::find(&ns.conn, &moved_ref, "overlayfs").await.unwrap(),
        Some(moved),
        "an image removed behind the runtime's back is recorded again"
    );
    assert!(ns.leases().await.is_empty(), "pull lease left behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_tag_says_manifest_unknown() {
    let Some(env) = common::env() else { return };
    let ns = Ns::new(&env, "pull-missing");
    let reference = format!("{}/busybox:no-such-tag", env.registry);
    let err = pull::pull(&ns.conn, &reference, None, &opts_for(&ns.conn).await)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("manifest unknown"), "{msg}");
    assert!(msg.contains(&reference), "{msg}");
    assert!(!err.is_unavailable());
    assert!(ns.image_names().is_empty());
    assert!(ns.leases().await.is_empty(), "failed pull left its lease");

    let err = pull::pull(
        &ns.conn,
        "127.0.0.1:1/busybox:latest",
        None,
        &opts_for(&ns.conn).await,
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot reach registry 127.0.0.1:1"),
        "{err}"
    );
    assert_eq!(
        pull::find(&ns.conn, &reference, "overlayfs").await.unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pulls_of_one_image_agree() {
    let Some(env) = common::env() else { return };
    let ns = Ns::new(&env, "pull-concurrent");
    let reference = env.image();
    let o = opts_for(&ns.conn).await;
    let (a, b, c) = tokio::join!(
        pull::pull(&ns.conn, &reference, None, &o),
        pull::pull(&ns.conn, &reference, None, &o),
        pull::pull(&ns.conn, &reference, None, &o),
    );
    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    assert_eq!(a, b);
    assert_eq!(a, c);
    let snapshots = ns.snapshots();
    assert_eq!(snapshots.len(), 1, "{snapshots:?}");
    assert!(ns.leases().await.is_empty());
}

/// Builds an OCI layout holding an index with linux/amd64 and linux/arm64
/// images of three layers (gzip, plain tar with a whiteout, gzip), and prints
/// what the test checks against, computed independently of our code.
const MAKE_MULTI: &str = r#"
import gzip, hashlib, io, json, os, sys, tarfile
out = sys.argv[1]
os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)
def sha(b): return "sha256:" + hashlib.sha256(b).hexdigest()
def blob(b):
    with open(os.path.join(out, "blobs", "sha256", sha(b)[7:]), "wb") as f: f.write(b)
    return {"digest": sha(b), "size": len(b)}
def canon(o): return json.dumps(o, sort_keys=True, separators=(",", ":")).encode()
def tar(files):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in files:
            i = tarfile.TarInfo(name); i.mtime = 0
            if data is None:
                i.type = tarfile.DIRTYPE; i.mode = 0o755; t.addfile(i)
            else:
                i.size = len(data); i.mode = 0o644; t.addfile(i, io.BytesIO(data))
    return raw.getvalue()
layers = [
    (tar([("etc", None), ("etc/one", b"one\n"), ("etc/gone", b"x")]), True),
    (tar([("etc", None), ("etc/two", b"two\n"), ("etc/.wh.gone", b"")]), False),
    # A nonce in the top layer: containerd shares blobs between namespaces,
    # so two tests pushing the same layer would see each other's downloads.
    (tar([("etc", None), ("etc/one", b"one-v2\n"), ("etc/nonce", os.urandom(16).hex().encode())]), True),
]
descs, diff_ids = [], []
for raw, gz in layers:
    diff_ids.append(sha(raw))
    d = blob(gzip.compress(raw, mtime=0) if gz else raw)
    d["mediaType"] = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if gz else "")
    descs.append(d)
chain = [diff_ids[0]]
for d in diff_ids[1:]: chain.append(sha((chain[-1] + " " + d).encode()))
manifests = []
for arch in ["arm64", "amd64"]:
    cfg = {"architecture": arch, "os": "linux",
           "config": {"Entrypoint": ["/bin/true"], "Cmd": ["x"], "Env": ["A=" + arch],
                      "WorkingDir": "/etc", "User": "1000", "Labels": {"test": "multi"}},
           "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    c = blob(canon(cfg)); c["mediaType"] = "application/vnd.oci.image.config.v1+json"
    m = blob(canon({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": c, "layers": descs}))
    m["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
    m["platform"] = {"os": "linux", "architecture": arch}
    manifests.append(m)
idx = blob(canon({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                  "manifests": manifests}))
idx["mediaType"] = "application/vnd.oci.image.index.v1+json"
idx["annotations"] = {"org.opencontainers.image.ref.name": "v1"}
with open(os.path.join(out, "index.json"), "wb") as f: f.write(canon({"schemaVersion": 2, "manifests": [idx]}))
with open(os.path.join(out, "oci-layout"), "wb") as f: f.write(canon({"imageLayoutVersion": "1.0.0"}))
print(json.dumps({"index": idx["digest"], "amd64": manifests[1]["digest"], "chain": chain}))
"#;

pub(crate) struct MultiImage {
    pub(crate) reference: String,
    index_digest: String,
    pub(crate) amd64_manifest: String,
    chain: Vec<String>,
}

/// [`push_multi_image`], with the image's repository in the test registry
/// and its three layer digests, bottom first (every platform's manifest has
/// the same ones).
pub(crate) fn push_multi_image_layers(
    env: &TestEnv,
    dir: &Path,
) -> (MultiImage, String, Vec<String>) {
    let img = push_multi_image(env, dir);
    let (repo, _) = img
        .reference
        .trim_start_matches(&format!("{}/", env.registry))
        .split_once(':')
        .unwrap();
    let repo = repo.to_string();
    let layers = common::images::layers(env, &repo, &img.amd64_manifest);
    assert_eq!(layers.len(), 3);
    (img, repo, layers)
}

pub(crate) fn push_multi_image(env: &TestEnv, dir: &Path) -> MultiImage {
    let out = Command::new("python3")
        .arg("-c")
        .arg(MAKE_MULTI)
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let repo = common::unique_ns("pulltest-multi").to_ascii_lowercase();
    let reference = format!("{}/{repo}:v1", env.registry);
    let push = Command::new("skopeo")
        .args([
            "copy",
            "-q",
            "--all",
            "--preserve-digests",
            "--dest-tls-verify=false",
        ])
        .arg(format!("oci:{}:v1", dir.display()))
        .arg(format!("docker://{reference}"))
        .output()
        .unwrap();
    assert!(
        push.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&push.stderr)
    );
    MultiImage {
        reference,
        index_digest: v["index"].as_str().unwrap().to_string(),
        amd64_manifest: v["amd64"].as_str().unwrap().to_string(),
        chain: v["chain"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect(),
    }
}

#[cfg(target_arch = "x86_64")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_a_multi_platform_multi_layer_index() {
    let Some(env) = common::env() else { return };
    let dir = tempfile::tempdir().unwrap();
    let img = push_multi_image(&env, dir.path());
    let ns = Ns::new(&env, "pull-multi");

    let pulled = pull::pull(&ns.conn, &img.reference, None, &opts_for(&ns.conn).await)
        .await
        .unwrap();
    assert_eq!(
        pulled.digest, img.index_digest,
        "the record points at the index"
    );
    assert_eq!(pulled.chain_id, img.chain[2]);
    assert_eq!(pulled.config.entrypoint, vec!["/bin/true"]);
    assert_eq!(
        pulled.config.env,
        vec!["A=amd64"],
        "the amd64 image was chosen"
    );
    assert_eq!(pulled.config.working_dir, "/etc");
    assert_eq!(pulled.config.user, "1000");
    assert_eq!(
        pulled.config.labels.get("test").map(String::as_str),
        Some("multi")
    );

    // Three committed snapshots, each on its parent.
    let snapshots = ns.snapshots();
    for (i, chain_id) in img.chain.iter().enumerate() {
        let parent = if i == 0 {
            String::new()
        } else {
            img.chain[i - 1].clone()
        };
        assert!(
            snapshots
                .iter()
                .any(|(k, p, kind)| k == chain_id && *p == parent && kind == "Committed"),
            "layer {i}: {snapshots:?}"
        );
    }
    let listing = ns.ctr(&["images", "ls"]);
    assert!(
        listing.contains("application/vnd.oci.image.index.v1+json"),
        "{listing}"
    );
    let index_labels = ns.content_labels(&img.index_digest);
    assert!(
        index_labels.contains(&format!(
            "containerd.io/gc.ref.content.m.1={}",
            img.amd64_manifest
        )),
        "{index_labels}"
    );

    // Layers were applied in order: later files win, whiteouts delete.
    let files =
        read_snapshot_files(&ns, &pulled.chain_id, &["etc/one", "etc/two", "etc/gone"]).await;
    assert_eq!(
        files,
        vec![
            Some("one-v2\n".to_string()),
            Some("two\n".to_string()),
            None
        ]
    );

    force_gc(&ns.conn).await;
    assert_eq!(
        pull::find(&ns.conn, &img.reference, "overlayfs")
            .await
            .unwrap(),
        Some(pulled.clone()),
        "GC must keep index, manifest, config and snapshots"
    );
    assert_eq!(ns.snapshots().len(), 3);

    // Only the top layer missing: it alone is unpacked again, on its parent.
    // Once the top is gone nothing references its parents, and containerd's
    // GC (scheduled after every removal) would take them too; a lease keeps
    // them, as a running container's snapshot would on a real host.
    let hold = hold_snapshot(&ns.conn, &img.chain[1]).await;
    ns.ctr(&[
        "snapshots",
        "--snapshotter",
        "overlayfs",
        "rm",
        &img.chain[2],
    ]);
    assert_eq!(ns.snapshots().len(), 2);
    let again = pull::pull(&ns.conn, &img.reference, None, &opts_for(&ns.conn).await)
        .await
        .unwrap();
    assert_eq!(again, pulled);
    let snapshots = ns.snapshots();
    assert!(
        snapshots
            .iter()
            .any(|(k, p, _)| *k == img.chain[2] && *p == img.chain[1]),
        "{snapshots:?}"
    );
    delete_lease(&ns.conn, hold, false).await;

    // By digest: a second record, nothing new to unpack.
    let repo = img.reference.trim_end_matches(":v1");
    let by_digest = format!("{repo}@{}", img.index_digest);
    let pinned = pull::pull(&ns.conn, &by_digest, None, &opts_for(&ns.conn).await)
        .await
        .unwrap();
    assert_eq!(pinned.name, by_digest);
    assert_eq!(pinned.chain_id, pulled.chain_id);
    assert_eq!(ns.image_names().len(), 2);

    // A platform the index does not have.
    let s390x = PullOptions {
        platform: image::Platform {
            os: "linux".into(),
            architecture: "s390x".into(),
            variant: None,
        },
        ..opts_for(&ns.conn).await
    };
    let msg = pull::pull(&ns.conn, &img.reference, None, &s390x)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("linux/s390x") && msg.contains("linux/amd64"),
        "{msg}"
    );
}

/// A pull of the multi-platform image whose last layer's blob a stand-in
/// registry holds back until `standin.release()`.
struct HeldPull {
    img: MultiImage,
    /// Its repository in the test registry.
    repo: String,
    /// The image's three layer digests, bottom first.
    layers: Vec<String>,
    standin: Standin,
    reference: String,
}

impl HeldPull {
    fn start(env: &TestEnv, dir: &Path) -> HeldPull {
        let (img, repo, layers) = push_multi_image_layers(env, dir);
        let held = layers[2].clone();
        let standin = Standin::start(&env.registry, move |path, _| {
            if path.ends_with(&held) {
                Fault::Hold
            } else {
                Fault::Pass
            }
        });
        let reference = format!("{}/{repo}:v1", standin.addr);
        HeldPull {
            img,
            repo,
            layers,
            standin,
            reference,
        }
    }

    /// The committed snapshots of `ns` once the two layers below the held
    /// one are (or after 30 s, or once the pull ended), sorted.
    async fn lower_layers_committed<T>(
        ns: &Ns,
        pulling: &tokio::task::JoinHandle<T>,
    ) -> Vec<String> {
        let committed = || -> Vec<String> {
            let mut c: Vec<String> = ns
                .snapshots()
                .into_iter()
                .filter(|(_, _, kind)| kind == "Committed")
                .map(|(key, _, _)| key)
                .collect();
            c.sort();
            c
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut seen = committed();
        while seen.len() < 2 && std::time::Instant::now() < deadline && !pulling.is_finished() {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            seen = committed();
        }
        seen
    }
}

/// The unpack overlaps the downloads (issue 17): with the last layer's blob
/// held back by a stand-in registry, the two layers below it are unpacked
/// into committed snapshots before that blob is even answered. A pull that
/// downloads everything first never gets there and fails this.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lower_layers_are_unpacked_while_the_last_one_still_downloads() {
    let Some(env) = common::env() else { return };
    let dir = tempfile::tempdir().unwrap();
    let held = HeldPull::start(&env, dir.path());
    let last = held.layers[2].clone();
    let ns = Ns::new(&env, "pull-overlap");
    let (conn, reference) = (ns.conn.clone(), held.reference.clone());
    let opts = opts_for(&ns.conn).await;
    let pulling = tokio::spawn(async move { pull::pull(&conn, &reference, None, &opts).await });

    let seen = HeldPull::lower_layers_committed(&ns, &pulling).await;
    let held_requests = held.standin.requests(&last);
    let blobs = ns.content_digests();
    held.standin.release();
    let pulled = pulling.await.unwrap().unwrap();

    let img = &held.img;
    let mut want = img.chain[..2].to_vec();
    want.sort();
    assert_eq!(seen, want, "layers 0 and 1 unpacked while layer 2 was held");
    assert_eq!(held_requests, 1, "layer 2 was requested and held");
    assert!(!blobs.contains(&last), "layer 2 arrived before its release");
    assert_eq!(pulled.chain_id, img.chain[2]);
    assert!(
        ns.snapshots()
            .iter()
            .any(|(k, p, kind)| *k == img.chain[2] && *p == img.chain[1] && kind == "Committed"),
        "{:?}",
        ns.snapshots()
    );
    assert!(ns.active_ingests().is_empty());
    assert!(ns.leases().await.is_empty());
}

/// A layer the pull finds already in the content store is put under the
/// pull's lease. Until the image record references it, that lease is all
/// that can keep it: here the blob was held only by another lease (as a
/// concurrent pull that then fails holds what it wrote), which is deleted
/// with a synchronous collection while this pull waits for its last layer.
/// A pull that only checked the blob's presence loses it and ends with an
/// image whose bottom layer is not in the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layer_found_in_the_store_is_held_by_the_pull_until_its_image_is_recorded() {
    let Some(env) = common::env() else { return };
    let dir = tempfile::tempdir().unwrap();
    let held = HeldPull::start(&env, dir.path());
    let ns = Ns::new(&env, "pull-present");
    let out = Command::new("curl")
        .args(["-sf"])
        .arg(format!(
            "http://{}/v2/{}/blobs/{}",
            env.registry, held.repo, held.layers[0]
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "curl: {out:?}");
    let other = format!("other-pull-{}", uuid::Uuid::new_v4());
    create_lease(&ns.conn, &other).await;
    let digest = write_blob(&ns.conn, &other, out.stdout).await;
    assert_eq!(digest, held.layers[0]);

    let (conn, reference) = (ns.conn.clone(), held.reference.clone());
    let opts = opts_for(&ns.conn).await;
    let pulling = tokio::spawn(async move { pull::pull(&conn, &reference, None, &opts).await });
    let seen = HeldPull::lower_layers_committed(&ns, &pulling).await;
    assert_eq!(seen.len(), 2, "the pull got past layers 0 and 1: {seen:?}");
    delete_lease(&ns.conn, other, true).await;
    let after_gc = ns.content_digests();
    held.standin.release();
    let pulled = pulling.await.unwrap().unwrap();

    assert!(
        after_gc.contains(&held.layers[0]),
        "layer 0 was collected with the other lease while the pull relied on it: {after_gc:?}"
    );
    assert_eq!(pulled.chain_id, held.img.chain[2]);
    let blobs = ns.content_digests();
    for layer in &held.layers {
        assert!(
            blobs.contains(layer),
            "{layer} missing after the pull: {blobs:?}"
        );
    }
    assert!(ns.leases().await.is_empty());
}

/// A lease holding overlayfs snapshot `key` (and so its parents).
async fn hold_snapshot(conn: &Conn, key: &str) -> String {
    let lease = format!("pull-hold-{}", uuid::Uuid::new_v4());
    create_lease(conn, &lease).await;
    LeasesClient::new(conn.channel())
        .add_resource(conn.request(AddResourceRequest {
            id: lease.clone(),
            resource: Some(Resource {
                id: key.to_string(),
                r#type: "snapshots/overlayfs".to_string(),
            }),
        }))
        .await
        .unwrap();
    lease
}

/// Deletes lease `id`; with `sync`, containerd collects what only it held
/// before answering.
async fn delete_lease(conn: &Conn, id: String, sync: bool) {
    LeasesClient::new(conn.channel())
        .delete(conn.request(DeleteRequest { id, sync }))
        .await
        .unwrap();
}

/// Mounts a read-only view of snapshot `chain_id` and reads `paths` from it.
/// The view is made under a lease so that a GC run by a parallel test leaves it alone.
async fn read_snapshot_files(ns: &Ns, chain_id: &str, paths: &[&str]) -> Vec<Option<String>> {
    let lease = format!("pull-view-{}", uuid::Uuid::new_v4());
    create_lease(&ns.conn, &lease).await;
    let mounts = SnapshotsClient::new(ns.conn.channel())
        .view(ns.conn.leased_request(
            ViewSnapshotRequest {
                snapshotter: "overlayfs".into(),
                key: lease.clone(),
                parent: chain_id.into(),
                labels: HashMap::new(),
            },
            &lease,
        ))
        .await
        .unwrap()
        .into_inner()
        .mounts;
    assert_eq!(mounts.len(), 1, "{mounts:?}");
    let m = &mounts[0];
    let target = tempfile::tempdir().unwrap();
    let status = Command::new("mount")
        .args(["-t", &m.r#type, &m.source])
        .arg(target.path())
        .args(["-o", &m.options.join(",")])
        .status()
        .unwrap();
    assert!(status.success(), "mount {m:?} failed");
    let files = paths
        .iter()
        .map(|p| std::fs::read_to_string(target.path().join(p)).ok())
        .collect();
    let _ = Command::new("umount").arg(target.path()).status();
    SnapshotsClient::new(ns.conn.channel())
        .remove(ns.conn.leased_request(
            RemoveSnapshotRequest {
                snapshotter: "overlayfs".into(),
                key: lease.clone(),
            },
            &lease,
        ))
        .await
        .unwrap();
    delete_lease(&ns.conn, lease, false).await;
    files
}
