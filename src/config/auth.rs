//! Private registry credentials from ECS_ENGINE_AUTH_TYPE + ECS_ENGINE_AUTH_DATA,
//! in the two formats the Go agent accepts:
//!
//! - `docker`: `{"https://index.docker.io/v1/":{"username":"u","password":"p","email":"e"}}`
//!   (an entry may give `"auth": base64("user:pass")` instead of username/password);
//! - `dockercfg`: `{"registry":{"auth":"base64(user:pass)","email":"e"}}`; the
//!   newer `{"auths":{...}}` wrapper of `~/.docker/config.json` is also taken.
//!
//! Registry keys are reduced to a host (scheme and path dropped, lowercased),
//! and every Docker Hub alias becomes `docker.io`. Errors never echo the data.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Deserialize;

use super::error::ConfigError;

pub(crate) const AUTH_TYPE: &str = "ECS_ENGINE_AUTH_TYPE";
pub(crate) const AUTH_DATA: &str = "ECS_ENGINE_AUTH_DATA";

/// The key Docker Hub credentials are stored under.
pub const DOCKER_HUB: &str = "docker.io";

const DOCKER_HUB_ALIASES: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];

/// Reduce a registry name as written in auth data or an image reference
/// (`https://index.docker.io/v1/`, `Registry.Example.com:5000/team`) to the
/// host[:port] used as the credentials key.
pub fn normalize_registry_host(registry: &str) -> String {
    let s = registry.trim();
    let lower = s.to_ascii_lowercase();
    let without_scheme = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .unwrap_or(&lower);
    let host = without_scheme.split('/').next().unwrap_or_default();
    if DOCKER_HUB_ALIASES.contains(&host) {
        DOCKER_HUB.to_string()
    } else {
        host.to_string()
    }
}

/// `docker` format entry; Docker's AuthConfig has more fields (serveraddress,
/// identitytoken, ...) that are ignored, as they are by the Go agent.
#[derive(Deserialize)]
struct DockerEntry {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    auth: Option<String>,
}

/// `dockercfg` format entry.
#[derive(Deserialize)]
struct DockercfgEntry {
    #[serde(default)]
    auth: Option<String>,
}

fn invalid(expected: String) -> ConfigError {
    ConfigError::InvalidSecret {
        variable: AUTH_DATA,
        expected,
    }
}

fn json_error(kind: &str, example: &str, e: &serde_json::Error) -> ConfigError {
    // Only the position: serde's messages can quote the (secret) input.
    invalid(format!(
        "JSON for ECS_ENGINE_AUTH_TYPE={kind}, like {example} (invalid at line {} column {})",
        e.line(),
        e.column()
    ))
}

const DOCKER_EXAMPLE: &str =
    r#"{"https://index.docker.io/v1/":{"username":"u","password":"p","email":"e"}}"#;
const DOCKERCFG_EXAMPLE: &str =
    r#"{"registry.example.com":{"auth":"<base64 of user:pass>","email":"e"}}"#;

