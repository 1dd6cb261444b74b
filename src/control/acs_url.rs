//! The ACS websocket URL, built as the Go agent builds it.

/// What the agent tells ACS about itself in the query string.
#[derive(Debug, Clone)]
pub struct AcsQuery<'a> {
    pub cluster_arn: &'a str,
    pub container_instance_arn: &'a str,
    pub agent_version: &'a str,
    pub agent_hash: &'a str,
    pub seq_num: i64,
    pub send_credentials: bool,
    pub docker_version: &'a str,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    #[error("poll endpoint {0:?} is not an http(s) URL")]
    Scheme(String),
}

/// The `dockerVersion` parameter, as the Go agent's `formatDockerVersion`
/// (ecs-agent/acs/session/session.go) writes it: Docker's version behind
/// `DockerVersion: ` (Amazon ECS shows the value as given in
/// describe-container-instances `versionInfo.dockerVersion`, e.g.
/// `DockerVersion: 25.0.8`), except the runtime name `containerd`, which the
/// Go library passes on bare for agents that run containerd rather than
/// Docker (and for which it leaves out the agent-update handlers). This
/// agent is one of those, so it sends `containerd`: a version of containerd
/// behind `DockerVersion: ` would tell ECS that Docker runs here.
pub fn format_docker_version(runtime: &str) -> String {
    if runtime == "containerd" {
        runtime.to_string()
    } else {
        format!("DockerVersion: {runtime}")
    }
}

/// `endpoint` as DiscoverPollEndpoint returned it (`https://ecs-a-1.../`):
/// scheme turned into ws(s), `ws` appended to the path, then the query.
pub fn acs_url(endpoint: &str, q: &AcsQuery<'_>) -> Result<String, UrlError> {
    let seq_num = q.seq_num.to_string();
    let send_credentials = q.send_credentials.to_string();
    let docker_version = format_docker_version(q.docker_version);
    ws_url(
        endpoint,
        &[
            ("agentHash", q.agent_hash),
            ("agentVersion", q.agent_version),
            ("clusterArn", q.cluster_arn),
            ("containerInstanceArn", q.container_instance_arn),
            ("dockerVersion", &docker_version),
            ("protocolVersion", "2"),
            ("sendCredentials", &send_credentials),
            ("seqNum", &seq_num),
        ],
    )
}

/// The websocket URL of a poll endpoint (ACS or TCS): the scheme turned into
/// ws(s), `ws` appended to the path, then `params` (already in Go's
/// `url.Values` order, sorted by key), each value percent-encoded.
pub(crate) fn ws_url(endpoint: &str, params: &[(&str, &str)]) -> Result<String, UrlError> {
    let mut url = if let Some(r) = endpoint.strip_prefix("https://") {
        format!("wss://{r}")
    } else if let Some(r) = endpoint.strip_prefix("http://") {
        format!("ws://{r}")
    } else {
        return Err(UrlError::Scheme(endpoint.to_string()));
    };
    if !url.ends_with('/') {
        url.push('/');
    }
    url.push_str("ws");
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    Ok(format!("{url}?{}", query.join("&")))
}

/// RFC 3986 percent-encoding of everything but unreserved characters, as
/// SigV4's canonical query string needs it.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q() -> AcsQuery<'static> {
        AcsQuery {
            cluster_arn: "arn:aws:ecs:us-east-1:0:cluster/c",
            container_instance_arn: "arn:aws:ecs:us-east-1:0:container-instance/c/i",
            agent_version: "0.1.0",
            agent_hash: "abc",
            seq_num: 3,
            send_credentials: true,
            docker_version: "containerd",
        }
    }

    /// The query the Go agent sends (ecs-agent/acs/session/session.go,
    /// acsURL): exactly these eight parameters, sorted by name as Go's
    /// url.Values.Encode writes them.
    #[test]
    fn the_query_has_the_go_agents_parameters() {
        let u = acs_url("http://h/acs/", &q()).unwrap();
        let query = u.split_once('?').unwrap().1;
        let names: Vec<&str> = query
            .split('&')
            .map(|kv| kv.split_once('=').unwrap().0)
            .collect();
        assert_eq!(
            names,
            vec![
                "agentHash",
                "agentVersion",
                "clusterArn",
                "containerInstanceArn",
                "dockerVersion",
                "protocolVersion",
                "sendCredentials",
                "seqNum"
            ]
        );
        assert!(query.contains("agentVersion=0.1.0&"), "{query}");
        assert!(query.contains("agentHash=abc&"), "{query}");
        // formatDockerVersion: Docker's version prefixed, containerd bare.
        assert_eq!(format_docker_version("containerd"), "containerd");
        assert_eq!(format_docker_version("25.0.8"), "DockerVersion: 25.0.8");
        let docker = AcsQuery {
            docker_version: "25.0.8",
            ..q()
        };
        let u = acs_url("http://h/acs/", &docker).unwrap();
        assert!(
            u.contains("dockerVersion=DockerVersion%3A%2025.0.8&"),
            "{u}"
        );
    }

    #[test]
    fn builds_ws_url_like_the_go_agent() {
        let u = acs_url("http://127.0.0.1:9000/acs/", &q()).unwrap();
        assert!(u.starts_with("ws://127.0.0.1:9000/acs/ws?"), "{u}");
        assert!(
            u.contains("clusterArn=arn%3Aaws%3Aecs%3Aus-east-1%3A0%3Acluster%2Fc"),
            "{u}"
        );
        assert!(u.contains("protocolVersion=2"));
        assert!(u.contains("sendCredentials=true"));
        assert!(u.contains("seqNum=3"));
        assert!(u.contains("dockerVersion=containerd"));
        let u = acs_url("https://ecs-a-1.us-east-1.amazonaws.com", &q()).unwrap();
        assert!(
            u.starts_with("wss://ecs-a-1.us-east-1.amazonaws.com/ws?"),
            "{u}"
        );
        assert_eq!(
            acs_url("ftp://x", &q()),
            Err(UrlError::Scheme("ftp://x".into()))
        );
    }
}
