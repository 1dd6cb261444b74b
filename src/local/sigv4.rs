//! AWS Signature Version 4 verification (header and query-string forms).
//! Pure: the caller passes the request parts and the current time.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

type HmacSha256 = Hmac<Sha256>;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// AWS refuses requests whose signing time is further than this from its clock.
const MAX_SKEW_SECS: i64 = 15 * 60;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    #[error("Missing Authentication Token")]
    Missing,
    #[error("{0}")]
    Incomplete(String),
    #[error("The security token included in the request is invalid.")]
    UnknownAccessKey,
    #[error("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")]
    Mismatch,
    #[error("Signature expired: {0} is now earlier or later than the allowed 15 minute window.")]
    Expired(String),
    /// Signed for another region than the endpoint's, as Amazon ECS refuses it.
    #[error("Credential should be scoped to a valid region, not '{given}'. (this endpoint is {expected})")]
    WrongRegion { given: String, expected: String },
}

/// What the verifier needs to know about a request.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The path exactly as received (still percent-encoded).
    pub raw_path: &'a str,
    /// The query string exactly as received, without `?`.
    pub raw_query: &'a str,
    /// Header (name, value) pairs; names in any case.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// Verifies the signature against `secret_for(access_key)`; returns the access key.
/// `now` is Unix seconds.
pub fn verify<'k>(
    req: &SignedRequest<'_>,
    secret_for: impl Fn(&str) -> Option<&'k str>,
    now: i64,
) -> Result<String, SigV4Error> {
    let headers = lower_headers(req.headers);
    let query = parse_query(req.raw_query);
    let auth = match headers.get("authorization") {
        Some(value) => parse_auth_header(value)?,
        None if query.iter().any(|(k, _)| k == "X-Amz-Signature") => parse_auth_query(&query)?,
        None => return Err(SigV4Error::Missing),
    };
    let amz_date = if auth.presigned {
        query_value(&query, "X-Amz-Date")
    } else {
        headers.get("x-amz-date").cloned()
    }
    .ok_or_else(|| {
        SigV4Error::Incomplete("Authorization requires the X-Amz-Date parameter.".into())
    })?;
    let signed_at = parse_amz_date(&amz_date).ok_or_else(|| {
        SigV4Error::Incomplete(format!("X-Amz-Date {amz_date:?} is not YYYYMMDDTHHMMSSZ."))
    })?;
    if (now - signed_at).abs() > MAX_SKEW_SECS {
        return Err(SigV4Error::Expired(amz_date));
    }
    if auth.presigned {
        let expires = query_value(&query, "X-Amz-Expires").and_then(|e| e.parse::<i64>().ok());
        if expires.is_some_and(|e| now > signed_at + e) {
            return Err(SigV4Error::Expired(amz_date));
        }
    }
    let scope_parts: Vec<&str> = auth.scope.split('/').collect();
    let [date, region, service, "aws4_request"] = scope_parts[..] else {
        return Err(SigV4Error::Incomplete(format!(
            "Credential should be scoped to a valid region, service and aws4_request: {}",
            auth.scope
        )));
    };
    if !amz_date.starts_with(date) {
        return Err(SigV4Error::Incomplete(format!(
            "Credential should be scoped to a date matching X-Amz-Date {amz_date}"
        )));
    }
    let secret = secret_for(&auth.access_key).ok_or(SigV4Error::UnknownAccessKey)?;

    // Presigned URLs are signed over the body hash by most clients (botocore)
    // and over UNSIGNED-PAYLOAD by S3-style ones: accept either.
    let payload_hashes: Vec<String> = match headers.get("x-amz-content-sha256") {
        Some(h) => vec![h.clone()],
        None if auth.presigned => vec![
            hex::encode(Sha256::digest(req.body)),
            "UNSIGNED-PAYLOAD".to_string(),
        ],
        None => vec![hex::encode(Sha256::digest(req.body))],
    };
    let mut canonical_headers = String::new();
    for name in &auth.signed_headers {
        let value = headers.get(name.as_str()).ok_or_else(|| {
            SigV4Error::Incomplete(format!(
                "Signed header {name:?} is missing from the request."
            ))
        })?;
        canonical_headers.push_str(name);
        canonical_headers.push(':');
        canonical_headers.push_str(value);
        canonical_headers.push('\n');
    }
    let canonical_query = canonical_query(&query, auth.presigned);
    let key = signing_key(secret, date, region, service);
    let given = auth.signature.to_ascii_lowercase();
    for payload_hash in &payload_hashes {
        let canonical = format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            req.method,
            uri_encode(req.raw_path, false),
            canonical_query,
            canonical_headers,
            auth.signed_headers.join(";"),
            payload_hash
        );
        let string_to_sign = format!(
            "{ALGORITHM}\n{amz_date}\n{}\n{}",
            auth.scope,
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        let expected = hex::encode(hmac(&key, string_to_sign.as_bytes()));
        if constant_time_eq(expected.as_bytes(), given.as_bytes()) {
            return Ok(auth.access_key);
        }
    }
    Err(SigV4Error::Mismatch)
}

/// The access key id a request claims to be signed with (header or
/// presigned form), before any check.
pub fn access_key_id(req: &SignedRequest<'_>) -> Option<String> {
    let headers = lower_headers(req.headers);
    let auth = match headers.get("authorization") {
        Some(value) => parse_auth_header(value),
        None => parse_auth_query(&parse_query(req.raw_query)),
    };
    auth.ok().map(|a| a.access_key)
}

