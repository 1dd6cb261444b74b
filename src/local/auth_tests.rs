use super::*;
use crate::local::sigv4::sign_for_test;
use crate::local::state::IssuedCredentials;
use crate::model::acs::IamRoleCredentials;
use axum::http::{HeaderName, HeaderValue};
use std::time::Duration;

const DATE: &str = "20260101T000000Z";
/// DATE as Unix seconds.
const NOW: f64 = 1_767_225_600.0;
const TASK: &str = "arn:aws:ecs:us-east-1:000000000000:task/c/0123456789abcdef";
const MINTED_AK: &str = "ASIAMINTEDKEY0000001";
const MINTED_SK: &str = "mintedsecret";
const TOKEN: &str = "c2Vzc2lvbi10b2tlbg==";

fn cfg(auth: bool) -> Config {
    Config {
        listen: "127.0.0.1:1".parse().unwrap(),
        region: "us-east-1".into(),
        auth: auth
            .then(|| ("AKIDOPERATOR".to_string(), "operatorsecret".to_string()))
            .into_iter()
            .collect(),
        heartbeat: Duration::from_secs(1),
        resend: Duration::from_secs(1),
        manifest: Duration::from_secs(1),
        credentials_ttl: Duration::from_secs(60),
        eni_attach_timeout: Duration::from_secs(60),
        ecr_registries: Default::default(),
    }
}

fn principal(role: Role) -> TaskPrincipal {
    TaskPrincipal {
        task_arn: TASK.into(),
        role,
        role_arn: "arn:aws:iam::000000000000:role/team/app".into(),
    }
}

fn minted(expires_at: f64) -> MintedKey {
    MintedKey {
        secret: MINTED_SK.into(),
        session_token: TOKEN.into(),
        expires_at,
        principal: principal(Role::Task),
    }
}

const BODY: &[u8] = br#"{"cluster":"c","tasks":["0123456789abcdef"]}"#;

/// Headers as the CLI sends them, signed with (ak, sk); `token` is sent
/// (and signed) as X-Amz-Security-Token.
fn signed(ak: &str, sk: &str, token: Option<&str>) -> HeaderMap {
    let mut pairs: Vec<(String, String)> = vec![
        ("host".into(), "127.0.0.1:1".into()),
        (
            "x-amz-target".into(),
            "AmazonEC2ContainerServiceV20141113.GetTaskProtection".into(),
        ),
        ("x-amz-date".into(), DATE.into()),
    ];
    if let Some(t) = token {
        pairs.push(("x-amz-security-token".into(), t.into()));
    }
    let req = SignedRequest {
        method: "POST",
        raw_path: "/",
        raw_query: "",
        headers: &pairs,
        body: BODY,
    };
    let auth = sign_for_test(&req, ak, sk, "us-east-1", DATE);
    pairs.push(("authorization".into(), auth));
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(&v).unwrap(),
        );
    }
    h
}

fn run(cfg: &Config, headers: &HeaderMap, key: Option<MintedKey>) -> Result<Caller, ApiError> {
    let lookup = |k: &str| key.filter(|_| k == MINTED_AK);
    authenticate(
        cfg,
        lookup,
        NOW,
        &Method::POST,
        &Uri::from_static("/"),
        headers,
        BODY,
    )
}

fn kind(r: Result<Caller, ApiError>) -> ErrorKind {
    r.unwrap_err().kind
}

#[test]
fn the_configured_pair_is_the_operator() {
    let h = signed("AKIDOPERATOR", "operatorsecret", None);
    assert_eq!(
        run(&cfg(true), &h, None).unwrap(),
        Caller::Operator(Some("AKIDOPERATOR".into()))
    );
    let h = signed("AKIDOPERATOR", "wrong", None);
    assert_eq!(kind(run(&cfg(true), &h, None)), ErrorKind::InvalidSignature);
}

/// Amazon ECS's regional endpoints refuse a credential scoped to another
/// region: a client with the wrong region finds out at its first call.
#[test]
fn a_signature_for_another_region_is_refused() {
    let h = signed("AKIDOPERATOR", "operatorsecret", None);
    let mut c = cfg(true);
    c.region = "eu-west-3".into();
    let e = run(&c, &h, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidSignature);
    assert!(e.message.contains("not 'us-east-1'"), "{}", e.message);
    c.region = "us-east-1".into();
    assert_eq!(
        run(&c, &h, None).unwrap(),
        Caller::Operator(Some("AKIDOPERATOR".into()))
    );
}

#[test]
fn minted_keys_with_their_token_are_the_task() {
    let h = signed(MINTED_AK, MINTED_SK, Some(TOKEN));
    assert_eq!(
        run(&cfg(true), &h, Some(minted(NOW + 10.0))).unwrap(),
        Caller::Task(principal(Role::Task))
    );
}

