//! The runtime's image records, as image cleanup needs them.

use std::future::Future;
use std::path::PathBuf;

use super::RuntimeError;

/// One image record in the agent's namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRecord {
    /// The normalized reference (`127.0.0.1:5000/busybox:latest`).
    pub name: String,
    /// When the record was made, Unix milliseconds.
    pub created_at_ms: i64,
}

pub trait ImageStore: Send + Sync + 'static {
    fn list_images(&self) -> impl Future<Output = Result<Vec<ImageRecord>, RuntimeError>> + Send;

    /// Deletes the record and lets the runtime collect what only it kept
    /// alive (content, unpacked snapshots). Not an error if it is gone.
    fn remove_image(&self, name: &str) -> impl Future<Output = Result<(), RuntimeError>> + Send;

    /// The directory where the runtime keeps image content (a path on the
    /// runtime's host), if it says.
    fn image_filesystem(
        &self,
    ) -> impl Future<Output = Result<Option<PathBuf>, RuntimeError>> + Send;
}
