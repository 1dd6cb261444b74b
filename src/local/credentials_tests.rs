use super::*;
use rand::SeedableRng;

fn rng() -> rand::rngs::StdRng {
    rand::rngs::StdRng::seed_from_u64(7)
}

#[test]
fn keys_look_like_sts_temporary_credentials() {
    let mut r = rng();
    let c = issue(
        &mut r,
        "arn:aws:iam::000000000000:role/app",
        1_700_000_000.0,
        21600.0,
    );
    let k = c.credentials.access_key_id.clone().unwrap();
    assert_eq!(k.len(), 20);
    assert!(k.starts_with("ASIA"));
    assert!(k[4..]
        .chars()
        .all(|ch| ch.is_ascii_uppercase() || ch.is_ascii_digit()));
    let s = c.credentials.secret_access_key.clone().unwrap();
    assert_eq!(s.len(), 40);
    let t = c.credentials.session_token.clone().unwrap();
    assert!(t.len() > 300, "{}", t.len());
    let id = c.credentials.credentials_id.clone().unwrap();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    assert_eq!(
        c.credentials.role_arn.as_deref(),
        Some("arn:aws:iam::000000000000:role/app")
    );
    // 1_700_000_000 + 6 h
    assert_eq!(
        c.credentials.expiration.as_deref(),
        Some("2023-11-15T04:13:20Z")
    );
    assert_eq!(c.expires_at, 1_700_021_600.0);
    assert_eq!(c.refresh_at, 1_700_016_200.0);
}

#[test]
fn renewal_keeps_the_id_and_changes_the_keys() {
    let mut r = rng();
    let old = issue(&mut r, "arn:aws:iam::000000000000:role/app", 100.0, 10.0);
    let new = renew(&mut r, &old, 107.5, 10.0);
    assert_eq!(
        new.credentials.credentials_id,
        old.credentials.credentials_id
    );
    assert_eq!(new.credentials.role_arn, old.credentials.role_arn);
    assert_ne!(new.credentials.access_key_id, old.credentials.access_key_id);
    assert_ne!(
        new.credentials.secret_access_key,
        old.credentials.secret_access_key
    );
    assert_eq!(new.expires_at, 117.5);
    assert_eq!(
        new.credentials.expiration.as_deref(),
        Some("1970-01-01T00:01:57Z")
    );
}

#[test]
fn refresh_comes_at_three_quarters_and_a_second_early() {
    assert_eq!(refresh_at(0.0, 21600.0), 16200.0);
    assert_eq!(refresh_at(0.0, 8.0), 6.0);
    // Three quarters of 2 s would leave half a second: one second before.
    assert_eq!(refresh_at(10.0, 2.0), 11.0);
    assert_eq!(refresh_at(10.0, 0.5), 10.0);
    assert_eq!(Role::Task.role_type(), "TaskApplication");
    assert_eq!(Role::Execution.role_type(), "TaskExecution");
}
