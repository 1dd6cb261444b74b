//! What every handler does with its request: parse the body into its typed
//! shape, page through a list. Apart from the dispatcher, so that handlers
//! and dispatcher do not import each other.

use crate::local::error::{ApiError, ErrorKind};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Parses a request body into its typed shape, naming the member on failure.
pub(crate) fn parse<T: DeserializeOwned>(body: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(body).map_err(|e| {
        let path = e.path().to_string();
        ApiError::new(
            ErrorKind::Serialization,
            format!("Invalid value for '{path}': {}", e.into_inner()),
        )
    })
}

/// `nextToken`/`maxResults` paging over an ordered list.
pub(crate) fn paginate(
    items: Vec<String>,
    next_token: Option<&str>,
    max_results: Option<i64>,
) -> Result<(Vec<String>, Option<String>), ApiError> {
    let start = match next_token {
        None | Some("") => 0,
        Some(t) => t
            .strip_prefix("ecs-local:")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| ApiError::invalid(format!("Invalid nextToken {t:?}.")))?,
    };
    let max = match max_results {
        None => 100,
        Some(m) if (1..=100).contains(&m) => m as usize,
        Some(m) => {
            return Err(ApiError::invalid(format!(
                "maxResults must be between 1 and 100 (got {m})."
            )))
        }
    };
    // A token past the end (the list shrank) gives an empty page; one so
    // large the arithmetic would wrap is not a token ecs-local handed out.
    let end = start
        .checked_add(max)
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "Invalid nextToken {:?}: out of range.",
                next_token.unwrap_or_default()
            ))
        })?
        .min(items.len());
    let page = items
        .get(start..end)
        .map(<[String]>::to_vec)
        .unwrap_or_default();
    let token = (end < items.len()).then(|| format!("ecs-local:{end}"));
    Ok((page, token))
}
