//! One container's destination in CloudWatch Logs, through the SDK:
//! CreateLogGroup (with awslogs-create-group), CreateLogStream (both fine
//! when it already exists, as moby's driver treats
//! ResourceAlreadyExistsException) and PutLogEvents. Sequence tokens are
//! not used: CloudWatch ignores them now.

use std::time::Duration;

use aws_sdk_cloudwatchlogs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use aws_sdk_cloudwatchlogs::Client;

use super::batch::Event;

/// How long one call may take, the SDK's own retries included.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum CloudWatchError {
    /// Worth trying again after a wait: throttling, 5xx, the network,
    /// credentials not there yet, a missing group or stream.
    #[error("{call} {group}/{stream}: {detail}")]
    Retry {
        call: &'static str,
        group: String,
        stream: String,
        detail: String,
        /// The group or stream is missing: make them again first.
        missing: bool,
    },
    /// The request itself is refused (InvalidParameterException and the
    /// like): sending it again cannot work.
    #[error("{call} {group}/{stream}: {detail}")]
    Refused {
        call: &'static str,
        group: String,
        stream: String,
        detail: String,
    },
}

pub struct Destination {
    pub client: Client,
    pub group: String,
    pub stream: String,
    /// The group and stream as errors and the agent's log show them: from
    /// secretOptions, the option's name instead of its value.
    pub shown_group: String,
    pub shown_stream: String,
    pub create_group: bool,
}

impl Destination {
    fn err<E, R>(&self, call: &'static str, e: &SdkError<E, R>) -> CloudWatchError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let detail = match (e.code(), e.message()) {
            (Some(code), Some(msg)) => format!("{code}: {msg}"),
            (Some(code), None) => code.to_string(),
            _ => DisplayErrorContext(e).to_string(),
        };
        let refused = matches!(
            e.code(),
            Some(
                "InvalidParameterException"
                    | "DataAlreadyAcceptedException"
                    | "UnrecognizedClientException"
            )
        ) && call == "PutLogEvents";
        if refused {
            return CloudWatchError::Refused {
                call,
                group: self.shown_group.clone(),
                stream: self.shown_stream.clone(),
                detail,
            };
        }
        CloudWatchError::Retry {
            call,
            group: self.shown_group.clone(),
            stream: self.shown_stream.clone(),
            missing: e.code() == Some("ResourceNotFoundException"),
            detail,
        }
    }

    fn timeout(&self, call: &'static str) -> CloudWatchError {
        CloudWatchError::Retry {
            call,
            group: self.shown_group.clone(),
            stream: self.shown_stream.clone(),
            detail: format!("no answer in {CALL_TIMEOUT:?}"),
            missing: false,
        }
    }

    /// The group (when awslogs-create-group) and the stream exist.
    pub async fn ensure(&self) -> Result<(), CloudWatchError> {
        let exists = |code: Option<&str>| code == Some("ResourceAlreadyExistsException");
        if self.create_group {
            let call = self
                .client
                .create_log_group()
                .log_group_name(&self.group)
                .send();
            match tokio::time::timeout(CALL_TIMEOUT, call).await {
                Err(_) => return Err(self.timeout("CreateLogGroup")),
                Ok(Err(e)) if !exists(e.code()) => return Err(self.err("CreateLogGroup", &e)),
                Ok(_) => {}
            }
        }
        let call = self
            .client
            .create_log_stream()
            .log_group_name(&self.group)
            .log_stream_name(&self.stream)
            .send();
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Err(_) => Err(self.timeout("CreateLogStream")),
            Ok(Err(e)) if !exists(e.code()) => Err(self.err("CreateLogStream", &e)),
            Ok(_) => Ok(()),
        }
    }

    /// One PutLogEvents of a batch [`super::batch::Batch::take`] made.
    pub async fn put(&self, events: &[Event]) -> Result<(), CloudWatchError> {
        let events = events
            .iter()
            .map(|e| {
                InputLogEvent::builder()
                    .timestamp(e.timestamp_ms)
                    .message(e.message.clone())
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CloudWatchError::Refused {
                call: "PutLogEvents",
                group: self.shown_group.clone(),
                stream: self.shown_stream.clone(),
                detail: e.to_string(),
            })?;
        let call = self
            .client
            .put_log_events()
            .log_group_name(&self.group)
            .log_stream_name(&self.stream)
            .set_log_events(Some(events))
            .send();
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Err(_) => Err(self.timeout("PutLogEvents")),
            Ok(Err(e)) => Err(self.err("PutLogEvents", &e)),
            Ok(Ok(out)) => {
                if let Some(r) = out.rejected_log_events_info() {
                    tracing::warn!(group = %self.shown_group, stream = %self.shown_stream, too_old_end = ?r.too_old_log_event_end_index(), too_new_start = ?r.too_new_log_event_start_index(), expired_end = ?r.expired_log_event_end_index(), "CloudWatch rejected some events of a batch (outside its time window)");
                }
                Ok(())
            }
        }
    }
}
