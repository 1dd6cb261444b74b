use super::*;
use serde_json::json;

fn v(def: serde_json::Value) -> Result<TaskDefView, ApiError> {
    let view = view(def.as_object().unwrap())?;
    validate(&view)?;
    Ok(view)
}

fn good() -> serde_json::Value {
    json!({
        "family": "web",
        "containerDefinitions": [
            {"name": "app", "image": "busybox", "memory": 128, "portMappings": [{"containerPort": 80, "hostPort": 8080}],
             "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}], "logConfiguration": {"logDriver": "json-file"}},
            {"name": "init", "image": "busybox", "memoryReservation": 64, "essential": false}
        ]
    })
}

#[test]
fn accepts_a_normal_definition() {
    let view = v(good()).unwrap();
    assert_eq!(view.container_definitions.len(), 2);
}

fn err(def: serde_json::Value) -> String {
    v(def).unwrap_err().message
}

#[test]
fn errors_name_the_field() {
    let mut d = good();
    d["containerDefinitions"][0]["memory"] = json!(null);
    assert!(err(d).contains("'memory' or 'memoryReservation'"));

    let mut d = good();
    d["family"] = json!("bad name!");
    assert!(err(d).contains("family"));

    let mut d = good();
    d["containerDefinitions"][0]["portMappings"][0]["containerPort"] = json!(70000);
    assert!(err(d).contains("containerDefinitions[0].portMappings[0].containerPort"));

    let mut d = good();
    d["containerDefinitions"][0]["cpu"] = json!("lots");
    let e = err(d);
    assert!(e.contains("containerDefinitions[0].cpu"), "{e}");

    let mut d = good();
    d["containerDefinitions"][0]["dependsOn"][0]["containerName"] = json!("nope");
    assert!(err(d).contains("dependsOn[0].containerName"));

    let mut d = good();
    d["containerDefinitions"][0]["image"] = json!("");
    assert!(err(d).contains("image"));

    let mut d = good();
    d["containerDefinitions"][0]["dependsOn"] = json!([]);
    d["containerDefinitions"][1]["name"] = json!("app");
    assert!(err(d).contains("Duplicate container name"));

    let mut d = good();
    d["networkMode"] = json!("host");
    assert!(err(d).contains("hostPort"));

    let mut d = good();
    d["containerDefinitions"][0]["essential"] = json!(false);
    assert!(err(d).contains("essential"));

    let mut d = good();
    d["memory"] = json!("lots");
    assert!(err(d).contains("'memory' setting for task"));
}

#[test]
fn parses_cpu_and_memory_units() {
    assert_eq!(parse_cpu("256"), Some(256));
    assert_eq!(parse_cpu("0.25 vCPU"), Some(256));
    assert_eq!(parse_cpu("1 vcpu"), Some(1024));
    assert_eq!(parse_cpu("x"), None);
    assert_eq!(parse_memory("512"), Some(512));
    assert_eq!(parse_memory("1 GB"), Some(1024));
    assert_eq!(parse_memory("2gb"), Some(2048));
    assert_eq!(parse_memory("-1"), None);
}

/// Issue 18 point 11: Amazon ECS's limits, checked before any parsing.
#[test]
fn amazon_ecs_limits_are_enforced() {
    use super::{check_limits, MAX_DEFINITION_BYTES};
    let def = |n: usize, pad: usize| {
        let containers: Vec<serde_json::Value> = (0..n)
            .map(|i| {
                serde_json::json!({"name": format!("c{i}"), "image": "b", "memory": 64,
                "environment": [{"name": "P", "value": "x".repeat(pad)}]})
            })
            .collect();
        serde_json::json!({"family": "f", "containerDefinitions": containers})
            .as_object()
            .unwrap()
            .clone()
    };
    assert!(check_limits(&def(10, 10)).is_ok());
    let e = check_limits(&def(11, 0)).unwrap_err();
    assert!(e.message.contains("Too many containers: 11 given"), "{e}");
    assert!(check_limits(&def(49_000, 0)).is_err());
    let e = check_limits(&def(1, MAX_DEFINITION_BYTES)).unwrap_err();
    assert!(e.message.starts_with("Actual length: '"), "{e}");
    assert!(
        e.message.ends_with("Max allowed length is '65536' bytes."),
        "{e}"
    );
}

/// An 18,000-container dependsOn chain (the unchecked debug route's input)
/// validates without recursion, and a bad reference at its far end is found
/// and named. Linear time comes from the name sets in `validate` (the old
/// quadratic scan took seconds here); it is not asserted by a clock, which
/// a loaded CI machine would make flaky.
#[test]
fn a_long_dependency_chain_validates_and_its_last_link_is_checked() {
    let n = 18_000;
    let chain = |last_target: &str| {
        let containers: Vec<serde_json::Value> = (0..n)
            .map(|i| {
                let mut c = serde_json::json!({"name": format!("c{i}"), "image": "b"});
                let target = if i + 1 < n {
                    format!("c{}", i + 1)
                } else {
                    last_target.to_string()
                };
                if !target.is_empty() {
                    c["dependsOn"] =
                        serde_json::json!([{"containerName": target, "condition": "START"}]);
                }
                c
            })
            .collect();
        serde_json::json!({"family": "chain", "memory": "128", "containerDefinitions": containers})
    };
    let good = chain("");
    super::validate(&super::view(good.as_object().unwrap()).unwrap()).unwrap();
    let bad = chain("nowhere");
    let e = super::validate(&super::view(bad.as_object().unwrap()).unwrap()).unwrap_err();
    assert!(
        e.message
            .contains("containerDefinitions[17999].dependsOn[0].containerName \"nowhere\""),
        "{e}"
    );
}