/// The region a request's credential is scoped to
/// (`AKID/DATE/REGION/SERVICE/aws4_request`).
pub fn scope_region(req: &SignedRequest<'_>) -> Option<String> {
    let headers = lower_headers(req.headers);
    let auth = match headers.get("authorization") {
        Some(value) => parse_auth_header(value),
        None => parse_auth_query(&parse_query(req.raw_query)),
    };
    auth.ok()?.scope.split('/').nth(1).map(str::to_string)
}

/// The session token sent with temporary credentials: the
/// `X-Amz-Security-Token` header, or the query parameter of a presigned URL.
pub fn security_token(req: &SignedRequest<'_>) -> Option<String> {
    lower_headers(req.headers)
        .remove("x-amz-security-token")
        .or_else(|| query_value(&parse_query(req.raw_query), "X-Amz-Security-Token"))
}

struct Auth {
    access_key: String,
    scope: String,
    signed_headers: Vec<String>,
    signature: String,
    presigned: bool,
}

fn parse_auth_header(value: &str) -> Result<Auth, SigV4Error> {
    let rest = value.strip_prefix(ALGORITHM).ok_or_else(|| {
        SigV4Error::Incomplete(format!("Authorization header must use {ALGORITHM}"))
    })?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            continue;
        };
        match k.trim() {
            "Credential" => credential = Some(v.trim().to_string()),
            "SignedHeaders" => signed = Some(v.trim().to_string()),
            "Signature" => signature = Some(v.trim().to_string()),
            _ => {}
        }
    }
    build_auth(credential, signed, signature, false)
}

fn parse_auth_query(query: &[(String, String)]) -> Result<Auth, SigV4Error> {
    if query_value(query, "X-Amz-Algorithm").as_deref() != Some(ALGORITHM) {
        return Err(SigV4Error::Incomplete(format!(
            "X-Amz-Algorithm must be {ALGORITHM}"
        )));
    }
    build_auth(
        query_value(query, "X-Amz-Credential"),
        query_value(query, "X-Amz-SignedHeaders"),
        query_value(query, "X-Amz-Signature"),
        true,
    )
}

fn build_auth(
    credential: Option<String>,
    signed: Option<String>,
    signature: Option<String>,
    presigned: bool,
) -> Result<Auth, SigV4Error> {
    let missing = |what: &str| SigV4Error::Incomplete(format!("Authorization is missing {what}."));
    let credential = credential.ok_or_else(|| missing("Credential"))?;
    let signed = signed.ok_or_else(|| missing("SignedHeaders"))?;
    let signature = signature.ok_or_else(|| missing("Signature"))?;
    let (access_key, scope) = credential.split_once('/').ok_or_else(|| {
        SigV4Error::Incomplete(format!("Credential {credential:?} has no scope."))
    })?;
    let signed_headers = signed
        .split(';')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    Ok(Auth {
        access_key: access_key.to_string(),
        scope: scope.to_string(),
        signed_headers,
        signature,
        presigned,
    })
}

/// Lowercased names; values trimmed with inner whitespace runs collapsed;
/// repeated headers joined with commas (the canonical-header rules).
fn lower_headers(headers: &[(String, String)]) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        out.entry(name.to_ascii_lowercase())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value)
            })
            .or_insert(value);
    }
    out
}

fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn query_value(query: &[(String, String)], key: &str) -> Option<String> {
    query.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

fn canonical_query(query: &[(String, String)], presigned: bool) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .filter(|(k, _)| !(presigned && k == "X-Amz-Signature"))
        .map(|(k, v)| (uri_encode(k, true), uri_encode(v, true)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn percent_decode(s: &str) -> String {
    fn hex_val(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// RFC 3986 encoding as SigV4 wants it; `/` kept when encoding a path.
pub(crate) fn uri_encode(s: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if !encode_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn parse_amz_date(s: &str) -> Option<i64> {
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let dt = time::PrimitiveDateTime::parse(s, &fmt).ok()?;
    Some(dt.assume_utc().unix_timestamp())
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Signs a request the way clients do (header form); used by tests and by
/// callers that need to produce signed requests.
#[cfg(test)]
pub(crate) fn sign_for_test(
    req: &SignedRequest<'_>,
    access_key: &str,
    secret: &str,
    region: &str,
    amz_date: &str,
) -> String {
    let headers = lower_headers(req.headers);
    let signed: Vec<String> = headers.keys().cloned().collect();
    let mut canonical_headers = String::new();
    for (k, v) in &headers {
        canonical_headers.push_str(&format!("{k}:{v}\n"));
    }
    let canonical = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        uri_encode(req.raw_path, false),
        canonical_query(&parse_query(req.raw_query), false),
        canonical_headers,
        signed.join(";"),
        hex::encode(Sha256::digest(req.body))
    );
    let scope = format!("{}/{region}/ecs/aws4_request", &amz_date[..8]);
    let sts = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let sig = hex::encode(hmac(
        &signing_key(secret, &amz_date[..8], region, "ecs"),
        sts.as_bytes(),
    ));
    format!(
        "{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={}, Signature={sig}",
        signed.join(";")
    )
}

#[cfg(test)]
#[path = "sigv4_tests.rs"]
mod tests;
