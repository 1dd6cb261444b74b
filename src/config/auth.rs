//! Private registry credentials from ECS_ENGINE_AUTH_TYPE + ECS_ENGINE_AUTH_DATA,
//! in the two formats the Go agent accepts:
//!
//! - `docker`: `{"https://index.docker.io/v1/":{"username":"u","password":"p","email":"e"}}`
//!   (an entry may give `"auth": base64("user:pass")` instead of username/password);
//! - `dockercfg`: `{"registry":{"auth":"base64(user:pass)","email":"e"}}`; the
//!   newer `{"auths":{...}}` wrapper of `~/.docker/config.json` is also taken.
//!
//! Registry keys are reduced to a [`RegistryHost`] (scheme and path dropped,
//! lowercased, every Docker Hub alias `docker.io`): the one rule by which an
//! image reference's registry finds its credentials. Errors never echo the data.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use serde::Deserialize;

use super::error::ConfigError;

pub(crate) const AUTH_TYPE: &str = "ECS_ENGINE_AUTH_TYPE";
pub(crate) const AUTH_DATA: &str = "ECS_ENGINE_AUTH_DATA";

/// The key Docker Hub credentials are stored under.
pub const DOCKER_HUB: &str = "docker.io";

const DOCKER_HUB_ALIASES: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];

/// A registry as credentials and the plain-HTTP rule key it: `host[:port]`,
/// lowercased (host names have no case, so `Registry.Example.com:5000` and
/// `registry.example.com:5000` are one registry), scheme and path dropped,
/// and every Docker Hub alias `docker.io`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegistryHost(String);

impl RegistryHost {
    /// From a registry name as written in auth data, a URL or an image
    /// reference's domain (`https://index.docker.io/v1/`, `Registry.Example.com:5000/team`).
    pub fn new(registry: &str) -> RegistryHost {
        let lower = registry.trim().to_ascii_lowercase();
        let without_scheme = lower
            .strip_prefix("https://")
            .or_else(|| lower.strip_prefix("http://"))
            .unwrap_or(&lower);
        let host = without_scheme.split('/').next().unwrap_or_default();
        if DOCKER_HUB_ALIASES.contains(&host) {
            RegistryHost(DOCKER_HUB.to_string())
        } else {
            RegistryHost(host.to_string())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The host without its port (`[::1]` keeps its brackets).
    pub fn host(&self) -> &str {
        let s = self.0.as_str();
        if s.starts_with('[') {
            return match s.find(']') {
                Some(i) => &s[..=i],
                None => s,
            };
        }
        match s.rsplit_once(':') {
            Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h,
            _ => s,
        }
    }
}

impl fmt::Display for RegistryHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// Ordering, equality and hashing are those of the inner string, so maps keyed
// by RegistryHost may be read with an already normalized `&str`.
impl Borrow<str> for RegistryHost {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// The registry credentials of ECS_ENGINE_AUTH_DATA, by registry host.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RegistryAuth(BTreeMap<RegistryHost, RegistryCredentials>);

impl RegistryAuth {
    /// Credentials for a registry: the one lookup, for every caller.
    pub fn get(&self, registry: &RegistryHost) -> Option<&RegistryCredentials> {
        self.0.get(registry)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&RegistryHost, &RegistryCredentials)> {
        self.0.iter()
    }
}

impl fmt::Debug for RegistryAuth {
    // Registry and user name only (RegistryCredentials redacts the password).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter()).finish()
    }
}

impl From<BTreeMap<RegistryHost, RegistryCredentials>> for RegistryAuth {
    fn from(m: BTreeMap<RegistryHost, RegistryCredentials>) -> Self {
        RegistryAuth(m)
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
) -> Result<BTreeMap<RegistryHost, RegistryCredentials>, ConfigError> {
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
    let mut origin: BTreeMap<RegistryHost, String> = BTreeMap::new();
    for (registry, creds) in raw {
        let host = RegistryHost::new(&registry);
        if host.as_str().is_empty() {
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
        let norm = |s: &str| RegistryHost::new(s).as_str().to_string();
        assert_eq!(norm("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(norm("index.docker.io"), "docker.io");
        assert_eq!(norm("registry-1.docker.io"), "docker.io");
        assert_eq!(norm("docker.io"), "docker.io");
        assert_eq!(
            norm("HTTP://Reg.Example.com:5000/team/x"),
            "reg.example.com:5000"
        );
        assert_eq!(norm("127.0.0.1:5001"), "127.0.0.1:5001");
        assert_eq!(norm(" quay.io "), "quay.io");
        assert_eq!(norm("LOCALHOST:5001"), "localhost:5001");
    }

    #[test]
    fn host_drops_the_port() {
        assert_eq!(RegistryHost::new("LocalHost:5001").host(), "localhost");
        assert_eq!(RegistryHost::new("[::1]:5001").host(), "[::1]");
        assert_eq!(RegistryHost::new("[::1]").host(), "[::1]");
        assert_eq!(RegistryHost::new("quay.io").host(), "quay.io");
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
