use super::*;
use crate::local::config::Config;
use crate::local::state::TaskRec;
use crate::local::store::Store;
use crate::model::tcs::{PublishHealthRequest, TaskHealth, TaskMetric};

#[test]
fn strips_signed_header_block() {
    let f = "Authorization: AWS4-HMAC-SHA256 x\r\nX-Amz-Date: 20260101T000000Z\r\n\r\n{\"type\":\"HeartbeatMessage\",\"message\":{}}";
    assert!(json_part(f).starts_with("{\"type\""));
    assert_eq!(json_part(" {\"a\":1}"), "{\"a\":1}");
}

fn app(dir: &std::path::Path) -> App {
    let cfg = Config::for_tests(Vec::new());
    App::new(cfg, Store::open(dir).unwrap()).unwrap()
}

const KNOWN: &str = "arn:aws:ecs:us-east-1:000000000000:task/c/known";

/// Issue 18 point 12: 500,000 made-up task ARNs on one socket were all kept
/// in the per-task telemetry map. Only tasks ecs-local knows are kept; the
/// others are dropped and counted (shown in /debug/stats `tcs`).
#[test]
fn telemetry_for_unknown_tasks_is_dropped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let mut ctx = app.ctx("");
    app.transact(&mut ctx, |st, _| {
        st.put_task(TaskRec {
            arn: KNOWN.into(),
            ..Default::default()
        });
        Ok(())
    })
    .unwrap();
    let metric = |arn: String| TaskMetric {
        task_arn: Some(arn),
        ..Default::default()
    };
    let mut task_metrics: Vec<TaskMetric> = (0..20_000)
        .map(|i| {
            metric(format!(
                "arn:aws:ecs:us-east-1:000000000000:task/c/made-up-{i}"
            ))
        })
        .collect();
    task_metrics.push(metric(KNOWN.into()));
    let frame = TcsMessage::PublishMetrics(PublishMetricsRequest {
        task_metrics,
        ..Default::default()
    })
    .encode();
    assert!(
        reply(&app, &frame).is_some(),
        "the frame is still acknowledged"
    );
    let tasks = app.tcs_stats.tasks.lock().unwrap();
    assert_eq!(tasks.keys().collect::<Vec<_>>(), vec![KNOWN]);
    assert_eq!(tasks[KNOWN].frames, 1);
    drop(tasks);
    assert_eq!(
        app.tcs_stats.unknown_task_metrics.load(Ordering::Relaxed),
        20_000
    );

    let health = TcsMessage::PublishHealth(PublishHealthRequest {
        tasks: vec![
            TaskHealth {
                task_arn: Some("made-up".into()),
                ..Default::default()
            },
            TaskHealth {
                task_arn: Some(KNOWN.into()),
                ..Default::default()
            },
        ],
        ..Default::default()
    })
    .encode();
    assert!(reply(&app, &health).is_some());
    assert_eq!(app.tcs_stats.unknown_task_health.load(Ordering::Relaxed), 1);
}

/// PublishHealthRequest (shape: tcs-api-2.json) is kept per container, and
/// describe-tasks shows it with the task's health derived as Amazon ECS
/// derives it: essential containers with a check decide.
#[test]
fn container_health_is_kept_and_the_task_health_derived() {
    use crate::local::state::ContainerRec;
    use crate::model::tcs::ContainerHealth;
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let rec = |name: &str, essential: Option<bool>, check: bool| ContainerRec {
        name: name.into(),
        essential,
        has_health_check: check,
        ..Default::default()
    };
    let mut ctx = app.ctx("");
    app.transact(&mut ctx, |st, _| {
        st.put_task(TaskRec {
            arn: KNOWN.into(),
            containers: vec![
                rec("web", None, true),
                rec("side", Some(false), true),
                rec("plain", Some(true), false),
            ],
            ..Default::default()
        });
        Ok(())
    })
    .unwrap();
    let publish = |statuses: &[(&str, &str)]| {
        let frame = TcsMessage::PublishHealth(PublishHealthRequest {
            tasks: vec![TaskHealth {
                task_arn: Some(KNOWN.into()),
                containers: statuses
                    .iter()
                    .map(|(n, s)| ContainerHealth {
                        container_name: Some(n.to_string()),
                        health_status: Some(s.to_string()),
                        status_since: Some(1.0),
                        status_message: None,
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        })
        .encode();
        assert!(matches!(
            reply(&app, &frame),
            Some(TcsMessage::AckPublishHealth(_))
        ));
        let t = app.read(|st| st.tasks.get(KNOWN).cloned().unwrap());
        crate::local::api::render::task(&t)
    };
    let t = publish(&[]);
    assert_eq!(t["healthStatus"], "UNKNOWN");
    assert_eq!(t["containers"][0]["healthStatus"], "UNKNOWN");
    let t = publish(&[("web", "HEALTHY"), ("side", "UNHEALTHY")]);
    // A non-essential container's health does not count.
    assert_eq!(t["healthStatus"], "HEALTHY", "{t}");
    assert_eq!(t["containers"][1]["healthStatus"], "UNHEALTHY");
    assert_eq!(t["containers"][2]["healthStatus"], "UNKNOWN");
    let t = publish(&[("web", "UNHEALTHY"), ("side", "HEALTHY")]);
    assert_eq!(t["healthStatus"], "UNHEALTHY");
    // Kept across a restart of ecs-local (written to its store).
    drop(app);
    let app2 = self::app(dir.path());
    let t = app2.read(|st| st.tasks.get(KNOWN).cloned().unwrap());
    assert_eq!(
        crate::local::api::render::task(&t)["healthStatus"],
        "UNHEALTHY"
    );
}
