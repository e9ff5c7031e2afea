//! Copies the write-ahead log into the database file in the background, and
//! has the write connection start the log over once it has grown past a limit.
//!
//! SQLite starts the log over only at the first write after a checkpoint that
//! copied all of it. Under steady posting the background pass never catches
//! up: frames come in while it copies, so the log grew without end (4 GB after
//! a minute at 5,000 messages a second, `BENCHMARKS.md`). So once a pass finds
//! the log past [`RESTART_FRAMES`], a second pass copies what came in during
//! the first, and whoever takes the write connection next (a commit of
//! messages, the indexer catching up alone, an account's change) copies what
//! came in during the second (a few milliseconds' worth), as the pool hands
//! the connection out ([`LogTooLong::restart`]): the transaction that follows
//! starts the log over (where a reader still reads from the log, the next pass
//! asks again).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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

/// Set by a pass that found the log past [`RESTART_FRAMES`]; taken by the
/// next use of the write connection.
#[derive(Clone, Default)]
pub(super) struct LogTooLong(Arc<AtomicBool>);

/// How often the log is copied back (it then holds at most a few seconds of writes).
#[cfg(not(test))]
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
#[cfg(test)]
const CHECKPOINT_EVERY: Duration = Duration::from_millis(50);

/// Frames (pages written) in the log past which the writer starts it over:
/// 64 MiB of 4 KiB pages, the `journal_size_limit` it is then cut back to.
#[cfg(not(test))]
const RESTART_FRAMES: i64 = 16_384;
#[cfg(test)]
const RESTART_FRAMES: i64 = 256;

impl Checkpoints {
    pub(super) fn start(mut conn: SqliteConnection, too_long: LogTooLong) -> Self {
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(CHECKPOINT_EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = stopped.cancelled() => break,
                    _ = ticks.tick() => {
                        let passed = match pass(&mut conn).await {
                            Ok(frames) if frames > RESTART_FRAMES => {
                                // A second pass copies what came in during the
                                // first, leaving the write connection less to copy.
                                let second = pass(&mut conn).await;
                                too_long.0.store(true, Ordering::Relaxed);
                                second
                            }
                            first => first,
                        };
                        if let Err(error) = passed {
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

impl LogTooLong {
    /// Run by the write connection's pool each time it hands the connection
    /// out (`before_acquire`), so between two transactions: when the last pass
    /// found the log too long, copies what that pass did not (the frames
    /// written since), so that the next transaction starts the log over.
    pub(super) async fn restart(&self, conn: &mut SqliteConnection) {
        if !self.0.swap(false, Ordering::Relaxed) {
            return;
        }
        match pass(conn).await {
            Ok(frames) => tracing::debug!(frames, "checkpoint before the log starts over"),
            // The transaction goes on; the next pass asks again.
            Err(error) => tracing::warn!(%error, "the checkpoint before the log starts over failed"),
        }
    }
}

/// Copies what it can of the log into the file, never waiting (PASSIVE);
/// returns how many frames the log holds (also `chat_sqlite_log_frames`).
async fn pass(conn: &mut SqliteConnection) -> Result<i64, sqlx::Error> {
    // (busy, frames in the log, frames copied)
    let (_, frames, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(conn).await?;
    crate::metrics::METRICS.sqlite_log_frames.set(frames);
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use app::protocol::Seq;

    use crate::store::tests::{new_message, open, room};
    use crate::store::{MessageWriter, Store};

    /// Posting without a pause, with the passes' interval and the limit made
    /// small: the log keeps starting over, so its file stays smaller than the
    /// posts written through it (about a third, here). Before, it held every
    /// page each commit wrote: eleven times the posts.
    #[tokio::test]
    async fn under_steady_posting_the_log_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let (store, mut writer) = open(&dir).await;
        let log = dir.path().join("data").join("chat.db-wal");
        let body = "w".repeat(2_000);
        let (batches, rooms) = (150, 50);
        let mut longest = 0;
        for i in 0..batches {
            let batch = (0..rooms).map(|r| new_message(&format!("r{r}"), "ada", &format!("c{i}-{r}"), &body)).collect();
            writer.append_batch(batch).await.unwrap();
            longest = longest.max(std::fs::metadata(&log).unwrap().len());
        }
        let posted = (batches * rooms * body.len()) as u64;
        assert!(longest < posted, "the log grew to {longest} B for {posted} B of posts");
        assert_eq!(store.last_seq(&room("r0")).await.unwrap(), Seq(batches as u64), "every post is kept");
        writer.close().await;
    }
}
