//! Each documented limit (the texts quoted in `taskdef_limits`): at the
//! limit accepted, one past it refused with a ClientException naming the
//! field path.

use super::*;
use crate::local::error::ErrorKind;
use serde_json::json;

fn def(container: Value, extra: Value) -> Map<String, Value> {
    let mut d = json!({"family": "f", "containerDefinitions": [container]});
    if let (Value::Object(d), Value::Object(e)) = (&mut d, extra) {
        d.extend(e);
    }
    match d {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn container(extra: Value) -> Value {
    let mut c = json!({"name": "c", "image": "busybox", "memory": 32});
    if let (Value::Object(c), Value::Object(e)) = (&mut c, extra) {
        c.extend(e);
    }
    c
}

#[track_caller]
fn refused(d: &Map<String, Value>, field: &str) {
    let e = check(d).expect_err(field);
    assert_eq!(e.kind, ErrorKind::Client, "{e}");
    assert!(e.message.contains(field), "{field}: {}", e.message);
}

#[test]
fn image_references() {
    let name = format!("127.0.0.1:5000/{}", "a".repeat(MAX_IMAGE_NAME - 15));
    assert_eq!(name.len(), MAX_IMAGE_NAME);
    let digest = format!("@sha256:{}", "aB".repeat(32));
    for ok in [
        name.clone(),
        format!("{name}{digest}"),
        "Repo/Image_x:tag#1".to_string(),
    ] {
        check(&def(container(json!({"image": ok})), json!({}))).unwrap();
    }
    for bad in [
        format!("{name}x"),
        format!("{name}x{digest}"),
        "busybox@sha256:abc".to_string(),
        format!("busybox@md5:{}", "a".repeat(64)),
        "busy box".to_string(),
        "busybox:é".to_string(),
    ] {
        refused(
            &def(container(json!({"image": bad})), json!({})),
            "containerDefinitions[0].image",
        );
    }
}

#[test]
fn port_mapping_names_and_ranges() {
    let ok = container(
        json!({"portMappings": [{"containerPort": 80, "name": "a".repeat(64)},
        {"containerPort": 81, "name": "web_1-x"}]}),
    );
    check(&def(ok, json!({}))).unwrap();
    for bad in ["a".repeat(65), "-web".into(), "Web".into(), "we b".into()] {
        let c = container(json!({"portMappings": [{"containerPort": 80},
            {"containerPort": 81, "name": bad}]}));
        refused(
            &def(c, json!({})),
            "containerDefinitions[0].portMappings[1].name",
        );
    }
    let ranges = |n: usize| {
        let pm: Vec<Value> = (0..n)
            .map(|i| json!({"containerPortRange": format!("{}-{}", 1000 + 2 * i, 1001 + 2 * i)}))
            .collect();
        def(container(json!({"portMappings": pm})), json!({}))
    };
    check(&ranges(MAX_PORT_RANGES)).unwrap();
    refused(
        &ranges(MAX_PORT_RANGES + 1),
        "containerDefinitions[0].portMappings with containerPortRange",
    );
}

#[test]
fn counts_and_volume_names() {
    let files = |n: usize| {
        let f: Vec<Value> = (0..n)
            .map(|i| json!({"type": "s3", "value": format!("arn:aws:s3:::b/{i}.env")}))
            .collect();
        def(container(json!({"environmentFiles": f})), json!({}))
    };
    check(&files(MAX_ENVIRONMENT_FILES)).unwrap();
    refused(
        &files(MAX_ENVIRONMENT_FILES + 1),
        "containerDefinitions[0].environmentFiles",
    );
    let constraints = |n: usize| {
        let p: Vec<Value> = (0..n)
            .map(|_| json!({"type": "memberOf", "expression": "attribute:x == y"}))
            .collect();
        def(container(json!({})), json!({"placementConstraints": p}))
    };
    check(&constraints(MAX_PLACEMENT_CONSTRAINTS)).unwrap();
    refused(
        &constraints(MAX_PLACEMENT_CONSTRAINTS + 1),
        "placementConstraints",
    );
    let vol = |name: String| {
        def(
            container(json!({})),
            json!({"volumes": [{"name": "ok"}, {"name": name}]}),
        )
    };
    check(&vol("V_1-".repeat(63) + "abc")).unwrap();
    refused(&vol("v".repeat(256)), "volumes[1].name");
    refused(&vol("a/b".into()), "volumes[1].name");
}

#[test]
fn wrong_types_are_left_to_the_parse() {
    let d = def(
        container(json!({"image": 5, "portMappings": {"x": 1}, "environmentFiles": "x"})),
        json!({"volumes": "x", "placementConstraints": 3}),
    );
    check(&d).unwrap();
}

#[test]
fn health_check_and_restart_policy_ranges() {
    for (key, min, max) in HEALTH_CHECK_RANGES {
        let hc = |n: i64| {
            let mut h = json!({"command": ["CMD", "true"]});
            h[key] = json!(n);
            def(container(json!({"healthCheck": h})), json!({}))
        };
        check(&hc(min)).expect(key);
        check(&hc(max)).expect(key);
        refused(
            &hc(min - 1),
            &format!("containerDefinitions[0].healthCheck.{key}"),
        );
        refused(
            &hc(max + 1),
            &format!("containerDefinitions[0].healthCheck.{key}"),
        );
    }
    let rp = |p: Value| def(container(json!({"restartPolicy": p})), json!({}));
    check(&rp(json!({"enabled": true, "restartAttemptPeriod": 60}))).expect("60");
    check(&rp(json!({"enabled": true, "restartAttemptPeriod": 1800}))).expect("1800");
    let field = "containerDefinitions[0].restartPolicy.restartAttemptPeriod";
    refused(
        &rp(json!({"enabled": true, "restartAttemptPeriod": 59})),
        field,
    );
    refused(
        &rp(json!({"enabled": true, "restartAttemptPeriod": 1801})),
        field,
    );
    let codes = |n: usize| json!({"enabled": true, "ignoredExitCodes": vec![1; n]});
    check(&rp(codes(50))).expect("50 codes");
    refused(
        &rp(codes(51)),
        "containerDefinitions[0].restartPolicy.ignoredExitCodes",
    );
}
