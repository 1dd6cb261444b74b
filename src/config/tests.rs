use super::*;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn file(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A minimal valid environment plus `extra`.
fn with(extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut m = env(&[("AWS_DEFAULT_REGION", "us-west-2")]);
    m.extend(env(extra));
    m
}

fn cfg(extra: &[(&str, &str)]) -> Config {
    Config::from_sources(&with(extra), &[]).unwrap_or_else(|e| panic!("{e}"))
}

fn err(extra: &[(&str, &str)]) -> ConfigError {
    match Config::from_sources(&with(extra), &[]) {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(e) => e,
    }
}

/// The one error for `name=value`, checking its message names both.
fn invalid(name: &'static str, value: &str) -> String {
    let e = err(&[(name, value)]);
    match &e {
        ConfigError::Invalid {
            variable, value: v, ..
        } => {
            assert_eq!(*variable, name);
            assert_eq!(v, value.trim());
        }
        other => panic!("{name}={value:?}: expected Invalid, got {other:?}"),
    }
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("{name}={:?}: expected ", value.trim())),
        "{msg}"
    );
    msg
}

#[test]
fn defaults() {
    let c = cfg(&[]);
    assert_eq!(c.cluster, "default");
    assert_eq!(c.backend_host, None);
    assert_eq!(c.region.as_deref(), Some("us-west-2"));
    assert_eq!(c.data_dir, PathBuf::from("/var/lib/ecs/data"));
    assert!(c.checkpoint);
    assert_eq!(c.log_level, LogLevel::Info);
    assert_eq!(c.log_output_format, LogFormat::Logfmt);
    assert_eq!(c.reserved_memory_mib, 0);
    assert_eq!(c.reserved_ports, vec![22, 2375, 2376, 51678, 51679]);
    assert!(c.reserved_ports_udp.is_empty());
    assert_eq!(c.container_stop_timeout, Duration::from_secs(30));
    assert_eq!(c.container_start_timeout, Duration::from_secs(180));
    assert_eq!(c.image_pull_timeout, Duration::from_secs(2 * 3600));
    assert_eq!(c.image_pull_inactivity_timeout, Duration::from_secs(60));
    assert_eq!(c.engine_task_cleanup_wait, Duration::from_secs(3 * 3600));
    assert!(c.instance_attributes.is_empty());
    assert!(c.container_instance_tags.is_empty());
    assert_eq!(c.image_pull_behavior, ImagePullBehavior::Default);
    assert!(!c.disable_privileged);
    assert!(c.engine_auth.is_empty());
    assert!(c.insecure_registries.is_empty());
    assert_eq!(
        c.containerd_address,
        PathBuf::from("/run/containerd/containerd.sock")
    );
    assert_eq!(c.containerd_namespace, "ecs");
    assert!(c.unknown_variables.is_empty());
    assert!(c.ignored_variables.is_empty());
    assert!(c.warnings.is_empty());
}

#[test]
fn documented_defaults_match_behaviour() {
    let c = cfg(&[]);
    let doc: BTreeMap<&str, &str> = documented_variables()
        .iter()
        .map(|(n, d, _)| (*n, *d))
        .collect();
    assert_eq!(doc["ECS_CLUSTER"], c.cluster);
    assert_eq!(doc["ECS_DATADIR"], c.data_dir.to_str().unwrap());
    assert_eq!(doc["ECS_CHECKPOINT"], c.checkpoint.to_string());
    assert_eq!(doc["ECS_LOGLEVEL"], "info");
    assert_eq!(doc["ECS_LOG_OUTPUT_FORMAT"], "logfmt");
    assert_eq!(
        doc["ECS_RESERVED_MEMORY"],
        c.reserved_memory_mib.to_string()
    );
    assert_eq!(
        values::parse_ports(doc["ECS_RESERVED_PORTS"]).unwrap(),
        c.reserved_ports
    );
    assert_eq!(
        values::parse_ports(doc["ECS_RESERVED_PORTS_UDP"]).unwrap(),
        c.reserved_ports_udp
    );
    assert_eq!(
        parse_go_duration(doc["ECS_CONTAINER_STOP_TIMEOUT"]).unwrap(),
        c.container_stop_timeout
    );
    assert_eq!(
        parse_go_duration(doc["ECS_CONTAINER_START_TIMEOUT"]).unwrap(),
        c.container_start_timeout
    );
    assert_eq!(
        parse_go_duration(doc["ECS_IMAGE_PULL_TIMEOUT"]).unwrap(),
        c.image_pull_timeout
    );
    assert_eq!(
        parse_go_duration(doc["ECS_IMAGE_PULL_INACTIVITY_TIMEOUT"]).unwrap(),
        c.image_pull_inactivity_timeout
    );
    assert_eq!(
        parse_go_duration(doc["ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION"]).unwrap(),
        c.engine_task_cleanup_wait
    );
    assert_eq!(doc["ECS_IMAGE_PULL_BEHAVIOR"], "default");
    assert_eq!(
        doc["ECS_DISABLE_PRIVILEGED"],
        c.disable_privileged.to_string()
    );
    assert_eq!(
        doc["CONTAINERD_ADDRESS"],
        c.containerd_address.to_str().unwrap()
    );
    assert_eq!(doc["CONTAINERD_NAMESPACE"], c.containerd_namespace);
    assert_eq!(doc["ECS_CONFIG_FILE"], DEFAULT_CONFIG_FILE);
}

