use super::*;
use rand::SeedableRng;

fn rng() -> rand::rngs::StdRng {
    rand::rngs::StdRng::seed_from_u64(7)
}

fn instance() -> Instance {
    Instance::generate(&mut rng(), "000000000000", "eu-west-3", 1_700_000_000.0)
}

/// Every key of the document EC2 returns (the EC2 user guide's "Instance
/// identity documents" example), with EC2's value types.
#[test]
fn the_document_has_the_keys_ec2_writes() {
    let i = instance();
    let doc: serde_json::Value = serde_json::from_str(&i.document()).unwrap();
    let keys: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "accountId",
        "architecture",
        "availabilityZone",
        "billingProducts",
        "devpayProductCodes",
        "marketplaceProductCodes",
        "imageId",
        "instanceId",
        "instanceType",
        "kernelId",
        "pendingTime",
        "privateIp",
        "ramdiskId",
        "region",
        "version",
    ];
    expected.sort();
    let mut keys_sorted = keys.clone();
    keys_sorted.sort();
    assert_eq!(keys_sorted, expected);
    assert_eq!(doc["region"], "eu-west-3");
    assert_eq!(doc["availabilityZone"], "eu-west-3a");
    assert_eq!(doc["pendingTime"], "2023-11-14T22:13:20Z");
    assert_eq!(doc["version"], "2017-09-30");
    assert!(doc["kernelId"].is_null());
    let id = doc["instanceId"].as_str().unwrap();
    assert!(id.starts_with("i-") && id.len() == 19, "{id}");
}

#[test]
fn answers_the_paths_the_agent_reads() {
    let i = instance();
    let imds = Imds::new(i.clone(), &mut rng());
    let mac = imds.get("meta-data/mac").unwrap();
    assert_eq!(mac, i.mac);
    assert_eq!(
        imds.get(&format!("meta-data/network/interfaces/macs/{mac}/vpc-id")),
        Some(i.vpc_id.clone())
    );
    assert_eq!(
        imds.get(&format!(
            "meta-data/network/interfaces/macs/{mac}/subnet-id"
        )),
        Some(i.subnet_id.clone())
    );
    assert_eq!(
        imds.get("meta-data/network/interfaces/macs/0e:00:00:00:00:00/vpc-id"),
        None
    );
    assert_eq!(
        imds.get("dynamic/instance-identity/document"),
        Some(i.document())
    );
    let sig = imds.get("dynamic/instance-identity/signature").unwrap();
    assert!(base64::engine::general_purpose::STANDARD
        .decode(&sig)
        .is_ok());
    assert_eq!(imds.get("meta-data/nothing-here"), None);
}

/// IMDSv2: a token needs a TTL of 1 to 21600 seconds, and expires.
#[test]
fn tokens_need_a_ttl_and_expire() {
    let imds = Imds::new(instance(), &mut rng());
    let mut r = rng();
    for bad in [None, Some(""), Some("0"), Some("21601"), Some("soon")] {
        let e = imds.issue(bad, 100.0, &mut r).unwrap_err();
        assert!(e.contains(TOKEN_TTL_HEADER), "{bad:?}: {e}");
    }
    let (token, ttl) = imds.issue(Some("60"), 100.0, &mut r).unwrap();
    assert_eq!(ttl, 60);
    assert!(imds.valid(Some(&token), 159.0));
    assert!(!imds.valid(Some(&token), 160.0));
    assert!(!imds.valid(Some("made-up"), 100.0));
    assert!(!imds.valid(None, 100.0));
}

/// What Amazon ECS shows for an instance registered with a document:
/// ec2InstanceId and the built-in attributes; leniently decoded.
#[test]
fn derives_what_amazon_ecs_derives() {
    let i = instance();
    let (id, attrs) = derived_from_document(&i.document());
    assert_eq!(id.as_deref(), Some(i.instance_id.as_str()));
    let pairs: Vec<(&str, &str)> = attrs
        .iter()
        .map(|a| (a.name.as_str(), a.value.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        pairs,
        vec![
            ("ecs.ami-id", i.image_id.as_str()),
            ("ecs.availability-zone", "eu-west-3a"),
            ("ecs.instance-type", "m5.large"),
        ]
    );
    let (id, attrs) =
        derived_from_document(r#"{"instanceId":"i-1","future":[1],"instanceType":null}"#);
    assert_eq!(id.as_deref(), Some("i-1"));
    assert!(attrs.is_empty());
    assert_eq!(derived_from_document("not json"), (None, Vec::new()));
    assert_eq!(derived_from_document(""), (None, Vec::new()));
}
