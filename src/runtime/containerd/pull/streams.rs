//! containerd's Streaming service (2.0 and later), the side channel of a
//! Transfer: the client opens a stream under an id of its choosing, and the
//! Transfer request names that id for its progress or its credential
//! questions. The handshake is containerd's own client's
//! (core/streaming/proxy/streaming.go): the first message is a `StreamInit`
//! with the id, and containerd answers once it has registered the stream.
//! Messages are `Any`s whose type URL is the bare full name, as Go's typeurl
//! writes and expects them (no `type.googleapis.com/` prefix).

use containerd_client::services::v1::streaming_client::StreamingClient;
use containerd_client::services::v1::StreamInit;
use prost::{Message, Name};
use prost_types::Any;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::codec::Streaming;

use super::error::PullError;
use crate::runtime::containerd::Conn;

/// One open stream: what we send, and what containerd sends us. Dropping it
/// ends the stream on our side.
pub(super) struct Stream {
    pub(super) id: String,
    outbound: mpsc::Sender<Any>,
    inbound: Streaming<Any>,
}

impl Stream {
    /// Opens a stream named `<kind>-<random>` in our namespace and waits for
    /// containerd to have registered it.
    pub(super) async fn open(conn: &Conn, kind: &str) -> Result<Stream, PullError> {
        let id = format!("ecs-agent-{kind}-{}", uuid::Uuid::new_v4().simple());
        let (outbound, rx) = mpsc::channel(4);
        let init = pack(&StreamInit { id: id.clone() });
        // Cannot fail: the receiver is right here and the channel empty.
        let _ = outbound.try_send(init);
        let mut inbound = StreamingClient::new(conn.channel())
            .stream(conn.request(ReceiverStream::new(rx)))
            .await
            .map_err(|s| PullError::grpc("stream open", s))?
            .into_inner();
        match inbound.message().await {
            Ok(Some(_ack)) => Ok(Stream {
                id,
                outbound,
                inbound,
            }),
            Ok(None) => Err(PullError::Containerd {
                op: "stream open",
                code: tonic::Code::Aborted,
                message: format!("containerd closed stream {id} before acknowledging it"),
            }),
            Err(s) => Err(PullError::grpc("stream open", s)),
        }
    }

    /// The next message, `None` once containerd has closed the stream.
    pub(super) async fn recv(&mut self) -> Result<Option<Any>, PullError> {
        self.inbound
            .message()
            .await
            .map_err(|s| PullError::grpc("stream receive", s))
    }

    pub(super) async fn send(&self, message: Any) -> Result<(), PullError> {
        self.outbound
            .send(message)
            .await
            .map_err(|_| PullError::Containerd {
                op: "stream send",
                code: tonic::Code::Aborted,
                message: format!("stream {} is closed", self.id),
            })
    }
}

/// `message` as an `Any` the way Go's typeurl marshals it.
pub(super) fn pack<M: Message + Name>(message: &M) -> Any {
    Any {
        type_url: M::full_name(),
        value: message.encode_to_vec(),
    }
}

/// `any` decoded as `M` when it is one (with or without a URL prefix).
pub(super) fn unpack<M: Message + Name + Default>(any: &Any) -> Option<M> {
    let name = any.type_url.rsplit('/').next().unwrap_or_default();
    if name != M::full_name() {
        return None;
    }
    M::decode(any.value.as_slice()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use containerd_client::types::transfer::{AuthRequest, Progress};

    #[test]
    fn anys_carry_the_bare_full_name_and_read_back() {
        let p = Progress {
            event: "downloading".into(),
            progress: 42,
            ..Default::default()
        };
        let any = pack(&p);
        assert_eq!(any.type_url, "containerd.types.transfer.Progress");
        assert_eq!(unpack::<Progress>(&any), Some(p.clone()));
        // A prefixed URL (another client's habit) reads the same.
        let prefixed = Any {
            type_url: "type.googleapis.com/containerd.types.transfer.Progress".into(),
            value: any.value.clone(),
        };
        assert_eq!(unpack::<Progress>(&prefixed), Some(p));
        assert_eq!(unpack::<AuthRequest>(&any), None);
    }
}
