//! Image references as Docker and containerd spell them, normalized so that
//! `busybox` and `docker.io/library/busybox:latest` name the same image.
//! `from_acs` parses a container's image once into an [`ImageRef`]; the
//! registry client and the credentials lookup read the parsed value.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::config::RegistryHost;

/// The registry Docker Hub references resolve to when no domain is given.
pub const DOCKER_HUB_DOMAIN: &str = "docker.io";
/// Where Docker Hub's registry API actually lives.
pub const DOCKER_HUB_REGISTRY: &str = "registry-1.docker.io";

const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

/// A parsed, normalized image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("image reference is empty")]
    Empty,
    #[error("image reference {reference:?}: repository name {name:?} is longer than {MAX_NAME_LEN} characters")]
    NameTooLong { reference: String, name: String },
    #[error("image reference {reference:?}: invalid registry domain {domain:?}")]
    BadDomain { reference: String, domain: String },
    #[error("image reference {reference:?}: invalid repository path component {component:?} (lower-case letters, digits and separators . _ __ - only)")]
    BadPathComponent {
        reference: String,
        component: String,
    },
    #[error("image reference {reference:?}: invalid tag {tag:?} (letters, digits, _ . - only, at most {MAX_TAG_LEN} characters)")]
    BadTag { reference: String, tag: String },
    #[error("image reference {reference:?}: invalid digest {digest:?} (expected sha256: followed by 64 lower-case hex digits)")]
    BadDigest { reference: String, digest: String },
}

impl Reference {
    /// Registry domain as written in the reference (`docker.io` for Docker Hub).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Repository path inside the registry (`library/busybox`).
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// `domain/path`, without tag or digest.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The registry as credentials and the plain-HTTP rule key it
    /// (lowercased, Docker Hub aliases `docker.io`).
    pub fn registry(&self) -> RegistryHost {
        RegistryHost::new(&self.domain)
    }

    /// Host (and port) to talk to for this reference's registry API.
    pub fn registry_host(&self) -> &str {
        if self.domain == DOCKER_HUB_DOMAIN {
            DOCKER_HUB_REGISTRY
        } else {
            &self.domain
        }
    }

    /// What to ask the registry's manifest endpoint for: the digest when pinned, else the tag.
    pub fn object(&self) -> &str {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d,
            (None, Some(t)) => t,
            // parse() always sets one of them; "latest" keeps this total.
            (None, None) => "latest",
        }
    }
}

impl fmt::Display for Reference {
    /// The fully normalized name, also used as the containerd image name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_reference(s)
    }
}

/// A container's image as the task definition names it: the text as written
/// (what task metadata shows) and the parsed reference (what is pulled).
/// Checkpoints keep the text; it is parsed again when they are read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    written: String,
    reference: Reference,
}

impl ImageRef {
    pub fn parse(s: &str) -> Result<ImageRef, ReferenceError> {
        Ok(ImageRef {
            written: s.to_string(),
            reference: parse_reference(s)?,
        })
    }

    /// The image as the task definition wrote it (`busybox`).
    pub fn as_written(&self) -> &str {
        &self.written
    }

    /// The normalized reference (`docker.io/library/busybox:latest`).
    pub fn reference(&self) -> &Reference {
        &self.reference
    }
}

impl fmt::Display for ImageRef {
    /// As written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

impl Serialize for ImageRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.written)
    }
}

impl<'de> Deserialize<'de> for ImageRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ImageRef, D::Error> {
        let s = String::deserialize(d)?;
        ImageRef::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Parse and normalize a reference the way Docker does: a missing domain means
/// Docker Hub, a single-component Hub path gets `library/`, a reference with
/// neither tag nor digest gets `:latest`.
pub fn parse_reference(s: &str) -> Result<Reference, ReferenceError> {
    let reference = s.trim();
    if reference.is_empty() {
        return Err(ReferenceError::Empty);
    }
    let err_ref = || reference.to_string();

    let (rest, digest) = match reference.rsplit_once('@') {
        Some((rest, digest)) => {
            if !valid_digest(digest) {
                return Err(ReferenceError::BadDigest {
                    reference: err_ref(),
                    digest: digest.to_string(),
                });
            }
            (rest, Some(digest.to_string()))
        }
        None => (reference, None),
    };

    // A ':' after the last '/' starts the tag; one before it is a registry port.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => {
            let at = last_slash + i;
            (&rest[..at], Some(rest[at + 1..].to_string()))
        }
        None => (rest, None),
    };
    if let Some(tag) = &tag {
        if !valid_tag(tag) {
            return Err(ReferenceError::BadTag {
                reference: err_ref(),
                tag: tag.clone(),
            });
        }
    }

    let (domain, path) = split_domain(name);
    if !valid_domain(&domain) {
        return Err(ReferenceError::BadDomain {
            reference: err_ref(),
            domain,
        });
    }
    if path.is_empty() {
        return Err(ReferenceError::BadPathComponent {
            reference: err_ref(),
            component: String::new(),
        });
    }
    for component in path.split('/') {
        if !valid_path_component(component) {
            return Err(ReferenceError::BadPathComponent {
                reference: err_ref(),
                component: component.to_string(),
            });
        }
    }
    let full = format!("{domain}/{path}");
    if full.len() > MAX_NAME_LEN {
        return Err(ReferenceError::NameTooLong {
            reference: err_ref(),
            name: full,
        });
    }

    let tag = match (&tag, &digest) {
        (None, None) => Some("latest".to_string()),
        _ => tag,
    };
    Ok(Reference {
        domain,
        path,
        tag,
        digest,
    })
}

