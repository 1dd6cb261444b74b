//! containerd's gRPC statuses classified into the runtime layer's
//! [`RuntimeError`]: is containerd merely unreachable (retry later), or did it
//! refuse, and how.

use tonic::{Code, Status};

use super::pull::PullError;
use crate::runtime::{ErrorKind, RuntimeError};

/// Whether a gRPC failure means containerd could not be reached at all.
pub(crate) fn status_is_unavailable(status: &Status) -> bool {
    match status.code() {
        Code::Unavailable => true,
        // Statuses made by tonic itself (broken connection, refused socket)
        // carry the transport error as source; containerd's own never do.
        Code::Unknown | Code::Cancelled => std::error::Error::source(status).is_some(),
        _ => false,
    }
}

/// Map a failed call to `Unavailable` or to the operation's own error, keeping
/// containerd's message and its kind.
pub(crate) fn from_status(
    status: Status,
    op: impl FnOnce(ErrorKind, String) -> RuntimeError,
) -> RuntimeError {
    match kind_of(&status) {
        ErrorKind::Unavailable => RuntimeError::Unavailable(describe(&status)),
        kind => op(kind, describe(&status)),
    }
}

/// The kind of a failed call, from its status code. The one exception is
/// the shim start race: containerd gives it no code of its own (it arrives
/// as UNKNOWN with the shim's words), so this is the one place where its
/// message text is read, to classify it as `ShimStillExiting`.
fn kind_of(status: &Status) -> ErrorKind {
    if status_is_unavailable(status) {
        return ErrorKind::Unavailable;
    }
    let message = status.message();
    if message.contains("failed to start shim") && message.contains("file exists") {
        return ErrorKind::ShimStillExiting;
    }
    kind_of_code(status.code())
}

fn kind_of_code(code: Code) -> ErrorKind {
    match code {
        Code::Unavailable => ErrorKind::Unavailable,
        Code::NotFound => ErrorKind::NotFound,
        Code::AlreadyExists => ErrorKind::AlreadyExists,
        _ => ErrorKind::Other,
    }
}

impl From<PullError> for RuntimeError {
    fn from(e: PullError) -> RuntimeError {
        let kind = match e {
            PullError::Registry(r) => return RuntimeError::Image(r),
            PullError::Unavailable { .. } => ErrorKind::Unavailable,
            PullError::Timeout { .. } => ErrorKind::Timeout,
            PullError::Containerd { code, .. } => kind_of_code(code),
            // The registry's answer relayed by containerd, not containerd's
            // own state: a NotFound here is the image's, not a record's.
            PullError::Transfer { .. } => ErrorKind::Other,
        };
        RuntimeError::Pull {
            kind,
            message: e.to_string(),
        }
    }
}

/// containerd's message, or the code when it sent none; plus the transport
/// cause for statuses tonic made.
fn describe(status: &Status) -> String {
    let mut msg = if status.message().is_empty() {
        format!("{:?}", status.code())
    } else {
        status.message().to_string()
    };
    let mut source = std::error::Error::source(status);
    while let Some(s) = source {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_code_maps_to_unavailable() {
        let e = from_status(
            Status::unavailable("connection refused"),
            |kind, message| RuntimeError::Start {
                id: "c".into(),
                kind,
                message,
            },
        );
        assert!(e.is_unavailable());
        assert_eq!(e.to_string(), "containerd unavailable: connection refused");
    }

    #[test]
    fn containerd_refusals_keep_their_message() {
        let e = from_status(
            Status::failed_precondition("task must be stopped"),
            |kind, message| RuntimeError::Remove {
                id: "c1".into(),
                kind,
                message,
            },
        );
        assert!(!e.is_unavailable());
        assert_eq!(e.to_string(), "removing container c1: task must be stopped");
        let e = from_status(Status::unknown("oci runtime failed"), |kind, message| {
            RuntimeError::Create {
                id: "c1".into(),
                kind,
                message,
            }
        });
        assert!(!e.is_unavailable());
    }

    #[test]
    fn a_shim_start_race_is_its_own_kind() {
        // containerd 1.6/1.7 wording, as it reaches us from Tasks.Create.
        let status = Status::unknown(
            "failed to create shim task: failed to start shim: mkdir /run/containerd/io.containerd.runtime.v2.task/ecs/c1: file exists: unknown",
        );
        let e = from_status(status, |kind, message| RuntimeError::Create {
            id: "c1".into(),
            kind,
            message,
        });
        assert_eq!(e.kind(), ErrorKind::ShimStillExiting);
        assert!(!e.is_unavailable());
        let e = from_status(Status::already_exists("container c1"), |kind, message| {
            RuntimeError::Create {
                id: "c1".into(),
                kind,
                message,
            }
        });
        assert_eq!(e.kind(), ErrorKind::AlreadyExists);
    }

    #[test]
    fn pull_errors_keep_their_words_and_kind() {
        let e = RuntimeError::from(PullError::grpc(
            "content info",
            Status::unavailable("connection refused"),
        ));
        assert!(e.is_unavailable());
        assert_eq!(
            e.to_string(),
            "containerd unavailable during content info: connection refused"
        );
        let e = RuntimeError::from(PullError::grpc("image get", Status::not_found("gone")));
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.to_string(), "containerd image get failed: NotFound: gone");
        let e = RuntimeError::from(PullError::bad_image("busybox", "image has no layers"));
        assert!(matches!(e, RuntimeError::Image(_)), "{e:?}");
        assert_eq!(e.to_string(), "busybox: image has no layers");
    }
}
