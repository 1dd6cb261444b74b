//! The README's capability table: each capability this build can advertise,
//! when, for which feature, and the test that proves the feature works. It
//! is generated from the rows below, which must name exactly the code's
//! [`CAPABILITIES`], each with a test that exists.

use super::{When, CAPABILITIES};

/// (capability, feature, proving test as `file::function` under
/// tests/integration/).
const ROWS: &[(&str, &str, &str)] = &[
    (
        "com.amazonaws.ecs.capability.docker-remote-api.1.17",
        "the container fields ECS gates by no finer attribute: command, entryPoint, environment, \
         cpu, memory, ulimits, dockerLabels, user, workingDirectory, readonlyRootFilesystem, hostname",
        "e2e::container_settings_reach_the_container",
    ),
    (
        "com.amazonaws.ecs.capability.docker-remote-api.1.18",
        "`networkMode: awsvpc` (with task-eni)",
        "task_network::awsvpc_tasks_get_their_own_addresses_and_share_localhost",
    ),
    (
        "com.amazonaws.ecs.capability.docker-remote-api.1.19",
        "`logConfiguration` (with a logging-driver capability)",
        "agent_config::json_file_logging_is_advertised_and_placed_by_default",
    ),
    (
        "com.amazonaws.ecs.capability.docker-remote-api.1.20",
        "no field Amazon ECS is known to gate by it; whatever it gates that this agent lacks is \
         refused at task start, naming the field",
        "linux_params::bad_linux_parameters_stop_the_task_naming_the_field",
    ),
    (
        "com.amazonaws.ecs.capability.docker-remote-api.1.21",
        "`memoryReservation` (the cgroup's soft limit)",
        "defaults::memory_reservation_is_placed_and_reaches_the_cgroup",
    ),
    (
        "com.amazonaws.ecs.capability.docker-remote-api.1.22",
        "no field Amazon ECS is known to gate by it; whatever it gates that this agent lacks is \
         refused at task start, naming the field",
        "linux_params::bad_linux_parameters_stop_the_task_naming_the_field",
    ),
    (
        "com.amazonaws.ecs.capability.docker-remote-api.1.23",
        "`dockerSecurityOptions: no-new-privileges`",
        "linux_params::linux_parameters_reach_the_container",
    ),
    (
        "com.amazonaws.ecs.capability.docker-remote-api.1.24",
        "`healthCheck` (the one field ECS gates by 1.24; with container-health-check)",
        "health::a_health_check_gates_its_dependent_survives_kill_9_and_turns_the_task_unhealthy",
    ),
    (
        "com.amazonaws.ecs.capability.docker-remote-api.1.25",
        "`linuxParameters` `initProcessEnabled` (an init as PID 1), `sharedMemorySize`, `tmpfs` \
         (EFS, gated by 1.25 too, also needs ecs.capability.efs, not advertised)",
        "linux_params::an_init_reaps_orphans_and_passes_the_stop_on_shm_and_tmpfs_sizes_hold",
    ),
    (
        "com.amazonaws.ecs.capability.docker-remote-api.1.28",
        "awslogs `mode` and `max-buffer-size` (non-blocking delivery within a bounded spool; in every \
         definition the Amazon ECS console makes)",
        "awslogs::the_consoles_default_awslogs_options_are_placed_and_create_the_group",
    ),
    (
        "com.amazonaws.ecs.capability.docker-remote-api.1.29",
        "`awslogs-create-group` (the group made when it is missing); healthCheck `startPeriod`",
        "awslogs::the_consoles_default_awslogs_options_are_placed_and_create_the_group",
    ),
    (
        "com.amazonaws.ecs.capability.docker-remote-api.1.30",
        "no field Amazon ECS is known to gate by it; whatever it gates that this agent lacks is \
         refused at task start, naming the field",
        "linux_params::bad_linux_parameters_stop_the_task_naming_the_field",
    ),
    (
        "com.amazonaws.ecs.capability.docker-remote-api.1.32",
        "`ipcMode: none` (with pid-ipc-namespace-sharing)",
        "linux_params::task_pid_and_ipc_namespaces_are_shared_and_host_mode_sees_the_host",
    ),
    (
        "ecs.capability.container-ordering",
        "`dependsOn` with START, COMPLETE and SUCCESS (HEALTHY with container-health-check)",
        "e2e::depends_on_success_runs_the_init_container_first",
    ),
    (
        "ecs.capability.docker-plugin.local",
        "`dockerVolumeConfiguration` with the `local` driver: task and shared scope, \
         `autoprovision`, `driverOpts` (`type`, `device`, `o` through mount(2)), `labels`",
        "volumes::volumes_are_shared_by_containers_and_live_as_long_as_their_scope",
    ),
    (
        "ecs.capability.container-health-check",
        "`healthCheck` run in the container through containerd, its status in task metadata, \
         TCS and describe-tasks; `dependsOn` HEALTHY",
        "health::a_health_check_gates_its_dependent_survives_kill_9_and_turns_the_task_unhealthy",
    ),
    (
        "ecs.capability.container-restart-policy",
        "`restartPolicy`: an exited container restarted in place unless its code is ignored or it ran less than `restartAttemptPeriod`",
        "restart_policy::a_container_is_restarted_in_place_unless_its_exit_code_is_ignored",
    ),
    (
        "ecs.capability.pid-ipc-namespace-sharing",
        "task `pidMode` and `ipcMode` (`host`, `task`: one namespace and /dev/shm for the task's \
         containers, held by the agent's init; ipcMode `none`)",
        "linux_params::task_pid_and_ipc_namespaces_are_shared_and_host_mode_sees_the_host",
    ),
    (
        "ecs.capability.secrets.ssm.environment-variables",
        "`secrets` from SSM Parameter Store (name or ARN, other regions, SecureString) as \
         environment variables, fetched with the execution role",
        "aws_resources::secrets_and_env_files_reach_the_container_and_a_missing_parameter_stops_the_task",
    ),
    (
        "ecs.capability.secrets.asm.environment-variables",
        "`secrets` from Secrets Manager (ARN with `:json-key:version-stage:version-id`) as \
         environment variables, fetched with the execution role",
        "aws_resources::secrets_and_env_files_reach_the_container_and_a_missing_parameter_stops_the_task",
    ),
    (
        "ecs.capability.secrets.ssm.bootstrap.log-driver",
        "`logConfiguration.secretOptions` from SSM Parameter Store: fetched with the execution \
         role at create and applied as the log driver's options",
        "awslogs::secret_options_set_the_group_and_stream_and_bad_ones_stop_the_task",
    ),
    (
        "ecs.capability.secrets.asm.bootstrap.log-driver",
        "`logConfiguration.secretOptions` from Secrets Manager: fetched with the execution \
         role at create and applied as the log driver's options",
        "awslogs::secret_options_set_the_group_and_stream_and_bad_ones_stop_the_task",
    ),
    (
        "ecs.capability.env-files.s3",
        "`environmentFiles` from S3, fetched with the execution role",
        "aws_resources::secrets_and_env_files_reach_the_container_and_a_missing_parameter_stops_the_task",
    ),
    (
        "ecs.capability.private-registry-authentication.secretsmanager",
        "`repositoryCredentials`: the pull's login from a Secrets Manager secret, fetched with the \
         execution role",
        "aws_resources::secrets_and_env_files_reach_the_container_and_a_missing_parameter_stops_the_task",
    ),
    (
        "com.amazonaws.ecs.capability.ecr-auth",
        "private ECR images (`registryAuthentication` of type ecr): a token from ECR's \
         GetAuthorizationToken, cached as the Go agent caches it, as the pull's login",
        "ecr::a_private_ecr_image_is_pulled_with_its_token_and_a_wrong_registry_id_stops_the_task",
    ),
    (
        "ecs.capability.execution-role-ecr-pull",
        "the ECR token asked with the task's execution role (`useExecutionRole`)",
        "ecr::a_private_ecr_image_is_pulled_with_its_token_and_a_wrong_registry_id_stops_the_task",
    ),
    (
        "com.amazonaws.ecs.capability.privileged-container",
        "`privileged: true`",
        "runtime::privileged_gets_host_caps_and_no_readonly_proc",
    ),
    (
        "com.amazonaws.ecs.capability.task-iam-role",
        "`taskRoleArn`: credentials at 169.254.170.2 for bridge and awsvpc tasks",
        "task_network::a_task_gets_exactly_its_own_credentials_and_no_one_elses",
    ),
    (
        "com.amazonaws.ecs.capability.task-iam-role-network-host",
        "`taskRoleArn` in host network mode",
        "task_network::host_mode_tasks_reach_credentials_through_the_prepared_host",
    ),
    (
        "ecs.capability.task-eni",
        "awsvpc tasks, with an ENI moved into the task when the payload has one",
        "task_network::an_eni_with_the_payloads_mac_moves_into_the_task_and_back",
    ),
    (
        "ecs.capability.task-cpu-mem-limit",
        "task-level `cpu` and `memory` enforced by a task cgroup",
        "task_cgroups::the_task_cgroup_has_the_limits_holds_the_containers_and_goes_at_cleanup",
    ),
    (
        "ecs.capability.increased-task-cpu-limit",
        "task-level `cpu` above 10 vCPU (the task cgroup's quota has no such bound)",
        "task_cgroups::the_task_cgroup_has_the_limits_holds_the_containers_and_goes_at_cleanup",
    ),
    (
        "com.amazonaws.ecs.capability.logging-driver.json-file",
        "`logDriver: json-file`",
        "agent_config::json_file_logging_is_advertised_and_placed_by_default",
    ),
    (
        "com.amazonaws.ecs.capability.logging-driver.none",
        "`logDriver: none`: output discarded, no logger process",
        "container_logs::json_file_rotates_none_discards_and_ecs_agent_logs_prints_every_byte",
    ),
    (
        "com.amazonaws.ecs.capability.logging-driver.awslogs",
        "`logDriver: awslogs`: the json-file spool shipped to CloudWatch Logs by the agent, resumed after a kill -9",
        "awslogs::every_line_reaches_cloudwatch_once_across_a_kill_9_of_the_agent",
    ),
    (
        "ecs.capability.execution-role-awslogs",
        "awslogs containers marked `logsAuthStrategy: ExecutionRole` ship with the task execution role",
        "awslogs::lines_reach_the_stream_ecs_names_with_the_execution_role",
    ),
];

