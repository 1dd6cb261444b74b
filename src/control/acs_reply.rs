//! What the ACS session does after a message (its own file so that the
//! connection loop in acs.rs and the handlers in acs_handlers.rs share it
//! without importing each other).

use crate::model::acs::AcsMessage;

/// What the session sends after a message, or whether it ends.
pub(super) enum Reply {
    None,
    Send(Vec<AcsMessage>),
    End(Ended),
}

/// Why a connection ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Ended {
    /// Closed or idle: connect again.
    Reconnect,
    /// The control plane says this instance is gone; reconnecting cannot help.
    Inactive(String),
}
