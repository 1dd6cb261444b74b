use super::*;

// Signatures below were produced by botocore's SigV4Auth (what the aws CLI uses)
// for access key AKIDTEST, secret "secretkey", us-east-1, service ecs.
const DATE: &str = "20261123T005533Z";
const BODY: &[u8] = br#"{"clusterName":"c1"}"#;

fn now() -> i64 {
    parse_amz_date(DATE).unwrap()
}

fn secrets(ak: &str) -> Option<&'static str> {
    (ak == "AKIDTEST").then_some("secretkey")
}

fn api_headers(sig: &str) -> Vec<(String, String)> {
    vec![
        ("Host".into(), "127.0.0.1:8080".into()),
        (
            "X-Amz-Target".into(),
            "AmazonEC2ContainerServiceV20141113.CreateCluster".into(),
        ),
        ("Content-Type".into(), "application/x-amz-json-1.1".into()),
        ("X-Amz-Date".into(), DATE.into()),
        ("Authorization".into(), format!("AWS4-HMAC-SHA256 Credential=AKIDTEST/20261123/us-east-1/ecs/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={sig}")),
    ]
}

const API_SIG: &str = "a80947f7bacfd8207aba8444056ab02a5f62979e4b692d451574f5c1a263edf6";

fn api_req<'a>(headers: &'a [(String, String)], body: &'a [u8]) -> SignedRequest<'a> {
    SignedRequest {
        method: "POST",
        raw_path: "/",
        raw_query: "",
        headers,
        body,
    }
}

#[test]
fn accepts_botocore_signature() {
    let h = api_headers(API_SIG);
    assert_eq!(
        verify(&api_req(&h, BODY), secrets, now()).unwrap(),
        "AKIDTEST"
    );
}

#[test]
fn rejects_wrong_secret_body_or_key() {
    let h = api_headers(API_SIG);
    let wrong_secret = |_: &str| Some("other");
    assert_eq!(
        verify(&api_req(&h, BODY), wrong_secret, now()),
        Err(SigV4Error::Mismatch)
    );
    assert_eq!(
        verify(&api_req(&h, b"{}"), secrets, now()),
        Err(SigV4Error::Mismatch)
    );
    assert_eq!(
        verify(&api_req(&h, BODY), |_| None, now()),
        Err(SigV4Error::UnknownAccessKey)
    );
}

#[test]
fn rejects_stale_and_missing() {
    let h = api_headers(API_SIG);
    assert!(matches!(
        verify(&api_req(&h, BODY), secrets, now() + 3600),
        Err(SigV4Error::Expired(_))
    ));
    let none: Vec<(String, String)> = vec![("Host".into(), "x".into())];
    assert_eq!(
        verify(&api_req(&none, BODY), secrets, now()),
        Err(SigV4Error::Missing)
    );
    let mut bad = api_headers(API_SIG);
    bad[4].1 = "AWS4-HMAC-SHA256 Credential=AKIDTEST".into();
    assert!(matches!(
        verify(&api_req(&bad, BODY), secrets, now()),
        Err(SigV4Error::Incomplete(_))
    ));
}

#[test]
fn accepts_signed_websocket_upgrade_with_query() {
    // The agent signs the GET of the websocket URL, query included; websocket
    // headers added later by the client are not in SignedHeaders.
    let headers: Vec<(String, String)> = vec![
        ("Host".into(), "127.0.0.1:8080".into()),
        ("X-Amz-Date".into(), DATE.into()),
        ("Upgrade".into(), "websocket".into()),
        ("Sec-WebSocket-Key".into(), "abc".into()),
        ("Authorization".into(), "AWS4-HMAC-SHA256 Credential=AKIDTEST/20261123/us-east-1/ecs/aws4_request, SignedHeaders=host;x-amz-date, Signature=9464223dc55401a97c2be10ef2e1421cec4e1f5ed34f3fbc0dc54f1bd888af0b".into()),
    ];
    let req = SignedRequest {
        method: "GET",
        raw_path: "/acs/ws",
        raw_query: "clusterArn=arn%3Aaws%3Aecs%3Aus-east-1%3A000000000000%3Acluster%2Fdefault&seqNum=1&agentVersion=1.2.3",
        headers: &headers,
        body: b"",
    };
    assert_eq!(verify(&req, secrets, now()).unwrap(), "AKIDTEST");
    // Query order does not matter, but values do.
    let reordered = SignedRequest {
        raw_query: "seqNum=1&agentVersion=1.2.3&clusterArn=arn%3Aaws%3Aecs%3Aus-east-1%3A000000000000%3Acluster%2Fdefault",
        ..req
    };
    assert!(verify(&reordered, secrets, now()).is_ok());
    let tampered = SignedRequest {
        raw_query: "seqNum=2&agentVersion=1.2.3&clusterArn=arn%3Aaws%3Aecs%3Aus-east-1%3A000000000000%3Acluster%2Fdefault",
        ..reordered
    };
    assert_eq!(verify(&tampered, secrets, now()), Err(SigV4Error::Mismatch));
}

#[test]
fn sign_and_verify_round_trip() {
    let headers: Vec<(String, String)> = vec![
        ("host".into(), "localhost:1".into()),
        ("x-amz-date".into(), DATE.into()),
    ];
    let req = SignedRequest {
        method: "GET",
        raw_path: "/tcs/ws",
        raw_query: "cluster=a%20b",
        headers: &headers,
        body: b"",
    };
    let auth = sign_for_test(&req, "AKIDTEST", "secretkey", "eu-west-1", DATE);
    let mut signed = headers.clone();
    signed.push(("authorization".into(), auth));
    let req = SignedRequest {
        headers: &signed,
        ..req
    };
    assert!(verify(&req, secrets, now()).is_ok());
}

#[test]
fn percent_decoding_is_safe_on_odd_input() {
    assert_eq!(percent_decode("a%2"), "a%2");
    assert_eq!(percent_decode("%zz%41"), "%zzA");
    assert_eq!(percent_decode("é%C3%A9"), "éé");
}

#[test]
fn accepts_botocore_presigned_query() {
    // botocore SigV4QueryAuth (expires 300) of a websocket URL.
    let q = "clusterArn=arn%3Aaws%3Aecs%3Aus-east-1%3A000000000000%3Acluster%2Fdefault&seqNum=1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDTEST%2F20261123%2Fus-east-1%2Fecs%2Faws4_request&X-Amz-Date=20261123T011927Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=5e519fffaef31668ef2e0fd92aac999246e07e9eb6a40d34fd50e17096604e9f";
    let headers: Vec<(String, String)> = vec![("Host".into(), "127.0.0.1:8080".into())];
    let req = SignedRequest {
        method: "GET",
        raw_path: "/acs/ws",
        raw_query: q,
        headers: &headers,
        body: b"",
    };
    let at = parse_amz_date("20261123T011927Z").unwrap();
    assert_eq!(verify(&req, secrets, at + 10).unwrap(), "AKIDTEST");
    let wrong = |_: &str| Some("nope");
    assert_eq!(verify(&req, wrong, at), Err(SigV4Error::Mismatch));
    assert!(matches!(
        verify(&req, secrets, at + 301),
        Err(SigV4Error::Expired(_))
    ));
    let tampered = q.replace("seqNum=1", "seqNum=2");
    let req2 = SignedRequest {
        raw_query: &tampered,
        ..req
    };
    assert_eq!(verify(&req2, secrets, at), Err(SigV4Error::Mismatch));
}
