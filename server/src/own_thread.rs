//! A thread with a runtime of its own, for the few tasks every message waits
//! on: the poster (which stores, broadcasts and acknowledges), and with SQLite
//! its commits of messages and the search indexer.
//!
//! A task woken from outside the server's shared runtime (by SQLite's thread
//! answering a statement, or by another thread finishing its part) goes to the
//! back of the runtime's common queue: behind every connection task the last
//! broadcast woke that did not fit the workers' own queues, in many small
//! rooms thousands. A commit makes several round trips to SQLite's thread
//! (begin, its statements, commit) while it holds the only write connection,
//! and the poster one more for each commit: each took a turn of that queue.
//! On a thread of their own they run as soon as they are woken. Measured side
//! by side in BENCHMARKS.md.
//!
//! Hand-written: a dozen lines over tokio's own current-thread runtime.

use std::future::Future;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// The thread; ends when closed or dropped, once what runs on it is done
/// with its current step (tasks still on it are dropped with its runtime).
pub struct OwnThread {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl OwnThread {
    /// Starts a thread named `name`.
    pub fn start(name: &str) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new().name(name.to_owned()).spawn(move || {
            // Sent or dropped, it means the same: stop.
            runtime.block_on(async move { stopped.await.unwrap_or(()) });
        })?;
        Ok(OwnThread { handle, stop: Some(stop), thread: Some(thread) })
    }

    /// Where a task of its own is spawned.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Runs `work` on the thread and waits for its output; `None` if the
    /// thread stopped first. (If the caller stops waiting, `work` still runs
    /// to its end: a commit begun is finished, as after a crash a retry finds it.)
    pub async fn run<T: Send + 'static>(&self, work: impl Future<Output = T> + Send + 'static) -> Option<T> {
        match self.handle.spawn(work).await {
            Ok(output) => Some(output),
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(_) => None,
        }
    }

    /// Ends the thread and waits for it.
    pub async fn close(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            match tokio::task::spawn_blocking(move || thread.join()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => tracing::error!("a thread of the server's own panicked"),
                Err(error) => tracing::error!(%error, "waiting for a thread of the server's own failed"),
            }
        }
    }
}

impl Drop for OwnThread {
    fn drop(&mut self) {
        // Not joined here (a drop cannot wait): the thread ends by itself.
        drop(self.stop.take());
    }
}
