//! TEMPORARY (runtime helper): runs tests/integration/runtime.rs until the lead adds
//! its `mod` line to tests/integration.rs. Will be deleted.
#[path = "integration/common/mod.rs"]
mod common;
#[path = "integration/runtime.rs"]
mod runtime;
