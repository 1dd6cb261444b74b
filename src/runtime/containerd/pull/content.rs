//! Writes into (and reads from) containerd's content store through the
//! Content service, as `ctr` does: one `Write` stream per blob under a ref,
//! committed with the expected digest and size so containerd checks them too.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use containerd_client::services::v1::content_client::ContentClient;
use containerd_client::services::v1::{
    AbortRequest, Info, InfoRequest, ReadContentRequest, UpdateRequest, WriteAction,
    WriteContentRequest,
};
use futures_util::{Stream, StreamExt as _};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;

use super::error::PullError;
use crate::runtime::containerd::Conn;

/// Bytes per `Write` message; well under containerd's 16 MiB message limit.
const CHUNK: usize = 1 << 20;
/// How long to wait for another pull that holds the write lock on the same blob.
const LOCK_WAIT: Duration = Duration::from_secs(300);

/// The content store as seen through one lease (empty lease: read-only use).
#[derive(Clone, Copy)]
pub struct Store<'a> {
    conn: &'a Conn,
    lease: &'a str,
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The blob was already there; nothing was sent.
    Present,
    /// This many bytes were written and committed.
    Bytes(u64),
}

impl<'a> Store<'a> {
    pub fn new(conn: &'a Conn, lease: &'a str) -> Store<'a> {
        Store { conn, lease }
    }

    fn client(&self) -> ContentClient<tonic::transport::Channel> {
        ContentClient::new(self.conn.channel())
    }

    fn req<T>(&self, msg: T) -> tonic::Request<T> {
        if self.lease.is_empty() {
            self.conn.request(msg)
        } else {
            self.conn.leased_request(msg, self.lease)
        }
    }

    /// The blob's info, `None` if this namespace does not have it.
    pub async fn info(&self, digest: &str) -> Result<Option<Info>, PullError> {
        match self
            .client()
            .info(self.req(InfoRequest {
                digest: digest.to_string(),
            }))
            .await
        {
            Ok(r) => Ok(r.into_inner().info),
            Err(s) if s.code() == Code::NotFound => Ok(None),
            Err(s) => Err(PullError::grpc("content info", s)),
        }
    }

    /// Whether the blob is in the store; if it is, it is put under this
    /// store's lease, so that it stays until the pull's image references it.
    pub async fn present(&self, digest: &str) -> Result<bool, PullError> {
        if self.info(digest).await?.is_none() {
            return Ok(false);
        }
        self.lease_present(digest).await?;
        Ok(true)
    }

    /// Put a blob found present under this store's lease (see
    /// `lease::add_content`). containerd's metadata store does it too for
    /// a write that meets the blob; asking again is harmless.
    async fn lease_present(&self, digest: &str) -> Result<(), PullError> {
        if self.lease.is_empty() {
            return Ok(());
        }
        super::lease::add_content(self.conn, self.lease, digest).await
    }

    /// Set `labels` on a blob, leaving its other labels alone.
    pub async fn set_labels(
        &self,
        digest: &str,
        labels: HashMap<String, String>,
    ) -> Result<(), PullError> {
        if labels.is_empty() {
            return Ok(());
        }
        let paths = labels.keys().map(|k| format!("labels.{k}")).collect();
        self.client()
            .update(self.req(UpdateRequest {
                info: Some(Info {
                    digest: digest.to_string(),
                    labels,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask { paths }),
            }))
            .await
            .map_err(|s| PullError::grpc("content update", s))?;
        Ok(())
    }

    /// Make sure the blob is present and carries `labels`: written from
    /// `bytes` if missing, relabelled if present.
    pub async fn put_bytes(
        &self,
        ref_key: &str,
        digest: &str,
        bytes: Bytes,
        labels: HashMap<String, String>,
    ) -> Result<Written, PullError> {
        if self.present(digest).await? {
            self.set_labels(digest, labels).await?;
            return Ok(Written::Present);
        }
        let size = bytes.len() as u64;
        let stream = futures_util::stream::iter([Ok::<Bytes, PullError>(bytes)]);
        let written = self
            .write(ref_key, digest, size, stream, labels.clone())
            .await?;
        if written == Written::Present {
            self.set_labels(digest, labels).await?;
        }
        Ok(written)
    }

    /// Write a blob from `data` under the ingest ref `ref_key` and commit it,
    /// with `labels`, as `digest`/`size`. An error item in `data` aborts the
    /// write without committing. If another writer holds the ref, waits for it;
    /// if the blob turns out to exist, returns `Present`.
    pub async fn write<S>(
        &self,
        ref_key: &str,
        digest: &str,
        size: u64,
        data: S,
        labels: HashMap<String, String>,
    ) -> Result<Written, PullError>
    where
        S: Stream<Item = Result<Bytes, PullError>> + Send,
    {
        let started = Instant::now();
        let total = i64::try_from(size).map_err(|_| PullError::Containerd {
            op: "content write",
            code: Code::InvalidArgument,
            message: format!("blob {digest} size {size} is too large"),
        })?;

        // Open the stream, waiting while another pull writes the same ref.
        let (tx, mut responses) = loop {
            let (tx, rx) = mpsc::channel::<WriteContentRequest>(4);
            // The server answers only after the first message, so queue it
            // before awaiting the call.
            let stat = WriteContentRequest {
                action: WriteAction::Stat as i32,
                r#ref: ref_key.to_string(),
                total,
                expected: digest.to_string(),
                ..Default::default()
            };
            if tx.send(stat).await.is_err() {
                return Err(closed("content write"));
            }
            let opened = self.client().write(self.req(ReceiverStream::new(rx))).await;
            let first = match opened {
                Ok(resp) => {
                    let mut s = resp.into_inner();
                    match s.message().await {
                        Ok(Some(_stat)) => Ok(s),
                        Ok(None) => Err(tonic::Status::unavailable("content write stream closed")),
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            };
            match first {
                Ok(s) => break (tx, s),
                Err(s) if s.code() == Code::AlreadyExists => {
                    self.lease_present(digest).await?;
                    return Ok(Written::Present);
                }
                Err(s) if is_locked(&s) && started.elapsed() < LOCK_WAIT => {
                    tracing::debug!(%digest, ref_key, "blob is being written by another pull; waiting");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    if self.present(digest).await? {
                        return Ok(Written::Present);
                    }
                }
                Err(s) => return Err(PullError::grpc("content write", s)),
            }
        };

        // Armed until the write ends: a pull dropped mid-blob (its timeout
        // fired) must not leave a partial ingest behind.
        let mut guard = IngestGuard {
            conn: self.conn,
            lease: self.lease,
            ref_key,
            armed: true,
        };
        let result = self
            .send_all(&tx, &mut responses, ref_key, digest, total, data, labels)
            .await;
        drop(tx);
        guard.armed = false;
        match result {
            Ok(w) => {
                tracing::debug!(%digest, bytes = size, ms = started.elapsed().as_millis() as u64, "blob committed");
                Ok(w)
            }
            Err(e) => {
                // Drop the partial ingest so that a retry starts clean and
                // nothing partial stays in the content store.
                if let Err(s) = self.abort(ref_key).await {
                    tracing::warn!(%digest, ref_key, error = %s, "cannot abort a failed ingest; GC removes it with the pull's lease");
                }
                Err(e)
            }
        }
    }

    async fn abort(&self, ref_key: &str) -> Result<(), tonic::Status> {
        abort(self.conn, self.lease, ref_key).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn send_all<S>(
        &self,
        tx: &mpsc::Sender<WriteContentRequest>,
        responses: &mut tonic::codec::Streaming<
            containerd_client::services::v1::WriteContentResponse,
        >,
        ref_key: &str,
        digest: &str,
        total: i64,
        data: S,
        labels: HashMap<String, String>,
    ) -> Result<Written, PullError>
    where
        S: Stream<Item = Result<Bytes, PullError>> + Send,
    {
        let mut data = Box::pin(data);
        let mut offset: i64 = 0;
        let mut buf = BytesMut::with_capacity(CHUNK);
        loop {
            let next = data.next().await;
            let end = match next {
                Some(Ok(chunk)) => {
                    buf.extend_from_slice(&chunk);
                    false
                }
                Some(Err(e)) => return Err(e),
                None => true,
            };
            while buf.len() >= CHUNK || (end && !buf.is_empty()) {
                let n = buf.len().min(CHUNK);
                let piece = buf.split_to(n);
                let msg = WriteContentRequest {
                    action: WriteAction::Write as i32,
                    r#ref: ref_key.to_string(),
                    offset,
                    data: piece.to_vec(),
                    ..Default::default()
                };
                // Offset 0 also truncates any stale ingest left under this ref.
                let resp = round_trip(tx, responses, msg)
                    .await
                    .map_err(|s| PullError::grpc("content write", s))?;
                offset += n as i64;
                if resp.offset != offset {
                    return Err(PullError::Containerd {
                        op: "content write",
                        code: Code::DataLoss,
                        message: format!(
                            "containerd reports offset {} for {digest}, expected {offset}",
                            resp.offset
                        ),
                    });
                }
            }
            if end {
                break;
            }
        }
        let commit = WriteContentRequest {
            action: WriteAction::Commit as i32,
            r#ref: ref_key.to_string(),
            offset,
            total,
            expected: digest.to_string(),
            labels,
            ..Default::default()
        };
        match round_trip(tx, responses, commit).await {
            Ok(_) => Ok(Written::Bytes(offset as u64)),
            // Another writer committed the same content first.
            Err(s) if s.code() == Code::AlreadyExists => {
                self.lease_present(digest).await?;
                Ok(Written::Present)
            }
            Err(s) => Err(PullError::grpc("content commit", s)),
        }
    }

    /// Read a whole blob, refusing ones bigger than `limit`. `None` if absent.
    pub async fn read_all(&self, digest: &str, limit: u64) -> Result<Option<Bytes>, PullError> {
        let resp = self
            .client()
            .read(self.req(ReadContentRequest {
                digest: digest.to_string(),
                offset: 0,
                size: 0,
            }))
            .await;
        let mut stream = match resp {
            Ok(r) => r.into_inner(),
            Err(s) if s.code() == Code::NotFound => return Ok(None),
            Err(s) => return Err(PullError::grpc("content read", s)),
        };
        let mut out = Vec::new();
        loop {
            match stream.message().await {
                Ok(Some(m)) => {
                    if (out.len() + m.data.len()) as u64 > limit {
                        return Err(PullError::Containerd {
                            op: "content read",
                            code: Code::OutOfRange,
                            message: format!("blob {digest} is larger than {limit} bytes"),
                        });
                    }
                    out.extend_from_slice(&m.data);
                }
                Ok(None) => break,
                Err(s) if s.code() == Code::NotFound => return Ok(None),
                Err(s) => return Err(PullError::grpc("content read", s)),
            }
        }
        Ok(Some(Bytes::from(out)))
    }
}

async fn round_trip(
    tx: &mpsc::Sender<WriteContentRequest>,
    responses: &mut tonic::codec::Streaming<containerd_client::services::v1::WriteContentResponse>,
    msg: WriteContentRequest,
) -> Result<containerd_client::services::v1::WriteContentResponse, tonic::Status> {
    let stream_closed = || tonic::Status::aborted("containerd closed the write stream");
    if tx.send(msg).await.is_err() {
        // The request stream is gone: the server ended the call; its status says why.
        return match responses.message().await {
            Err(s) => Err(s),
            Ok(_) => Err(stream_closed()),
        };
    }
    match responses.message().await {
        Ok(Some(r)) => Ok(r),
        Ok(None) => Err(stream_closed()),
        Err(s) => Err(s),
    }
}

pub(super) async fn abort(conn: &Conn, lease: &str, ref_key: &str) -> Result<(), tonic::Status> {
    let req = AbortRequest {
        r#ref: ref_key.to_string(),
    };
    let req = if lease.is_empty() {
        conn.request(req)
    } else {
        conn.leased_request(req, lease)
    };
    match ContentClient::new(conn.channel()).abort(req).await {
        Ok(_) => Ok(()),
        Err(s) if s.code() == Code::NotFound => Ok(()),
        Err(s) => Err(s),
    }
}

/// Aborts the ingest `ref_key` if dropped while armed: a write whose future
/// was dropped (the pull timed out) cannot abort it itself.
struct IngestGuard<'a> {
    conn: &'a Conn,
    lease: &'a str,
    ref_key: &'a str,
    armed: bool,
}

impl Drop for IngestGuard<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (conn, lease, ref_key) = (
            self.conn.clone(),
            self.lease.to_string(),
            self.ref_key.to_string(),
        );
        handle.spawn(async move {
            match abort(&conn, &lease, &ref_key).await {
                Ok(()) => tracing::debug!(ref_key, "ingest of a cancelled pull aborted"),
                Err(s) => tracing::warn!(ref_key, error = %s, "cannot abort the ingest of a cancelled pull; GC removes it with the pull's lease"),
            }
        });
    }
}

fn closed(op: &'static str) -> PullError {
    PullError::Containerd {
        op,
        code: Code::Aborted,
        message: "containerd closed the write stream".to_string(),
    }
}

/// containerd reports a ref held by another writer as Unavailable, "... locked ...".
fn is_locked(s: &tonic::Status) -> bool {
    s.code() == Code::Unavailable && s.message().contains("locked")
}

/// The ingest ref for a blob, as containerd's remotes name them, so that two
/// pulls of the same blob (ours or ctr's) serialize on one ref.
pub fn ref_key(kind: &str, digest: &str) -> String {
    format!("{kind}-{digest}")
}
