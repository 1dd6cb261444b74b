//! The registry side of a pull: OCI distribution API over HTTP(S), with
//! anonymous, Basic and Bearer-token auth, and digest-checked downloads.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::error::{error_chain, RegistryError};
use super::manifest::{Descriptor, MANIFEST_ACCEPT, MAX_MANIFEST_BYTES};
use crate::config::{RegistryCredentials, RegistryHost};
use crate::task::image_ref::Reference;

/// Error bodies are only read this far: enough for any registry's JSON error.
const MAX_ERROR_BODY: u64 = 64 << 10;
const MAX_TOKEN_BODY: u64 = 1 << 20;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const USER_AGENT: &str = concat!("ecs-agent-rs/", env!("CARGO_PKG_VERSION"));

/// A manifest or index as fetched, with its verified digest.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    pub bytes: Bytes,
    pub content_type: Option<String>,
    pub digest: String,
}

#[derive(Debug, Clone)]
enum Auth {
    Anonymous,
    Basic,
    Bearer(String),
}

/// One HTTP client for every pull. Building one parses the system's root
/// certificates: per pull that cost every task start milliseconds of CPU and
/// kept memory growing with the number of tasks (see BENCHMARKS.md).
fn shared_http() -> Result<reqwest::Client, reqwest::Error> {
    // A pooled connection is driven by a task on the runtime that opened it, so a
    // client must never outlive or cross runtimes: keep one per runtime id (the
    // agent has one runtime; tests and embedders may have many in turn).
    static HTTP: std::sync::Mutex<Option<(tokio::runtime::Id, reqwest::Client)>> =
        std::sync::Mutex::new(None);
    let runtime = tokio::runtime::Handle::try_current().ok().map(|h| h.id());
    let mut slot = HTTP.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let (Some(id), Some((cached_id, client))) = (runtime, slot.as_ref()) {
        if *cached_id == id {
            return Ok(client.clone());
        }
    }
    let client = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        // No read timeout here: a pull's own inactivity timeout
        // (ECS_IMAGE_PULL_INACTIVITY_TIMEOUT, see `RegistryClient::began`)
        // bounds every wait for the registry once the pull has begun.
        .connect_timeout(CONNECT_TIMEOUT)
        .build()?;
    if let Some(id) = runtime {
        *slot = Some((id, client.clone()));
    }
    Ok(client)
}

/// One repository on one registry, with the auth state reached so far.
pub struct RegistryClient {
    http: reqwest::Client,
    base: String,
    host: String,
    path: String,
    reference: String,
    credentials: Option<RegistryCredentials>,
    auth: Mutex<Auth>,
    /// ECS_IMAGE_PULL_INACTIVITY_TIMEOUT: the longest wait for the
    /// registry's next bytes (response headers or body) once `began`.
    inactivity: Duration,
    /// Set once the pull has begun (its manifest arrived), as the Go agent
    /// starts its inactivity timer on Docker's first progress line; before
    /// that only the caller's begin timeout applies.
    began: AtomicBool,
}

