//! Which images a task pulls with ECR authentication, and the
//! `registryAuthentication` sent for them.
//!
//! Amazon ECS sends one for an image whose host is a private ECR registry,
//! `<registry id>.dkr.ecr.<region>.amazonaws.com[.cn]` (or `dkr.ecr-fips`):
//! type `ecr` with `ecrAuthData` of the registry id and region the host
//! names, and `useExecutionRole` set when the task has an execution role
//! (api-2.json `ECRAuthData`; the Go agent's checkpoint fixture
//! agent/statemanager/testdata/v23/firelens). No ECR host can be served on
//! a loopback address, so `--ecr-registry HOST=REGISTRY_ID` names a registry
//! ecs-local treats as that ECR registry in its own region: images on HOST
//! get the same `registryAuthentication`, and the agent asks ECR (or its
//! stand-in, moto) for the token.
//!
//! `ecrAuthData.endpointOverride` is ECR's API endpoint for that token
//! instead of the region's (the Go agent's ECRAuthData `EndpointOverride`,
//! honoured by its ECR client factory). A mapping may name one,
//! `HOST=REGISTRY_ID,ENDPOINT`, and its payloads then carry it, so that
//! the agent's use of it can be tested end to end.

use crate::model::acs;

/// One `--ecr-registry` mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcrMapping {
    /// `HOST` or `HOST:PORT` of the registry, as image names spell it.
    pub host: String,
    pub registry_id: String,
    /// Sent as `ecrAuthData.endpointOverride`.
    pub endpoint: Option<String>,
}

/// `--ecr-registry` mappings.
pub type EcrRegistries = [EcrMapping];

/// Parses one `--ecr-registry HOST=REGISTRY_ID[,ENDPOINT]`.
pub fn parse_mapping(v: &str) -> Result<EcrMapping, String> {
    let (host, rest) = v.split_once('=').ok_or_else(|| {
        format!("{v:?}: expected HOST=REGISTRY_ID[,ENDPOINT] (e.g. 127.0.0.1:5003=123456789012)")
    })?;
    let (id, endpoint) = match rest.split_once(',') {
        Some((id, endpoint)) => {
            if endpoint.is_empty() || endpoint.chars().any(char::is_whitespace) {
                return Err(format!(
                    "{v:?}: {endpoint:?} is not an endpoint (a URL such as http://127.0.0.1:5000)"
                ));
            }
            (id, Some(endpoint.to_string()))
        }
        None => (rest, None),
    };
    if host.is_empty() || host.contains('/') {
        return Err(format!(
            "{v:?}: {host:?} is not a registry host (HOST or HOST:PORT)"
        ));
    }
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "{v:?}: {id:?} is not a registry id (an AWS account id, digits)"
        ));
    }
    Ok(EcrMapping {
        host: host.to_string(),
        registry_id: id.to_string(),
        endpoint,
    })
}

/// The registry host of an image reference (Docker's rule: the first path
/// part when it has a `.` or `:`, or is `localhost`).
fn registry_host(image: &str) -> Option<&str> {
    let (first, _) = image.split_once('/')?;
    (first.contains('.') || first.contains(':') || first == "localhost").then_some(first)
}

/// `(registry id, region)` of an ECR registry host.
fn ecr_host(host: &str) -> Option<(&str, &str)> {
    let parts: Vec<&str> = host.split('.').collect();
    let [id, "dkr", ecr, region, "amazonaws", "com", rest @ ..] = parts.as_slice() else {
        return None;
    };
    let known = matches!(*ecr, "ecr" | "ecr-fips") && matches!(rest, [] | ["cn"]);
    (known && !id.is_empty() && !region.is_empty()).then_some((*id, *region))
}

/// `(registry id, region, endpoint override)` of the ECR registry `image`
/// is in: a real ECR host's, or a mapped host's in ecs-local's `region`.
fn ecr_registry<'a>(
    image: &'a str,
    region: &'a str,
    mapped: &'a EcrRegistries,
) -> Option<(&'a str, &'a str, Option<&'a str>)> {
    let host = registry_host(image)?;
    match ecr_host(host) {
        Some((id, region)) => Some((id, region, None)),
        None => {
            let m = mapped.iter().find(|m| m.host == host)?;
            Some((m.registry_id.as_str(), region, m.endpoint.as_deref()))
        }
    }
}

