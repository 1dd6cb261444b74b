//! Task credentials end to end on the real kernel: the agent's credentials
//! router served on 127.0.0.1, `prepare_host`'s 169.254.170.2 rules, and
//! processes in bridge / awsvpc / ENI namespaces fetching with busybox wget.
//! Needs root; shares helpers with `network`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command;

use ecs::config::RpsLimit;
use ecs::credentials::{self, CredentialsStore, RoleCredentials, RoleType};
use ecs::network::{HostPrep, NetworkManager};
use ecs::task::def::NetworkMode;
use ecs::task::net::Eni;

use crate::common::needs_root;
use crate::network::{wget, Net, HOST_PREP};

fn role(id: &str, key: &str) -> RoleCredentials {
    RoleCredentials {
        credentials_id: id.into(),
        role_arn: "arn:aws:iam::123456789012:role/app".into(),
        access_key_id: format!("ASIA{key}"),
        secret_access_key: format!("secret-{key}"),
        session_token: format!("token-{key}"),
        expiration: "2026-11-23T09:00:00Z".into(),
        role_type: RoleType::TaskApplication,
    }
}

struct VethPair(String);
impl Drop for VethPair {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_fetch_their_own_credentials_through_169_254_170_2() {
    if !needs_root() {
        return;
    }
    let _host = HOST_PREP.lock().await;
    let store = CredentialsStore::new();
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = credentials::router(store.clone(), RpsLimit::default());
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });

    let net = Net::with_credentials_port(21, port).await;
    net.mgr
        .prepare_host(&HostPrep {
            credentials_port: port,
            ..HostPrep::default()
        })
        .await
        .unwrap();

    let (ka, kb, kc) = (net.key("task-a"), net.key("task-b"), net.key("task-c"));
    let a = net.setup(&ka, NetworkMode::Bridge, vec![], None).await;
    let b = net.setup(&kb, NetworkMode::Awsvpc, vec![], None).await;
    // An ENI task: 169.254.170.2 goes over the ecs-eth0 veth, not the ENI.
    let eni_name = format!("enic{:x}", std::process::id() & 0xffff);
    let mac = "0a:e5:21:00:00:01";
    let st = Command::new("ip")
        .args([
            "link",
            "add",
            &eni_name,
            "address",
            mac,
            "type",
            "veth",
            "peer",
            "name",
            &format!("{eni_name}p"),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let _eni = VethPair(eni_name.clone());
    let c = net
        .setup(
            &kc,
            NetworkMode::Awsvpc,
            vec![],
            Some(Eni {
                mac: mac.into(),
                ipv4: vec![(Ipv4Addr::new(10, 214, 21, 5), 24)],
                gateway: Some(Ipv4Addr::new(10, 214, 21, 1)),
                dns: vec![],
                dns_search: vec![],
                private_dns_name: None,
            }),
        )
        .await;

    let arn = |k: &str| format!("arn:aws:ecs:us-east-1:123456789012:task/c/{k}");
    for (k, info, key) in [(&ka, &a, "AAA"), (&kb, &b, "BBB"), (&kc, &c, "CCC")] {
        store.put(&arn(k), role(&format!("id-{key}"), key)).unwrap();
        store.set_task_sources(
            &arn(k),
            info.source_ips.iter().map(|ip| IpAddr::V4(*ip)).collect(),
        );
    }
    let url = |key: &str| {
        format!(
            "http://169.254.170.2{}",
            CredentialsStore::relative_uri(&format!("id-{key}"))
        )
    };
    for (info, key) in [(&a, "AAA"), (&b, "BBB"), (&c, "CCC")] {
        let got = wget(info, &url(key)).unwrap_or_else(|e| panic!("{key}: {e}"));
        let v: serde_json::Value = serde_json::from_str(&got).unwrap();
        assert_eq!(v["AccessKeyId"], format!("ASIA{key}"));
        assert_eq!(v["SecretAccessKey"], format!("secret-{key}"));
        assert_eq!(v["Token"], format!("token-{key}"));
        assert_eq!(v["RoleArn"], "arn:aws:iam::123456789012:role/app");
        assert_eq!(v["Expiration"], "2026-11-23T09:00:00Z");
    }
    // Another task's id is refused (403), over v1 and v2.
    let err = wget(&b, &url("AAA")).unwrap_err();
    assert!(err.contains("403"), "{err}");
    let err = wget(&a, "http://169.254.170.2/v1/credentials?id=id-CCC").unwrap_err();
    assert!(err.contains("403"), "{err}");
    // A bridge task's credentials before its addresses are known: nobody's.
    store.put(&arn("early"), role("id-EARLY", "EARLY")).unwrap();
    let err = wget(&a, &url("EARLY")).unwrap_err();
    assert!(err.contains("403"), "{err}");
    // A host-mode task (open, no sources) is served to a host caller via the OUTPUT rule.
    store.open_task(&arn("host"));
    store.put(&arn("host"), role("id-HOST", "HOST")).unwrap();
    let out = Command::new("timeout")
        .args(["5", "busybox", "wget", "-qO-", &url("HOST")])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ASIAHOST"),
        "{out:?}"
    );

    for k in [&ka, &kb, &kc] {
        net.mgr.teardown(k).await.unwrap();
    }
    NetworkManager::undo_host_prep().await.unwrap();
    server.abort();
}
