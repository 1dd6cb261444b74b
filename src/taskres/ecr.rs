//! ECR's GetAuthorizationToken for one registry, and its token read as the
//! registry login (Go: agent/ecr client.go and factory.go,
//! dockerauth.extractToken).

use std::time::SystemTime;

use aws_config::{Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use base64::Engine as _;

use super::ecr_cache::Token;
use super::error::ResourceError;
use super::sdk::{sdk_error_text, CALL_TIMEOUT};
use crate::config::RegistryCredentials;
use crate::task::resources::EcrRegistryAuth;

/// The login for `auth`'s registry, asked of ECR with `creds`. The endpoint
/// is the payload's `endpointOverride` when it has one (a bare host gets
/// `https://`, as Go's utils.AddScheme), else the SDK's own (the region's,
/// or AWS_ENDPOINT_URL_ECR / AWS_ENDPOINT_URL).
pub(super) async fn authorization_token(
    base: &SdkConfig,
    creds: SharedCredentialsProvider,
    auth: &EcrRegistryAuth,
) -> Result<Token, ResourceError> {
    let failed = |detail: String| ResourceError::Ecr {
        registry_id: auth.registry_id.clone(),
        region: auth.region.clone(),
        detail,
    };
    let mut conf = aws_sdk_ecr::config::Builder::from(base)
        .region(Region::new(auth.region.clone()))
        .credentials_provider(creds);
    if let Some(endpoint) = &auth.endpoint_override {
        conf = conf.endpoint_url(with_scheme(endpoint));
    }
    // ECR has deprecated registryIds (a token opens every registry the
    // principal may use), but the Go agent still sends it, and moto's token
    // depends on it.
    #[allow(deprecated)]
    let call = aws_sdk_ecr::Client::from_conf(conf.build())
        .get_authorization_token()
        .registry_ids(&auth.registry_id)
        .send();
    let resp = tokio::time::timeout(CALL_TIMEOUT, call)
        .await
        .map_err(|_| failed(format!("no answer in {CALL_TIMEOUT:?}")))?
        .map_err(|e| failed(sdk_error_text(&e)))?;
    // Go: ecrClient.GetAuthorizationToken wants exactly one.
    let [data] = resp.authorization_data() else {
        return Err(failed(format!(
            "unexpected number of results in AuthorizationData ({})",
            resp.authorization_data().len()
        )));
    };
    let token = data
        .authorization_token()
        .ok_or_else(|| failed("AuthorizationData holds no token".into()))?;
    let login = decode_token(token).map_err(failed)?;
    let expires_at = data
        .expires_at()
        .and_then(|t| SystemTime::try_from(*t).ok());
    Ok(Token { login, expires_at })
}

/// An authorization token is base64 of `user:password` (`AWS:...`).
pub(super) fn decode_token(token: &str) -> Result<RegistryCredentials, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .map_err(|e| format!("the authorization token is not base64: {e}"))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| "the authorization token is not user:password text".to_string())?;
    // Go indexes the split's second part without looking (a token without a
    // colon panics the agent); here it is an error.
    let (username, password) = text
        .split_once(':')
        .ok_or_else(|| "the authorization token is not user:password".to_string())?;
    Ok(RegistryCredentials {
        username: username.to_string(),
        password: password.to_string(),
    })
}

fn with_scheme(endpoint: &str) -> String {
    if endpoint.contains("://") {
        endpoint.to_string()
    } else {
        format!("https://{endpoint}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_base64_of_user_and_password() {
        // moto's token for registry 123456789012.
        let login = decode_token("QVdTOjEyMzQ1Njc4OTAxMi1hdXRoLXRva2Vu").unwrap();
        assert_eq!(login.username, "AWS");
        assert_eq!(login.password, "123456789012-auth-token");
        // The password keeps its own colons.
        let t = base64::engine::general_purpose::STANDARD.encode("AWS:a:b");
        assert_eq!(decode_token(&t).unwrap().password, "a:b");
        assert!(decode_token("not base64!").unwrap_err().contains("base64"));
        let t = base64::engine::general_purpose::STANDARD.encode("nocolon");
        assert_eq!(
            decode_token(&t).unwrap_err(),
            "the authorization token is not user:password"
        );
    }

    #[test]
    fn an_endpoint_override_without_scheme_is_https() {
        assert_eq!(with_scheme("ecr.example.test"), "https://ecr.example.test");
        assert_eq!(
            with_scheme("http://127.0.0.1:5002"),
            "http://127.0.0.1:5002"
        );
    }
}
