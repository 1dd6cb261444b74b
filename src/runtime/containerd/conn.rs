//! One gRPC channel to containerd, and the headers every call needs.

use std::path::{Path, PathBuf};

use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};

/// A lazily connected channel to containerd plus the namespace all our calls use.
/// Cloning is cheap (the channel is shared). A lost connection is re-established
/// by tonic on the next call, so a containerd restart needs no new `Conn`.
#[derive(Clone, Debug)]
pub struct Conn {
    channel: Channel,
    namespace: String,
    socket: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("invalid containerd namespace {0:?}: it must be a valid gRPC header value")]
    BadNamespace(String),
    #[error("cannot set up a channel to containerd at {path}: {source}")]
    Endpoint {
        path: PathBuf,
        #[source]
        source: tonic::transport::Error,
    },
}

impl Conn {
    /// Does not touch the socket yet: the first call connects. This lets the agent
    /// start (and keep its tasks) while containerd is still coming up.
    pub fn lazy(socket: &Path, namespace: &str) -> Result<Conn, ConnError> {
        if namespace.is_empty() || MetadataValue::try_from(namespace).is_err() {
            return Err(ConnError::BadNamespace(namespace.to_string()));
        }
        let path = socket.to_path_buf();
        let connector_path = path.clone();
        let endpoint = Endpoint::try_from("http://[::]").map_err(|source| ConnError::Endpoint {
            path: path.clone(),
            source,
        })?;
        let channel = endpoint.connect_with_connector_lazy(tower_service(connector_path));
        Ok(Conn {
            channel,
            namespace: namespace.to_string(),
            socket: path,
        })
    }

    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// A request carrying our namespace header.
    pub fn request<T>(&self, msg: T) -> tonic::Request<T> {
        let mut req = tonic::Request::new(msg);
        if let Ok(v) = MetadataValue::try_from(self.namespace.as_str()) {
            req.metadata_mut().insert("containerd-namespace", v);
        }
        req
    }

    /// A request carrying our namespace and a lease, so that what the call writes
    /// is not garbage-collected before it is referenced.
    pub fn leased_request<T>(&self, msg: T, lease: &str) -> tonic::Request<T> {
        let mut req = self.request(msg);
        if let Ok(v) = MetadataValue::try_from(lease) {
            req.metadata_mut().insert("containerd-lease", v);
        }
        req
    }
}

fn tower_service(
    path: PathBuf,
) -> impl tower::Service<
    http::Uri,
    Response = hyper_util::rt::TokioIo<tokio::net::UnixStream>,
    Error = std::io::Error,
    Future = impl Send,
> + Clone
       + Send {
    tower::service_fn(move |_: http::Uri| {
        let path = path.clone();
        async move {
            let stream = tokio::net::UnixStream::connect(path).await?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
        }
    })
}
