//! One integration test binary (one link step) holding every area's tests.
//! They drive real containerd, runc, registry and the `aws` CLI; see tests/integration/common.

#[path = "integration/common/mod.rs"]
mod common;
