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
