//! Checks of the harness itself and of the shared environment it relies on.

use std::time::Duration;

use super::*;

#[test]
fn unique_ns_is_unique_and_valid() {
    let a = unique_ns("My_test::name");
    let b = unique_ns("My_test::name");
    assert_ne!(a, b);
    for n in [&a, &b] {
        assert!(
            n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "{n}"
        );
        assert!(n.starts_with("My-test--name-"), "{n}");
    }
}

#[test]
fn wait_until_returns_the_value() {
    let mut n = 0;
    let v = wait_until(Duration::from_secs(5), Duration::from_millis(1), || {
        n += 1;
        (n == 3).then_some(n)
    });
    assert_eq!(v, 3);
}

#[test]
#[should_panic(expected = "timed out")]
fn wait_until_panics_on_timeout() {
    wait_until(Duration::from_millis(20), Duration::from_millis(5), || {
        None::<()>
    });
}

#[test]
fn testenv_is_reachable() {
    let Some(env) = env() else { return };
    let version = ctr(&env, "default", &["version"]);
    assert!(version.contains("Server"), "{version}");
    assert!(
        env.aws.is_file(),
        "ECS_TEST_AWS {} missing",
        env.aws.display()
    );
}

/// scripts/aws-server.py runs the CLI's own entry point in a forked,
/// pre-imported process: what it answers must be what `aws` answers, for a
/// call that succeeds and for one the CLI refuses (exit code and message).
#[test]
fn the_aws_server_answers_exactly_as_the_cli() {
    let Some(env) = env() else { return };
    let Some(moto) = moto() else { return };
    let Some(server) = env.aws_server.clone() else {
        assert!(
            !in_ci(),
            "CI: scripts/testenv up must start the aws server (ECS_TEST_AWS_SERVER)"
        );
        eprintln!("\n!!!!!!!! SKIPPED (not in CI): ECS_TEST_AWS_SERVER unset !!!!!!!!\n");
        return;
    };
    let served = Aws::moto(&env, &moto, REGION);
    assert_eq!(served.server.as_deref(), Some(server.as_path()));
    let direct = Aws {
        server: None,
        ..Aws::moto(&env, &moto, REGION)
    };
    for args in [
        &["sts", "get-caller-identity"][..],
        &["ssm", "get-parameter", "--name", "/no/such/parameter"],
        &["ecs", "list-clusterz"],
    ] {
        let (a, b) = (served.run(args), direct.run(args));
        assert_eq!(a, b, "aws {}", args.join(" "));
    }
    let refused = direct.run(&["ecs", "list-clusterz"]).unwrap_err();
    assert!(refused.contains("(exit 2)"), "{refused}");
}

#[test]
fn cleanup_ns_kills_and_removes_containers() {
    let Some(env) = env() else { return };
    let ns = unique_ns("harness");
    let image = env.image();
    ctr(&env, &ns, &["images", "pull", "--plain-http", &image]);
    ctr(&env, &ns, &["run", "-d", &image, "sleeper", "sleep", "600"]);
    assert!(ctr(&env, &ns, &["tasks", "ls", "-q"]).contains("sleeper"));
    cleanup_ns(&env, &ns);
    assert_eq!(
        try_ctr(&env, &ns, &["containers", "ls", "-q"]).unwrap_or_default(),
        ""
    );
}
