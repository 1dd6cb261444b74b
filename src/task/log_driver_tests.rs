//! log_driver: Docker's checks of LogConfig, and secretOptions.

use super::log_driver::*;
use serde_json::{json, Value};

const AT: &str = "dockerConfig.hostConfig.LogConfig";

#[test]
fn sizes_as_go_units_reads_them() {
    for (s, n) in [
        ("10", 10),
        ("10b", 10),
        ("1k", 1000),
        ("10m", 10_000_000),
        ("10M", 10_000_000),
        ("10MB", 10_000_000),
        ("10MiB", 10_000_000),
        ("1.5g", 1_500_000_000),
        ("2 k", 2000),
    ] {
        assert_eq!(human_size(s), Some(n), "{s}");
    }
    for s in ["", "m", "10x", "10mbb", "-1", "10 mx", "ten"] {
        assert_eq!(human_size(s), None, "{s}");
    }
}

#[test]
fn json_file_is_the_default_and_takes_docker_options() {
    assert_eq!(parse("", None, AT), Ok(LogDriver::default()));
    assert_eq!(
        parse(
            "json-file",
            Some(&json!({"max-size": "10k", "max-file": "3", "compress": "false"})),
            AT
        ),
        Ok(LogDriver::JsonFile {
            max_size: Some(10_000),
            max_file: 3
        })
    );
    assert_eq!(
        parse("none", Some(&json!({"x": "y"})), AT),
        Ok(LogDriver::None)
    );
}

#[test]
fn bad_options_are_named() {
    for (opts, says) in [
        (
            json!({"max-size": "0"}),
            "max-size must be a positive number",
        ),
        (json!({"max-size": "big"}), "Config.max-size \"big\""),
        (json!({"max-file": "0"}), "max-file must be a whole number"),
        (json!({"max-file": 2}), "Config.max-file: expected a string"),
        (
            json!({"compress": "true"}),
            "compressed rotated logs are not supported",
        ),
        (json!({"tag": "x"}), "Config.tag: not supported"),
        (
            json!({"mode": "x"}),
            "unknown log opt 'mode' for json-file log driver",
        ),
    ] {
        let e = parse("json-file", Some(&opts), AT).unwrap_err();
        assert!(e.contains(says) && e.starts_with(AT), "{opts}: {e}");
    }
    let e = parse("gelf", None, AT).unwrap_err();
    assert!(
        e.contains(
            "Type \"gelf\" is not supported by this agent (supported: json-file, none, awslogs)"
        ),
        "{e}"
    );
}

fn aws(opts: Value) -> Result<Awslogs, String> {
    match parse("awslogs", Some(&opts), AT)? {
        LogDriver::Awslogs(a) => Ok(*a),
        other => panic!("{other:?}"),
    }
}

#[test]
fn awslogs_takes_docker_options_with_ecs_defaults() {
    let a = aws(json!({"awslogs-group": "/ecs/web"})).unwrap();
    assert_eq!(
        a,
        Awslogs {
            group: "/ecs/web".into(),
            region: None,
            stream: StreamName::ContainerId,
            create_group: false,
            endpoint: None,
            // Amazon ECS's default since June 2025, with the Go agent's 10m.
            blocking: false,
            max_buffer_size: 10_000_000,
            multiline_start: None,
            execution_role: false,
            secret_options: Vec::new(),
        }
    );
    assert_eq!(a.stream_name("web", "t1", "cid"), "cid");
    let a = aws(json!({
        "awslogs-group": "g", "awslogs-region": "eu-west-1",
        "awslogs-stream-prefix": "app", "awslogs-create-group": "true",
        "awslogs-endpoint": "http://127.0.0.1:5000", "mode": "non-blocking",
        "max-buffer-size": "4m"
    }))
    .unwrap();
    assert_eq!(a.stream_name("web", "abc123", "cid"), "app/web/abc123");
    assert_eq!(a.region.as_deref(), Some("eu-west-1"));
    assert!(a.create_group && !a.blocking);
    assert_eq!(a.max_buffer_size, 4_000_000);
    assert_eq!(a.endpoint.as_deref(), Some("http://127.0.0.1:5000"));
    let a = aws(json!({"awslogs-group": "g", "awslogs-stream": "s", "mode": "blocking"})).unwrap();
    assert!(a.blocking);
    assert_eq!(a.stream_name("web", "t", "c"), "s");
}

