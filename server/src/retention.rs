//! Retention (`--retention-days N`): messages older than N days are deleted
//! as their authors would delete them, each a change event with its seq, so
//! a tombstone keeps its place (seqs stay gapless) and every member, live or
//! resuming, hears of it; their words leave the search index and their files
//! the disk. Nothing is deleted without the setting.
//!
//! The task sweeps at start and then hourly, in batches of [`BATCH`] (each
//! delete one small transaction, queued behind the posts like any delete).
//! Messages from before accounts (no author) are not deleted.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::accounts::Accounts;
use crate::hub::{Author, Hub};

/// How often the old messages are looked for.
pub const SWEEP_EVERY: Duration = Duration::from_secs(3600);
/// Messages deleted per batch.
const BATCH: u32 = 500;

/// The retention task; [`Retention::close`] ends it.
#[derive(Clone)]
pub struct Retention {
    stop: CancellationToken,
    task: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Retention {
    /// Starts deleting, from now on, what is older than `keep`.
    pub fn start(hub: Hub, accounts: Accounts, keep: Duration) -> Self {
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(hub, accounts, keep, stop.clone()));
        Retention { stop, task: Arc::new(Mutex::new(Some(task))) }
    }

    pub async fn close(&self) {
        self.stop.cancel();
        let task = self.task.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(task) = task {
            if let Err(error) = task.await {
                tracing::error!(%error, "the retention task failed");
            }
        }
    }
}

async fn run(hub: Hub, accounts: Accounts, keep: Duration, stop: CancellationToken) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        let deleted = tokio::select! {
            () = stop.cancelled() => return,
            deleted = sweep(&hub, &accounts, keep) => deleted,
        };
        match deleted {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "messages past the retention period deleted"),
            Err(error) => tracing::warn!(%error, "the retention sweep stopped; trying again at the next"),
        }
    }
}

/// Deletes every message older than `keep` (in batches); returns how many.
pub async fn sweep(hub: &Hub, accounts: &Accounts, keep: Duration) -> Result<u64, String> {
    let before = crate::clock::now().0 - keep.as_millis() as i64;
    let mut deleted = 0;
    loop {
        let batch = accounts.store().expired_messages(before, BATCH).await.map_err(|e| e.to_string())?;
        if batch.is_empty() {
            return Ok(deleted);
        }
        let (mut done, mut failed) = (0, None);
        for (room, seq, author) in batch {
            // Only the id is asked for: the change is checked against the message's author.
            let author = Author { id: author, username: String::new(), display_name: String::new() };
            match hub.erase(&author, &room, seq).await {
                Ok(()) => done += 1,
                Err(error) => failed = Some(format!("{room} #{}: {error}", seq.0)),
            }
        }
        deleted += done;
        if let Some(failed) = failed {
            // A batch that deleted nothing would be asked for again and again.
            if done == 0 {
                return Err(failed);
            }
            tracing::warn!(failed, "a message past the retention period could not be deleted");
        }
    }
}
