use super::*;

fn cand(arn: &str, cpu: i64, mem: i64) -> Candidate {
    Candidate {
        arn: arn.into(),
        status: "ACTIVE".into(),
        connected: true,
        attributes: vec![Attribute {
            name: "ecs.capability.container-ordering".into(),
            ..Default::default()
        }],
        cpu_free: cpu,
        memory_free: mem,
        tcp_used: [22u16, 51678].into_iter().collect(),
        udp_used: BTreeSet::new(),
    }
}

fn req(cpu: i64, mem: i64, tcp: &[u16], udp: &[u16]) -> Requirement {
    Requirement {
        reservation: Reservation {
            cpu,
            memory: mem,
            tcp_ports: tcp.to_vec(),
            udp_ports: udp.to_vec(),
        },
        attributes: vec![],
    }
}

fn reasons(f: &[Failure]) -> Vec<&str> {
    f.iter().map(|f| f.reason.as_str()).collect()
}

#[test]
fn places_on_instance_with_room() {
    let mut c = vec![cand("a", 1024, 512), cand("b", 1024, 2048)];
    let (placed, failures) = place(&mut c, &req(128, 256, &[80], &[]), 1);
    assert_eq!(placed, vec!["b"]);
    assert!(failures.is_empty());
    assert_eq!(c[1].memory_free, 1792);
    assert!(c[1].tcp_used.contains(&80));
}

#[test]
fn spreads_and_runs_out() {
    let mut c = vec![cand("a", 1024, 512), cand("b", 1024, 512)];
    let (placed, failures) = place(&mut c, &req(0, 256, &[], &[]), 5);
    assert_eq!(placed.len(), 4);
    assert_eq!(placed[0], "a");
    assert_eq!(placed[1], "b");
    assert_eq!(
        reasons(&failures),
        vec!["RESOURCE:MEMORY", "RESOURCE:MEMORY"]
    );
    assert_eq!(failures[0].arn, "a");
}

#[test]
fn reasons_in_ecs_order() {
    let c = cand("a", 100, 100);
    assert_eq!(
        check(&c, &req(200, 50, &[], &[])).unwrap_err().reason,
        "RESOURCE:CPU"
    );
    assert_eq!(
        check(&c, &req(50, 200, &[], &[])).unwrap_err().reason,
        "RESOURCE:MEMORY"
    );
    assert_eq!(
        check(&c, &req(50, 50, &[22], &[])).unwrap_err().reason,
        "RESOURCE:PORTS"
    );
    let mut u = c.clone();
    u.udp_used.insert(53);
    assert_eq!(
        check(&u, &req(50, 50, &[53], &[53])).unwrap_err().reason,
        "RESOURCE:PORTS_UDP"
    );
    assert_eq!(
        check(&c, &req(50, 50, &[80, 80], &[])).unwrap_err().reason,
        "RESOURCE:PORTS"
    );
    let mut d = c.clone();
    d.connected = false;
    assert_eq!(check(&d, &req(1, 1, &[], &[])).unwrap_err().reason, "AGENT");
    let mut i = c.clone();
    i.status = "DRAINING".into();
    assert_eq!(
        check(&i, &req(1, 1, &[], &[])).unwrap_err().reason,
        "INACTIVE"
    );
}

#[test]
fn required_attributes() {
    let c = cand("a", 100, 100);
    let mut r = req(1, 1, &[], &[]);
    r.attributes = vec![Attribute {
        name: "ecs.capability.container-ordering".into(),
        ..Default::default()
    }];
    assert!(check(&c, &r).is_ok());
    r.attributes.push(Attribute {
        name: "com.amazonaws.ecs.capability.privileged-container".into(),
        ..Default::default()
    });
    let f = check(&c, &r).unwrap_err();
    // RunTask's shape {arn, reason: "ATTRIBUTE"}, and (better than Amazon
    // ECS, which leaves it out) a detail naming the missing attribute.
    assert_eq!(
        f,
        Failure {
            arn: "a".into(),
            reason: "ATTRIBUTE".into(),
            detail: Some(
                "missing attribute com.amazonaws.ecs.capability.privileged-container".into()
            )
        }
    );
    assert_eq!(
        missing_attribute(&c, &r),
        Some("com.amazonaws.ecs.capability.privileged-container")
    );
    // A required value must match.
    let mut r2 = req(1, 1, &[], &[]);
    r2.attributes = vec![Attribute {
        name: "ecs.capability.container-ordering".into(),
        value: Some("x".into()),
        ..Default::default()
    }];
    assert_eq!(check(&c, &r2).unwrap_err().reason, "ATTRIBUTE");
}

#[test]
fn second_task_with_same_port_does_not_fit_same_instance() {
    let mut c = vec![cand("a", 1024, 4096)];
    let (placed, failures) = place(&mut c, &req(0, 10, &[8080], &[]), 2);
    assert_eq!(placed.len(), 1);
    assert_eq!(reasons(&failures), vec!["RESOURCE:PORTS"]);
}
