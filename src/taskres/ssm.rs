//! SSM Parameter Store: GetParameters with decryption, per region, in
//! batches of 10 (the API's limit; Go: ssmsecret MaxBatchNum).

use std::collections::BTreeMap;

use aws_config::{Region, SdkConfig};
use aws_credential_types::Credentials;

use super::error::ResourceError;
use super::sdk::{key, sdk_error_text, CALL_TIMEOUT};
use crate::task::resources::SecretRef;

/// GetParameters takes at most 10 names.
pub(super) const MAX_BATCH: usize = 10;

/// `(key, value)` for each secret, `key` as [`super::key`] makes it.
pub(super) async fn fetch(
    base: &SdkConfig,
    creds: &Credentials,
    secrets: &[&SecretRef],
) -> Result<Vec<(String, String)>, ResourceError> {
    let mut by_region: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for s in secrets {
        let names = by_region.entry(s.region.as_str()).or_default();
        if !names.contains(&s.value_from.as_str()) {
            names.push(&s.value_from);
        }
    }
    let mut out = Vec::new();
    for (region, names) in by_region {
        let conf = aws_sdk_ssm::config::Builder::from(base)
            .region(Region::new(region.to_string()))
            .credentials_provider(creds.clone())
            .build();
        let client = aws_sdk_ssm::Client::from_conf(conf);
        let failed = |detail: String| ResourceError::Ssm {
            region: region.to_string(),
            detail,
        };
        for batch in names.chunks(MAX_BATCH) {
            let call = client
                .get_parameters()
                .set_names(Some(batch.iter().map(|n| n.to_string()).collect()))
                .with_decryption(true)
                .send();
            let resp = tokio::time::timeout(CALL_TIMEOUT, call)
                .await
                .map_err(|_| failed(format!("no answer in {CALL_TIMEOUT:?}")))?
                .map_err(|e| failed(sdk_error_text(&e)))?;
            // Go: extractSSMValues.
            if !resp.invalid_parameters().is_empty() {
                return Err(failed(format!(
                    "invalid parameters: {}",
                    resp.invalid_parameters().join(",")
                )));
            }
            for name in batch {
                // The answer names a parameter as it was asked for (name or
                // ARN); match both so either spelling finds its value.
                let value = resp
                    .parameters()
                    .iter()
                    .find(|p| p.name() == Some(name) || p.arn() == Some(name))
                    .and_then(|p| p.value())
                    .ok_or_else(|| failed(format!("invalid parameters: {name}")))?;
                out.push((key(name, region), value.to_string()));
            }
        }
    }
    Ok(out)
}
