//! An axum app served from a thread and runtime of its own, for the fault
//! injecting stand-ins tests put in front of real components (a registry,
//! moto): the test's own code stays synchronous, and the stand-in answers
//! while the test blocks. Stopped and joined on drop, not gracefully: a
//! stalled connection never ends by itself.

/// A running app; dropping it stops it.
pub struct AppThread {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AppThread {
    /// Serves `app` on `listener` (bound, non-blocking) until dropped.
    pub fn serve(listener: std::net::TcpListener, app: axum::Router) -> AppThread {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                tokio::select! {
                    _ = axum::serve(listener, app) => {}
                    _ = stopped => {}
                }
            });
        });
        AppThread {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for AppThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
