//! Copies the write-ahead log into the database file in the background.

use std::time::Duration;

use sqlx::{Connection, SqliteConnection};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Copies the write-ahead log into the database file in the background, beside
/// the writer rather than in its way (PASSIVE: never waits for, nor blocks, it).
/// Owned by the store: [`SqliteStore::close`] ends it after one last pass; a
/// store dropped without closing stops it too.
pub(super) struct Checkpoints {
    stop: CancellationToken,
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
}

/// How often the log is copied back (it then holds at most a few seconds of writes).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

impl Checkpoints {
    pub(super) fn start(mut conn: SqliteConnection) -> Self {
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(CHECKPOINT_EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = stopped.cancelled() => break,
                    _ = ticks.tick() => {
                        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&mut conn).await {
                            tracing::warn!(%error, "checkpoint failed; the next one retries");
                        }
                    }
                }
            }
            // A last one on the way out, so the file is whole without its log.
            if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut conn).await {
                tracing::warn!(%error, "the last checkpoint failed; the log is replayed at the next start");
            }
            if let Err(error) = conn.close().await {
                tracing::debug!(%error, "closing the checkpoint connection failed");
            }
        });
        Checkpoints { stop, task: std::sync::Mutex::new(Some(task)) }
    }

    /// Stops the task after its last checkpoint and waits for it.
    pub(super) async fn close(&self) {
        self.stop.cancel();
        let task = self.task.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(task) = task {
            if let Err(error) = task.await {
                tracing::error!(%error, "the checkpoint task failed");
            }
        }
    }
}

impl Drop for Checkpoints {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