impl RegistryClient {
    pub fn new(
        reference: &Reference,
        credentials: Option<RegistryCredentials>,
        insecure_registries: &[String],
        inactivity: Duration,
    ) -> Result<RegistryClient, RegistryError> {
        let host = reference.registry_host().to_string();
        let scheme = if plain_http(&reference.registry(), insecure_registries) {
            "http"
        } else {
            "https"
        };
        let http = shared_http().map_err(|e| RegistryError::Connect {
            registry: host.clone(),
            cause: error_chain(&e),
        })?;
        Ok(RegistryClient {
            http,
            base: format!("{scheme}://{host}"),
            host,
            path: reference.path().to_string(),
            reference: reference.to_string(),
            credentials,
            auth: Mutex::new(Auth::Anonymous),
            inactivity,
            began: AtomicBool::new(false),
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// The pull has begun: from now on every wait for the registry is
    /// bounded by the inactivity timeout.
    pub fn began(&self) {
        self.began.store(true, Ordering::Relaxed);
    }

    /// The inactivity bound, once the pull has begun.
    fn patience(&self) -> Option<Duration> {
        self.began
            .load(Ordering::Relaxed)
            .then_some(self.inactivity)
    }

    /// Await `fut`, a wait for the registry, at most the inactivity timeout
    /// once the pull has begun.
    async fn wait<T>(&self, fut: impl Future<Output = T>) -> Result<T, RegistryError> {
        within(self.patience(), &self.host, fut).await
    }

    /// Fetch a manifest or index by tag or digest. The digest is checked
    /// against `expected` when given (pinned references, index entries), else
    /// against the registry's `Docker-Content-Digest` header when it sends one.
    pub async fn manifest(
        &self,
        object: &str,
        expected: Option<&str>,
    ) -> Result<FetchedManifest, RegistryError> {
        let url = format!("{}/v2/{}/manifests/{}", self.base, self.path, object);
        let resp = self.get(&url, Some(MANIFEST_ACCEPT)).await?;
        let content_type = header_str(resp.headers(), CONTENT_TYPE.as_str());
        let announced = header_str(resp.headers(), "docker-content-digest");
        let bytes = read_limited(resp, MAX_MANIFEST_BYTES, self.patience(), &self.host)
            .await
            .map_err(|e| self.body_error(e, "manifest"))?;
        let digest = super::manifest::sha256_digest(&bytes);
        let want = expected.or(announced.as_deref().filter(|d| d.starts_with("sha256:")));
        if let Some(want) = want {
            if want != digest {
                return Err(RegistryError::DigestMismatch {
                    reference: self.reference.clone(),
                    registry: self.host.clone(),
                    expected: want.to_string(),
                    actual: digest,
                });
            }
        }
        tracing::debug!(image = %self.reference, %digest, bytes = bytes.len(), "fetched manifest");
        Ok(FetchedManifest {
            bytes,
            content_type,
            digest,
        })
    }

    /// Fetch a small blob (an image config) whole, checking size and digest.
    pub async fn small_blob(&self, desc: &Descriptor, limit: u64) -> Result<Bytes, RegistryError> {
        let mut stream = Box::pin(self.blob_stream(desc).await?);
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            if (out.len() + chunk.len()) as u64 > limit {
                return Err(RegistryError::bad_image(
                    &self.reference,
                    format!("blob {} is larger than {limit} bytes", desc.digest),
                ));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(out))
    }

    /// Stream a blob. The stream checks size and digest as it goes and ends
    /// with an error item, not a clean end, if either is wrong: a consumer
    /// that stores what it reads must not commit before the stream has ended.
    pub async fn blob_stream(
        &self,
        desc: &Descriptor,
    ) -> Result<impl Stream<Item = Result<Bytes, RegistryError>> + Send + 'static, RegistryError>
    {
        let url = format!("{}/v2/{}/blobs/{}", self.base, self.path, desc.digest);
        let resp = self.get(&url, None).await?;
        let expected_size = u64::try_from(desc.size).unwrap_or(0);
        let verifier = Verifier {
            hasher: Sha256::new(),
            seen: 0,
            expected_size,
            expected_digest: desc.digest.clone(),
            reference: self.reference.clone(),
            registry: self.host.clone(),
        };
        let registry = self.host.clone();
        let patience = self.patience();
        let inner = resp.bytes_stream();
        // Chain a final item that runs the digest check once the body has ended.
        let state = (Box::pin(inner), Some(verifier), false);
        let stream = futures_util::stream::unfold(state, move |(mut inner, mut verifier, done)| {
            let registry = registry.clone();
            async move {
                if done {
                    return None;
                }
                let v = verifier.as_mut()?;
                // Only the wait for the registry's next bytes is timed, not
                // the time the consumer takes to store what it read.
                let next = match within(patience, &registry, inner.next()).await {
                    Ok(next) => next,
                    Err(e) => return Some((Err(e), (inner, verifier, true))),
                };
                match next {
                    Some(Ok(chunk)) => match v.update(&chunk) {
                        Ok(()) => Some((Ok(chunk), (inner, verifier, false))),
                        Err(e) => Some((Err(e), (inner, verifier, true))),
                    },
                    Some(Err(e)) => Some((Err(v.broken(&e)), (inner, verifier, true))),
                    None => {
                        let v = verifier.take()?;
                        match v.finish() {
                            Ok(()) => None,
                            Err(e) => Some((Err(e), (inner, None, true))),
                        }
                    }
                }
            }
        });
        Ok(stream)
    }

    /// GET with the current auth; on a 401, answer the challenge once and retry.
    async fn get(
        &self,
        url: &str,
        accept: Option<&str>,
    ) -> Result<reqwest::Response, RegistryError> {
        let mut challenged = false;
        loop {
            let auth = self.current_auth();
            let mut req = self.http.get(url);
            if let Some(a) = accept {
                req = req.header(ACCEPT, a);
            }
            req = match (&auth, &self.credentials) {
                (Auth::Bearer(token), _) => req.bearer_auth(token),
                (Auth::Basic, Some(c)) => req.basic_auth(&c.username, Some(&c.password)),
                _ => req,
            };
            tracing::debug!(image = %self.reference, url, "registry request");
            let resp = self
                .wait(req.send())
                .await?
                .map_err(|e| RegistryError::Connect {
                    registry: self.host.clone(),
                    cause: error_chain(&e),
                })?;
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED && !challenged {
                challenged = true;
                let challenges: Vec<Challenge> = resp
                    .headers()
                    .get_all(WWW_AUTHENTICATE)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .flat_map(parse_www_authenticate)
                    .collect();
                if self.answer(&challenges).await? {
                    continue;
                }
            }
            if status.is_success() {
                return Ok(resp);
            }
            return Err(self.status_error(resp).await);
        }
    }

    fn current_auth(&self) -> Auth {
        match self.auth.lock() {
            Ok(a) => a.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_auth(&self, auth: Auth) {
        match self.auth.lock() {
            Ok(mut a) => *a = auth,
            Err(poisoned) => *poisoned.into_inner() = auth,
        }
    }

    /// Set up auth for a challenge. Returns false when there is nothing new to
    /// try, so the 401 goes back to the user as it is.
    async fn answer(&self, challenges: &[Challenge]) -> Result<bool, RegistryError> {
        if let Some(bearer) = challenges
            .iter()
            .find(|c| c.scheme.eq_ignore_ascii_case("bearer"))
        {
            let token = self.fetch_token(bearer).await?;
            self.set_auth(Auth::Bearer(token));
            return Ok(true);
        }
        let basic = challenges
            .iter()
            .any(|c| c.scheme.eq_ignore_ascii_case("basic"));
        if basic && self.credentials.is_some() && !matches!(self.current_auth(), Auth::Basic) {
            self.set_auth(Auth::Basic);
            return Ok(true);
        }
        Ok(false)
    }

    async fn fetch_token(&self, challenge: &Challenge) -> Result<String, RegistryError> {
        let realm = challenge.params.get("realm").cloned().unwrap_or_default();
        let token_err = |message: String| RegistryError::Token {
            reference: self.reference.clone(),
            realm: realm.clone(),
            message,
        };
        let mut url = Url::parse(&realm).map_err(|e| {
            token_err(format!(
                "the registry's Bearer challenge has an invalid realm: {e}"
            ))
        })?;
        if url.scheme() != "https" && url.scheme() != "http" {
            return Err(token_err(
                "the registry's Bearer challenge names a non-HTTP realm".to_string(),
            ));
        }
        {
            let mut q = url.query_pairs_mut();
            if let Some(service) = challenge.params.get("service") {
                q.append_pair("service", service);
            }
            q.append_pair("scope", &format!("repository:{}:pull", self.path));
        }
        let mut req = self.http.get(url);
        if let Some(c) = &self.credentials {
            req = req.basic_auth(&c.username, Some(&c.password));
        }
        let resp = self
            .wait(req.send())
            .await?
            .map_err(|e| token_err(error_chain(&e)))?;
        let status = resp.status();
        let body = read_limited(resp, MAX_TOKEN_BODY, self.patience(), &self.host)
            .await
            .map_err(|e| match e {
                BodyError::Inactive(e) => e,
                other => token_err(error_chain(&other)),
            })?;
        if !status.is_success() {
            return Err(token_err(format!(
                "{} (HTTP {})",
                error_message(status, &body),
                status.as_u16()
            )));
        }
        #[derive(Deserialize)]
        struct TokenResponse {
            #[serde(default)]
            token: Option<String>,
            #[serde(default)]
            access_token: Option<String>,
        }
        let parsed: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| token_err(format!("invalid token response: {e}")))?;
        parsed
            .token
            .or(parsed.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| token_err("token response holds no token".to_string()))
    }

    async fn status_error(&self, resp: reqwest::Response) -> RegistryError {
        let status = resp.status();
        let body = read_limited(resp, MAX_ERROR_BODY, self.patience(), &self.host)
            .await
            .unwrap_or_default();
        RegistryError::Registry {
            reference: self.reference.clone(),
            registry: self.host.clone(),
            status: status.as_u16(),
            message: error_message(status, &body),
        }
    }

    fn body_error(&self, e: BodyError, what: &str) -> RegistryError {
        match e {
            BodyError::TooLarge(limit) => RegistryError::bad_image(
                &self.reference,
                format!("{what} is larger than {limit} bytes"),
            ),
            BodyError::Read(e) => RegistryError::Connect {
                registry: self.host.clone(),
                cause: format!("reading {what}: {}", error_chain(&e)),
            },
            BodyError::Inactive(e) => e,
        }
    }
}

/// Await `fut` for at most `patience`, if given; past it, the pull is
/// inactive.
async fn within<T>(
    patience: Option<Duration>,
    registry: &str,
    fut: impl Future<Output = T>,
) -> Result<T, RegistryError> {
    let Some(after) = patience else {
        return Ok(fut.await);
    };
    tokio::time::timeout(after, fut).await.map_err(|_| {
        tracing::warn!(
            registry,
            timeout_ms = after.as_millis() as u64,
            "inactivity time exceeded timeout while pulling image"
        );
        RegistryError::Inactive {
            registry: registry.to_string(),
            after,
        }
    })
}

struct Verifier {
    hasher: Sha256,
    seen: u64,
    expected_size: u64,
    expected_digest: String,
    reference: String,
    registry: String,
}

impl Verifier {
    fn update(&mut self, chunk: &[u8]) -> Result<(), RegistryError> {
        self.seen += chunk.len() as u64;
        if self.seen > self.expected_size {
            return Err(self.size_error());
        }
        self.hasher.update(chunk);
        Ok(())
    }

    fn finish(self) -> Result<(), RegistryError> {
        if self.seen != self.expected_size {
            return Err(self.size_error());
        }
        let actual = format!("sha256:{}", hex::encode(self.hasher.finalize()));
        if actual != self.expected_digest {
            return Err(RegistryError::DigestMismatch {
                reference: self.reference,
                registry: self.registry,
                expected: self.expected_digest,
                actual,
            });
        }
        Ok(())
    }

    /// The body broke off (connection closed or reset) before its end.
    fn broken(&self, e: &reqwest::Error) -> RegistryError {
        RegistryError::Truncated {
            reference: self.reference.clone(),
            registry: self.registry.clone(),
            digest: self.expected_digest.clone(),
            received: self.seen,
            expected: self.expected_size,
            cause: error_chain(e),
        }
    }

    fn size_error(&self) -> RegistryError {
        RegistryError::SizeMismatch {
            reference: self.reference.clone(),
            registry: self.registry.clone(),
            digest: self.expected_digest.clone(),
            expected: self.expected_size,
            actual: self.seen,
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum BodyError {
    #[error("body is larger than {0} bytes")]
    TooLarge(u64),
    #[error("reading body: {0}")]
    Read(#[source] reqwest::Error),
    #[error(transparent)]
    Inactive(RegistryError),
}

async fn read_limited(
    mut resp: reqwest::Response,
    limit: u64,
    patience: Option<Duration>,
    registry: &str,
) -> Result<Bytes, BodyError> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge(limit));
    }
    let mut out = Vec::new();
    while let Some(chunk) = within(patience, registry, resp.chunk())
        .await
        .map_err(BodyError::Inactive)?
        .map_err(BodyError::Read)?
    {
        if (out.len() + chunk.len()) as u64 > limit {
            return Err(BodyError::TooLarge(limit));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(out))
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Loopback registries and the ones the operator listed are spoken to in
/// plain HTTP; everything else over TLS. Host names compare without case.
pub fn plain_http(registry: &RegistryHost, insecure_registries: &[String]) -> bool {
    let host = registry.host();
    if matches!(host, "127.0.0.1" | "localhost" | "::1" | "[::1]") {
        return true;
    }
    insecure_registries.iter().any(|r| {
        let r = RegistryHost::new(r);
        // An entry without a port stands for every port of its host.
        r == *registry || (r.host() == r.as_str() && r.host() == host)
    })
}

/// One `WWW-Authenticate` challenge: scheme and its parameters (keys lower-cased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: HashMap<String, String>,
}

/// Parse a `WWW-Authenticate` header value (RFC 7235): one or more challenges,
/// each a scheme followed by comma-separated `key=value` or `key="quoted"` params.
pub fn parse_www_authenticate(value: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let chars: Vec<char> = value.chars().collect();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < chars.len() && (chars[*i].is_whitespace() || chars[*i] == ',') {
            *i += 1;
        }
    };
    let is_token = |c: char| !c.is_whitespace() && c != ',' && c != '=' && c != '"';
    loop {
        skip_ws(&mut i);
        if i >= chars.len() {
            break;
        }
        // A token: either a new scheme or a parameter name of the current challenge.
        let start = i;
        while i < chars.len() && is_token(chars[i]) {
            i += 1;
        }
        let token: String = chars[start..i].iter().collect();
        let mut j = i;
        while j < chars.len() && chars[j] == ' ' {
            j += 1;
        }
        let is_param = j < chars.len() && chars[j] == '=' && !out.is_empty() && {
            // "token68=" style values end a scheme; a param is key=value.
            let mut k = j + 1;
            while k < chars.len() && chars[k] == '=' {
                k += 1;
            }
            k == j + 1
        };
        if !is_param {
            if token.is_empty() {
                i += 1;
                continue;
            }
            out.push(Challenge {
                scheme: token,
                params: HashMap::new(),
            });
            continue;
        }
        i = j + 1;
        while i < chars.len() && chars[i] == ' ' {
            i += 1;
        }
        let mut val = String::new();
        if i < chars.len() && chars[i] == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    i += 1;
                }
                val.push(chars[i]);
                i += 1;
            }
            i += 1;
        } else {
            while i < chars.len() && chars[i] != ',' && !chars[i].is_whitespace() {
                val.push(chars[i]);
                i += 1;
            }
        }
        if let Some(c) = out.last_mut() {
            c.params.insert(token.to_ascii_lowercase(), val);
        }
    }
    out
}

/// The registry's own words for a failure: the `errors` array of the
/// distribution spec, rendered like Docker does (`unauthorized: authentication required`).
pub fn error_message(status: StatusCode, body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        #[serde(default)]
        errors: Vec<ErrorItem>,
        #[serde(default)]
        details: Option<String>,
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        error: Option<serde_json::Value>,
    }
    #[derive(Deserialize)]
    struct ErrorItem {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    if let Ok(parsed) = serde_json::from_slice::<ErrorBody>(body) {
        let items: Vec<String> = parsed
            .errors
            .iter()
            .map(|e| {
                let code = e.code.to_ascii_lowercase().replace('_', " ");
                match (code.is_empty(), e.message.is_empty()) {
                    (true, _) => e.message.clone(),
                    (false, true) => code,
                    (false, false) if e.message.eq_ignore_ascii_case(&code) => code,
                    (false, false) => format!("{code}: {}", e.message),
                }
            })
            .filter(|s| !s.is_empty())
            .collect();
        if !items.is_empty() {
            return items.join("; ");
        }
        let other = parsed
            .details
            .or(parsed.message)
            .or(parsed.error.map(|e| match e {
                serde_json::Value::String(s) => s,
                v => v.to_string(),
            }));
        if let Some(m) = other.filter(|m| !m.is_empty()) {
            return m;
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if !text.is_empty() && !text.starts_with('<') && text.len() <= 300 {
        return text.to_string();
    }
    let reason = status
        .canonical_reason()
        .unwrap_or("error")
        .to_ascii_lowercase();
    if status == StatusCode::UNAUTHORIZED {
        return "unauthorized: authentication required".to_string();
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_hub_bearer_challenge() {
        let c = parse_www_authenticate(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "Bearer");
        assert_eq!(c[0].params["realm"], "https://auth.docker.io/token");
        assert_eq!(c[0].params["service"], "registry.docker.io");
        assert_eq!(c[0].params["scope"], "repository:library/busybox:pull");
    }

    #[test]
    fn parses_basic_and_odd_spacing_and_quoting() {
        let c = parse_www_authenticate(r#"Basic realm="ecs-agent-testenv""#);
        assert_eq!(c[0].scheme, "Basic");
        assert_eq!(c[0].params["realm"], "ecs-agent-testenv");

        let c = parse_www_authenticate(
            r#"Bearer  Realm = "https://x/token" , service=reg.example ,scope="repository:a/b:pull,push", error="insufficient_scope", x="a\"b""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].params["realm"], "https://x/token");
        assert_eq!(c[0].params["service"], "reg.example");
        assert_eq!(c[0].params["scope"], "repository:a/b:pull,push");
        assert_eq!(c[0].params["error"], "insufficient_scope");
        assert_eq!(c[0].params["x"], "a\"b");
    }

    #[test]
    fn parses_several_challenges_in_one_header() {
        let c = parse_www_authenticate(r#"Basic realm="a", Bearer realm="https://t", service="s""#);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].scheme, "Basic");
        assert_eq!(c[0].params["realm"], "a");
        assert_eq!(c[1].scheme, "Bearer");
        assert_eq!(c[1].params["realm"], "https://t");
        assert_eq!(c[1].params["service"], "s");
        assert!(parse_www_authenticate("").is_empty());
        assert_eq!(
            parse_www_authenticate("Negotiate abc==")[0].scheme,
            "Negotiate"
        );
    }

    #[test]
    fn renders_registry_errors_like_docker() {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"nope"}}]}"#;
        assert_eq!(
            error_message(StatusCode::NOT_FOUND, body),
            "manifest unknown"
        );
        let body = br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[]}]}"#;
        assert_eq!(
            error_message(StatusCode::UNAUTHORIZED, body),
            "unauthorized: authentication required"
        );
        let body = br#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"},{"code":"NAME_UNKNOWN","message":""}]}"#;
        assert_eq!(
            error_message(StatusCode::FORBIDDEN, body),
            "denied: requested access to the resource is denied; name unknown"
        );
        assert_eq!(
            error_message(
                StatusCode::UNAUTHORIZED,
                br#"{"details":"incorrect username or password"}"#
            ),
            "incorrect username or password"
        );
        assert_eq!(
            error_message(StatusCode::UNAUTHORIZED, b""),
            "unauthorized: authentication required"
        );
        assert_eq!(
            error_message(StatusCode::BAD_GATEWAY, b"<html>oops</html>"),
            "bad gateway"
        );
        assert_eq!(
            error_message(StatusCode::INTERNAL_SERVER_ERROR, b"disk full\n"),
            "disk full"
        );
    }

    #[test]
    fn plain_http_only_for_loopback_and_listed_registries() {
        let plain_http = |r: &str, insecure: &[String]| plain_http(&RegistryHost::new(r), insecure);
        assert!(plain_http("127.0.0.1:5000", &[]));
        assert!(plain_http("localhost", &[]));
        assert!(plain_http("[::1]:5000", &[]));
        assert!(!plain_http("registry.example.com", &[]));
        assert!(!plain_http("docker.io", &[]));
        let insecure = vec!["reg.local:5000".to_string(), "other.local".to_string()];
        assert!(plain_http("reg.local:5000", &insecure));
        assert!(!plain_http("reg.local:6000", &insecure));
        assert!(plain_http("other.local", &insecure));
        assert!(plain_http("other.local:8080", &insecure));
        assert!(!plain_http("evil.local", &insecure));
        // Host names have no case: one rule with the credentials lookup.
        assert!(plain_http("LOCALHOST:5001", &[]));
        assert!(plain_http("Reg.Local:5000", &insecure));
        assert!(plain_http(
            "reg.local:5000",
            &["REG.local:5000".to_string()]
        ));
    }

    /// A fake registry with a token service, to run the Bearer flow end to end.
    mod fake {
        use std::collections::HashMap;

        use axum::extract::{Path, Query, State};
        use axum::http::{header, HeaderMap, StatusCode};
        use axum::response::{IntoResponse, Response};
        use axum::routing::get;
        use axum::Router;
        use base64::Engine as _;

        pub const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":2},"layers":[]}"#;
        pub const BLOB: &[u8] = b"hello blob";
        pub const TOKEN: &str = "tok-1";

        #[derive(Clone)]
        struct Fake {
            realm: String,
        }

        pub async fn start() -> String {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap().to_string();
            let app = Router::new()
                .route("/token", get(token))
                .route("/v2/team/app/manifests/{tag}", get(manifest))
                .route("/v2/team/app/blobs/{digest}", get(blob))
                .with_state(Fake {
                    realm: format!("http://{addr}/token"),
                });
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            addr
        }

        async fn token(Query(q): Query<HashMap<String, String>>, headers: HeaderMap) -> Response {
            if q.get("service").map(String::as_str) != Some("fake-registry")
                || q.get("scope").map(String::as_str) != Some("repository:team/app:pull")
            {
                return (StatusCode::BAD_REQUEST, format!("bad query {q:?}")).into_response();
            }
            let good = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("user:secret")
            );
            if headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                != Some(good.as_str())
            {
                return (
                    StatusCode::UNAUTHORIZED,
                    r#"{"details":"incorrect username or password"}"#,
                )
                    .into_response();
            }
            format!(r#"{{"token":"{TOKEN}","expires_in":300}}"#).into_response()
        }

        fn challenge(state: &Fake) -> Response {
            let value = format!(
                r#"Bearer realm="{}",service="fake-registry",scope="repository:team/app:pull""#,
                state.realm
            );
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, value)],
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
            )
                .into_response()
        }

        fn authorized(headers: &HeaderMap) -> bool {
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                == Some(format!("Bearer {TOKEN}").as_str())
        }

        async fn manifest(
            State(state): State<Fake>,
            Path(tag): Path<String>,
            headers: HeaderMap,
        ) -> Response {
            if !authorized(&headers) {
                return challenge(&state);
            }
            if tag != "latest" {
                return (
                    StatusCode::NOT_FOUND,
                    r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
                )
                    .into_response();
            }
            (
                [(
                    header::CONTENT_TYPE,
                    super::super::super::manifest::OCI_MANIFEST,
                )],
                MANIFEST,
            )
                .into_response()
        }

        async fn blob(
            State(state): State<Fake>,
            Path(_digest): Path<String>,
            headers: HeaderMap,
        ) -> Response {
            if !authorized(&headers) {
                return challenge(&state);
            }
            BLOB.into_response()
        }
    }

    fn creds() -> RegistryCredentials {
        RegistryCredentials {
            username: "user".into(),
            password: "secret".into(),
        }
    }

    fn descriptor(digest: String, size: usize) -> Descriptor {
        Descriptor {
            media_type: String::new(),
            digest,
            size: size as i64,
            platform: None,
        }
    }

    async fn client(creds: Option<RegistryCredentials>) -> RegistryClient {
        let addr = fake::start().await;
        let r =
            crate::task::image_ref::parse_reference(&format!("{addr}/team/app:latest")).unwrap();
        RegistryClient::new(&r, creds, &[], Duration::from_secs(60)).unwrap()
    }

    #[tokio::test]
    async fn bearer_flow_with_credentials() {
        let c = client(Some(creds())).await;
        let m = c.manifest("latest", None).await.unwrap();
        assert_eq!(m.bytes, fake::MANIFEST.as_bytes());
        assert_eq!(
            m.digest,
            super::super::manifest::sha256_digest(fake::MANIFEST.as_bytes())
        );
        assert_eq!(
            m.content_type.as_deref(),
            Some(super::super::manifest::OCI_MANIFEST)
        );
        // The token is reused: the blob needs no second challenge round.
        let d = descriptor(
            super::super::manifest::sha256_digest(fake::BLOB),
            fake::BLOB.len(),
        );
        assert_eq!(c.small_blob(&d, 1024).await.unwrap(), fake::BLOB);
        let err = c.manifest("nope", None).await.unwrap_err().to_string();
        assert!(
            err.contains(": manifest unknown (HTTP 404 from 127.0.0.1:"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn bearer_flow_without_or_with_wrong_credentials() {
        let c = client(None).await;
        let err = c.manifest("latest", None).await.unwrap_err();
        assert!(matches!(err, RegistryError::Token { .. }), "{err:?}");
        assert!(
            err.to_string().contains("incorrect username or password"),
            "{err}"
        );

        let wrong = RegistryCredentials {
            username: "user".into(),
            password: "wrong".into(),
        };
        let err = client(Some(wrong))
            .await
            .manifest("latest", None)
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("incorrect username or password (HTTP 401)"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn corrupted_content_is_refused() {
        let c = client(Some(creds())).await;
        // The registry serves BLOB whatever digest is asked for.
        let wrong =
            "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb".to_string();
        let err = c
            .small_blob(&descriptor(wrong.clone(), fake::BLOB.len()), 1024)
            .await
            .unwrap_err();
        assert!(
            matches!(err, RegistryError::DigestMismatch { ref expected, .. } if *expected == wrong),
            "{err:?}"
        );
        let good = super::super::manifest::sha256_digest(fake::BLOB);
        let err = c
            .small_blob(&descriptor(good.clone(), 3), 1024)
            .await
            .unwrap_err();
        assert!(
            matches!(err, RegistryError::SizeMismatch { expected: 3, .. }),
            "{err:?}"
        );
        let err = c
            .small_blob(&descriptor(good, 100), 1024)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                RegistryError::SizeMismatch {
                    expected: 100,
                    actual: 10,
                    ..
                }
            ),
            "{err:?}"
        );
        // A pinned manifest digest that the content does not match.
        let err = c.manifest("latest", Some(&wrong)).await.unwrap_err();
        assert!(
            matches!(err, RegistryError::DigestMismatch { .. }),
            "{err:?}"
        );
    }
}
