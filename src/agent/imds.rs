//! What EC2 instance metadata (IMDSv2) tells the agent at start, as the Go
//! agent reads it: the instance identity document and its signature (sent
//! with RegisterContainerInstance, ecs-agent/api/ecs/client/ecs_client.go
//! setInstanceIdentity), the region in that document (agent/config/config.go
//! ec2MetadataConfig) and the primary interface's VPC and subnet
//! (agent/app/agent.go setVPCSubnet). Off EC2 nothing answers: the agent
//! waits at most [`PROBE_BUDGET`] for that, says so once and goes on
//! without, as the Go agent warns and proceeds.

use std::time::Duration;

use aws_config::imds::Client;
use aws_sdk_ecs::error::DisplayErrorContext;
use serde::Deserialize;

use crate::config::Config;

const IDENTITY_DOCUMENT: &str = "/latest/dynamic/instance-identity/document";
const IDENTITY_SIGNATURE: &str = "/latest/dynamic/instance-identity/signature";
const PRIMARY_MAC: &str = "/latest/meta-data/mac";

/// The whole wait for a first answer (token and document) before the agent
/// concludes it is not on EC2: starting off EC2 costs no more than this.
pub const PROBE_BUDGET: Duration = Duration::from_secs(1);
/// Each later request, once IMDS has answered.
const REQUEST_BUDGET: Duration = Duration::from_secs(5);

/// What IMDS said about this instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Ec2Instance {
    /// The identity document as IMDS returned it (ECS checks it against the
    /// signature, so it is passed on byte for byte).
    pub document: String,
    /// Empty when IMDS gave none (the Go agent then sends "" too).
    pub signature: String,
    /// What the agent itself reads from the document.
    pub identity: IdentityDocument,
    /// The primary interface's VPC and subnet; None when IMDS has none
    /// (an instance outside a VPC) or did not answer.
    pub network: Option<VpcSubnet>,
}

/// The fields of the identity document the agent uses. Decoded as Go's
/// decoder would (aws-sdk-go-v2 feature/ec2/imds InstanceIdentityDocument):
/// unknown keys are ignored, a missing key is empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IdentityDocument {
    pub region: Option<String>,
    pub instance_id: Option<String>,
    pub availability_zone: Option<String>,
    pub instance_type: Option<String>,
}

impl IdentityDocument {
    pub fn decode(text: &str) -> Result<IdentityDocument, serde_json::Error> {
        serde_json::from_str(text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcSubnet {
    pub vpc_id: String,
    pub subnet_id: String,
}

/// Reads the instance's identity and network from IMDS. None off EC2, with AWS_EC2_METADATA_DISABLED, or when IMDS does
/// not answer within [`PROBE_BUDGET`]; one log line says which.
pub async fn read(cfg: &Config) -> Option<Ec2Instance> {
    if cfg.imds_disabled {
        tracing::info!("AWS_EC2_METADATA_DISABLED is true: registering without an EC2 instance identity document");
        return None;
    }
    let client = match client(cfg) {
        Ok(c) => c,
        Err(error) => {
            tracing::warn!(%error, endpoint = ?cfg.imds_endpoint, "AWS_EC2_METADATA_SERVICE_ENDPOINT is unusable: registering without an EC2 instance identity document");
            return None;
        }
    };
    let document = match tokio::time::timeout(PROBE_BUDGET, client.get(IDENTITY_DOCUMENT)).await {
        Ok(Ok(doc)) => String::from(doc),
        Ok(Err(e)) => {
            tracing::warn!(error = %DisplayErrorContext(&e), "EC2 instance metadata gave no instance identity document (not on EC2?): registering without one");
            return None;
        }
        Err(_) => {
            tracing::warn!(
                budget_ms = PROBE_BUDGET.as_millis() as u64,
                "no answer from EC2 instance metadata (not on EC2?): registering without an instance identity document"
            );
            return None;
        }
    };
    let identity = IdentityDocument::decode(&document).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "the EC2 instance identity document is not the JSON expected; it is sent as it is, but gives no region");
        IdentityDocument::default()
    });
    let signature = get(&client, IDENTITY_SIGNATURE)
        .await
        .unwrap_or_else(|error| {
            tracing::warn!(%error, "EC2 instance metadata gave no identity document signature; registering without one");
            String::new()
        });
    let network = match network(&client).await {
        Ok(n) => Some(n),
        Err(error) => {
            tracing::warn!(%error, "EC2 instance metadata gave no VPC and subnet of the primary interface");
            None
        }
    };
    tracing::info!(instance_id = ?identity.instance_id, region = ?identity.region, vpc = ?network.as_ref().map(|n| &n.vpc_id), "read the EC2 instance identity from instance metadata");
    Some(Ec2Instance {
        document,
        signature,
        identity,
        network,
    })
}