#[test]
fn awslogs_refuses_as_docker_does_naming_the_option() {
    for (opts, says) in [
        (
            json!({}),
            "must specify a value for log opt 'awslogs-group'",
        ),
        (
            json!({"awslogs-group": ""}),
            "must specify a value for log opt 'awslogs-group'",
        ),
        (
            json!({"awslogs-group": "a b"}),
            "Config.awslogs-group \"a b\"",
        ),
        (
            json!({"awslogs-group": "g", "awslogs-create-group": "yes"}),
            "Config.awslogs-create-group \"yes\": expected true or false",
        ),
        (
            json!({"awslogs-group": "g", "mode": "fast"}),
            "logging mode not supported: fast",
        ),
        (
            json!({"awslogs-group": "g", "mode": "blocking", "max-buffer-size": "1m"}),
            "only supported with 'mode=non-blocking'",
        ),
        (
            json!({"awslogs-group": "g", "max-buffer-size": "0"}),
            "Config.max-buffer-size \"0\"",
        ),
        (
            json!({"awslogs-group": "g", "awslogs-stream": "a", "awslogs-stream-prefix": "b"}),
            "cannot be used together",
        ),
        (
            json!({"awslogs-group": "g", "awslogs-stream": "a:b"}),
            "Config.awslogs-stream \"a:b\"",
        ),
        (
            json!({"awslogs-group": "g", "awslogs-endpoint": "logs.local"}),
            "Config.awslogs-endpoint",
        ),
        (
            json!({"awslogs-group": "g", "awslogs-region": "us west"}),
            "Config.awslogs-region",
        ),
        (
            json!({"awslogs-group": "g", "awslogs-force-flush-interval-seconds": "1"}),
            "Config.awslogs-force-flush-interval-seconds: not supported",
        ),
        (
            json!({"awslogs-group": "g", "awslogs-multiline-pattern": "^x",
                   "awslogs-datetime-format": ""}),
            "Config: you cannot configure log opt 'awslogs-datetime-format' and 'awslogs-multiline-pattern' at the same time",
        ),
        (
            json!({"awslogs-group": "g", "awslogs-multiline-pattern": "(x"}),
            "Config.awslogs-multiline-pattern \"(x\": awslogs could not parse multiline pattern: unclosed group",
        ),
        (
            json!({"awslogs-group": "g", "awslogs-datetime-format": "[%Y"}),
            "Config.awslogs-datetime-format \"[%Y\": awslogs could not parse multiline pattern: unclosed character class",
        ),
        (
            json!({"awslogs-group": "g", "max-size": "1m"}),
            "unknown log opt 'max-size' for awslogs log driver",
        ),
        (
            json!({"awslogs-group": 3}),
            "Config.awslogs-group: expected a string",
        ),
    ] {
        let e = aws(opts.clone()).unwrap_err();
        assert!(e.contains(says) && e.starts_with(AT), "{opts}: {e}");
    }
}

#[test]
fn a_multiline_pattern_or_a_datetime_format_sets_where_events_start() {
    let start = |opts: Value| aws(opts).unwrap().multiline_start;
    assert_eq!(
        start(json!({"awslogs-group": "g", "awslogs-multiline-pattern": "^INFO|^ERROR"})),
        Some("^INFO|^ERROR".to_string())
    );
    assert_eq!(
        start(json!({"awslogs-group": "g", "awslogs-datetime-format": "%Y-%m-%d"})),
        Some(crate::task::strftime::datetime_pattern("%Y-%m-%d"))
    );
    // Empty: no grouping, as Docker.
    for key in ["awslogs-multiline-pattern", "awslogs-datetime-format"] {
        assert_eq!(start(json!({"awslogs-group": "g", key: ""})), None);
    }
    assert_eq!(start(json!({"awslogs-group": "g"})), None);
}