fn when(w: When) -> String {
    match w {
        When::Always => "always".into(),
        When::PrivilegedAllowed => "unless `ECS_DISABLE_PRIVILEGED`".into(),
        When::TaskIamRole => "`ECS_ENABLE_TASK_IAM_ROLE` (default true) and task networking works".into(),
        When::TaskIamRoleNetworkHost => {
            "also `ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST` (default true) and the host is prepared \
             (`ECS_HOST_NETWORK_SETUP`)"
                .into()
        }
        When::TaskEni => {
            "`ECS_ENABLE_TASK_ENI` (default true, false with `ECS_EXTERNAL`), task networking works \
             and, on EC2, the instance's VPC and subnet are known"
                .into()
        }
        When::TaskCpuMemLimit => {
            "`ECS_ENABLE_TASK_CPU_MEM_LIMIT` (default true) and task cgroups work on the host".into()
        }
        When::HealthChecks => "unless `ECS_DISABLE_DOCKER_HEALTH_CHECK`".into(),
        When::LoggingDriverListed(d) => {
            format!("`ECS_AVAILABLE_LOGGING_DRIVERS` lists {d} (it does by default)")
        }
        When::AwslogsExecutionRole => {
            "`ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE` (default true) and awslogs is advertised".into()
        }
    }
}