#[test]
fn every_variable_read_is_documented_and_vice_versa() {
    let e = with(&[]);
    let mut r = Reader::new(&e, &[]);
    Config::read(&mut r).unwrap();
    let documented: BTreeSet<&str> = documented_variables().iter().map(|(n, _, _)| *n).collect();
    assert_eq!(documented.len(), documented_variables().len(), "duplicates");
    assert_eq!(r.consulted, documented);
    for name in &documented {
        assert!(
            !GO_AGENT_IGNORED.contains(name),
            "{name} both honoured and ignored"
        );
    }
}

#[test]
fn consulted_names_equal_documented_names() {
    // Every documented variable, set (empty), is recognised as known.
    let documented: BTreeSet<&str> = documented_variables().iter().map(|(n, _, _)| *n).collect();
    let all_set: Vec<(&str, &str)> = documented
        .iter()
        .filter(|n| **n != "AWS_DEFAULT_REGION")
        .map(|n| (*n, ""))
        .collect();
    let c = Config::from_sources(&with(&all_set), &[]).unwrap();
    assert!(c.unknown_variables.is_empty(), "{:?}", c.unknown_variables);
    assert!(c.ignored_variables.is_empty(), "{:?}", c.ignored_variables);
}

#[test]
fn cluster() {
    assert_eq!(cfg(&[("ECS_CLUSTER", "prod-1")]).cluster, "prod-1");
    assert_eq!(cfg(&[("ECS_CLUSTER", "  prod  ")]).cluster, "prod");
    let arn = "arn:aws:ecs:us-west-2:123456789012:cluster/prod";
    assert_eq!(cfg(&[("ECS_CLUSTER", arn)]).cluster, arn);
    let msg = invalid("ECS_CLUSTER", "my cluster");
    assert!(msg.contains("cluster name"), "{msg}");
}

#[test]
fn backend_host_and_region() {
    let c =
        Config::from_sources(&env(&[("ECS_BACKEND_HOST", "http://127.0.0.1:8080")]), &[]).unwrap();
    assert_eq!(c.backend_host.as_deref(), Some("http://127.0.0.1:8080"));
    assert_eq!(c.region, None);
    assert_eq!(c.resolve_region(None).unwrap(), "us-east-1");

    let c = cfg(&[("ECS_BACKEND_HOST", "ecs.example.com")]);
    assert_eq!(c.backend_host.as_deref(), Some("https://ecs.example.com"));
    assert_eq!(
        c.region.as_deref(),
        Some("us-west-2"),
        "explicit region wins"
    );

    let msg = invalid("ECS_BACKEND_HOST", "ftp://x");
    assert!(msg.contains("http(s)"), "{msg}");
}

/// The Go agent's order (agent/config/config.go NewConfig): the
/// environment, then the config file, then the instance identity document
/// (ec2MetadataConfig); user data that sets only ECS_CLUSTER must work.
/// Ours then defaults to us-east-1 with ECS_BACKEND_HOST.
#[test]
fn region_precedence_env_file_identity_document() {
    let resolve = |e: &[(&str, &str)], f: &[(&str, &str)], iid: Option<&str>| {
        Config::from_sources(&env(e), &file(f))
            .and_then(|c| c.resolve_region(iid))
            .map_err(|e| e.to_string())
    };
    let iid = Some("eu-north-1");
    let env_region = [("AWS_DEFAULT_REGION", "eu-west-1")];
    let file_region = [("AWS_DEFAULT_REGION", "ap-south-1")];
    // The environment wins over the file, the file over the document.
    assert_eq!(
        resolve(&env_region, &file_region, iid).unwrap(),
        "eu-west-1"
    );
    assert_eq!(resolve(&[], &file_region, iid).unwrap(), "ap-south-1");
    assert_eq!(
        resolve(&[], &[("AWS_REGION", "ca-central-1")], iid).unwrap(),
        "ca-central-1"
    );
    // Only ECS_CLUSTER set: the document's region.
    let cluster_only = [("ECS_CLUSTER", "prod")];
    assert_eq!(resolve(&[], &cluster_only, iid).unwrap(), "eu-north-1");
    // The document wins over ecs-local's default too.
    let backend = [("ECS_BACKEND_HOST", "http://127.0.0.1:8080")];
    assert_eq!(resolve(&backend, &[], iid).unwrap(), "eu-north-1");
    assert_eq!(resolve(&backend, &[], None).unwrap(), "us-east-1");
    // A document region that is no region name counts as none.
    assert_eq!(
        resolve(&backend, &[], Some("Not A Region")).unwrap(),
        "us-east-1"
    );
    let e = resolve(&cluster_only, &[], Some("")).unwrap_err();
    assert!(e.starts_with("AWS_DEFAULT_REGION is not set"), "{e}");
    assert!(e.contains("AWS_EC2_METADATA_DISABLED"), "{e}");
}

