use super::*;

fn req() -> EniRequest {
    parse_request(
        br#"{"subnetId":"subnet-test1","macAddress":"02:AA:bb:cc:dd:01","privateIpv4Address":"10.99.0.5",
            "subnetCidr":"10.99.0.0/24","gateway":"10.99.0.1","dnsServers":["10.99.0.2"]}"#,
    )
    .unwrap()
}

#[test]
fn a_good_registration_is_normalized() {
    let st = State::default();
    let e = validate(&st, &req(), "eni-0123456789abcdef0".into(), 5.0).unwrap();
    assert_eq!(e.mac_address, "02:aa:bb:cc:dd:01");
    assert_eq!(e.subnet_cidr, "10.99.0.0/24");
    assert_eq!(e.dns_servers, vec!["10.99.0.2"]);
    assert_eq!(e.private_dns_name, None);
    let id = new_eni_id();
    assert!(id.starts_with("eni-") && id.len() == 21, "{id}");
}

#[test]
fn each_bad_field_is_named() {
    let st = State::default();
    type Edit = Box<dyn Fn(&mut EniRequest)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("subnetId", Box::new(|r| r.subnet_id = None)),
        ("subnetId", Box::new(|r| r.subnet_id = Some("sn-1".into()))),
        (
            "macAddress",
            Box::new(|r| r.mac_address = Some("02:aa:bb:cc:dd".into())),
        ),
        (
            "macAddress",
            Box::new(|r| r.mac_address = Some("zz:aa:bb:cc:dd:01".into())),
        ),
        (
            "privateIpv4Address",
            Box::new(|r| r.private_ipv4_address = Some("10.99.1.5".into())),
        ),
        (
            "privateIpv4Address",
            Box::new(|r| r.private_ipv4_address = Some("10.99.0.255".into())),
        ),
        (
            "privateIpv4Address",
            Box::new(|r| r.private_ipv4_address = Some("ten".into())),
        ),
        (
            "subnetCidr",
            Box::new(|r| r.subnet_cidr = Some("10.99.0.1/24".into())),
        ),
        (
            "subnetCidr",
            Box::new(|r| r.subnet_cidr = Some("10.99.0.0".into())),
        ),
        (
            "subnetCidr",
            Box::new(|r| r.subnet_cidr = Some("10.99.0.0/33".into())),
        ),
        (
            "gateway",
            Box::new(|r| r.gateway = Some("10.98.0.1".into())),
        ),
        (
            "gateway",
            Box::new(|r| r.gateway = Some("10.99.0.5".into())),
        ),
        ("gateway", Box::new(|r| r.gateway = None)),
        (
            "dnsServers[1]",
            Box::new(|r| r.dns_servers = Some(vec!["10.99.0.2".into(), "x".into()])),
        ),
        (
            "privateDnsName",
            Box::new(|r| r.private_dns_name = Some("bad name".into())),
        ),
    ];
    for (field, edit) in cases {
        let mut r = req();
        edit(&mut r);
        let e = validate(&st, &r, "eni-1".into(), 0.0).unwrap_err();
        assert_eq!(e.field, field, "{e}");
    }
    let e = parse_request(br#"{"subnetId":"subnet-a","color":"red"}"#).unwrap_err();
    assert!(e.message.contains("color"), "{e}");
    let e = parse_request(br#"{"subnetId":7}"#).unwrap_err();
    assert_eq!(e.field, "subnetId");
    let e = parse_request(b"[").unwrap_err();
    assert!(!e.field.is_empty());
}

#[test]
fn duplicates_are_refused() {
    let mut st = State::default();
    let e = validate(&st, &req(), "eni-1".into(), 0.0).unwrap();
    st.put_eni(e);
    let err = validate(&st, &req(), "eni-2".into(), 0.0).unwrap_err();
    assert_eq!(err.field, "macAddress");
    let mut r = req();
    r.mac_address = Some("02:aa:bb:cc:dd:02".into());
    let err = validate(&st, &r, "eni-2".into(), 0.0).unwrap_err();
    assert_eq!(err.field, "privateIpv4Address");
}

#[test]
fn pool_prefers_subnet_order_and_skips_held_enis() {
    let mut st = State::default();
    for (i, subnet) in [(5u8, "subnet-b"), (6, "subnet-a"), (7, "subnet-a")] {
        let mut r = req();
        r.subnet_id = Some(subnet.into());
        r.mac_address = Some(format!("02:aa:bb:cc:dd:{i:02x}"));
        r.private_ipv4_address = Some(format!("10.99.0.{i}"));
        let e = validate(&st, &r, format!("eni-{i}"), f64::from(i)).unwrap();
        st.put_eni(e);
    }
    assert_eq!(pool(&st, &["subnet-c".into()]), Pool::Local);
    let ids = |p: Pool| match p {
        Pool::Free(v) => v
            .into_iter()
            .map(|e| e.network_interface_id)
            .collect::<Vec<_>>(),
        Pool::Local => panic!("local"),
    };
    assert_eq!(
        ids(pool(&st, &["subnet-a".into(), "subnet-b".into()])),
        vec!["eni-6", "eni-7", "eni-5"]
    );
    let holder = TaskRec {
        arn: "t".into(),
        last_status: "RUNNING".into(),
        eni: Some(TaskEni {
            attachment_id: "att".into(),
            attachment_arn: "arn:att".into(),
            eni: st.enis["eni-6"].clone(),
            status: super::ATTACHED.into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    st.put_task(holder.clone());
    assert_eq!(ids(pool(&st, &["subnet-a".into()])), vec!["eni-7"]);
    let mut stopped = holder;
    stopped.last_status = "STOPPED".into();
    st.put_task(stopped);
    assert_eq!(ids(pool(&st, &["subnet-a".into()])), vec!["eni-6", "eni-7"]);
}

#[test]
fn acs_and_describe_shapes() {
    let st = State::default();
    let mut r = req();
    r.private_dns_name = Some("ip-10-99-0-5.ec2.internal".into());
    let t = TaskEni {
        attachment_id: "a1".into(),
        attachment_arn: "arn:aws:ecs:us-east-1:000000000000:attachment/a1".into(),
        eni: validate(&st, &r, "eni-1".into(), 0.0).unwrap(),
        status: super::PRECREATED.into(),
        attach_deadline: Some(60.0),
        reported_with: Vec::new(),
    };
    let a = acs_eni(&t);
    assert_eq!(
        a.subnet_gateway_ipv4_address.as_deref(),
        Some("10.99.0.1/24")
    );
    assert_eq!(
        a.private_dns_name.as_deref(),
        Some("ip-10-99-0-5.ec2.internal")
    );
    let wire = serde_json::to_value(&a).unwrap();
    assert_eq!(
        wire,
        json!({"attachmentArn": "arn:aws:ecs:us-east-1:000000000000:attachment/a1",
            "ec2Id": "eni-1", "macAddress": "02:aa:bb:cc:dd:01",
            "ipv4Addresses": [{"primary": true, "privateAddress": "10.99.0.5"}],
            "subnetGatewayIpv4Address": "10.99.0.1/24", "domainNameServers": ["10.99.0.2"],
            "privateDnsName": "ip-10-99-0-5.ec2.internal", "interfaceAssociationProtocol": "default"})
    );
    let mut task = TaskRec {
        last_status: "RUNNING".into(),
        eni: Some(t),
        ..Default::default()
    };
    // Until the agent reports it, describe-tasks shows where it is.
    assert_eq!(render_attachments(&task)[0]["status"], "PRECREATED");
    task.eni.as_mut().unwrap().status = super::ATTACHING.into();
    assert_eq!(render_attachments(&task)[0]["status"], "ATTACHING");
    task.eni.as_mut().unwrap().status = super::ATTACHED.into();
    let att = render_attachments(&task);
    assert_eq!(att[0]["status"], "ATTACHED");
    assert_eq!(att[0]["id"], "a1");
    let names: Vec<&str> = att[0]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec![
            "subnetId",
            "networkInterfaceId",
            "macAddress",
            "privateDnsName",
            "privateIPv4Address"
        ]
    );
    task.last_status = "STOPPED".into();
    assert_eq!(render_attachments(&task)[0]["status"], "DELETED");
    assert_eq!(
        render_container_interfaces(&task),
        json!([{"attachmentId": "a1", "privateIpv4Address": "10.99.0.5"}])
    );
}
