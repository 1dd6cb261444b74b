//! Private ECR images: ecs-local sends `registryAuthentication` of type ecr
//! for a registry mapped with `--ecr-registry HOST=REGISTRY_ID` (as Amazon
//! ECS does for `<id>.dkr.ecr.<region>.amazonaws.com`), the agent asks ECR's
//! GetAuthorizationToken (moto, through AWS_ENDPOINT_URL_ECR) for the token
//! and pulls with it. The test environment's ECR stand-in (ECS_TEST_ECR_REGISTRY)
//! is an htpasswd registry whose only login is moto's token for
//! ECS_TEST_ECR_REGISTRY_ID (user `AWS`, password `<id>-auth-token`), so a
//! pull succeeds only with the token of that registry id.

use std::time::Duration;

use serde_json::json;

use crate::common::{self, sh, Agent, Aws, EcsLocal, REGION};

const START: Duration = Duration::from_secs(90);
/// A registry id whose moto token the stand-in registry refuses.
const WRONG_ID: &str = "999999999999";

/// `(registry, registry id)` of the ECR stand-in, or `None` after a loud
/// SKIPPED line (a failure in CI), like `common::env`.
fn ecr_registry() -> Option<(String, String)> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    match (
        var("ECS_TEST_ECR_REGISTRY"),
        var("ECS_TEST_ECR_REGISTRY_ID"),
    ) {
        (Some(r), Some(id)) => Some((r, id)),
        _ => {
            let test = std::thread::current()
                .name()
                .unwrap_or("<unnamed test>")
                .to_string();
            if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0") {
                panic!("{test}: CI is set but ECS_TEST_ECR_REGISTRY(_ID) is missing: run `scripts/testenv up`");
            }
            eprintln!(
                "\n!!!!!!!! SKIPPED (not in CI): {test} needs the ECR stand-in of scripts/testenv up \
                 (ECS_TEST_ECR_REGISTRY missing) !!!!!!!!\n"
            );
            None
        }
    }
}

#[test]
fn a_private_ecr_image_is_pulled_with_its_token_and_a_wrong_registry_id_stops_the_task() {
    let Some(env) = common::env() else { return };
    let Some(moto) = common::moto() else { return };
    let Some((registry, registry_id)) = ecr_registry() else {
        return;
    };
    // The same registry under a second name, mapped to a registry id whose
    // token it refuses.
    let port = registry.rsplit_once(':').map_or("", |(_, p)| p);
    let alias = format!("localhost:{port}");
    let local = EcsLocal::start_with_args(
        &env,
        &[
            "--ecr-registry",
            &format!("{registry}={registry_id}"),
            "--ecr-registry",
            &format!("{alias}={WRONG_ID}"),
        ],
    );
    // Always pull: a failed pull must not fall back on the image the first
    // task left in the cache.
    let agent = Agent::start(
        &env,
        &local,
        &[
            ("AWS_ENDPOINT_URL_ECR", &moto),
            ("ECS_IMAGE_PULL_BEHAVIOR", "always"),
        ],
    );
    let aws = Aws::new(&env, &local);
    let instance = agent.wait_registered(&aws, START);
    let attrs = agent.registered_attributes(&aws, &instance).to_string();
    for cap in [
        "com.amazonaws.ecs.capability.ecr-auth",
        "ecs.capability.execution-role-ecr-pull",
    ] {
        assert!(attrs.contains(cap), "{cap} not advertised: {attrs}");
    }

    let td = |family: &str, image: &str, execution_role: bool| {
        let mut def = json!({"family": family, "networkMode": "host",
            "containerDefinitions": [{"name": "c", "image": image, "memory": 32,
                "essential": true, "command": sh("echo pulled-from-ecr")}]});
        if execution_role {
            def["executionRoleArn"] = json!("arn:aws:iam::123456789012:role/exec");
        }
        common::register_task_definition(&aws, def)
    };
    let image = format!("{registry}/busybox:latest");
    // As Amazon ECS derives them for an ECR image with an execution role.
    let exec_td = td("ecr-required", &image, true);
    let d = aws.ecs_ok(&["describe-task-definition", "--task-definition", &exec_td]);
    let required: Vec<&str> = d["taskDefinition"]["requiresAttributes"]
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        required,
        [
            "com.amazonaws.ecs.capability.ecr-auth",
            "ecs.capability.execution-role-ecr-pull"
        ],
        "{d}"
    );
    // With the execution role's credentials, then with the agent's own
    // (useExecutionRole false): each pulls with moto's token.
    for (family, execution_role) in [("ecr-exec", true), ("ecr-instance", false)] {
        let arn = common::run_task(&aws, &agent, &td(family, &image, execution_role));
        let t = common::wait_task_status(&aws, &agent, &arn, "STOPPED", START);
        assert_eq!(t["containers"][0]["exitCode"], 0, "{family}: {t}");
        assert_eq!(
            agent.container_log(common::task_id(&arn), "c").trim_end(),
            "pulled-from-ecr",
            "{family}"
        );
    }

    let wrong = common::run_task(
        &aws,
        &agent,
        &td("ecr-wrong", &format!("{alias}/busybox:latest"), true),
    );
    let t = common::wait_task_status(&aws, &agent, &wrong, "STOPPED", START);
    let reason = t["stoppedReason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("CannotPullContainerError: ") && reason.contains("HTTP 401"),
        "{t}"
    );
    assert!(
        reason.ends_with(&format!(
            "; the registry refused the ECR authorization token of registry {WRONG_ID} in {REGION}, asked with the task execution role: check that the image is in that registry and that the role may pull from it"
        )),
        "{reason}"
    );
    let log = agent.log();
    assert!(
        !log.contains(&format!("{registry_id}-auth-token")),
        "the registry password in the agent's log"
    );
}

