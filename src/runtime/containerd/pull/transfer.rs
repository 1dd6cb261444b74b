//! One pull attempt through containerd's Transfer service (2.0 and later),
//! which resolves, fetches and unpacks in containerd itself, unpacking each
//! layer while the next ones download (BENCHMARKS.md, `pull-transfer`: 1.5x
//! faster than our own pull on 2.1). What the agent guarantees around a pull
//! stays the agent's:
//!
//! - the pull's lease rides on the request, so containerd's transfer uses it
//!   instead of one of its own (core/transfer/local/transfer.go `withLease`):
//!   a failed pull is collected with it, nothing partial is left;
//! - the Go agent's timeouts: `begin` until containerd reports that it
//!   resolved the manifest ("Pulling from ..."), then `inactivity` between
//!   two progress events (containerd sends one only when a download or an
//!   unpack moved), and the caller's `whole`; a timed-out attempt is
//!   cancelled by dropping the call, which cancels containerd's context;
//! - credentials are answered on the streaming auth callback (what ctr's
//!   `--user` does), so Basic and token registries both work, and nothing
//!   secret is put in the request itself;
//! - the result is read back as `find` reads any image, so a pull that
//!   containerd reports done but left incomplete is an error.

use containerd_client::services::v1::transfer_client::TransferClient;
use containerd_client::services::v1::{TransferOptions, TransferRequest};
use containerd_client::types::transfer::{
    AuthRequest, AuthResponse, AuthType, ImageStore, OciRegistry, Progress, RegistryResolver,
    UnpackConfiguration,
};
use containerd_client::types::Platform as CdPlatform;
use reqwest::StatusCode;
use tokio::time::Instant;
use tonic::Code;

use super::error::PullError;
use super::options::{PullOptions, PullTimeouts};
use super::streams::{pack, unpack, Stream};
use crate::config::RegistryCredentials;
use crate::image::registry::{error_message, plain_http};
use crate::image::{Platform, RegistryError};
use crate::runtime::containerd::Conn;
use crate::task::container::PulledImage;
use crate::task::image_ref::Reference;

/// One attempt. Returns the image and the bytes containerd downloaded.
pub(super) async fn attempt(
    conn: &Conn,
    lease: &str,
    r: &Reference,
    creds: Option<&RegistryCredentials>,
    opts: &PullOptions,
) -> Result<(PulledImage, u64), PullError> {
    let mut progress = Stream::open(conn, "progress").await?;
    let auth = match creds {
        Some(c) => Some(Answering::start(
            Stream::open(conn, "creds").await?,
            c.clone(),
        )),
        None => None,
    };
    let platform = proto_platform(&opts.platform);
    let scheme = if plain_http(&r.registry(), &opts.insecure_registries) {
        "http"
    } else {
        "https"
    };
    let source = OciRegistry {
        reference: r.to_string(),
        resolver: Some(RegistryResolver {
            auth_stream: auth.as_ref().map(|a| a.id.clone()).unwrap_or_default(),
            default_scheme: scheme.to_string(),
            ..Default::default()
        }),
    };
    let destination = ImageStore {
        name: r.to_string(),
        platforms: vec![platform.clone()],
        unpacks: vec![UnpackConfiguration {
            platform: Some(platform),
            snapshotter: opts.snapshotter.clone(),
        }],
        ..Default::default()
    };
    let request = TransferRequest {
        source: Some(pack(&source)),
        destination: Some(pack(&destination)),
        options: Some(TransferOptions {
            progress_stream: progress.id.clone(),
        }),
    };
    let mut watch = Watch::new(r.registry_host(), Instant::now());
    let mut ingests = Ingests::new(conn, lease);
    let outcome = {
        let mut client = TransferClient::new(conn.channel());
        let call = client.transfer(conn.leased_request(request, lease));
        tokio::pin!(call);
        let mut listening = true;
        loop {
            tokio::select! {
                done = &mut call => break done.map_err(|s| transfer_error(r, s, &ingests.downloading())),
                message = progress.recv(), if listening => match message {
                    Ok(Some(any)) => {
                        if let Some(p) = unpack::<Progress>(&any) {
                            watch.see(&p, Instant::now());
                            ingests.see(&p);
                        }
                    }
                    // containerd closes it as the transfer ends; the call's
                    // answer follows.
                    _ => listening = false,
                },
                // Dropping the call (leaving this block) cancels it in containerd.
                _ = tokio::time::sleep_until(watch.deadline(&opts.timeouts)) => {
                    break Err(watch.late(&opts.timeouts));
                }
            }
        }
    };
    if let Err(e) = outcome {
        ingests.abort().await;
        return Err(e);
    }
    ingests.disarm();
    drop(auth);
    let image = super::find::find_inner(conn, r, &opts.snapshotter, &opts.platform)
        .await?
        .ok_or_else(|| {
            PullError::bad_image(
                r,
                "containerd's transfer reported the pull done, but the image, its blobs or its unpacked layers are not all there",
            )
        })?;
    Ok((image, watch.downloaded))
}

