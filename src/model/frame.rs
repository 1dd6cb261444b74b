//! The `{"type", "message"}` envelope shared by ACS and TCS frames.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A frame that could not be turned into a typed message.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("frame is not a JSON envelope with a string \"type\": {0}")]
    Envelope(#[source] serde_json::Error),
    #[error("{type_name} message is malformed at `{path}`: {source}")]
    Message {
        type_name: String,
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

#[derive(Deserialize)]
struct RawFrame {
    #[serde(rename = "type")]
    type_name: String,
    #[serde(default)]
    message: serde_json::Value,
}

#[derive(Serialize)]
struct OutFrame<'a, T: Serialize> {
    #[serde(rename = "type")]
    type_name: &'a str,
    message: &'a T,
}

/// Splits a frame into its type name and (not yet typed) message body.
pub(crate) fn split(text: &str) -> Result<(String, serde_json::Value), DecodeError> {
    let raw: RawFrame = serde_json::from_str(text).map_err(DecodeError::Envelope)?;
    let body = match raw.message {
        // Some senders omit the body of empty messages (e.g. a bare heartbeat ack).
        serde_json::Value::Null => serde_json::Value::Object(Default::default()),
        other => other,
    };
    Ok((raw.type_name, body))
}

/// Types a message body, naming the frame type and the JSON path on failure.
pub(crate) fn typed<T: DeserializeOwned>(
    type_name: &str,
    body: serde_json::Value,
) -> Result<T, DecodeError> {
    serde_path_to_error::deserialize(body).map_err(|e| DecodeError::Message {
        type_name: type_name.to_string(),
        path: e.path().to_string(),
        source: e.into_inner(),
    })
}

pub(crate) fn envelope<T: Serialize>(type_name: &str, message: &T) -> String {
    // Our message types only hold strings, numbers, bools, string-keyed maps and
    // lists, for which serde_json serialization cannot fail.
    serde_json::to_string(&OutFrame { type_name, message })
        .expect("serializing wire types with string-keyed maps cannot fail")
}
