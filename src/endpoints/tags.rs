//! Where `/taskWithTags` gets its tags: the control plane's
//! ListTagsForResource for the container instance and the task, asked at
//! request time as the Go agent does.

use std::future::Future;
use std::pin::Pin;

/// A failed lookup, shown in the response's `Errors` as the Go agent does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagsError {
    pub code: String,
    pub message: String,
    pub status: u16,
    pub request_id: Option<String>,
}

pub type TagsFuture =
    Pin<Box<dyn Future<Output = Result<Vec<(String, String)>, TagsError>> + Send>>;

/// ListTagsForResource for one ARN.
pub trait TagsApi: Send + Sync + 'static {
    fn tags(&self, arn: String) -> TagsFuture;
}
