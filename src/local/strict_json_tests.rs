use super::parse;
use serde_json::json;

#[test]
fn parses_what_serde_json_parses() {
    let body = br#"{"a": [1, -2, 3.5, "x", true, null, {"b": {}}], "c": 18446744073709551615}"#;
    assert_eq!(
        parse(body).unwrap(),
        serde_json::from_slice::<serde_json::Value>(body).unwrap()
    );
    assert_eq!(parse(b"[]").unwrap(), json!([]));
}

#[test]
fn refuses_a_duplicate_key_at_any_depth() {
    for body in [
        &br#"{"family": "a", "family": "b"}"#[..],
        br#"{"x": [{"name": "a", "name": "a"}]}"#,
    ] {
        let e = parse(body).unwrap_err().to_string();
        assert!(e.contains("duplicate key"), "{e}");
    }
    // The same key in sibling objects is fine.
    assert!(parse(br#"[{"a": 1}, {"a": 2}]"#).is_ok());
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let body = "[".repeat(100_000);
    assert!(parse(body.as_bytes()).is_err());
}
