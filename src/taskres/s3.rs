//! S3 environment files: GetObject of each file, asked first in the agent's
//! region and, when S3 answers that the bucket lives elsewhere
//! (`x-amz-bucket-region`), once more there (Go asks the bucket's region
//! first: one call more for every file).

use aws_config::{Region, SdkConfig};
use aws_credential_types::Credentials;

use super::error::ResourceError;
use super::sdk::{sdk_error_text, CALL_TIMEOUT};
use crate::task::resources::{parse_env_file, EnvFileRef};

/// An environment file larger than this is refused rather than held in memory.
pub(super) const MAX_ENV_FILE_BYTES: u64 = 10 * 1024 * 1024;

/// The variables of each file, in the definition's order.
pub(super) async fn fetch(
    base: &SdkConfig,
    region: &str,
    creds: &Credentials,
    files: &[EnvFileRef],
) -> Result<Vec<Vec<(String, String)>>, ResourceError> {
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        let failed = |detail: String| ResourceError::EnvFile {
            bucket: f.bucket.clone(),
            key: f.key.clone(),
            detail,
        };
        let text = match get(base, region, creds, f).await {
            Err(Fetch::Elsewhere(bucket_region)) => get(base, &bucket_region, creds, f).await,
            other => other,
        }
        .map_err(|e| match e {
            Fetch::Elsewhere(r) => failed(format!("the bucket is in {r}")),
            Fetch::Failed(detail) => failed(detail),
        })?;
        out.push(parse_env_file(&text));
    }
    Ok(out)
}

enum Fetch {
    /// S3 says the bucket is in this other region.
    Elsewhere(String),
    Failed(String),
}

async fn get(
    base: &SdkConfig,
    region: &str,
    creds: &Credentials,
    f: &EnvFileRef,
) -> Result<String, Fetch> {
    let conf = aws_sdk_s3::config::Builder::from(base)
        .region(Region::new(region.to_string()))
        .credentials_provider(creds.clone())
        .build();
    let call = aws_sdk_s3::Client::from_conf(conf)
        .get_object()
        .bucket(&f.bucket)
        .key(&f.key)
        .send();
    let resp = tokio::time::timeout(CALL_TIMEOUT, call)
        .await
        .map_err(|_| Fetch::Failed(format!("no answer in {CALL_TIMEOUT:?}")))?
        .map_err(|e| {
            let elsewhere = e
                .raw_response()
                .and_then(|r| r.headers().get("x-amz-bucket-region"))
                .filter(|r| *r != region)
                .map(str::to_string);
            match elsewhere {
                Some(r) => Fetch::Elsewhere(r),
                None => Fetch::Failed(sdk_error_text(&e)),
            }
        })?;
    let len = resp.content_length().unwrap_or(0);
    if u64::try_from(len).unwrap_or(0) > MAX_ENV_FILE_BYTES {
        return Err(Fetch::Failed(format!(
            "{len} bytes: environment files are limited to {MAX_ENV_FILE_BYTES} bytes here"
        )));
    }
    let body = tokio::time::timeout(CALL_TIMEOUT, resp.body.collect())
        .await
        .map_err(|_| Fetch::Failed(format!("no answer in {CALL_TIMEOUT:?}")))?
        .map_err(|e| Fetch::Failed(format!("reading the object: {e}")))?
        .into_bytes();
    if body.len() as u64 > MAX_ENV_FILE_BYTES {
        return Err(Fetch::Failed(format!(
            "more than {MAX_ENV_FILE_BYTES} bytes: environment files are limited to that here"
        )));
    }
    String::from_utf8(body.to_vec())
        .map_err(|_| Fetch::Failed("the file is not UTF-8 text".to_string()))
}