/// AWS_EC2_METADATA_DISABLED and AWS_EC2_METADATA_SERVICE_ENDPOINT as the
/// AWS SDKs read them (aws-config imds: `true` in any case disables).
#[test]
fn imds_variables_as_the_sdks_read_them() {
    let c = cfg(&[]);
    assert!(!c.imds_disabled);
    assert_eq!(c.imds_endpoint, None);
    for (v, disabled) in [
        ("true", true),
        ("TRUE", true),
        ("false", false),
        ("1", false),
    ] {
        assert_eq!(
            cfg(&[("AWS_EC2_METADATA_DISABLED", v)]).imds_disabled,
            disabled,
            "{v}"
        );
    }
    let c = Config::from_sources(
        &with(&[]),
        &file(&[(
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            "http://127.0.0.1:9/debug/imds/",
        )]),
    )
    .unwrap();
    assert_eq!(
        c.imds_endpoint.as_deref(),
        Some("http://127.0.0.1:9/debug/imds")
    );
    assert_eq!(
        cfg(&[(
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            "http://[fd00:ec2::254]"
        )])
        .imds_endpoint
        .as_deref(),
        Some("http://[fd00:ec2::254]")
    );
    let msg = invalid("AWS_EC2_METADATA_SERVICE_ENDPOINT", "169.254.169.254");
    assert!(msg.contains("http(s) URL"), "{msg}");
}

#[test]
fn region_sources() {
    let r = |pairs: &[(&str, &str)]| {
        Config::from_sources(&env(pairs), &[]).and_then(|c| c.resolve_region(None))
    };
    assert_eq!(
        r(&[("AWS_DEFAULT_REGION", "eu-west-1")]).unwrap(),
        "eu-west-1"
    );
    assert_eq!(r(&[("AWS_REGION", "eu-west-2")]).unwrap(), "eu-west-2");
    assert_eq!(
        r(&[
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_REGION", "eu-west-2")
        ])
        .unwrap(),
        "eu-west-1"
    );
    assert_eq!(
        r(&[("AWS_DEFAULT_REGION", ""), ("AWS_REGION", "eu-west-2")]).unwrap(),
        "eu-west-2"
    );
    // From the file too.
    let c =
        Config::from_sources(&env(&[]), &file(&[("AWS_DEFAULT_REGION", "ap-south-1")])).unwrap();
    assert_eq!(c.region.as_deref(), Some("ap-south-1"));

    let e = r(&[]).unwrap_err();
    assert_eq!(e, ConfigError::MissingRegion);
    assert_eq!(e.variable(), Some("AWS_DEFAULT_REGION"));
    assert!(e.to_string().starts_with("AWS_DEFAULT_REGION is not set"));

    let e = r(&[("AWS_DEFAULT_REGION", "US WEST")]).unwrap_err();
    assert_eq!(e.variable(), Some("AWS_DEFAULT_REGION"));
    let e = r(&[("AWS_REGION", "Nope!")]).unwrap_err();
    assert_eq!(e.variable(), Some("AWS_REGION"));
    // An invalid AWS_DEFAULT_REGION is an error even if AWS_REGION is fine.
    let e = r(&[
        ("AWS_DEFAULT_REGION", "bad_region"),
        ("AWS_REGION", "us-east-2"),
    ])
    .unwrap_err();
    assert_eq!(e.variable(), Some("AWS_DEFAULT_REGION"));
    // An unused AWS_REGION is not validated.
    assert_eq!(
        r(&[
            ("AWS_DEFAULT_REGION", "us-east-2"),
            ("AWS_REGION", "Whatever")
        ])
        .unwrap(),
        "us-east-2"
    );
}

#[test]
fn data_dir_and_checkpoint() {
    let c = cfg(&[("ECS_DATADIR", "/data/")]);
    assert_eq!(c.data_dir, PathBuf::from("/data/"));
    assert!(c.checkpoint);
    for (v, want) in [("false", false), ("0", false), ("T", true), ("True", true)] {
        assert_eq!(cfg(&[("ECS_CHECKPOINT", v)]).checkpoint, want, "{v}");
    }
    let msg = invalid("ECS_DATADIR", "relative/dir");
    assert!(msg.contains("absolute path"), "{msg}");
    let msg = invalid("ECS_CHECKPOINT", "yes");
    assert!(msg.contains("true or false"), "{msg}");
}

#[test]
fn log_settings() {
    for (v, want) in [
        ("debug", LogLevel::Debug),
        ("info", LogLevel::Info),
        ("warn", LogLevel::Warn),
        ("error", LogLevel::Error),
        ("crit", LogLevel::Crit),
        ("none", LogLevel::None),
        ("DEBUG", LogLevel::Debug),
    ] {
        assert_eq!(cfg(&[("ECS_LOGLEVEL", v)]).log_level, want, "{v}");
    }
    let msg = invalid("ECS_LOGLEVEL", "verbose");
    assert!(msg.contains("debug, info, warn, error, crit"), "{msg}");
    assert_eq!(
        cfg(&[("ECS_LOG_OUTPUT_FORMAT", "json")]).log_output_format,
        LogFormat::Json
    );
    assert_eq!(
        cfg(&[("ECS_LOG_OUTPUT_FORMAT", "logfmt")]).log_output_format,
        LogFormat::Logfmt
    );
    let msg = invalid("ECS_LOG_OUTPUT_FORMAT", "text");
    assert!(msg.contains("logfmt or json"), "{msg}");
}

