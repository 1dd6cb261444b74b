//! The `{"type", "message"}` envelope shared by ACS and TCS frames.

use serde::de::DeserializeOwned;

use super::folded::{fold_eq, Folded};
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

/// The envelope as Go's `encoding/json` reads it into the agent's
/// `ReceivedMessage{Type string; Message json.RawMessage}`: keys match
/// `type` and `message` case-insensitively (Unicode simple folding, so
/// `"TYPE"` and `"Type"` both do), the last matching key wins, and other
/// keys are ignored. The first entry is kept for the unframed form.
#[derive(Default)]
struct RawFrame {
    type_name: Option<serde_json::Value>,
    message: Option<serde_json::Value>,
    entries: usize,
    /// The first entry, when its value is a string.
    first: Option<(String, String)>,
}

impl<'de> Deserialize<'de> for RawFrame {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawFrame;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawFrame, A::Error> {
                let mut raw = RawFrame::default();
                while let Some(key) = map.next_key::<String>()? {
                    let value: serde_json::Value = map.next_value()?;
                    raw.entries += 1;
                    if raw.entries == 1 {
                        if let serde_json::Value::String(s) = &value {
                            raw.first = Some((key.clone(), s.clone()));
                        }
                    }
                    if fold_eq(&key, "type") {
                        raw.type_name = Some(value);
                    } else if fold_eq(&key, "message") {
                        raw.message = Some(value);
                    }
                }
                Ok(raw)
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Serialize)]
struct OutFrame<'a, T: Serialize> {
    #[serde(rename = "type")]
    type_name: &'a str,
    message: &'a T,
}

/// Splits a frame into its type name and (not yet typed) message body.
///
/// As the Go agent's `wsclient.DecodeData`: a frame without a `type` (or an
/// empty one) may be the unframed error form `{"InvalidInstanceException":
/// "message"}`, one key naming the type with its message as the value.
pub(crate) fn split(text: &str) -> Result<(String, serde_json::Value), DecodeError> {
    let raw: RawFrame = serde_json::from_str(text).map_err(DecodeError::Envelope)?;
    let type_name = match raw.type_name {
        Some(serde_json::Value::String(t)) if !t.is_empty() => t,
        // Go fails to read a type that is not a string, and the unframed
        // form wants string values only: nothing to decode.
        Some(other) if !other.is_null() && !other.is_string() => {
            return Err(DecodeError::Envelope(serde::de::Error::custom(format!(
                "\"type\" is {other}, not a string"
            ))))
        }
        _ => match (raw.entries, raw.first) {
            (1, Some((type_name, message))) => {
                return Ok((type_name, serde_json::json!({ "message": message })))
            }
            _ => {
                return Err(DecodeError::Envelope(serde::de::Error::custom(
                    "no \"type\", and not the {\"<type>\": \"<message>\"} form either",
                )))
            }
        },
    };
    let body = match raw.message {
        // Some senders omit the body of empty messages (e.g. a bare heartbeat ack).
        None | Some(serde_json::Value::Null) => serde_json::Value::Object(Default::default()),
        Some(other) => other,
    };
    Ok((type_name, body))
}

/// Types a message body, naming the frame type and the JSON path on failure.
pub(crate) fn typed<T: DeserializeOwned>(
    type_name: &str,
    body: serde_json::Value,
) -> Result<T, DecodeError> {
    serde_path_to_error::deserialize(Folded(&body)).map_err(|e| DecodeError::Message {
        type_name: type_name.to_string(),
        path: e.path().to_string(),
        source: e.into_inner(),
    })
}

/// Types one part of a message, borrowing it (so that the caller can still
/// read what it can of a part that fails); the error names the JSON path
/// within the part.
pub(crate) fn typed_part<T: DeserializeOwned>(
    part: &serde_json::Value,
) -> Result<T, (String, serde_json::Error)> {
    serde_path_to_error::deserialize(Folded(part))
        .map_err(|e| (e.path().to_string(), e.into_inner()))
}

pub(crate) fn envelope<T: Serialize>(type_name: &str, message: &T) -> String {
    // Our message types only hold strings, numbers, bools, string-keyed maps and
    // lists, for which serde_json serialization cannot fail.
    serde_json::to_string(&OutFrame { type_name, message })
        .expect("serializing wire types with string-keyed maps cannot fail")
}
