//! containerd implementation (under construction)
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("containerd unavailable: {0}")]
    Unavailable(String),
}