fn proto_platform(p: &Platform) -> CdPlatform {
    CdPlatform {
        os: p.os.clone(),
        architecture: p.architecture.clone(),
        variant: p.variant.clone().unwrap_or_default(),
        os_version: String::new(),
    }
}

/// What the progress stream has said so far, for the timeouts and the log.
struct Watch {
    registry: String,
    started: Instant,
    /// containerd has the manifest ("Pulling from ...").
    began: bool,
    last: Instant,
    downloaded: u64,
}

impl Watch {
    fn new(registry: &str, now: Instant) -> Watch {
        Watch {
            registry: registry.to_string(),
            started: now,
            began: false,
            last: now,
            downloaded: 0,
        }
    }

    fn see(&mut self, p: &Progress, now: Instant) {
        // Every event is news: containerd sends one only when something
        // moved (a job added, bytes written or unpacked, a blob complete).
        self.last = now;
        if p.event.starts_with("Pulling from") {
            self.began = true;
        }
        if p.event == "complete" {
            self.downloaded += u64::try_from(p.total).unwrap_or(0);
        }
    }

    /// When the attempt is late.
    fn deadline(&self, t: &PullTimeouts) -> Instant {
        if self.began {
            self.last + t.inactivity
        } else {
            self.started + t.begin
        }
    }

    /// The error of an attempt that passed its deadline.
    fn late(&self, t: &PullTimeouts) -> PullError {
        if self.began {
            PullError::Registry(RegistryError::Inactive {
                registry: self.registry.clone(),
                after: t.inactivity,
            })
        } else {
            PullError::Timeout {
                transition: "pullBegin",
                after: t.begin,
            }
        }
    }
}

/// The downloads containerd has under way in this attempt: each ingest's
/// ref (a progress event's name, `layer-sha256:...`) and its blob's digest.
/// containerd keeps a failed download's ingest and resumes it on the next
/// attempt: one that holds corrupt bytes would then fail every attempt
/// without the registry being asked again. So a failed attempt aborts what
/// it left open, as our own pull does, and the next starts clean.
struct Ingests {
    conn: Conn,
    lease: String,
    open: std::collections::BTreeMap<String, String>,
    armed: bool,
}

impl Ingests {
    fn new(conn: &Conn, lease: &str) -> Ingests {
        Ingests {
            conn: conn.clone(),
            lease: lease.to_string(),
            open: Default::default(),
            armed: true,
        }
    }

    /// Only a blob's own events open an ingest ("fetching image content"
    /// names the image, not a ref).
    fn see(&mut self, p: &Progress) {
        let Some(desc) = p.desc.as_ref().filter(|_| !p.name.is_empty()) else {
            return;
        };
        match p.event.as_str() {
            "waiting" | "downloading" => {
                self.open
                    .entry(p.name.clone())
                    .or_insert_with(|| desc.digest.clone());
            }
            "complete" | "already exists" => {
                self.open.remove(&p.name);
            }
            _ => {}
        }
    }

    /// The digests of the blobs still downloading, for a reason that names
    /// the one that broke off.
    fn downloading(&self) -> Vec<&str> {
        self.open.values().map(String::as_str).collect()
    }

