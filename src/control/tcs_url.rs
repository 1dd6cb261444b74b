//! The TCS websocket URL, built as the Go agent builds it: the telemetry
//! endpoint, `ws`, then cluster, containerInstance, agentVersion and
//! agentHash in Go's `url.Values` order (sorted by key). The Go agent adds
//! `dockerVersion` only when its runtime is Docker, so it is absent here.

use super::acs_url::{ws_url, UrlError};

#[derive(Debug, Clone)]
pub struct TcsQuery<'a> {
    pub cluster: &'a str,
    pub container_instance: &'a str,
    pub agent_version: &'a str,
    pub agent_hash: &'a str,
}

/// `endpoint` as DiscoverPollEndpoint returned its telemetryEndpoint.
pub fn tcs_url(endpoint: &str, q: &TcsQuery<'_>) -> Result<String, UrlError> {
    ws_url(
        endpoint,
        &[
            ("agentHash", q.agent_hash),
            ("agentVersion", q.agent_version),
            ("cluster", q.cluster),
            ("containerInstance", q.container_instance),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q() -> TcsQuery<'static> {
        TcsQuery {
            cluster: "arn:aws:ecs:us-east-1:0:cluster/c",
            container_instance: "arn:aws:ecs:us-east-1:0:container-instance/c/i",
            agent_version: "0.1.0",
            agent_hash: "abc",
        }
    }

    #[test]
    fn builds_the_go_agents_url() {
        assert_eq!(
            tcs_url("http://127.0.0.1:9000/tcs/", &q()).unwrap(),
            "ws://127.0.0.1:9000/tcs/ws?agentHash=abc&agentVersion=0.1.0\
             &cluster=arn%3Aaws%3Aecs%3Aus-east-1%3A0%3Acluster%2Fc\
             &containerInstance=arn%3Aaws%3Aecs%3Aus-east-1%3A0%3Acontainer-instance%2Fc%2Fi"
        );
    }

    #[test]
    fn adds_the_slash_and_secures_https() {
        let u = tcs_url("https://ecs-t-1.us-east-1.amazonaws.com", &q()).unwrap();
        assert!(
            u.starts_with("wss://ecs-t-1.us-east-1.amazonaws.com/ws?agentHash="),
            "{u}"
        );
        assert!(!u.contains("dockerVersion"));
    }

    #[test]
    fn refuses_other_schemes() {
        assert_eq!(
            tcs_url("ftp://x/", &q()),
            Err(UrlError::Scheme("ftp://x/".into()))
        );
    }
}
