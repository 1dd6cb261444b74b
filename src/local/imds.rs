//! An IMDSv2-shaped stand-in for EC2 instance metadata under /debug/imds, so
//! that an agent pointed at it (AWS_EC2_METADATA_SERVICE_ENDPOINT=
//! http://HOST:PORT/debug/imds) runs its EC2 path for real: a session token
//! from `PUT /latest/api/token` (with `X-aws-ec2-metadata-token-ttl-seconds`,
//! 1 to 21600), then GETs carrying it in `X-aws-ec2-metadata-token`; a GET
//! without a valid token is refused 401, as IMDSv2 refuses it. One made-up
//! instance per ecs-local process, in ecs-local's region.
//!
//! And what Amazon ECS derives from the identity document a container
//! instance registers with: its EC2 instance id and the built-in attributes
//! `ecs.ami-id`, `ecs.availability-zone` and `ecs.instance-type`.

use super::state::Attribute;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::Mutex;

pub const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
pub const TOKEN_TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
/// IMDSv2's longest session: six hours.
pub const MAX_TOKEN_TTL: u64 = 21_600;

/// The made-up instance the stand-in describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub account_id: String,
    pub region: String,
    pub availability_zone: String,
    pub instance_id: String,
    pub instance_type: String,
    pub image_id: String,
    pub private_ip: String,
    /// RFC 3339, as IMDS writes it.
    pub pending_time: String,
    pub mac: String,
    pub vpc_id: String,
    pub subnet_id: String,
}

impl Instance {
    /// A new instance in `region` with random ids shaped as EC2's
    /// (`i-` and 17 hex digits, a locally administered MAC, ...).
    pub fn generate(rng: &mut impl Rng, account_id: &str, region: &str, now: f64) -> Instance {
        let mut hex = |n: usize| -> String {
            (0..n)
                .map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)]))
                .collect()
        };
        let instance_id = format!("i-{}", hex(17));
        let image_id = format!("ami-{}", hex(17));
        let vpc_id = format!("vpc-{}", hex(17));
        let subnet_id = format!("subnet-{}", hex(17));
        let mac_tail = hex(10);
        let mac = format!(
            "0e:{}:{}:{}:{}:{}",
            &mac_tail[0..2],
            &mac_tail[2..4],
            &mac_tail[4..6],
            &mac_tail[6..8],
            &mac_tail[8..10]
        );
        let ip_octet = 10 + rng.random_range(0..240u8);
        Instance {
            account_id: account_id.to_string(),
            region: region.to_string(),
            availability_zone: format!("{region}a"),
            instance_id,
            instance_type: "m5.large".into(),
            image_id,
            private_ip: format!("10.0.1.{ip_octet}"),
            pending_time: super::credentials::rfc3339(now),
            mac,
            vpc_id,
            subnet_id,
        }
    }

    /// The identity document, every key EC2 writes, in EC2's order
    /// (docs.aws.amazon.com/AWSEC2/latest/UserGuide/retrieve-iid.html).
    pub fn document(&self) -> String {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Document<'a> {
            account_id: &'a str,
            architecture: &'a str,
            availability_zone: &'a str,
            billing_products: Option<Vec<String>>,
            devpay_product_codes: Option<Vec<String>>,
            marketplace_product_codes: Option<Vec<String>>,
            image_id: &'a str,
            instance_id: &'a str,
            instance_type: &'a str,
            kernel_id: Option<String>,
            pending_time: &'a str,
            private_ip: &'a str,
            ramdisk_id: Option<String>,
            region: &'a str,
            version: &'a str,
        }
        let doc = Document {
            account_id: &self.account_id,
            architecture: "x86_64",
            availability_zone: &self.availability_zone,
            billing_products: None,
            devpay_product_codes: None,
            marketplace_product_codes: None,
            image_id: &self.image_id,
            instance_id: &self.instance_id,
            instance_type: &self.instance_type,
            kernel_id: None,
            pending_time: &self.pending_time,
            private_ip: &self.private_ip,
            ramdisk_id: None,
            region: &self.region,
            version: "2017-09-30",
        };
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    }

    /// What IMDS answers at `path` (under /latest), or None (404).
    pub fn answer(&self, path: &str, document: &str, signature: &str) -> Option<String> {
        let mac_prefix = format!("meta-data/network/interfaces/macs/{}/", self.mac);
        let value = match path.trim_end_matches('/') {
            "dynamic/instance-identity/document" => document,
            "dynamic/instance-identity/signature" => signature,
            "meta-data/instance-id" => &self.instance_id,
            "meta-data/instance-type" => &self.instance_type,
            "meta-data/ami-id" => &self.image_id,
            "meta-data/local-ipv4" => &self.private_ip,
            "meta-data/mac" => &self.mac,
            "meta-data/placement/availability-zone" => &self.availability_zone,
            "meta-data/placement/region" => &self.region,
            p => match p.strip_prefix(&mac_prefix) {
                Some("vpc-id") => &self.vpc_id,
                Some("subnet-id") => &self.subnet_id,
                Some("mac") => &self.mac,
                Some("device-number") => "0",
                Some("local-ipv4s") => &self.private_ip,
                _ => return None,
            },
        };
        Some(value.to_string())
    }
}

