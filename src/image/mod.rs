//! The registry protocol: manifests, indexes and image configs, and the
//! client that fetches them (with its auth) from a registry; image
//! references are the core's (`task::image_ref`). Nothing here touches
//! containerd: storing and unpacking what is fetched is the runtime's job
//! (`runtime::containerd::pull`).

mod error;
#[cfg(test)]
mod fuzz_tests;
pub mod manifest;
pub mod registry;
#[cfg(test)]
pub(crate) mod scripted;
#[cfg(test)]
mod timeout_tests;

pub use error::RegistryError;
pub use manifest::Platform;