#[test]
fn a_secret_multiline_pattern_that_does_not_compile_is_not_shown() {
    let p = pending(
        json!({"awslogs-group": "g"}),
        &["awslogs-multiline-pattern"],
    );
    let e = p
        .resolve(&[("awslogs-multiline-pattern".into(), "(secret-value".into())])
        .unwrap_err();
    assert!(!e.contains("secret-value"), "{e}");
    assert!(
        e.contains("(the value of secret option 'awslogs-multiline-pattern')"),
        "{e}"
    );
}

fn pending(options: Value, secrets: &[&str]) -> PendingLog {
    let names: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
    match accept("awslogs", Some(&options), AT, &names).unwrap() {
        LogDriver::Pending(p) => *p,
        other => panic!("{other:?}"),
    }
}

#[test]
fn secret_options_are_checked_by_name_at_acceptance() {
    let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // Without secretOptions: parsed as before.
    assert_eq!(accept("", None, AT, &[]), Ok(LogDriver::default()));
    let e = accept("awslogs", Some(&json!({})), AT, &names(&["awslogs-token"])).unwrap_err();
    assert_eq!(
        e,
        format!("{AT}.Config: unknown log opt 'awslogs-token' for awslogs log driver")
    );
    let e = accept("json-file", None, AT, &names(&["awslogs-group"])).unwrap_err();
    assert!(
        e.ends_with("unknown log opt 'awslogs-group' for json-file log driver"),
        "{e}"
    );
    // An option in clear is checked by name too, while the values wait.
    let e = accept(
        "awslogs",
        Some(&json!({"bogus": "x"})),
        AT,
        &names(&["awslogs-group"]),
    )
    .unwrap_err();
    assert!(
        e.ends_with("unknown log opt 'bogus' for awslogs log driver"),
        "{e}"
    );
    let e = accept("gelf", None, AT, &names(&["x"])).unwrap_err();
    assert!(e.contains("Type \"gelf\" is not supported"), "{e}");
    // json-file's options may come from secrets too.
    let LogDriver::Pending(p) = accept("json-file", None, AT, &names(&["max-size"])).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        p.resolve(&[("max-size".into(), "1k".into())]),
        Ok(LogDriver::JsonFile {
            max_size: Some(1000),
            max_file: 1
        })
    );
}

#[test]
fn secret_options_merge_over_those_in_clear_and_are_checked_as_docker_does() {
    let p = pending(
        json!({"awslogs-region": "us-east-1", "mode": "blocking"}),
        &["awslogs-group", "awslogs-region"],
    );
    let LogDriver::Awslogs(a) = p
        .resolve(&[
            ("awslogs-group".into(), "/ecs/secret".into()),
            ("awslogs-region".into(), "eu-west-1".into()),
        ])
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(a.group, "/ecs/secret");
    // The secret wins over the option in clear (Go's map assignment).
    assert_eq!(a.region.as_deref(), Some("eu-west-1"));
    assert!(a.blocking);
    assert_eq!(a.secret_options, ["awslogs-group", "awslogs-region"]);
    assert_eq!(
        a.shown("awslogs-group", &a.group),
        "(secret option 'awslogs-group')"
    );
    assert_eq!(a.shown("mode", "blocking"), "blocking");
}

#[test]
fn a_refused_secret_value_is_named_by_its_option_never_shown() {
    let p = pending(json!({}), &["awslogs-group", "awslogs-region"]);
    let e = p
        .resolve(&[
            ("awslogs-group".into(), "g".into()),
            ("awslogs-region".into(), "us west 9".into()),
        ])
        .unwrap_err();
    assert_eq!(
        e,
        format!(
            "{AT}.Config.awslogs-region (the value of secret option 'awslogs-region'): \
             expected a region name like us-west-2"
        )
    );
    // Required and missing (an empty value) as Docker says it.
    let e = p
        .resolve(&[
            ("awslogs-group".into(), "".into()),
            ("awslogs-region".into(), "us-west-2".into()),
        ])
        .unwrap_err();
    assert!(
        e.ends_with("must specify a value for log opt 'awslogs-group'"),
        "{e}"
    );
    let e = p
        .resolve(&[("awslogs-group".into(), "g".into())])
        .unwrap_err();
    assert!(
        e.ends_with("no value fetched for secret option 'awslogs-region'"),
        "{e}"
    );
}
