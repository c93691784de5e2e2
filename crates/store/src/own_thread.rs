//! Run a task on a thread of its own, with its own single-threaded Tokio runtime.
//!
//! The writer's chain (begin, statements, commit) and the checkpoint pass that pauses it are a
//! series of awaits on SQLite's worker thread. On the shared multi-threaded runtime every wake-up
//! lands in the run queue behind whatever else is ready — at 10,000 device connections, hundreds
//! of connection tasks — and the writer, on which every acknowledgement waits, spent milliseconds
//! per await just waiting to run (`fenhe_store_batch_phase_seconds{phase="begin"}` and `ids`,
//! which do little themselves, took a quarter to a third of its time, part of it the checkpoint's
//! pass). On its own thread a wake-up runs at once.

use std::future::Future;

use tokio::sync::oneshot;

/// Run `task` on a new thread named `name` until it finishes or the returned guard is dropped
/// (or [`detach`](StopOnDrop::detach)ed, after which it runs to its end).
/// If no thread can be started, `task` runs on the current runtime instead (slower under load,
/// but it runs).
pub(crate) fn spawn<F>(name: &str, task: F) -> StopOnDrop
where
    F: Future<Output = ()> + Send + 'static,
{
    let (stop, stopped) = oneshot::channel::<()>();
    let guarded = async move {
        tokio::select! {
            () = task => {}
            // Stopped by the guard; a guard let go without stopping (`detach`) disables this.
            Ok(()) = stopped => {}
        }
    };
    // The task goes to the thread once it runs, so that it is still ours if it cannot start.
    let (hand_over, receive) = std::sync::mpsc::channel::<(tokio::runtime::Runtime, _)>();
    let thread = std::thread::Builder::new().name(name.to_owned()).spawn(move || {
        if let Ok((rt, task)) = receive.recv() {
            rt.block_on(async {
                task.await;
                settle().await;
            });
        }
    });
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
    match (thread, runtime) {
        (Ok(_), Ok(rt)) => {
            if let Err(std::sync::mpsc::SendError((_, task))) = hand_over.send((rt, guarded)) {
                // The thread is gone already (it cannot be: it waits for this).
                tokio::spawn(task);
            }
        }
        (thread, runtime) => {
            let why = thread.err().map(|e| e.to_string()).or(runtime.err().map(|e| e.to_string()));
            tracing::warn!(thread = name, error = ?why, "no thread of its own; running on the shared runtime");
            tokio::spawn(guarded);
        }
    }
    StopOnDrop(std::sync::Mutex::new(Some(stop)))
}

/// Let the tasks spawned on this runtime finish before it goes away, for at most 5 s. `sqlx`
/// returns a pooled connection to its pool from a task spawned where the connection was dropped;
/// dropping the runtime first would close the connection instead (and a pool's only connection
/// to an in-memory database would take the database with it).
async fn settle() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while metrics.num_alive_tasks() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}

/// Stops the task when dropped.
pub(crate) struct StopOnDrop(std::sync::Mutex<Option<oneshot::Sender<()>>>);

impl StopOnDrop {
    /// Let the task run to its own end.
    pub(crate) fn detach(self) {
        // Dropping the sender unsent resolves the task's side with an error, which it ignores.
        self.take();
    }

    /// Stop the task (at its next await).
    pub(crate) fn stop(&self) {
        if let Some(stop) = self.take() {
            let _ = stop.send(());
        }
    }

    fn take(&self) -> Option<oneshot::Sender<()>> {
        // A poisoned lock still holds a usable sender.
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::oneshot;

    use super::spawn;

    #[tokio::test]
    async fn runs_on_a_thread_of_its_own_and_detached_runs_to_its_end() {
        let (tx, rx) = oneshot::channel();
        spawn("fenhe-test-own", async move {
            // A step that needs the task's own runtime (a timer) before it reports.
            tokio::time::sleep(Duration::from_millis(10)).await;
            let _ = tx.send(std::thread::current().name().map(str::to_owned));
        })
        .detach();
        let name = tokio::time::timeout(Duration::from_secs(10), rx).await.expect("in time").expect("sent");
        assert_eq!(name.as_deref(), Some("fenhe-test-own"));
    }

    #[tokio::test]
    async fn dropping_the_guard_stops_the_task() {
        let (tx, rx) = oneshot::channel::<()>();
        let guard = spawn("fenhe-test-stop", async move {
            // Never finishes by itself; holds `tx` until stopped.
            let _tx = tx;
            std::future::pending::<()>().await;
        });
        drop(guard);
        // The task was dropped with its sender: the receiver sees the channel closed.
        let closed = tokio::time::timeout(Duration::from_secs(10), rx).await.expect("stopped in time");
        assert!(closed.is_err(), "the task must have been dropped, not have sent");
    }
}
