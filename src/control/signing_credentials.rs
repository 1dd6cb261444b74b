//! The agent's own credentials for signing ACS and TCS requests, kept until
//! shortly before they expire.
//!
//! The SDK's clients put their credential chain behind a cache; the chain
//! itself asks every source again on each call (the environment, the
//! profile files, then the instance's metadata service over HTTP). TCS signs
//! a publish every 20 s, so without this the agent asked the instance
//! metadata service three times a minute for role credentials that last
//! hours. The Go agent keeps them until they expire too (aws-sdk-go's
//! `credentials.Credentials`). Credentials without an expiry are asked for
//! again after 15 minutes, as the SDK's own cache (aws-smithy-runtime's lazy
//! identity cache) does; others a minute before they expire (the SDK's
//! cache: 10 s), as a signed TCS frame may wait that long to be sent.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{error::CredentialsError, ProvideCredentials};
use aws_credential_types::Credentials;

/// How long credentials without an expiry (static keys, the environment's)
/// are kept: a changed profile file is read within this.
const WITHOUT_EXPIRY: Duration = Duration::from_secs(15 * 60);

/// Credentials are replaced this long before they expire, so that nothing
/// is signed with credentials about to lapse on the way.
const BEFORE_EXPIRY: Duration = Duration::from_secs(60);

/// The last credentials the chain gave, and until when they are used.
#[derive(Debug, Default)]
pub struct SigningCredentials {
    kept: tokio::sync::Mutex<Option<(Credentials, SystemTime)>>,
}

impl SigningCredentials {
    /// The kept credentials while they are fresh, else new ones from
    /// `provider` (kept in turn). A failure keeps nothing.
    pub async fn get(
        &self,
        provider: &impl ProvideCredentials,
        now: SystemTime,
    ) -> Result<Credentials, CredentialsError> {
        let mut kept = self.kept.lock().await;
        if let Some((c, until)) = kept.as_ref() {
            if now < *until {
                return Ok(c.clone());
            }
        }
        let fresh = provider.provide_credentials().await?;
        let until = match fresh.expiry() {
            Some(expiry) => expiry
                .checked_sub(BEFORE_EXPIRY)
                .unwrap_or(SystemTime::UNIX_EPOCH),
            None => now + WITHOUT_EXPIRY,
        };
        *kept = Some((fresh.clone(), until));
        Ok(fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::provider::future;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A provider that counts its calls and gives credentials lasting `life`
    /// from `issued` (none: no expiry).
    struct Counting {
        calls: AtomicUsize,
        life: Option<Duration>,
        issued: SystemTime,
        fail: bool,
    }

    impl std::fmt::Debug for Counting {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Counting")
        }
    }

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            if self.fail {
                return future::ProvideCredentials::ready(Err(CredentialsError::not_loaded(
                    "no source",
                )));
            }
            let expiry = self.life.map(|l| self.issued + l);
            future::ProvideCredentials::ready(Ok(Credentials::new(
                format!("AKID{n}"),
                "secret",
                None,
                expiry,
                "test",
            )))
        }
    }

    fn provider(life: Option<Duration>, issued: SystemTime) -> Counting {
        Counting {
            calls: AtomicUsize::new(0),
            life,
            issued,
            fail: false,
        }
    }

    #[tokio::test]
    async fn role_credentials_are_asked_for_again_only_shortly_before_they_expire() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let p = provider(Some(Duration::from_secs(6 * 3600)), t0);
        let cache = SigningCredentials::default();
        // A TCS publish every 20 s for 5 hours 58 minutes: one call.
        for i in 0..(6 * 180 - 6) {
            let c = cache
                .get(&p, t0 + Duration::from_secs(20 * i))
                .await
                .unwrap();
            assert_eq!(c.access_key_id(), "AKID0");
        }
        assert_eq!(p.calls.load(Ordering::SeqCst), 1);
        // Within the last minute: new ones.
        let late = t0 + Duration::from_secs(6 * 3600 - 30);
        assert_eq!(cache.get(&p, late).await.unwrap().access_key_id(), "AKID1");
        assert_eq!(p.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn keys_without_expiry_are_read_again_every_fifteen_minutes() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let p = provider(None, t0);
        let cache = SigningCredentials::default();
        cache.get(&p, t0).await.unwrap();
        cache
            .get(&p, t0 + Duration::from_secs(14 * 60))
            .await
            .unwrap();
        assert_eq!(p.calls.load(Ordering::SeqCst), 1);
        let c = cache
            .get(&p, t0 + Duration::from_secs(15 * 60))
            .await
            .unwrap();
        assert_eq!(c.access_key_id(), "AKID1");
    }

    #[tokio::test]
    async fn a_failure_is_not_kept_and_expired_credentials_are_never_given() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let cache = SigningCredentials::default();
        let mut p = provider(None, t0);
        p.fail = true;
        assert!(cache.get(&p, t0).await.is_err());
        assert!(cache.get(&p, t0).await.is_err());
        assert_eq!(p.calls.load(Ordering::SeqCst), 2);
        // Already expired when given: used for this call, asked again next.
        let stale = provider(Some(Duration::from_secs(30)), t0);
        cache.get(&stale, t0).await.unwrap();
        cache.get(&stale, t0).await.unwrap();
        assert_eq!(stale.calls.load(Ordering::SeqCst), 2);
    }
}