fn table() -> String {
    let mut t =
        String::from("| capability | advertised | feature | proved by |\n|---|---|---|---|\n");
    for ((name, w), (row_name, feature, test)) in CAPABILITIES.iter().zip(ROWS) {
        assert_eq!(name, row_name, "ROWS must follow CAPABILITIES' order");
        let feature = feature.split_whitespace().collect::<Vec<_>>().join(" ");
        t.push_str(&format!(
            "| `{name}` | {} | {feature} | `{test}` |\n",
            when(*w)
        ));
    }
    t
}

#[test]
fn every_advertised_capability_has_a_row_and_every_row_is_advertised() {
    let code: Vec<&str> = CAPABILITIES.iter().map(|(n, _)| *n).collect();
    let rows: Vec<&str> = ROWS.iter().map(|(n, _, _)| *n).collect();
    assert_eq!(code, rows);
}

#[test]
fn every_row_names_a_test_that_exists() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration");
    for (name, _, test) in ROWS {
        let (file, func) = test
            .split_once("::")
            .unwrap_or_else(|| panic!("{name}: {test} is not file::function"));
        let src = std::fs::read_to_string(root.join(format!("{file}.rs")))
            .unwrap_or_else(|e| panic!("{name}: tests/integration/{file}.rs: {e}"));
        assert!(
            src.contains(&format!("fn {func}(")),
            "{name}: no fn {func} in tests/integration/{file}.rs"
        );
    }
}

#[test]
fn readme_capability_table_is_current() {
    let table = table();
    let readme = include_str!("../../README.md");
    assert!(
        readme.contains(&table),
        "README.md's capability table is out of date; it must contain exactly:\n\n{table}"
    );
}