fn client(cfg: &Config) -> Result<Client, String> {
    // The first answer must come within PROBE_BUDGET (the caller's timeout);
    // no retry of a connection that does not come, or the budget goes to
    // waiting on a host that is not there.
    let mut builder = Client::builder()
        .connect_timeout(PROBE_BUDGET)
        .read_timeout(REQUEST_BUDGET)
        .operation_timeout(REQUEST_BUDGET);
    // Unset, the client reads AWS_EC2_METADATA_SERVICE_ENDPOINT(_MODE) from
    // the process environment itself; the config may have it from the file.
    if let Some(endpoint) = &cfg.imds_endpoint {
        builder = builder.endpoint(endpoint).map_err(|e| e.to_string())?;
    }
    Ok(builder.build())
}

async fn get(client: &Client, path: &str) -> Result<String, String> {
    match tokio::time::timeout(REQUEST_BUDGET, client.get(path)).await {
        Ok(Ok(v)) => Ok(String::from(v).trim().to_string()),
        Ok(Err(e)) => Err(format!("{path}: {}", DisplayErrorContext(&e))),
        Err(_) => Err(format!(
            "{path}: no answer within {}s",
            REQUEST_BUDGET.as_secs()
        )),
    }
}

/// The primary interface's MAC, then its VPC and subnet (agent/app/agent.go
/// setVPCSubnet).
async fn network(client: &Client) -> Result<VpcSubnet, String> {
    let mac = get(client, PRIMARY_MAC).await?;
    if mac.is_empty() || mac.contains('/') {
        return Err(format!("{PRIMARY_MAC}: {mac:?} is no MAC address"));
    }
    let base = format!("/latest/meta-data/network/interfaces/macs/{mac}");
    let vpc_id = get(client, &format!("{base}/vpc-id")).await?;
    let subnet_id = get(client, &format!("{base}/subnet-id")).await?;
    Ok(VpcSubnet { vpc_id, subnet_id })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document exactly as EC2 returns it (the EC2 user guide's
    /// "Instance identity documents" example, keys as IMDS spells them).
    const EC2_DOCUMENT: &str = r#"{
  "accountId" : "0123456789",
  "architecture" : "x86_64",
  "availabilityZone" : "us-west-2b",
  "billingProducts" : null,
  "devpayProductCodes" : null,
  "marketplaceProductCodes" : [ "1abc2defghijklm3nopqrs4tu" ],
  "imageId" : "ami-5fb8c835",
  "instanceId" : "i-1234567890abcdef0",
  "instanceType" : "t2.micro",
  "kernelId" : null,
  "pendingTime" : "2016-11-19T16:32:11Z",
  "privateIp" : "10.158.112.84",
  "ramdiskId" : null,
  "region" : "us-west-2",
  "version" : "2017-09-30"
}"#;

    #[test]
    fn decodes_the_document_as_ec2_returns_it() {
        let d = IdentityDocument::decode(EC2_DOCUMENT).unwrap();
        assert_eq!(d.region.as_deref(), Some("us-west-2"));
        assert_eq!(d.instance_id.as_deref(), Some("i-1234567890abcdef0"));
        assert_eq!(d.availability_zone.as_deref(), Some("us-west-2b"));
        assert_eq!(d.instance_type.as_deref(), Some("t2.micro"));
    }

    /// As Go's decoder: unknown keys ignored, missing ones empty, `null` is
    /// none.
    #[test]
    fn decodes_leniently() {
        let d = IdentityDocument::decode(
            r#"{"region":"eu-north-1","someFutureKey":{"x":[1,2]},"instanceId":null}"#,
        )
        .unwrap();
        assert_eq!(d.region.as_deref(), Some("eu-north-1"));
        assert_eq!(d.instance_id, None);
        assert_eq!(
            IdentityDocument::decode("{}").unwrap(),
            IdentityDocument::default()
        );
        assert!(IdentityDocument::decode("<html>not found</html>").is_err());
    }
}
