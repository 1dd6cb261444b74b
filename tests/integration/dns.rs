//! dnsServers, dnsSearchDomains, extraHosts, hostname, links,
//! disableNetworking and pseudoTerminal/interactive, seen from inside
//! containers of one bridge task; and bad values that stop a task before
//! anything of it is made.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{
    ctr, env, register_task_definition, run_task, task_id, wait_task_status, wait_until_with_log,
    Agent, Aws, EcsLocal,
};

const LONG: Duration = Duration::from_secs(90);

/// The linking container: what it sees, one `TAG:value` line each.
const WEB: &str = r#"echo "RESOLV:$(tr '\n' '|' < /etc/resolv.conf)"
echo "HOSTS:$(tr '\n' '|' < /etc/hosts)"
echo "HOSTNAME:$(hostname)"
if [ -t 1 ]; then echo "TTY:yes"; else echo "TTY:no"; fi
echo "TERM:$TERM"
echo "ENV:$(env | grep '^DATABASE_' | sort | tr '\n' '|')"
i=0; until R=$(wget -qO- http://database:8080/p); do i=$((i+1)); [ $i -gt 40 ] && break; sleep 0.25; done
echo "LINK:$R"
echo "DONE:"
"#;

/// A container with networking disabled: the interfaces it has.
const ISO: &str = r#"echo "NETDEV:$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ',')"
echo "ISOHOSTS:$(tr '\n' '|' < /etc/hosts)""#;

/// `TAG:value` lines of a container's log (a terminal ends lines with \r\n).
fn tagged(log: &str, tag: &str) -> String {
    log.lines()
        .find_map(|l| l.trim_end_matches('\r').strip_prefix(&format!("{tag}:")))
        .unwrap_or_else(|| panic!("no {tag}: line in {log:?}"))
        .to_string()
}

#[test]
fn bridge_containers_get_docker_s_hosts_resolv_hostname_links_and_terminal() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, LONG);
    let td = register_task_definition(
        &aws,
        json!({"family": "dns-bridge", "networkMode": "bridge", "containerDefinitions": [
            {"name": "db", "image": env.image(), "memory": 32, "essential": false,
             "environment": [{"name": "DB_ROLE", "value": "primary"}],
             "portMappings": [{"containerPort": 8080}],
             "command": ["sh", "-c", "mkdir -p /www && echo pong > /www/p && exec httpd -f -p 8080 -h /www"]},
            {"name": "iso", "image": env.image(), "memory": 32, "essential": false,
             "disableNetworking": true, "extraHosts": [{"hostname": "iso.example", "ipAddress": "192.0.2.11"}],
             "command": ["sh", "-c", ISO]},
            {"name": "web", "image": env.image(), "memory": 32, "essential": true,
             "links": ["db:database"], "hostname": "webhost",
             "dnsServers": ["192.0.2.53"], "dnsSearchDomains": ["corp.example"],
             "extraHosts": [{"hostname": "extra.example", "ipAddress": "192.0.2.10"}],
             "pseudoTerminal": true, "interactive": true,
             "dependsOn": [{"containerName": "iso", "condition": "COMPLETE"}],
             "command": ["sh", "-c", WEB]}
        ]}),
    );
    let arn = run_task(&aws, &agent, &td);
    let id = task_id(&arn).to_string();
    let log = wait_until_with_log(&agent, "the web container's output", LONG, || {
        let log = agent.container_log(&id, "web");
        log.contains("DONE:").then_some(log)
    });

    // Docker's resolv.conf: the given servers and search list.
    let resolv = tagged(&log, "RESOLV");
    assert!(
        resolv.starts_with("nameserver 192.0.2.53|search corp.example|"),
        "{resolv:?}"
    );
    assert_eq!(resolv.matches("nameserver").count(), 1, "{resolv:?}");
    assert_eq!(tagged(&log, "HOSTNAME"), "webhost");
    // The shim's terminal, and the log still has what was printed on it.
    assert_eq!(tagged(&log, "TTY"), "yes");
    assert_eq!(tagged(&log, "TERM"), "xterm");

    // Docker's link variables, with the linked container's address.
    let vars = tagged(&log, "ENV");
    let addr = vars
        .split('|')
        .find_map(|v| v.strip_prefix("DATABASE_PORT_8080_TCP_ADDR="))
        .unwrap_or_else(|| panic!("{vars:?}"))
        .to_string();
    let web_id = format!("{id}-2-web");
    let db_id = format!("{id}-0-db");
    for want in [
        format!("DATABASE_PORT=tcp://{addr}:8080"),
        format!("DATABASE_PORT_8080_TCP=tcp://{addr}:8080"),
        "DATABASE_PORT_8080_TCP_PORT=8080".to_string(),
        "DATABASE_PORT_8080_TCP_PROTO=tcp".to_string(),
        format!("DATABASE_NAME=/{web_id}/database"),
        "DATABASE_ENV_DB_ROLE=primary".to_string(),
    ] {
        assert!(vars.split('|').any(|v| v == want), "{want} not in {vars:?}");
    }
    assert!(!vars.contains("DATABASE_ENV_PATH="), "{vars:?}");

    // /etc/hosts in Docker's order: loopback names, extraHosts, the link
    // (alias, its hostname, its name), the container's own address.
    let hosts = tagged(&log, "HOSTS");
    let lines: Vec<&str> = hosts.split('|').filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], "127.0.0.1\tlocalhost", "{hosts:?}");
    assert_eq!(lines.len(), 9, "{hosts:?}");
    assert_eq!(lines[6], "192.0.2.10\textra.example", "{hosts:?}");
    let short_db: String = db_id.chars().take(12).collect();
    assert_eq!(
        lines[7],
        format!("{addr}\tdatabase {short_db} {db_id}"),
        "{hosts:?}"
    );
    assert!(lines[8].ends_with("\twebhost"), "{hosts:?}");
    // And the link name resolves: the linked container answers by it.
    assert_eq!(tagged(&log, "LINK"), "pong");

    // disableNetworking: only loopback; its hosts file has its extraHosts.
    let iso = agent.container_log(&id, "iso");
    assert_eq!(tagged(&iso, "NETDEV"), "lo,");
    let iso_hosts = tagged(&iso, "ISOHOSTS");
    assert!(
        iso_hosts.ends_with("|192.0.2.11\tiso.example|"),
        "{iso_hosts:?}"
    );

    let t = wait_task_status(&aws, &agent, &arn, "STOPPED", LONG);
    let web = t["containers"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "web"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(web["exitCode"], 0, "{t}");
}

