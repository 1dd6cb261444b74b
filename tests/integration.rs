//! One integration test binary (one link step) holding every area's tests.
//! They drive real containerd, runc, registry and the `aws` CLI; see tests/integration/common.

#[path = "integration/common/mod.rs"]
mod common;

#[path = "integration/agent_api.rs"]
mod agent_api;
#[path = "integration/agent_config.rs"]
mod agent_config;
#[path = "integration/aws_resources.rs"]
mod aws_resources;
#[path = "integration/awslogs.rs"]
mod awslogs;
#[path = "integration/awslogs_faults.rs"]
mod awslogs_faults;
#[path = "integration/bench_smoke.rs"]
mod bench_smoke;
#[path = "integration/churn.rs"]
mod churn;
#[path = "integration/container_logs.rs"]
mod container_logs;
#[path = "integration/containerd_in_docker.rs"]
mod containerd_in_docker;
#[path = "integration/credentials.rs"]
mod credentials;
#[path = "integration/defaults.rs"]
mod defaults;
#[path = "integration/dns.rs"]
mod dns;
#[path = "integration/durability.rs"]
mod durability;
#[path = "integration/e2e.rs"]
mod e2e;
#[path = "integration/ec2_identity.rs"]
mod ec2_identity;
#[path = "integration/ecr.rs"]
mod ecr;
#[path = "integration/ecs_parity.rs"]
mod ecs_parity;
#[path = "integration/endpoints.rs"]
mod endpoints;
#[path = "integration/endpoints_agent.rs"]
mod endpoints_agent;
#[path = "integration/endpoints_netns.rs"]
mod endpoints_netns;
#[path = "integration/full_disk.rs"]
mod full_disk;
#[path = "integration/hardening.rs"]
mod hardening;
#[path = "integration/health.rs"]
mod health;
#[path = "integration/introspection_access.rs"]
mod introspection_access;
#[path = "integration/leftovers.rs"]
mod leftovers;
#[path = "integration/linux_params.rs"]
mod linux_params;
#[path = "integration/local_api.rs"]
mod local_api;
#[path = "integration/local_errors.rs"]
mod local_errors;
#[path = "integration/local_net.rs"]
mod local_net;
#[path = "integration/network.rs"]
mod network;
#[path = "integration/pull.rs"]
mod pull;
#[path = "integration/pull_faults.rs"]
mod pull_faults;
#[path = "integration/reap.rs"]
mod reap;
#[path = "integration/restart_policy.rs"]
mod restart_policy;
#[path = "integration/runtime.rs"]
mod runtime;
#[path = "integration/ship.rs"]
mod ship;
#[path = "integration/task_cgroups.rs"]
mod task_cgroups;
#[path = "integration/task_network.rs"]
mod task_network;
#[path = "integration/task_network_start.rs"]
mod task_network_start;
#[path = "integration/telemetry.rs"]
mod telemetry;
#[path = "integration/volumes.rs"]
mod volumes;
