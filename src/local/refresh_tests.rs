use super::*;
use crate::local::state::IssuedCredentials;

fn task(arn: &str, desired: &str, last: &str, refresh_at: f64) -> TaskRec {
    TaskRec {
        arn: arn.into(),
        desired_status: desired.into(),
        last_status: last.into(),
        role_credentials: Some(IssuedCredentials {
            refresh_at,
            ..Default::default()
        }),
        execution_role_credentials: Some(IssuedCredentials {
            refresh_at: refresh_at + 5.0,
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn only_running_tasks_past_their_refresh_time_are_due() {
    let mut st = State::default();
    st.put_task(task("a", "RUNNING", "RUNNING", 10.0));
    st.put_task(task("b", "RUNNING", "PENDING", 20.0));
    st.put_task(task("stopping", "STOPPED", "RUNNING", 1.0));
    st.put_task(task("stopped", "RUNNING", "STOPPED", 1.0));
    let (due_now, next) = due(&st, 12.0);
    assert_eq!(due_now, vec![("a".to_string(), Role::Task)]);
    assert_eq!(next, Some(15.0));
    let (due_now, next) = due(&st, 30.0);
    assert_eq!(due_now.len(), 4);
    assert_eq!(next, None);
}

#[test]
fn a_refresh_keeps_the_replaced_keys_until_the_next_one() {
    use crate::local::credentials::issue;
    let mut rng = rand::rng();
    let mut st = State::default();
    let first = issue(&mut rng, "arn:aws:iam::000000000000:role/app", 0.0, 100.0);
    st.put_task(TaskRec {
        arn: "a".into(),
        desired_status: "RUNNING".into(),
        last_status: "RUNNING".into(),
        role_credentials: Some(first.clone()),
        ..Default::default()
    });
    let mut ctx = Ctx {
        now: 75.0,
        region: "us-east-1".into(),
        host: String::new(),
        notify: vec![],
        credentials_ttl: 100.0,
        eni_attach_timeout_ms: 60_000,
        principal: None,
        signer: None,
        ecr_registries: Default::default(),
    };
    refresh(&mut st, &mut ctx, "a", Role::Task);
    let t = &st.tasks["a"];
    assert_eq!(t.previous_role_credentials.as_ref(), Some(&first));
    let second = t.role_credentials.clone().unwrap();
    assert_ne!(second, first);
    ctx.now = 150.0;
    refresh(&mut st, &mut ctx, "a", Role::Task);
    assert_eq!(st.tasks["a"].previous_role_credentials, Some(second));
    assert_eq!(st.tasks["a"].previous_execution_role_credentials, None);
}