    async fn abort(&mut self) {
        self.armed = false;
        for r in std::mem::take(&mut self.open).into_keys() {
            if let Err(s) = super::content::abort(&self.conn, &self.lease, &r).await {
                tracing::warn!(ingest = %r, error = %s, "cannot abort a failed pull's ingest; GC removes it with the pull's lease");
            }
        }
    }

    fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for Ingests {
    /// The attempt was dropped (the whole-pull timeout): abort in the
    /// background what it cannot abort itself.
    fn drop(&mut self) {
        if !self.armed || self.open.is_empty() {
            return;
        }
        let mut rest = Ingests {
            conn: self.conn.clone(),
            lease: self.lease.clone(),
            open: std::mem::take(&mut self.open),
            armed: true,
        };
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move { rest.abort().await });
        } else {
            rest.armed = false;
        }
    }
}

/// Answers containerd's credential questions on the auth stream until it
/// is dropped (the attempt is over).
struct Answering {
    id: String,
    task: tokio::task::JoinHandle<()>,
}

impl Answering {
    fn start(mut stream: Stream, creds: RegistryCredentials) -> Answering {
        let id = stream.id.clone();
        let task = tokio::spawn(async move {
            while let Ok(Some(any)) = stream.recv().await {
                let Some(question) = unpack::<AuthRequest>(&any) else {
                    continue;
                };
                tracing::debug!(host = %question.host, reference = %question.reference, "containerd asks for registry credentials");
                let answer = AuthResponse {
                    auth_type: AuthType::Credentials as i32,
                    username: creds.username.clone(),
                    secret: creds.password.clone(),
                    expire_at: None,
                };
                if stream.send(pack(&answer)).await.is_err() {
                    return;
                }
            }
        });
        Answering { id, task }
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// containerd's error, in the words our own pull uses where the cause is
/// the registry's, so that a task's stopped reason reads the same on every
/// containerd. The texts matched are containerd 2.x's
/// (core/remotes/docker/resolver.go, net/http's dial errors).
/// `downloading`: the digests of the blobs under way when it failed.
fn transfer_error(r: &Reference, status: tonic::Status, downloading: &[&str]) -> PullError {
    let code = status.code();
    if code == Code::Unavailable {
        return PullError::grpc("transfer", status);
    }
    let message = status.message().to_string();
    tracing::debug!(image = %r, ?code, %message, "containerd's transfer failed");
    let lower = message.to_ascii_lowercase();
    let unreachable = [
        "connection refused",
        "no such host",
        "i/o timeout",
        "network is unreachable",
        "no route to host",
    ];
    if unreachable.iter().any(|u| lower.contains(u)) {
        return PullError::Registry(RegistryError::Connect {
            registry: r.registry_host().to_string(),
            cause: message,
        });
    }
    if let Some(status) = http_status(&message) {
        // What our own client reports for a bodyless error answer.
        return PullError::Registry(RegistryError::Registry {
            reference: r.to_string(),
            registry: r.registry_host().to_string(),
            status,
            message: error_message(
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
                b"",
            ),
        });
    }
    if code == Code::NotFound && lower.starts_with("failed to resolve") {
        // containerd's resolver says "not found" only for a 404 on the manifest.
        return PullError::Registry(RegistryError::Registry {
            reference: r.to_string(),
            registry: r.registry_host().to_string(),
            status: 404,
            message: "manifest unknown".to_string(),
        });
    }
    if let Some((actual, expected)) = digest_mismatch(&message) {
        return PullError::Registry(RegistryError::DigestMismatch {
            reference: r.to_string(),
            registry: r.registry_host().to_string(),
            expected,
            actual,
        });
    }
    let summary = if lower.contains("401 unauthorized") || lower.contains("unauthorized") {
        "unauthorized".to_string()
    } else if lower.contains("403 forbidden") || lower.contains("denied") {
        "denied".to_string()
    } else if ["unexpected eof", "short read", "connection reset"]
        .iter()
        .any(|t| lower.contains(t))
    {
        match downloading {
            [] => "a download broke off".to_string(),
            blobs => format!("the download of {} broke off", blobs.join(", ")),
        }
    } else if lower.contains("no match for platform") {
        "no image for this platform".to_string()
    } else if code == Code::NotFound {
        "not found".to_string()
    } else {
        "pull failed".to_string()
    };
    PullError::Transfer {
        reference: r.to_string(),
        summary,
        code,
        message,
    }
}

/// The status of containerd's "unexpected status from GET request to URL:
/// 503 Service Unavailable" (core/remotes/docker/errors.go's words).
fn http_status(message: &str) -> Option<u16> {
    let (_, rest) = message.split_once("unexpected status from ")?;
    let (_, after_url) = rest.split_once(": ")?;
    let code = after_url.get(..3)?;
    let status: u16 = code.parse().ok()?;
    (400..600).contains(&status).then_some(status)
}

/// containerd's "unexpected commit digest sha256:A, expected sha256:B":
/// the blob it received is not the one the manifest names.
fn digest_mismatch(message: &str) -> Option<(String, String)> {
    let (_, rest) = message.split_once("unexpected commit digest ")?;
    let (actual, rest) = rest.split_once(", expected ")?;
    let expected: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == ':')
        .collect();
    Some((
        actual.to_string(),
        expected.trim_end_matches(':').to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference() -> Reference {
        crate::task::image_ref::parse_reference("127.0.0.1:5000/team/app:v1").unwrap()
    }

    /// containerd 2.1.9's words for each cause (seen in this project's
    /// tests against Debian's 2.1.9), and what the task's reason becomes.
    #[test]
    fn containerd_words_become_the_reasons_our_own_pull_gives() {
        let cases = [
            (Code::Unknown, "failed to resolve image: unexpected status from HEAD request to http://127.0.0.1:5000/v2/team/app/manifests/v1: 401 Unauthorized",
             "127.0.0.1:5000/team/app:v1: unauthorized: authentication required (HTTP 401 from 127.0.0.1:5000)"),
            (Code::Unknown, "failed to resolve image: unexpected status from HEAD request to http://127.0.0.1:5000/v2/team/app/manifests/v1: 503 Service Unavailable",
             "127.0.0.1:5000/team/app:v1: service unavailable (HTTP 503 from 127.0.0.1:5000)"),
            (Code::NotFound, "failed to resolve image: 127.0.0.1:5000/team/app:v1: not found",
             "127.0.0.1:5000/team/app:v1: manifest unknown (HTTP 404 from 127.0.0.1:5000)"),
            (Code::Unknown, "failed to resolve image: failed to do request: Head \"http://127.0.0.1:5000/v2/team/app/manifests/v1\": dial tcp 127.0.0.1:5000: connect: connection refused",
             "cannot reach registry 127.0.0.1:5000: failed to resolve image: failed to do request: Head \"http://127.0.0.1:5000/v2/team/app/manifests/v1\": dial tcp 127.0.0.1:5000: connect: connection refused"),
            (Code::FailedPrecondition, "failed commit on ref \"layer-sha256:bb\": unexpected commit digest sha256:aa, expected sha256:bb: failed precondition",
             "127.0.0.1:5000/team/app:v1: content for sha256:bb from 127.0.0.1:5000 has digest sha256:aa: refusing corrupted or tampered data"),
        ];
        for (code, message, want) in cases {
            let got = transfer_error(&reference(), tonic::Status::new(code, message), &[]);
            assert_eq!(got.to_string(), want, "{message}");
            assert!(got.is_retriable(), "{message}");
        }
        let full = transfer_error(
            &reference(),
            tonic::Status::unknown("failed to extract layer sha256:aa: write /var/lib/containerd/x: no space left on device"),
            &[],
        );
        assert!(full.is_disk_full() && !full.is_retriable(), "{full}");
        let down = transfer_error(
            &reference(),
            tonic::Status::unavailable("connection refused"),
            &[],
        );
        assert!(down.is_unavailable(), "{down}");
    }
}
