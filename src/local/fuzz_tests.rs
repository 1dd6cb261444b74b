//! No request, signed or not, makes ecs-local's SigV4 verifier panic.

use super::sigv4::{verify, SignedRequest};
use crate::fuzz_support;

/// A request botocore signed (see sigv4_tests.rs) and a presigned websocket
/// URL query, to mutate from.
const AUTHORIZATION: &[&str] = &[
    "AWS4-HMAC-SHA256 Credential=AKIDTEST/20261123/us-east-1/ecs/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=a80947f7bacfd8207aba8444056ab02a5f62979e4b692d451574f5c1a263edf6",
];
const QUERIES: &[&str] = &[
    "",
    "clusterArn=arn%3Aaws%3Aecs%3Aus-east-1%3A000000000000%3Acluster%2Fdefault&seqNum=1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDTEST%2F20261123%2Fus-east-1%2Fecs%2Faws4_request&X-Amz-Date=20261123T011927Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=5e519fffaef31668ef2e0fd92aac999246e07e9eb6a40d34fd50e17096604e9f",
];
const DATES: &[&str] = &["20261123T005533Z"];
const PATHS: &[&str] = &["/", "/acs/ws", "/a%20b/../c"];

#[test]
fn no_request_panics_the_verifier() {
    let secrets = |ak: &str| (ak == "AKIDTEST").then_some("secretkey");
    fuzz_support::run(|u| {
        let mut headers = vec![
            ("Host".to_string(), "127.0.0.1:8080".to_string()),
            ("X-Amz-Date".to_string(), fuzz_support::text(u, DATES)?),
            (
                "Content-Type".to_string(),
                "application/x-amz-json-1.1".to_string(),
            ),
        ];
        if u.ratio(3, 4)? {
            headers.push((
                "Authorization".to_string(),
                fuzz_support::text(u, AUTHORIZATION)?,
            ));
        }
        let query = fuzz_support::text(u, QUERIES)?;
        let path = fuzz_support::text(u, PATHS)?;
        let body: Vec<u8> = u.arbitrary()?;
        let req = SignedRequest {
            method: "POST",
            raw_path: &path,
            raw_query: &query,
            headers: &headers,
            body: &body,
        };
        let _ = verify(&req, secrets, 1_795_395_333);
        Ok(())
    });
}
