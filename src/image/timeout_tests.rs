//! The registry client's inactivity timeout, on tokio's paused clock against
//! a scripted stand-in: "inactive" means no byte from the registry for the
//! timeout, never a slow but steady download nor time the consumer spends.

use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::time::Instant;

use super::manifest::{sha256_digest, Descriptor};
use super::registry::RegistryClient;
use super::scripted::{Reply, Scripted};
use super::RegistryError;

const MINUTE: Duration = Duration::from_secs(60);
const BLOB: &[u8] = b"0123456789";
const OCTETS: &str = "application/octet-stream";

fn descriptor() -> Descriptor {
    Descriptor {
        media_type: String::new(),
        digest: sha256_digest(BLOB),
        size: BLOB.len() as i64,
        platform: None,
    }
}

fn client(addr: &str) -> RegistryClient {
    let r = crate::task::image_ref::parse_reference(&format!("{addr}/team/app:latest")).unwrap();
    RegistryClient::new(&r, None, &[], MINUTE).unwrap()
}

/// Reads the blob, pausing `consumer_pause` after each chunk as a slow
/// content store would.
async fn read_blob(c: &RegistryClient, consumer_pause: Duration) -> Result<Vec<u8>, RegistryError> {
    let mut stream = Box::pin(c.blob_stream(&descriptor()).await?);
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
        tokio::time::sleep(consumer_pause).await;
    }
    Ok(out)
}

fn parts(pause: Duration, bytes: &[u8]) -> Vec<(Duration, Vec<u8>)> {
    bytes.iter().map(|b| (pause, vec![*b])).collect()
}

#[tokio::test(start_paused = true)]
async fn a_blob_that_stalls_mid_way_is_inactive_after_the_timeout() {
    let registry = Scripted::start(|_, _| Reply::Body {
        content_type: OCTETS,
        length: BLOB.len(),
        parts: vec![(Duration::ZERO, BLOB[..4].to_vec())],
        stall: true,
    })
    .await;
    let c = client(&registry.addr);
    c.began();
    let started = Instant::now();
    let err = read_blob(&c, Duration::ZERO).await.unwrap_err();
    let waited = started.elapsed();
    assert!(matches!(err, RegistryError::Inactive { .. }), "{err:?}");
    // The Go agent's words (dockerapi.pullImage).
    assert_eq!(
        err.to_string(),
        "inactivity time exceeded timeout while pulling image"
    );
    assert!(
        waited >= MINUTE && waited < MINUTE + Duration::from_secs(1),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_registry_that_never_answers_the_request_is_inactive_too() {
    let registry = Scripted::start(|_, _| Reply::Hang).await;
    let c = client(&registry.addr);
    c.began();
    let started = Instant::now();
    let err = read_blob(&c, Duration::ZERO).await.unwrap_err();
    assert!(matches!(err, RegistryError::Inactive { .. }), "{err:?}");
    assert!(started.elapsed() < MINUTE + Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn a_slow_but_steady_blob_is_not_inactive() {
    // A byte every 50s: over 8 minutes in all, never a minute without one.
    let registry = Scripted::start(|_, _| Reply::Body {
        content_type: OCTETS,
        length: BLOB.len(),
        parts: parts(Duration::from_secs(50), BLOB),
        stall: false,
    })
    .await;
    let c = client(&registry.addr);
    c.began();
    let started = Instant::now();
    assert_eq!(read_blob(&c, Duration::ZERO).await.unwrap(), BLOB);
    assert!(started.elapsed() >= Duration::from_secs(500));
}

#[tokio::test(start_paused = true)]
async fn time_the_consumer_spends_is_not_inactivity() {
    let registry = Scripted::start(|_, _| Reply::Body {
        content_type: OCTETS,
        length: BLOB.len(),
        parts: parts(Duration::ZERO, BLOB),
        stall: false,
    })
    .await;
    let c = client(&registry.addr);
    c.began();
    // Each chunk takes the "content store" 2 minutes to take.
    assert_eq!(read_blob(&c, Duration::from_secs(120)).await.unwrap(), BLOB);
}

#[tokio::test(start_paused = true)]
async fn before_the_pull_has_begun_no_inactivity_timeout_applies() {
    // The Go agent's inactivity timer starts with the pull; before that
    // only its begin timeout (5m, the caller's) bounds the wait.
    let registry = Scripted::start(|_, _| Reply::Body {
        content_type: OCTETS,
        length: BLOB.len(),
        parts: vec![(Duration::from_secs(240), BLOB.to_vec())],
        stall: false,
    })
    .await;
    let c = client(&registry.addr);
    assert_eq!(read_blob(&c, Duration::ZERO).await.unwrap(), BLOB);
}

#[tokio::test(start_paused = true)]
async fn a_blob_cut_short_says_how_much_arrived() {
    let registry = Scripted::start(|_, _| Reply::Body {
        content_type: OCTETS,
        length: BLOB.len(),
        parts: vec![(Duration::ZERO, BLOB[..4].to_vec())],
        stall: false,
    })
    .await;
    let c = client(&registry.addr);
    c.began();
    let err = read_blob(&c, Duration::ZERO).await.unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::Truncated {
                received: 4,
                expected: 10,
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "content for {} from {} ended after 4 of 10 bytes: ",
            descriptor().digest,
            registry.addr
        )),
        "{text}"
    );
}
