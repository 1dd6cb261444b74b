use super::*;

#[test]
fn tags_are_checked_and_normalized() {
    let t = validate(
        &[json!({"key": "a"}), json!({"key": "b", "value": "x y"})],
        "tags",
    )
    .unwrap();
    assert_eq!(
        t,
        vec![
            json!({"key": "a", "value": ""}),
            json!({"key": "b", "value": "x y"})
        ]
    );
    for (bad, field) in [
        (json!({"value": "x"}), "tags[0].key"),
        (json!({"key": "k", "value": "a#b"}), "tags[0].value"),
        (json!({"key": "AWS:thing"}), "tags[0].key"),
        (json!({"key": "k".repeat(129)}), "tags[0].key"),
        (json!({"key": "k", "other": 1}), "tags[0]"),
    ] {
        let e = validate(std::slice::from_ref(&bad), "tags").unwrap_err();
        assert!(e.message.starts_with(field), "{bad}: {}", e.message);
    }
    let e = validate(&[json!({"key": "a"}), json!({"key": "a"})], "tags").unwrap_err();
    assert!(e.message.contains("tags[1].key"), "{}", e.message);
}

#[test]
fn merge_replaces_by_key_and_counts_user_tags() {
    let old = vec![
        json!({"key": "a", "value": "1"}),
        json!({"key": "aws:ecs:clusterName", "value": "c"}),
    ];
    let m = merge(
        &old,
        &[
            json!({"key": "a", "value": "2"}),
            json!({"key": "b", "value": "3"}),
        ],
    )
    .unwrap();
    assert_eq!(
        m,
        vec![
            json!({"key": "a", "value": "2"}),
            json!({"key": "aws:ecs:clusterName", "value": "c"}),
            json!({"key": "b", "value": "3"})
        ]
    );
    let fifty: Vec<Value> = (0..50)
        .map(|i| json!({"key": format!("k{i}"), "value": ""}))
        .collect();
    assert!(merge(&old[1..], &fifty).is_ok(), "aws: tags do not count");
    assert!(merge(&old, &fifty).is_err());
}

#[test]
fn task_tags_propagate_from_the_task_definition() {
    let td = vec![
        json!({"key": "a", "value": "td"}),
        json!({"key": "b", "value": "td"}),
    ];
    let given = vec![json!({"key": "a", "value": "run"})];
    let t = task_tags(&given, Some("TASK_DEFINITION"), &td, Some("c1")).unwrap();
    assert_eq!(
        t,
        vec![
            json!({"key": "a", "value": "run"}),
            json!({"key": "b", "value": "td"}),
            json!({"key": MANAGED_CLUSTER_TAG, "value": "c1"})
        ]
    );
    assert_eq!(
        task_tags(&given, Some("NONE"), &td, None).unwrap(),
        given_norm(&given)
    );
    assert_eq!(
        task_tags(&given, None, &td, None).unwrap(),
        given_norm(&given)
    );
    assert!(task_tags(&given, Some("EVERYTHING"), &td, None).is_err());
}

fn given_norm(v: &[Value]) -> Vec<Value> {
    validate(v, "tags").unwrap()
}
