//! Secrets Manager: one GetSecretValue per secret, with the version and
//! JSON key the `valueFrom` suffix names (Go: asmsecret, asm).

use aws_config::{Region, SdkConfig};
use aws_credential_types::Credentials;

use super::error::ResourceError;
use super::sdk::{key, sdk_error_text, CALL_TIMEOUT};
use crate::config::RegistryCredentials;
use crate::task::resources::{
    asm_query, json_key_value, registry_login as parse_login, AsmRegistryAuth, SecretRef,
};

/// `(key, value)` for each secret, `key` as [`super::key`] makes it.
pub(super) async fn fetch(
    base: &SdkConfig,
    creds: &Credentials,
    secrets: &[&SecretRef],
) -> Result<Vec<(String, String)>, ResourceError> {
    let mut out = Vec::with_capacity(secrets.len());
    for s in secrets {
        // Validated when the task was accepted; checked again, not trusted.
        let q = asm_query(&s.value_from).map_err(|detail| ResourceError::Asm {
            secret_id: s.value_from.clone(),
            detail,
        })?;
        let failed = |detail: String| ResourceError::Asm {
            secret_id: q.secret_id.clone(),
            detail,
        };
        let conf = aws_sdk_secretsmanager::config::Builder::from(base)
            .region(Region::new(s.region.clone()))
            .credentials_provider(creds.clone())
            .build();
        let call = aws_sdk_secretsmanager::Client::from_conf(conf)
            .get_secret_value()
            .secret_id(&q.secret_id)
            .set_version_stage(q.version_stage.clone())
            .set_version_id(q.version_id.clone())
            .send();
        let resp = tokio::time::timeout(CALL_TIMEOUT, call)
            .await
            .map_err(|_| failed(format!("no answer in {CALL_TIMEOUT:?}")))?
            .map_err(|e| {
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_not_found_exception())
                {
                    ResourceError::AsmNotFound {
                        secret_id: q.secret_id.clone(),
                    }
                } else {
                    failed(sdk_error_text(&e))
                }
            })?;
        // A binary secret has no string: Go injects "" for it.
        let text = resp.secret_string().unwrap_or_default();
        let value = match &q.json_key {
            None => text.to_string(),
            Some(k) => json_key_value(text, k).map_err(failed)?,
        };
        out.push((key(&s.value_from, &s.region), value));
    }
    Ok(out)
}

/// The registry login in the secret `auth` names.
pub(super) async fn registry_login(
    base: &SdkConfig,
    creds: &Credentials,
    auth: &AsmRegistryAuth,
) -> Result<RegistryCredentials, ResourceError> {
    let failed = |detail: String| ResourceError::AsmRegistryAuth {
        secret_id: auth.credentials_parameter.clone(),
        detail,
    };
    let conf = aws_sdk_secretsmanager::config::Builder::from(base)
        .region(Region::new(auth.region.clone()))
        .credentials_provider(creds.clone())
        .build();
    let call = aws_sdk_secretsmanager::Client::from_conf(conf)
        .get_secret_value()
        .secret_id(&auth.credentials_parameter)
        .send();
    let resp = tokio::time::timeout(CALL_TIMEOUT, call)
        .await
        .map_err(|_| failed(format!("no answer in {CALL_TIMEOUT:?}")))?
        .map_err(|e| failed(sdk_error_text(&e)))?;
    let (username, password) = parse_login(resp.secret_string().unwrap_or_default())
        .map_err(ResourceError::RegistryLogin)?;
    Ok(RegistryCredentials { username, password })
}