#[test]
fn reserved_memory() {
    assert_eq!(
        cfg(&[("ECS_RESERVED_MEMORY", "256")]).reserved_memory_mib,
        256
    );
    assert_eq!(
        invalid("ECS_RESERVED_MEMORY", "abc"),
        "ECS_RESERVED_MEMORY=\"abc\": expected a whole number of MiB (e.g. 256)"
    );
    invalid("ECS_RESERVED_MEMORY", "-1");
    invalid("ECS_RESERVED_MEMORY", "256MB");
    assert!(invalid("ECS_RESERVED_MEMORY", "70000").contains("65535"));
}

#[test]
fn reserved_ports() {
    let c = cfg(&[
        ("ECS_RESERVED_PORTS", "[22, 80, 5000, 8080]"),
        ("ECS_RESERVED_PORTS_UDP", "[53, 123]"),
    ]);
    assert_eq!(c.reserved_ports, vec![22, 80, 5000, 8080]);
    assert_eq!(c.reserved_ports_udp, vec![53, 123]);
    // Go agent quirk kept: an empty TCP list means the default.
    assert_eq!(
        cfg(&[("ECS_RESERVED_PORTS", "[]")]).reserved_ports,
        vec![22, 2375, 2376, 51678, 51679]
    );
    assert!(cfg(&[("ECS_RESERVED_PORTS_UDP", "[]")])
        .reserved_ports_udp
        .is_empty());
    let msg = invalid("ECS_RESERVED_PORTS", "22,80");
    assert!(msg.contains("JSON array"), "{msg}");
    invalid("ECS_RESERVED_PORTS", "[70000]");
    invalid("ECS_RESERVED_PORTS_UDP", "[\"53\"]");
}

#[test]
fn stop_timeout() {
    let t = |v: &str| cfg(&[("ECS_CONTAINER_STOP_TIMEOUT", v)]);
    assert_eq!(t("10m").container_stop_timeout, Duration::from_secs(600));
    assert_eq!(t("1m30s").container_stop_timeout, Duration::from_secs(90));
    assert_eq!(t("1s").container_stop_timeout, Duration::from_secs(1));
    // Zero means the default, as in Go.
    assert_eq!(t("0").container_stop_timeout, Duration::from_secs(30));
    assert!(t("0s").warnings.is_empty());
    // Below the 1s minimum: raised to it, with a warning.
    let c = t("500ms");
    assert_eq!(c.container_stop_timeout, Duration::from_secs(1));
    assert_eq!(c.warnings.len(), 1);
    assert_eq!(c.warnings[0].variable, "ECS_CONTAINER_STOP_TIMEOUT");
    assert_eq!(
        c.warnings[0].to_string(),
        "ECS_CONTAINER_STOP_TIMEOUT=\"500ms\": below the minimum of 1s; using 1s"
    );
    let msg = invalid("ECS_CONTAINER_STOP_TIMEOUT", "30");
    assert!(
        msg.contains("Go duration") && msg.contains("missing unit"),
        "{msg}"
    );
    invalid("ECS_CONTAINER_STOP_TIMEOUT", "-5s");
    invalid("ECS_CONTAINER_STOP_TIMEOUT", "5 minutes");
}

#[test]
fn start_timeout() {
    let t = |v: &str| cfg(&[("ECS_CONTAINER_START_TIMEOUT", v)]);
    assert_eq!(t("10m").container_start_timeout, Duration::from_secs(600));
    assert_eq!(t("45s").container_start_timeout, Duration::from_secs(45));
    let c = t("10s");
    assert_eq!(c.container_start_timeout, Duration::from_secs(45));
    assert_eq!(c.warnings[0].variable, "ECS_CONTAINER_START_TIMEOUT");
    invalid("ECS_CONTAINER_START_TIMEOUT", "3 m");
}

#[test]
fn cleanup_wait() {
    let t = |v: &str| cfg(&[("ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION", v)]);
    assert_eq!(t("10m").engine_task_cleanup_wait, Duration::from_secs(600));
    assert_eq!(t("1s").engine_task_cleanup_wait, Duration::from_secs(1));
    assert_eq!(
        t("1h30m").engine_task_cleanup_wait,
        Duration::from_secs(5400)
    );
    // Below 1s: the default, with a warning (Go behaviour).
    let c = t("500ms");
    assert_eq!(c.engine_task_cleanup_wait, Duration::from_secs(3 * 3600));
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0].message.contains("default 3h"));
    invalid("ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION", "3d");
}