/// Credentials for one registry, already resolved from ECS_ENGINE_AUTH_DATA
/// (or, later, ECR / Secrets Manager).
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryCredentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for RegistryCredentials {
    // Never print the secret, not even at trace level.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Parse the pair; both absent gives no credentials. Values are already
/// trimmed and empty ones treated as absent.
pub(crate) fn parse_engine_auth(
    auth_type: Option<&str>,
    auth_data: Option<&str>,
) -> Result<BTreeMap<String, RegistryCredentials>, ConfigError> {
    let (kind, data) = match (auth_type, auth_data) {
        (None, None) => return Ok(BTreeMap::new()),
        (Some(_), None) => {
            return Err(ConfigError::Incomplete {
                set: AUTH_TYPE,
                missing: AUTH_DATA,
            })
        }
        (None, Some(_)) => {
            return Err(ConfigError::Incomplete {
                set: AUTH_DATA,
                missing: AUTH_TYPE,
            })
        }
        (Some(k), Some(d)) => (k, d),
    };
    let raw: Vec<(String, RegistryCredentials)> = match kind {
        "docker" => parse_docker(data)?,
        "dockercfg" => parse_dockercfg(data)?,
        other => {
            return Err(ConfigError::Invalid {
                variable: AUTH_TYPE,
                value: other.to_string(),
                expected: "docker or dockercfg".into(),
            })
        }
    };
    let mut out = BTreeMap::new();
    let mut origin: BTreeMap<String, String> = BTreeMap::new();
    for (registry, creds) in raw {
        let host = normalize_registry_host(&registry);
        if host.is_empty() {
            return Err(invalid(format!(
                "registry keys naming a host; {registry:?} does not"
            )));
        }
        if let Some(first) = origin.get(&host) {
            return Err(invalid(format!(
                "one entry per registry host; {first:?} and {registry:?} both mean {host}"
            )));
        }
        origin.insert(host.clone(), registry);
        out.insert(host, creds);
    }
    Ok(out)
}

fn parse_docker(data: &str) -> Result<Vec<(String, RegistryCredentials)>, ConfigError> {
    let entries: BTreeMap<String, DockerEntry> =
        serde_json::from_str(data).map_err(|e| json_error("docker", DOCKER_EXAMPLE, &e))?;
    entries
        .into_iter()
        .map(|(registry, entry)| {
            let creds = match (entry.username, entry.password, entry.auth) {
                (Some(username), Some(password), _) if !username.is_empty() => {
                    RegistryCredentials { username, password }
                }
                (None, None, Some(auth)) => decode_auth(&registry, &auth)?,
                _ => {
                    return Err(invalid(format!(
                        "for registry {registry:?}: \"username\" and \"password\", or \"auth\" \
                         (base64 of user:pass); format {DOCKER_EXAMPLE}"
                    )))
                }
            };
            Ok((registry, creds))
        })
        .collect()
}

fn parse_dockercfg(data: &str) -> Result<Vec<(String, RegistryCredentials)>, ConfigError> {
    let value: serde_json::Value =
        serde_json::from_str(data).map_err(|e| json_error("dockercfg", DOCKERCFG_EXAMPLE, &e))?;
    // config.json style: {"auths": {...}}. A registry literally named "auths"
    // would have an "auth" member instead, so the two cannot be confused.
    let value = match value {
        serde_json::Value::Object(mut top)
            if top.len() == 1 && top.get("auths").is_some_and(|a| a.get("auth").is_none()) =>
        {
            top.remove("auths").unwrap_or_default()
        }
        other => other,
    };
    let entries: BTreeMap<String, DockercfgEntry> =
        serde_json::from_value(value).map_err(|_| {
            invalid(format!(
                "JSON for ECS_ENGINE_AUTH_TYPE=dockercfg, like {DOCKERCFG_EXAMPLE}"
            ))
        })?;
    entries
        .into_iter()
        .map(|(registry, entry)| {
            let auth = entry.auth.unwrap_or_default();
            let creds = decode_auth(&registry, &auth)?;
            Ok((registry, creds))
        })
        .collect()
}

fn decode_auth(registry: &str, auth: &str) -> Result<RegistryCredentials, ConfigError> {
    let malformed = || {
        invalid(format!(
            "for registry {registry:?}: \"auth\" holding the base64 encoding of user:password"
        ))
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(auth.trim()))
        .map_err(|_| malformed())?;
    let text = String::from_utf8(bytes).map_err(|_| malformed())?;
    let (username, password) = text.split_once(':').ok_or_else(malformed)?;
    if username.is_empty() {
        return Err(malformed());
    }
    Ok(RegistryCredentials {
        username: username.to_string(),
        password: password.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn creds(u: &str, p: &str) -> RegistryCredentials {
        RegistryCredentials {
            username: u.into(),
            password: p.into(),
        }
    }

    fn secret_err(kind: &str, data: &str) -> String {
        let e = parse_engine_auth(Some(kind), Some(data)).unwrap_err();
        assert!(
            matches!(
                e,
                ConfigError::InvalidSecret {
                    variable: AUTH_DATA,
                    ..
                }
            ),
            "{e:?}"
        );
        e.to_string()
    }

    #[test]
    fn normalizes_hosts() {
        assert_eq!(
            normalize_registry_host("https://index.docker.io/v1/"),
            "docker.io"
        );
        assert_eq!(normalize_registry_host("index.docker.io"), "docker.io");
        assert_eq!(normalize_registry_host("registry-1.docker.io"), "docker.io");
        assert_eq!(normalize_registry_host("docker.io"), "docker.io");
        assert_eq!(
            normalize_registry_host("HTTP://Reg.Example.com:5000/team/x"),
            "reg.example.com:5000"
        );
        assert_eq!(normalize_registry_host("127.0.0.1:5001"), "127.0.0.1:5001");
        assert_eq!(normalize_registry_host(" quay.io "), "quay.io");
    }

    #[test]
    fn neither_set_is_empty() {
        assert!(parse_engine_auth(None, None).unwrap().is_empty());
    }

    #[test]
    fn one_without_the_other_names_both() {
        let e = parse_engine_auth(Some("docker"), None).unwrap_err();
        assert_eq!(
            e,
            ConfigError::Incomplete {
                set: AUTH_TYPE,
                missing: AUTH_DATA
            }
        );
        let msg = e.to_string();
        assert!(msg.contains(AUTH_TYPE) && msg.contains(AUTH_DATA), "{msg}");
        let e = parse_engine_auth(None, Some("{}")).unwrap_err();
        let msg = e.to_string();
        assert_eq!(
            msg,
            "ECS_ENGINE_AUTH_DATA is set but ECS_ENGINE_AUTH_TYPE is not: set both or neither"
        );
    }

    #[test]
    fn unknown_type() {
        let e = parse_engine_auth(Some("basic"), Some("{}")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ECS_ENGINE_AUTH_TYPE=\"basic\": expected docker or dockercfg"
        );
    }

    #[test]
    fn docker_format() {
        let data = r#"{"https://index.docker.io/v1/":{"username":"u","password":"p","email":"e"},
                       "127.0.0.1:5001":{"username":"tester","password":"s:e:c"},
                       "quay.io":{"auth":"dXNlcjpwYXNz"}}"#;
        let m = parse_engine_auth(Some("docker"), Some(data)).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m["docker.io"], creds("u", "p"));
        assert_eq!(m["127.0.0.1:5001"], creds("tester", "s:e:c"));
        assert_eq!(m["quay.io"], creds("user", "pass"));
    }

    #[test]
    fn docker_format_errors_do_not_leak() {
        let msg = secret_err("docker", r#"{"r":{"username":"u"}}"#);
        assert!(msg.contains("\"r\"") && msg.contains("username"), "{msg}");
        let msg = secret_err("docker", r#"{"r":{"username":"","password":"hunter2"}}"#);
        assert!(!msg.contains("hunter2"), "{msg}");
        let msg = secret_err("docker", r#"{"r":{"username":"u","password":hunter2}}"#);
        assert!(!msg.contains("hunter2") && msg.contains("column"), "{msg}");
        let msg = secret_err("docker", r#"{"r":"hunter2"}"#);
        assert!(!msg.contains("hunter2"), "{msg}");
        let msg = secret_err("docker", "[]");
        assert!(
            msg.starts_with("ECS_ENGINE_AUTH_DATA=<redacted>: expected JSON"),
            "{msg}"
        );
    }

    #[test]
    fn dockercfg_format() {
        let data = format!(
            r#"{{"registry.example.com":{{"auth":"{}","email":"e"}},"https://index.docker.io/v1/":{{"auth":"{}"}}}}"#,
            b64("alice:pa:ss"),
            b64("bob:pw")
        );
        let m = parse_engine_auth(Some("dockercfg"), Some(&data)).unwrap();
        assert_eq!(m["registry.example.com"], creds("alice", "pa:ss"));
        assert_eq!(m["docker.io"], creds("bob", "pw"));
    }

    #[test]
    fn dockercfg_unpadded_and_auths_wrapper() {
        let unpadded = b64("ab:c").trim_end_matches('=').to_string();
        assert_ne!(unpadded, b64("ab:c"));
        let data = format!(r#"{{"auths":{{"r.io":{{"auth":"{unpadded}"}}}}}}"#);
        let m = parse_engine_auth(Some("dockercfg"), Some(&data)).unwrap();
        assert_eq!(m["r.io"], creds("ab", "c"));
    }

    #[test]
    fn dockercfg_errors() {
        let msg = secret_err("dockercfg", r#"{"r.io":{"auth":"!!notbase64"}}"#);
        assert!(msg.contains("\"r.io\"") && msg.contains("base64"), "{msg}");
        let no_colon = format!(r#"{{"r.io":{{"auth":"{}"}}}}"#, b64("hunter2"));
        let msg = secret_err("dockercfg", &no_colon);
        assert!(!msg.contains("hunter2"), "{msg}");
        let msg = secret_err("dockercfg", r#"{"r.io":{"email":"e"}}"#);
        assert!(msg.contains("base64"), "{msg}");
        secret_err("dockercfg", "not json");
        secret_err("dockercfg", r#"{"r.io":"x"}"#);
    }

    #[test]
    fn aliases_collide() {
        let data = r#"{"docker.io":{"username":"a","password":"b"},
                       "https://index.docker.io/v1/":{"username":"c","password":"d"}}"#;
        let msg = secret_err("docker", data);
        assert!(msg.contains("both mean docker.io"), "{msg}");
    }

    #[test]
    fn empty_registry_key() {
        let msg = secret_err("docker", r#"{"https://":{"username":"a","password":"b"}}"#);
        assert!(msg.contains("naming a host"), "{msg}");
    }
}