#[test]
fn bad_dns_hosts_and_links_stop_the_task_naming_the_field_and_leave_nothing() {
    let Some(env) = env() else { return };
    let local = EcsLocal::start(&env);
    let agent = Agent::start(&env, &local, &[]);
    let aws = Aws::new(&env, &local);
    agent.wait_registered(&aws, LONG);
    let web = |extra: Value| {
        let mut c = json!({"name": "web", "image": env.image(), "memory": 32,
                           "command": ["sh", "-c", "sleep 60"]});
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            c[k] = v;
        }
        c
    };
    let cases = [
        (
            "dns-bad-ip",
            json!({"extraHosts": [{"hostname": "db", "ipAddress": "10.0.0.300"}]}),
            "container \"web\": extraHosts[0] \"db:10.0.0.300\": \"10.0.0.300\" is not an IPv4 or IPv6 address",
        ),
        (
            "dns-bad-server",
            json!({"dnsServers": ["10.0.0.2", "dns.example"]}),
            "container \"web\": dnsServers[1] \"dns.example\": not an IPv4 or IPv6 address",
        ),
        (
            "dns-bad-link",
            json!({"links": ["cache:kv"]}),
            "container \"web\": links[0] names container \"cache\", which is not in the task",
        ),
    ];
    for (family, extra, want) in cases {
        let td = register_task_definition(
            &aws,
            json!({"family": family, "networkMode": "bridge",
                   "containerDefinitions": [web(extra)]}),
        );
        let arn = run_task(&aws, &agent, &td);
        let t = wait_task_status(&aws, &agent, &arn, "STOPPED", LONG);
        let reason = t["stoppedReason"].as_str().unwrap_or_default();
        assert!(reason.contains(want), "{want:?} not in {reason:?}");
        // Nothing of it was made: no container, no files.
        let ids = ctr(&env, agent.namespace(), &["containers", "ls", "-q"]);
        assert!(!ids.contains(task_id(&arn)), "{ids}");
        assert!(!agent
            .data_dir()
            .join("netfiles")
            .join(task_id(&arn))
            .exists());
    }
}
