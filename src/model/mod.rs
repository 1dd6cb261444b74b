//! Wire types of the agent-facing websocket protocols (ACS and TCS), from
//! acs-api-2.json and tcs-api-2.json. Pure: no I/O, no clock.
//!
//! Every frame on both sockets is `{"type": "<ShapeName>", "message": {...}}`.

pub mod acs;
mod folded;
mod frame;
mod lenient;
pub mod tcs;

pub use frame::DecodeError;

#[cfg(test)]
pub(crate) mod fuzz_tests;