/// Whether Amazon ECS would take `image` for a private ECR image (with the
/// `--ecr-registry` mappings): what `requiresAttributes` and the payload's
/// `registryAuthentication` follow.
pub fn is_ecr_image(image: &str, mapped: &EcrRegistries) -> bool {
    ecr_registry(image, "", mapped).is_some()
}

/// The `registryAuthentication` Amazon ECS sends for `image`, if any.
pub fn registry_auth(
    image: &str,
    region: &str,
    mapped: &EcrRegistries,
    execution_role: bool,
) -> Option<acs::RegistryAuthenticationData> {
    let (id, region, endpoint) = ecr_registry(image, region, mapped)?;
    Some(acs::RegistryAuthenticationData {
        kind: Some("ecr".to_string()),
        ecr_auth_data: Some(acs::EcrAuthData {
            registry_id: Some(id.to_string()),
            region: Some(region.to_string()),
            use_execution_role: Some(execution_role),
            endpoint_override: endpoint.map(str::to_string),
        }),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(auth: Option<acs::RegistryAuthenticationData>) -> serde_json::Value {
        serde_json::to_value(auth).unwrap()
    }

    #[test]
    fn ecr_hosts_get_ecr_auth_data_as_amazon_ecs_sends_it() {
        let got = registry_auth(
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1",
            "us-east-1",
            &[],
            true,
        );
        assert_eq!(
            wire(got),
            serde_json::json!({"type": "ecr", "ecrAuthData": {
                "registryId": "123456789012", "region": "eu-west-1", "useExecutionRole": true}})
        );
        let cn = registry_auth(
            "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app",
            "us-east-1",
            &[],
            false,
        );
        assert_eq!(
            wire(cn)["ecrAuthData"],
            serde_json::json!({"registryId": "123456789012", "region": "cn-north-1", "useExecutionRole": false})
        );
        for plain in [
            "busybox",
            "library/busybox:latest",
            "127.0.0.1:5000/busybox",
            "public.ecr.aws/docker/library/busybox",
            "123456789012.dkr.ecr.us-east-1.example.com/app",
        ] {
            assert_eq!(
                registry_auth(plain, "us-east-1", &[], true),
                None,
                "{plain}"
            );
        }
    }

    #[test]
    fn a_mapped_host_is_that_ecr_registry_in_ecs_locals_region() {
        let mapped = [parse_mapping("127.0.0.1:5003=123456789012").unwrap()];
        let got = registry_auth("127.0.0.1:5003/busybox:latest", "us-west-2", &mapped, true);
        assert_eq!(
            wire(got),
            serde_json::json!({"type": "ecr", "ecrAuthData": {
                "registryId": "123456789012", "region": "us-west-2", "useExecutionRole": true}})
        );
        assert_eq!(
            registry_auth("127.0.0.1:5000/busybox", "us-west-2", &mapped, true),
            None
        );
        assert!(is_ecr_image("127.0.0.1:5003/busybox:latest", &mapped));
        // With an endpoint: sent as the endpoint override.
        let with = [parse_mapping("127.0.0.1:5003=123456789012,http://127.0.0.1:5000").unwrap()];
        assert_eq!(
            wire(registry_auth("127.0.0.1:5003/b", "us-west-2", &with, false))["ecrAuthData"],
            serde_json::json!({"registryId": "123456789012", "region": "us-west-2",
                "useExecutionRole": false, "endpointOverride": "http://127.0.0.1:5000"})
        );
        assert!(!is_ecr_image("127.0.0.1:5000/busybox", &mapped));
        assert!(is_ecr_image(
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1",
            &[]
        ));
    }

    #[test]
    fn a_bad_mapping_is_refused_naming_the_part() {
        for (v, want) in [
            ("127.0.0.1:5003", "expected HOST=REGISTRY_ID"),
            ("=1", "is not a registry host"),
            ("a/b=1", "is not a registry host"),
            ("h=", "is not a registry id"),
            ("h=12ab", "is not a registry id"),
            ("h=1,", "is not an endpoint"),
            ("h=1,http://a b", "is not an endpoint"),
            ("h=x,http://e", "is not a registry id"),
        ] {
            let e = parse_mapping(v).unwrap_err();
            assert!(e.contains(want), "{v}: {e}");
        }
    }
}
