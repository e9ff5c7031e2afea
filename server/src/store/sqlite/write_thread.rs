//! A thread, with a runtime of its own, for the write connection's busiest
//! users: the writer of messages and the search indexer.
//!
//! sqlx runs every statement on SQLite's own thread and wakes the waiting task
//! when it is answered. On the server's shared runtime that wake comes from
//! outside it, so the task goes to the back of the runtime's common queue:
//! behind every connection task that the last commit's broadcast woke (in
//! many small rooms, thousands) and that did not fit the workers' own queues.
//! A commit makes several such round trips (begin, its statements, commit)
//! and holds the only write connection all along, so it took several turns of
//! that queue, and the indexer's transactions likewise. Here the same tasks
//! run as soon as SQLite answers; the caller waits for the whole commit once.
//! Measured side by side in BENCHMARKS.md.
//!
//! Hand-written because it is a dozen lines over tokio's own current-thread
//! runtime; nothing else is needed.

use std::future::Future;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::store::{Result, StoreError};

/// The thread; ends when closed or dropped, once what runs on it is done
/// with its current step (tasks still on it are dropped with its runtime).
pub(super) struct WriteThread {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WriteThread {
    pub(super) fn start() -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| StoreError::WriteThread { source })?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("chat-db-writer".to_owned())
            .spawn(move || {
                // Sent or dropped, it means the same: stop.
                runtime.block_on(async move { stopped.await.unwrap_or(()) });
            })
            .map_err(|source| StoreError::WriteThread { source })?;
        Ok(WriteThread { handle, stop: Some(stop), thread: Some(thread) })
    }

    /// Where the indexer's task is spawned.
    pub(super) fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Runs `work` on the thread and waits for its output.
    pub(super) async fn run<T: Send + 'static>(&self, work: impl Future<Output = T> + Send + 'static) -> Result<T> {
        match self.handle.spawn(work).await {
            Ok(output) => Ok(output),
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(_) => Err(StoreError::WriterStopped),
        }
    }

    /// Ends the thread and waits for it.
    pub(super) async fn close(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            match tokio::task::spawn_blocking(move || thread.join()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => tracing::error!("the database's write thread panicked"),
                Err(error) => tracing::error!(%error, "waiting for the database's write thread failed"),
            }
        }
    }
}

impl Drop for WriteThread {
    fn drop(&mut self) {
        // Not joined here (a drop cannot wait): the thread ends by itself.
        drop(self.stop.take());
    }
}
