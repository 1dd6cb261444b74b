//! The variables the agent injects into every task container so it can find
//! its endpoints (the Go agent's Container.Inject*Endpoint and the backend's
//! AWS_EXECUTION_ENV).

/// Where containers reach the agent (routed to our listener by `network`).
pub const ENDPOINT_HOST: &str = "169.254.170.2";

pub const METADATA_URI_V3: &str = "ECS_CONTAINER_METADATA_URI";
pub const METADATA_URI_V4: &str = "ECS_CONTAINER_METADATA_URI_V4";
pub const AGENT_URI: &str = "ECS_AGENT_URI";
pub const EXECUTION_ENV: &str = "AWS_EXECUTION_ENV";
pub const EXECUTION_ENV_EC2: &str = "AWS_ECS_EC2";

/// A fresh per-container endpoint token (the Go agent's V3EndpointID: a
/// random UUID). Generate once per container and persist it with the task.
pub fn new_token() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The variables for a container with `token`, in injection order.
pub fn endpoint_env(token: &str) -> Vec<(String, String)> {
    vec![
        (
            METADATA_URI_V3.to_string(),
            format!("http://{ENDPOINT_HOST}/v3/{token}"),
        ),
        (
            METADATA_URI_V4.to_string(),
            format!("http://{ENDPOINT_HOST}/v4/{token}"),
        ),
        (
            AGENT_URI.to_string(),
            format!("http://{ENDPOINT_HOST}/api/{token}"),
        ),
    ]
}

/// Adds the endpoint variables to a `KEY=VALUE` list, replacing any the task
/// definition set (as the Go agent, which writes them last), and
/// `AWS_EXECUTION_ENV=AWS_ECS_EC2` unless already present (ECS sends it in
/// the task payload; a local control plane may not).
pub fn inject(env: &mut Vec<String>, token: &str) {
    for (k, v) in endpoint_env(token) {
        let prefix = format!("{k}=");
        env.retain(|e| !e.starts_with(&prefix));
        env.push(format!("{k}={v}"));
    }
    let exec_prefix = format!("{EXECUTION_ENV}=");
    if !env.iter().any(|e| e.starts_with(&exec_prefix)) {
        env.push(format!("{EXECUTION_ENV}={EXECUTION_ENV_EC2}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injects_uris_replacing_user_values_and_keeps_backend_execution_env() {
        let mut env = vec![
            "PATH=/bin".to_string(),
            "ECS_AGENT_URI=http://elsewhere".to_string(),
        ];
        inject(&mut env, "tok-1");
        assert_eq!(
            env,
            vec![
                "PATH=/bin",
                "ECS_CONTAINER_METADATA_URI=http://169.254.170.2/v3/tok-1",
                "ECS_CONTAINER_METADATA_URI_V4=http://169.254.170.2/v4/tok-1",
                "ECS_AGENT_URI=http://169.254.170.2/api/tok-1",
                "AWS_EXECUTION_ENV=AWS_ECS_EC2",
            ]
        );
        let mut env = vec!["AWS_EXECUTION_ENV=AWS_ECS_EXTERNAL".to_string()];
        inject(&mut env, "t");
        assert!(env.contains(&"AWS_EXECUTION_ENV=AWS_ECS_EXTERNAL".to_string()));
        assert_eq!(env.len(), 4);
        let a = new_token();
        assert_eq!(a.len(), 36);
        assert_ne!(a, new_token());
    }
}