#[test]
fn minted_keys_need_their_token_their_secret_and_time_left() {
    let fresh = || Some(minted(NOW + 10.0));
    let c = cfg(true);
    let no_token = signed(MINTED_AK, MINTED_SK, None);
    assert_eq!(
        kind(run(&c, &no_token, fresh())),
        ErrorKind::UnrecognizedClient
    );
    let other_token = signed(MINTED_AK, MINTED_SK, Some("b3RoZXI="));
    let e = run(&c, &other_token, fresh()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnrecognizedClient);
    assert_eq!(
        e.message,
        "The security token included in the request is invalid."
    );
    let wrong_secret = signed(MINTED_AK, "guess", Some(TOKEN));
    assert_eq!(
        kind(run(&c, &wrong_secret, fresh())),
        ErrorKind::InvalidSignature
    );
    let ok = signed(MINTED_AK, MINTED_SK, Some(TOKEN));
    let e = run(&c, &ok, Some(minted(NOW))).unwrap_err();
    assert_eq!(e.kind, ErrorKind::ExpiredToken);
    assert_eq!(e.kind.type_name(), "ExpiredTokenException");
    // Keys nobody minted.
    assert_eq!(kind(run(&c, &ok, None)), ErrorKind::UnrecognizedClient);
    assert_eq!(
        kind(run(&c, &HeaderMap::new(), fresh())),
        ErrorKind::MissingAuthenticationToken
    );
}

#[test]
fn without_auth_anything_goes() {
    assert_eq!(
        run(&cfg(false), &HeaderMap::new(), None).unwrap(),
        Caller::Operator(None)
    );
    // Even task keys: no key pair was asked for.
    let h = signed(MINTED_AK, MINTED_SK, Some(TOKEN));
    assert_eq!(
        run(&cfg(false), &h, Some(minted(NOW + 10.0))).unwrap(),
        Caller::Operator(None)
    );
}

#[test]
fn task_role_keys_may_only_manage_protection() {
    assert_eq!(
        authorize(&Caller::Operator(None), "DescribeTasks").unwrap(),
        None
    );
    let task = Caller::Task(principal(Role::Task));
    for op in TASK_ROLE_OPERATIONS {
        assert_eq!(authorize(&task, op).unwrap(), Some(principal(Role::Task)));
    }
    let e = authorize(&task, "DescribeTasks").unwrap_err();
    assert_eq!(e.kind, ErrorKind::AccessDenied);
    assert_eq!(
        e.message,
        "User: arn:aws:sts::000000000000:assumed-role/app/0123456789abcdef is not authorized to perform: ecs:DescribeTasks because no identity-based policy allows the ecs:DescribeTasks action"
    );
    // The execution role pulls images and writes logs; it has no ECS rights.
    let exec = Caller::Task(principal(Role::Execution));
    assert_eq!(
        authorize(&exec, "GetTaskProtection").unwrap_err().kind,
        ErrorKind::AccessDenied
    );
}

fn issued(ak: &str, expires_at: f64) -> IssuedCredentials {
    IssuedCredentials {
        credentials: IamRoleCredentials {
            access_key_id: Some(ak.into()),
            secret_access_key: Some(format!("{ak}-secret")),
            session_token: Some(format!("{ak}-token")),
            role_arn: Some(format!("arn:aws:iam::000000000000:role/{ak}")),
            ..Default::default()
        },
        expires_at,
        ..Default::default()
    }
}

#[test]
fn minted_keys_are_found_current_or_replaced() {
    let mut st = State::default();
    st.put_task(TaskRec {
        arn: TASK.into(),
        role_credentials: Some(issued("CUR", 5.0)),
        previous_role_credentials: Some(issued("OLD", 4.0)),
        execution_role_credentials: Some(issued("EXE", 6.0)),
        previous_execution_role_credentials: Some(issued("OLDEXE", 3.0)),
        ..Default::default()
    });
    for (ak, role, expires) in [
        ("CUR", Role::Task, 5.0),
        ("OLD", Role::Task, 4.0),
        ("EXE", Role::Execution, 6.0),
        ("OLDEXE", Role::Execution, 3.0),
    ] {
        let k = minted_key(&st, ak).unwrap();
        assert_eq!(k.secret, format!("{ak}-secret"));
        assert_eq!(k.session_token, format!("{ak}-token"));
        assert_eq!(k.expires_at, expires);
        assert_eq!(k.principal.task_arn, TASK);
        assert_eq!(k.principal.role, role);
        assert_eq!(
            k.principal.role_arn,
            format!("arn:aws:iam::000000000000:role/{ak}")
        );
    }
    assert_eq!(minted_key(&st, "NOPE"), None);
}