/// The stand-in: its instance, the document and signature it hands out, and
/// the session tokens it issued (token -> expiry, Unix seconds).
pub struct Imds {
    pub instance: Instance,
    document: String,
    signature: String,
    tokens: Mutex<HashMap<String, f64>>,
}

impl Imds {
    pub fn new(instance: Instance, rng: &mut impl Rng) -> Imds {
        let document = instance.document();
        // EC2 signs with its own key; this one is ecs-local's, made per
        // process. Nothing checks it: it has the shape (base64) only.
        let mut key = [0u8; 32];
        rng.fill(&mut key);
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
        mac.update(document.as_bytes());
        let signature =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        Imds {
            instance,
            document,
            signature,
            tokens: Mutex::new(HashMap::new()),
        }
    }

    fn tokens(&self) -> std::sync::MutexGuard<'_, HashMap<String, f64>> {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new token for `ttl_header` seconds, or the 400 IMDS gives for a
    /// missing or out-of-range TTL.
    pub fn issue(
        &self,
        ttl_header: Option<&str>,
        now: f64,
        rng: &mut impl Rng,
    ) -> Result<(String, u64), String> {
        let ttl = ttl_header
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|t| (1..=MAX_TOKEN_TTL).contains(t))
            .ok_or_else(|| {
                format!("{TOKEN_TTL_HEADER} must be a number of seconds from 1 to {MAX_TOKEN_TTL}")
            })?;
        let mut bytes = [0u8; 42];
        rng.fill(&mut bytes);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let mut tokens = self.tokens();
        tokens.retain(|_, expiry| *expiry > now);
        tokens.insert(token.clone(), now + ttl as f64);
        Ok((token, ttl))
    }

    pub fn valid(&self, token: Option<&str>, now: f64) -> bool {
        token.is_some_and(|t| self.tokens().get(t).is_some_and(|expiry| *expiry > now))
    }

    pub fn get(&self, path: &str) -> Option<String> {
        self.instance.answer(path, &self.document, &self.signature)
    }
}

/// What Amazon ECS derives from a registration's identity document: the EC2
/// instance id and its built-in attributes (ecs.ami-id,
/// ecs.availability-zone, ecs.instance-type; ecs.os-type comes from the
/// agent). Decoded leniently: unknown keys ignored, a document that is no
/// JSON object gives nothing.
pub fn derived_from_document(document: &str) -> (Option<String>, Vec<Attribute>) {
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase", default)]
    struct Doc {
        instance_id: Option<String>,
        image_id: Option<String>,
        availability_zone: Option<String>,
        instance_type: Option<String>,
    }
    let Ok(doc) = serde_json::from_str::<Doc>(document) else {
        return (None, Vec::new());
    };
    let attributes = [
        ("ecs.ami-id", doc.image_id),
        ("ecs.availability-zone", doc.availability_zone),
        ("ecs.instance-type", doc.instance_type),
    ]
    .into_iter()
    .filter_map(|(name, value)| {
        let value = value.filter(|v| !v.is_empty())?;
        Some(Attribute {
            name: name.to_string(),
            value: Some(value),
            target_type: None,
            target_id: None,
        })
    })
    .collect();
    (doc.instance_id.filter(|i| !i.is_empty()), attributes)
}

#[cfg(test)]
#[path = "imds_tests.rs"]
mod tests;
