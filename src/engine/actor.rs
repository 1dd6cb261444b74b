//! One task's actor: the only owner of its `Task` state.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::runtime::{ContainerRuntime, PulledImage};
use crate::task::{Action, Event, Task};

use super::{exec, now_ms, Inner, Msg};

pub(crate) async fn run<R: ContainerRuntime>(
    inner: Arc<Inner<R>>,
    mut task: Task,
    tx: mpsc::UnboundedSender<Msg>,
    mut rx: mpsc::UnboundedReceiver<Msg>,
) {
    let mut images: Vec<Option<PulledImage>> = vec![None; task.containers.len()];
    loop {
        for action in task.next_actions() {
            if let Action::Pull(_) = action {
                task.apply(Event::PullStarted { at_ms: now_ms() });
            }
            exec::execute(&inner, &task, &images, action, &tx);
        }
        if let Some(change) = task.take_report() {
            inner.reports.push(change);
        }
        if task.is_done() {
            tracing::info!(task = %task.arn(), "task finished");
            break;
        }
        let Some(msg) = rx.recv().await else { break };
        match msg {
            Msg::Event(event) => task.apply(event),
            Msg::Pulled(i, result) => {
                let result = result.map(|image| {
                    let digest = image.digest.clone();
                    if let Some(slot) = images.get_mut(i) {
                        *slot = Some(image);
                    }
                    digest
                });
                task.apply(Event::PullStopped { at_ms: now_ms() });
                task.apply(Event::Pulled {
                    container: i,
                    result,
                });
            }
            Msg::StopTimedOut(i) => {
                if let Some(kill) = task.on_stop_timeout(i) {
                    tracing::warn!(task = %task.arn(), container = i, "stop timeout passed; sending SIGKILL");
                    exec::execute(&inner, &task, &images, kill, &tx);
                }
            }
        }
    }
}