/// `ecrAuthData.endpointOverride`: ecs-local sends moto's address as the
/// override of a mapped registry (`--ecr-registry HOST=ID,ENDPOINT`) while
/// the agent's own ECR endpoint (AWS_ENDPOINT_URL_ECR) is a closed port, so
/// the pull works only if GetAuthorizationToken goes to the override. The
/// same registry mapped without an override (under a second name) fails on
/// the closed port: the agent's setting is really nowhere.
#[test]
fn the_ecr_endpoint_override_of_the_payload_is_where_the_token_is_asked() {
    let Some(env) = common::env() else { return };
    let Some(moto) = common::moto() else { return };
    let Some((registry, registry_id)) = ecr_registry() else {
        return;
    };
    let port = registry.rsplit_once(':').map_or("", |(_, p)| p);
    let alias = format!("localhost:{port}");
    let nowhere = format!("http://127.0.0.1:{}", common::free_port());
    let local = EcsLocal::start_with_args(
        &env,
        &[
            "--ecr-registry",
            &format!("{registry}={registry_id},{moto}"),
            "--ecr-registry",
            &format!("{alias}={registry_id}"),
        ],
    );
    let agent = Agent::start(
        &env,
        &local,
        &[
            ("AWS_ENDPOINT_URL_ECR", &nowhere),
            ("ECS_IMAGE_PULL_BEHAVIOR", "always"),
        ],
    );
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, START);
    let td = |family: &str, image: &str| {
        common::register_task_definition(
            &aws,
            json!({"family": family, "networkMode": "host",
                "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
                "containerDefinitions": [{"name": "c", "image": image, "memory": 32,
                    "essential": true, "command": sh("echo pulled-through-override")}]}),
        )
    };

    let arn = common::run_task(
        &aws,
        &agent,
        &td("ecr-override", &format!("{registry}/busybox:latest")),
    );
    let t = common::wait_task_status(&aws, &agent, &arn, "STOPPED", START);
    assert_eq!(t["containers"][0]["exitCode"], 0, "{t}");
    assert_eq!(
        agent.container_log(common::task_id(&arn), "c").trim_end(),
        "pulled-through-override"
    );

    let arn = common::run_task(
        &aws,
        &agent,
        &td("ecr-no-override", &format!("{alias}/busybox:latest")),
    );
    let t = common::wait_task_status(&aws, &agent, &arn, "STOPPED", START);
    let reason = t["stoppedReason"].as_str().unwrap_or_default();
    // Go's reason for a failed ECR authorization, here a refused connection.
    assert!(
        reason.starts_with(&format!(
            "CannotPullECRContainerError: ecr auth: GetAuthorizationToken for registry {registry_id} in {REGION}: "
        )) && reason.contains("Connection refused"),
        "{t}"
    );
}