fn split_domain(name: &str) -> (String, String) {
    let (domain, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DOCKER_HUB_DOMAIN.to_string(), name.to_string()),
    };
    let domain = if domain == "index.docker.io" {
        DOCKER_HUB_DOMAIN.to_string()
    } else {
        domain
    };
    let path = if domain == DOCKER_HUB_DOMAIN && !path.contains('/') {
        format!("library/{path}")
    } else {
        path
    };
    (domain, path)
}

fn valid_domain(domain: &str) -> bool {
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        // [ipv6]:port
        match rest.split_once(']') {
            Some((addr, tail)) => {
                if addr.is_empty()
                    || !addr
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
                {
                    return false;
                }
                match tail {
                    "" => return true,
                    t => match t.strip_prefix(':') {
                        Some(p) => return valid_port(p),
                        None => return false,
                    },
                }
            }
            None => return false,
        }
    } else {
        match domain.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (domain, None),
        }
    };
    if let Some(p) = port {
        if !valid_port(p) {
            return false;
        }
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn valid_port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit())
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn valid_path_component(c: &str) -> bool {
    let alnum = |ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit();
    let bytes: Vec<char> = c.chars().collect();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        // a separator run: ".", "_", "__" or one or more "-"
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep: String = bytes[start..i].iter().collect();
        let ok = sep == "." || sep == "_" || sep == "__" || sep.chars().all(|ch| ch == '-');
        if !ok {
            return false;
        }
    }
    true
}

/// `[\w][\w.-]{0,127}`
fn valid_tag(t: &str) -> bool {
    let word = |ch: char| ch.is_ascii_alphanumeric() || ch == '_';
    let mut chars = t.chars();
    match chars.next() {
        Some(first) if word(first) => {}
        _ => return false,
    }
    t.len() <= MAX_TAG_LEN && chars.all(|ch| word(ch) || ch == '.' || ch == '-')
}