#[test]
fn instance_attributes() {
    let c = cfg(&[(
        "ECS_INSTANCE_ATTRIBUTES",
        r#"{"stack": "prod", "tier/x": "a:b@c"}"#,
    )]);
    assert_eq!(c.instance_attributes.len(), 2);
    assert_eq!(c.instance_attributes["tier/x"], "a:b@c");
    assert!(cfg(&[("ECS_INSTANCE_ATTRIBUTES", "{}")])
        .instance_attributes
        .is_empty());
    let msg = invalid("ECS_INSTANCE_ATTRIBUTES", "stack=prod");
    assert!(msg.contains("JSON object"), "{msg}");
    let msg = invalid("ECS_INSTANCE_ATTRIBUTES", r#"{"bad key":"v"}"#);
    assert!(msg.contains("\"bad key\" is not"), "{msg}");
    let msg = invalid("ECS_INSTANCE_ATTRIBUTES", r#"{"k":" v"}"#);
    assert!(msg.contains("value of \"k\""), "{msg}");
    invalid("ECS_INSTANCE_ATTRIBUTES", r#"{"k":1}"#);
}

#[test]
fn container_instance_tags() {
    let c = cfg(&[(
        "ECS_CONTAINER_INSTANCE_TAGS",
        r#"{"team": "infra", "cost center": "42", "empty": ""}"#,
    )]);
    assert_eq!(c.container_instance_tags.len(), 3);
    assert_eq!(c.container_instance_tags["empty"], "");
    let msg = invalid("ECS_CONTAINER_INSTANCE_TAGS", r#"{"aws:x":"v"}"#);
    assert!(msg.contains("aws:"), "{msg}");
    invalid("ECS_CONTAINER_INSTANCE_TAGS", "[1]");
}

#[test]
fn image_pull_behavior() {
    for (v, want) in [
        ("default", ImagePullBehavior::Default),
        ("always", ImagePullBehavior::Always),
        ("once", ImagePullBehavior::Once),
        ("prefer-cached", ImagePullBehavior::PreferCached),
    ] {
        assert_eq!(
            cfg(&[("ECS_IMAGE_PULL_BEHAVIOR", v)]).image_pull_behavior,
            want,
            "{v}"
        );
    }
    let msg = invalid("ECS_IMAGE_PULL_BEHAVIOR", "never");
    assert!(msg.contains("prefer-cached"), "{msg}");
}

#[test]
fn disable_privileged_all_go_bool_forms() {
    for v in ["1", "t", "T", "TRUE", "true", "True"] {
        assert!(
            cfg(&[("ECS_DISABLE_PRIVILEGED", v)]).disable_privileged,
            "{v}"
        );
    }
    for v in ["0", "f", "F", "FALSE", "false", "False"] {
        assert!(
            !cfg(&[("ECS_DISABLE_PRIVILEGED", v)]).disable_privileged,
            "{v}"
        );
    }
    let msg = invalid("ECS_DISABLE_PRIVILEGED", "on");
    assert!(msg.contains("boolean"), "{msg}");
}

#[test]
fn engine_auth_and_lookup() {
    let c = cfg(&[
        ("ECS_ENGINE_AUTH_TYPE", "docker"),
        (
            "ECS_ENGINE_AUTH_DATA",
            r#"{"https://index.docker.io/v1/":{"username":"hub","password":"p1","email":"e"},
                "127.0.0.1:5001":{"username":"tester","password":"p2"}}"#,
        ),
    ]);
    for hub in [
        "docker.io",
        "index.docker.io",
        "registry-1.docker.io",
        "https://index.docker.io/v1/",
        "Registry-1.Docker.IO",
    ] {
        let host = RegistryHost::new(hub);
        assert_eq!(c.credentials_for(&host).unwrap().username, "hub", "{hub}");
    }
    let lookup = |h: &str| c.credentials_for(&RegistryHost::new(h));
    assert_eq!(lookup("127.0.0.1:5001").unwrap().password, "p2");
    assert!(lookup("127.0.0.1:5000").is_none());
    assert!(lookup("quay.io").is_none());
}

#[test]
fn engine_auth_errors() {
    let e = err(&[("ECS_ENGINE_AUTH_TYPE", "docker")]);
    let msg = e.to_string();
    assert!(
        msg.contains("ECS_ENGINE_AUTH_TYPE") && msg.contains("ECS_ENGINE_AUTH_DATA"),
        "{msg}"
    );
    let e = err(&[("ECS_ENGINE_AUTH_DATA", "{}")]);
    assert_eq!(
        e,
        ConfigError::Incomplete {
            set: "ECS_ENGINE_AUTH_DATA",
            missing: "ECS_ENGINE_AUTH_TYPE"
        }
    );
    let e = err(&[
        ("ECS_ENGINE_AUTH_TYPE", "dockercfg"),
        ("ECS_ENGINE_AUTH_DATA", r#"{"r.io":{"auth":"hunter2"}}"#),
    ]);
    assert_eq!(e.variable(), Some("ECS_ENGINE_AUTH_DATA"));
    assert!(!e.to_string().contains("hunter2"));
}

#[test]
fn insecure_registries() {
    let c = cfg(&[("ECS_INSECURE_REGISTRIES", "127.0.0.1:5000,Local.Registry")]);
    assert_eq!(
        c.insecure_registries,
        vec!["127.0.0.1:5000", "local.registry"]
    );
    assert!(c.is_insecure_registry("127.0.0.1:5000"));
    assert!(c.is_insecure_registry("LOCAL.registry"));
    assert!(!c.is_insecure_registry("127.0.0.1:5001"));
    let msg = invalid("ECS_INSECURE_REGISTRIES", "127.0.0.1:5000,http://x");
    assert!(msg.contains("\"http://x\" is not"), "{msg}");
}

#[test]
fn containerd_settings() {
    let c = cfg(&[
        ("CONTAINERD_ADDRESS", "/work/.testenv/containerd.sock"),
        ("CONTAINERD_NAMESPACE", "test-ns_1.a"),
    ]);
    assert_eq!(
        c.containerd_address,
        PathBuf::from("/work/.testenv/containerd.sock")
    );
    assert_eq!(c.containerd_namespace, "test-ns_1.a");
    assert_eq!(
        cfg(&[("CONTAINERD_ADDRESS", "unix:///run/c.sock")]).containerd_address,
        PathBuf::from("/run/c.sock")
    );
    let msg = invalid("CONTAINERD_ADDRESS", "c.sock");
    assert!(msg.contains("absolute socket path"), "{msg}");
    let msg = invalid("CONTAINERD_NAMESPACE", "-bad");
    assert!(msg.contains("containerd namespace"), "{msg}");
    invalid("CONTAINERD_NAMESPACE", &"n".repeat(77));
    invalid("CONTAINERD_NAMESPACE", "a..b");
}

#[test]
fn environment_wins_over_file() {
    let c = Config::from_sources(
        &env(&[
            ("ECS_CLUSTER", "from-env"),
            ("AWS_DEFAULT_REGION", "us-west-2"),
        ]),
        &file(&[
            ("ECS_CLUSTER", "from-file"),
            ("ECS_LOGLEVEL", "debug"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
        ]),
    )
    .unwrap();
    assert_eq!(c.cluster, "from-env");
    assert_eq!(c.region.as_deref(), Some("us-west-2"));
    assert_eq!(c.log_level, LogLevel::Debug, "file fills what env lacks");
}

#[test]
fn later_file_line_wins() {
    let c = Config::from_sources(
        &with(&[]),
        &file(&[("ECS_CLUSTER", "first"), ("ECS_CLUSTER", "second")]),
    )
    .unwrap();
    assert_eq!(c.cluster, "second");
}

#[test]
fn empty_env_value_masks_file_and_means_default() {
    let c = Config::from_sources(
        &with(&[("ECS_CLUSTER", "")]),
        &file(&[("ECS_CLUSTER", "from-file")]),
    )
    .unwrap();
    assert_eq!(c.cluster, "default");
    // Empty in the file alone is unset too.
    let c = Config::from_sources(&with(&[]), &file(&[("ECS_RESERVED_MEMORY", "")])).unwrap();
    assert_eq!(c.reserved_memory_mib, 0);
    // Whitespace-only counts as empty.
    assert_eq!(cfg(&[("ECS_LOGLEVEL", "   ")]).log_level, LogLevel::Info);
}

#[test]
fn invalid_value_in_file_names_variable() {
    let e =
        Config::from_sources(&with(&[]), &file(&[("ECS_RESERVED_MEMORY", "lots")])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "ECS_RESERVED_MEMORY=\"lots\": expected a whole number of MiB (e.g. 256)"
    );
    // But the environment's valid value shadows a bad file value.
    let c = Config::from_sources(
        &with(&[("ECS_RESERVED_MEMORY", "64")]),
        &file(&[("ECS_RESERVED_MEMORY", "lots")]),
    )
    .unwrap();
    assert_eq!(c.reserved_memory_mib, 64);
}

#[test]
fn all_errors_reported_together() {
    let e = Config::from_sources(
        &env(&[
            ("ECS_RESERVED_MEMORY", "abc"),
            ("ECS_LOGLEVEL", "loud"),
            ("CONTAINERD_NAMESPACE", "-x"),
        ]),
        &[],
    )
    .unwrap_err();
    let ConfigError::Multiple(all) = &e else {
        panic!("{e:?}")
    };
    let names: Vec<_> = all.iter().map(|e| e.variable().unwrap()).collect();
    // No region is no error here: it may still come from EC2 instance
    // metadata (Config::resolve_region).
    assert_eq!(
        names,
        vec![
            "ECS_LOGLEVEL",
            "ECS_RESERVED_MEMORY",
            "CONTAINERD_NAMESPACE"
        ]
    );
    assert_eq!(e.errors().len(), 3);
    let msg = e.to_string();
    assert!(msg.starts_with("3 configuration errors:\n  "), "{msg}");
    assert!(msg.contains("\n  ECS_RESERVED_MEMORY=\"abc\""), "{msg}");
}

#[test]
fn unknown_and_ignored_variables() {
    let c = Config::from_sources(
        &with(&[
            ("ECS_CLUSTR", "typo"),
            ("ECS_AWSVPC_BLOCK_IMDS", "true"),
            ("PATH", "/usr/bin"),
            ("HOME", "/root"),
        ]),
        &file(&[
            ("ECS_UPDATES_ENABLED", "true"),
            ("ECS_MYSTERY", "1"),
            ("ECS_CLUSTR", "again"),
            ("ECS_LOG_DRIVER", "json-file"),
        ]),
    )
    .unwrap();
    assert_eq!(c.unknown_variables, vec!["ECS_CLUSTR", "ECS_MYSTERY"]);
    assert_eq!(
        c.ignored_variables,
        vec![
            "ECS_AWSVPC_BLOCK_IMDS",
            "ECS_LOG_DRIVER",
            "ECS_UPDATES_ENABLED"
        ]
    );
    // Ignored variables are not validated: garbage there is not an error.
    assert!(Config::from_sources(&with(&[("ECS_UPDATES_ENABLED", "maybe")]), &[]).is_ok());
}

#[test]
fn config_file_path_override() {
    assert_eq!(config_file_path(&env(&[])), "/etc/ecs/ecs.config");
    assert_eq!(
        config_file_path(&env(&[("ECS_CONFIG_FILE", "")])),
        "/etc/ecs/ecs.config"
    );
    assert_eq!(
        config_file_path(&env(&[("ECS_CONFIG_FILE", "/tmp/x.config")])),
        "/tmp/x.config"
    );
    // Setting it is not an unknown variable.
    let c = cfg(&[("ECS_CONFIG_FILE", "/tmp/x.config")]);
    assert!(c.unknown_variables.is_empty());
}

#[test]
fn debug_output_has_no_secrets() {
    let c = cfg(&[
        ("ECS_ENGINE_AUTH_TYPE", "docker"),
        (
            "ECS_ENGINE_AUTH_DATA",
            r#"{"quay.io":{"username":"robot","password":"s3cr3t-pw"}}"#,
        ),
    ]);
    let dbg = format!("{c:?}");
    assert!(!dbg.contains("s3cr3t-pw"), "{dbg}");
    assert!(dbg.contains("quay.io") && dbg.contains("robot"), "{dbg}");
    let pretty = format!("{c:#?}");
    assert!(!pretty.contains("s3cr3t-pw"));
}

#[test]
fn end_to_end_from_env_file_text() {
    let text = "# ECS agent settings\r\n\
                export ECS_CLUSTER=\"prod\"\r\n\
                ECS_BACKEND_HOST=http://127.0.0.1:8080/\r\n\
                ECS_INSTANCE_ATTRIBUTES={\"stack\":\"prod\"}\r\n\
                ECS_ENGINE_AUTH_TYPE=docker\r\n\
                ECS_ENGINE_AUTH_DATA='{\"127.0.0.1:5001\":{\"username\":\"u\",\"password\":\"p=w\"}}'\r\n\
                ECS_CONTAINER_STOP_TIMEOUT=1m30s\r\n\
                ECS_LOGLEVEL=\r\n";
    let pairs = parse_env_file(text).unwrap();
    let c = Config::from_sources(&env(&[("ECS_LOGLEVEL", "warn")]), &pairs).unwrap();
    assert_eq!(c.cluster, "prod");
    assert_eq!(c.backend_host.as_deref(), Some("http://127.0.0.1:8080"));
    assert_eq!(c.resolve_region(None).unwrap(), "us-east-1");
    assert_eq!(c.instance_attributes["stack"], "prod");
    assert_eq!(
        c.credentials_for(&RegistryHost::new("127.0.0.1:5001"))
            .unwrap()
            .password,
        "p=w"
    );
    assert_eq!(c.container_stop_timeout, Duration::from_secs(90));
    assert_eq!(c.log_level, LogLevel::Warn);
}

#[test]
fn documented_table_is_well_formed() {
    for (name, default, meaning) in documented_variables() {
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
            "{name}"
        );
        assert!(!meaning.is_empty(), "{name}");
        assert!(!meaning.contains("  "), "{name}: {meaning}");
        assert!(!meaning.contains('\n'), "{name}: {meaning}");
        assert!(!default.contains('\n'), "{name}");
    }
}

/// The README's configuration table is generated from `documented_variables()`;
/// this keeps the two equal (the failure message prints the table to paste).
#[test]
fn readme_configuration_table_is_current() {
    let mut table = String::from("| variable | default | meaning |\n|---|---|---|\n");
    for (name, default, meaning) in documented_variables() {
        let default = if default.is_empty() {
            "(unset)".to_string()
        } else {
            format!("`{default}`")
        };
        let meaning = meaning
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .replace('|', "\\|");
        table.push_str(&format!("| `{name}` | {default} | {meaning} |\n"));
    }
    let readme = include_str!("../../README.md");
    assert!(
        readme.contains(&table),
        "README.md's configuration table is out of date; it must contain exactly:\n\n{table}"
    );
}

#[test]
fn tcs_publish_interval_is_a_hidden_test_knob() {
    assert_eq!(cfg(&[]).tcs_publish_interval, None);
    let c = cfg(&[("ECS_TEST_TCS_PUBLISH_INTERVAL_MS", "1500")]);
    assert_eq!(c.tcs_publish_interval, Some(Duration::from_millis(1500)));
    // Neither documented nor reported as unknown.
    assert!(c.unknown_variables.is_empty(), "{:?}", c.unknown_variables);
    assert!(!documented_variables()
        .iter()
        .any(|(n, _, _)| *n == "ECS_TEST_TCS_PUBLISH_INTERVAL_MS"));
    for ignored in ["0", "soon", "-5"] {
        let c = cfg(&[("ECS_TEST_TCS_PUBLISH_INTERVAL_MS", ignored)]);
        assert_eq!(c.tcs_publish_interval, None, "{ignored}");
    }
}

#[test]
fn image_pull_timeouts_follow_the_go_agent() {
    // ECS_IMAGE_PULL_TIMEOUT: any positive duration; 0 is the default.
    let t = |v: &str| cfg(&[("ECS_IMAGE_PULL_TIMEOUT", v)]);
    assert_eq!(t("30m").image_pull_timeout, Duration::from_secs(1800));
    assert_eq!(t("3s").image_pull_timeout, Duration::from_secs(3));
    assert_eq!(t("0").image_pull_timeout, Duration::from_secs(7200));
    invalid("ECS_IMAGE_PULL_TIMEOUT", "2 hours");
    invalid("ECS_IMAGE_PULL_TIMEOUT", "-1m");

    // ECS_IMAGE_PULL_INACTIVITY_TIMEOUT: at least 1m (raised, with a warning).
    let t = |v: &str| cfg(&[("ECS_IMAGE_PULL_INACTIVITY_TIMEOUT", v)]);
    assert_eq!(
        t("5m").image_pull_inactivity_timeout,
        Duration::from_secs(300)
    );
    assert_eq!(
        t("0s").image_pull_inactivity_timeout,
        Duration::from_secs(60)
    );
    let c = t("10s");
    assert_eq!(c.image_pull_inactivity_timeout, Duration::from_secs(60));
    assert_eq!(c.warnings[0].variable, "ECS_IMAGE_PULL_INACTIVITY_TIMEOUT");
    invalid("ECS_IMAGE_PULL_INACTIVITY_TIMEOUT", "soon");
    for set in [
        "ECS_IMAGE_PULL_TIMEOUT",
        "ECS_IMAGE_PULL_INACTIVITY_TIMEOUT",
    ] {
        let c = cfg(&[(set, "2m")]);
        assert!(
            c.ignored_variables.is_empty(),
            "{set}: {:?}",
            c.ignored_variables
        );
    }

    // The test knob goes below the minimum; it is not an operator setting.
    let c = cfg(&[("ECS_TEST_IMAGE_PULL_INACTIVITY_TIMEOUT_MS", "1500")]);
    assert_eq!(c.image_pull_inactivity_timeout, Duration::from_millis(1500));
    assert!(c.unknown_variables.is_empty(), "{:?}", c.unknown_variables);
    assert!(!documented_variables()
        .iter()
        .any(|(n, _, _)| *n == "ECS_TEST_IMAGE_PULL_INACTIVITY_TIMEOUT_MS"));
    for ignored in ["0", "soon", "-5"] {
        let c = cfg(&[("ECS_TEST_IMAGE_PULL_INACTIVITY_TIMEOUT_MS", ignored)]);
        assert_eq!(
            c.image_pull_inactivity_timeout,
            Duration::from_secs(60),
            "{ignored}"
        );
    }
}

#[test]
fn free_space_threshold_and_image_filesystem_are_ours_and_validated() {
    use super::FreeSpaceThreshold;
    let c = cfg(&[]);
    assert_eq!(c.image_cleanup.free_space, None);
    assert_eq!(c.image_cleanup.filesystem, None);
    let c = cfg(&[
        ("ECS_IMAGE_CLEANUP_FREE_SPACE_THRESHOLD", "15%"),
        ("ECS_IMAGE_FILESYSTEM_PATH", "/var/lib/containerd"),
    ]);
    assert_eq!(
        c.image_cleanup.free_space,
        Some(FreeSpaceThreshold::Percent(15))
    );
    assert_eq!(
        c.image_cleanup.filesystem.as_deref(),
        Some(std::path::Path::new("/var/lib/containerd"))
    );
    assert!(c.unknown_variables.is_empty() && c.ignored_variables.is_empty());
    assert_eq!(
        cfg(&[("ECS_IMAGE_CLEANUP_FREE_SPACE_THRESHOLD", "2GiB")])
            .image_cleanup
            .free_space,
        Some(FreeSpaceThreshold::Bytes(2 << 30))
    );
    invalid("ECS_IMAGE_CLEANUP_FREE_SPACE_THRESHOLD", "150%");
    invalid("ECS_IMAGE_CLEANUP_FREE_SPACE_THRESHOLD", "lots");
    invalid("ECS_IMAGE_FILESYSTEM_PATH", "relative/dir");
}
