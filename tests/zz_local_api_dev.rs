// TEMPORARY (local_api helper's dev harness; removed before hand-off).
#[path = "integration/common/mod.rs"]
mod common;
#[path = "integration/local_api.rs"]
mod local_api;