/// Only sha256 is accepted: it is all registries and containerd use, and it
/// is the only algorithm we can verify.
pub(crate) fn valid_digest(d: &str) -> bool {
    match d.strip_prefix("sha256:") {
        Some(hex) => {
            hex.len() == 64
                && hex
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:7c6a29c4b6c5e4d4d7b6baba82b00f62747c2a445f16fab09774a74a90eb7cd0";

    fn norm(s: &str) -> String {
        parse_reference(s).unwrap().to_string()
    }

    #[test]
    fn docker_hub_normalization() {
        assert_eq!(norm("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(norm("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(norm("library/busybox"), "docker.io/library/busybox:latest");
        assert_eq!(
            norm("amazon/amazon-ecs-agent:v1"),
            "docker.io/amazon/amazon-ecs-agent:v1"
        );
        assert_eq!(
            norm("docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            norm("index.docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        let r = parse_reference("busybox").unwrap();
        assert_eq!(r.registry_host(), "registry-1.docker.io");
        assert_eq!(r.path(), "library/busybox");
        assert_eq!(r.object(), "latest");
    }

    #[test]
    fn host_port_and_nested_paths() {
        let r = parse_reference("127.0.0.1:5000/busybox:latest").unwrap();
        assert_eq!(r.domain(), "127.0.0.1:5000");
        assert_eq!(r.registry_host(), "127.0.0.1:5000");
        assert_eq!(r.path(), "busybox");
        assert_eq!(r.tag(), Some("latest"));
        assert_eq!(r.to_string(), "127.0.0.1:5000/busybox:latest");

        assert_eq!(norm("localhost/a/b/c"), "localhost/a/b/c:latest");
        assert_eq!(norm("localhost:5000/x"), "localhost:5000/x:latest");
        assert_eq!(
            norm("123456789012.dkr.ecr.us-west-2.amazonaws.com/my-app:v1.2"),
            "123456789012.dkr.ecr.us-west-2.amazonaws.com/my-app:v1.2"
        );
        assert_eq!(norm("[::1]:5000/busybox"), "[::1]:5000/busybox:latest");
        // An upper-case first component can only be a domain.
        assert_eq!(norm("Registry/foo"), "Registry/foo:latest");
    }

    #[test]
    fn digests() {
        let r = parse_reference(&format!("busybox@{D}")).unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest(), Some(D));
        assert_eq!(r.object(), D);
        assert_eq!(r.to_string(), format!("docker.io/library/busybox@{D}"));

        let r = parse_reference(&format!("127.0.0.1:5000/busybox:1.0@{D}")).unwrap();
        assert_eq!(r.tag(), Some("1.0"));
        assert_eq!(r.object(), D, "the digest wins over the tag");
        assert_eq!(r.to_string(), format!("127.0.0.1:5000/busybox:1.0@{D}"));
    }

    #[test]
    fn rejects_bad_references() {
        assert_eq!(parse_reference(""), Err(ReferenceError::Empty));
        assert!(matches!(
            parse_reference("BusyBox"),
            Err(ReferenceError::BadPathComponent { .. })
        ));
        assert!(matches!(
            parse_reference("busybox:"),
            Err(ReferenceError::BadTag { .. })
        ));
        assert!(matches!(
            parse_reference("busybox:-x"),
            Err(ReferenceError::BadTag { .. })
        ));
        assert!(matches!(
            parse_reference("busybox@sha256:abc"),
            Err(ReferenceError::BadDigest { .. })
        ));
        assert!(matches!(
            parse_reference("busybox@md5:00"),
            Err(ReferenceError::BadDigest { .. })
        ));
        assert!(matches!(
            parse_reference("a//b"),
            Err(ReferenceError::BadPathComponent { .. })
        ));
        assert!(matches!(
            parse_reference("a/b-"),
            Err(ReferenceError::BadPathComponent { .. })
        ));
        assert!(matches!(
            parse_reference("a/b...c"),
            Err(ReferenceError::BadPathComponent { .. })
        ));
        assert!(matches!(
            parse_reference("host:port/x"),
            Err(ReferenceError::BadDomain { .. })
        ));
        assert!(matches!(
            parse_reference("-bad.com/x"),
            Err(ReferenceError::BadDomain { .. })
        ));
        let long = format!("a/{}", "b".repeat(300));
        assert!(matches!(
            parse_reference(&long),
            Err(ReferenceError::NameTooLong { .. })
        ));
        assert!(matches!(
            parse_reference(&format!("x:{}", "t".repeat(129))),
            Err(ReferenceError::BadTag { .. })
        ));
    }

    #[test]
    fn registry_is_the_credentials_key() {
        let registry = |s: &str| parse_reference(s).unwrap().registry().to_string();
        assert_eq!(registry("busybox"), "docker.io");
        assert_eq!(registry("library/busybox:1"), "docker.io");
        assert_eq!(registry("127.0.0.1:5001/busybox:latest"), "127.0.0.1:5001");
        assert_eq!(registry("localhost/x"), "localhost");
        assert_eq!(
            registry("123.dkr.ecr.us-east-1.amazonaws.com/app"),
            "123.dkr.ecr.us-east-1.amazonaws.com"
        );
        assert_eq!(registry("index.docker.io/library/busybox"), "docker.io");
        assert_eq!(
            registry("registry-1.docker.io/library/busybox"),
            "docker.io"
        );
        // Host names have no case; the reference keeps the spelling.
        let r = parse_reference("Registry.Example.com:5000/app").unwrap();
        assert_eq!(r.registry().as_str(), "registry.example.com:5000");
        assert_eq!(r.domain(), "Registry.Example.com:5000");
        assert_eq!(registry("LOCALHOST:5001/busybox"), "localhost:5001");
        assert_eq!(registry("Registry/foo"), "registry");
    }

    #[test]
    fn image_ref_keeps_the_text_and_checkpoints_it() {
        let i = ImageRef::parse("busybox").unwrap();
        assert_eq!(i.as_written(), "busybox");
        assert_eq!(
            i.reference().to_string(),
            "docker.io/library/busybox:latest"
        );
        let json = serde_json::to_string(&i).unwrap();
        assert_eq!(json, "\"busybox\"");
        assert_eq!(serde_json::from_str::<ImageRef>(&json).unwrap(), i);
        assert!(serde_json::from_str::<ImageRef>("\"BusyBox\"").is_err());
        assert!(ImageRef::parse("").is_err());
    }

    #[test]
    fn separators_in_path_components() {
        assert!(parse_reference("a/b.c_d__e---f").is_ok());
        assert!(parse_reference("a/b___c").is_err());
        assert!(parse_reference("a/b._c").is_err());
    }
}
