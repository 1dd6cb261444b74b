//! containerd implementation of `ContainerRuntime` (under construction).

pub mod conn;

pub use conn::{Conn, ConnError};

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("containerd unavailable: {0}")]
    Unavailable(String),
}
