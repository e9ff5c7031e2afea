//! When each account was last seen (a socket of theirs opened or closed, or
//! their API token was used), for the administrators' page. Marks are kept in
//! memory and written together once a minute (and at shutdown), so a crowd
//! connecting costs the store one statement per account per minute, not one
//! write per socket on the way in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::store::AdminStore;
use crate::store::AccountId;

/// How often the marks are written.
const FLUSH_EVERY: Duration = Duration::from_secs(60);
/// Marks written per transaction: a crowd's marks are written in short
/// transactions, so SQLite's one writer is never held for long between the
/// messages' commits.
const PER_TRANSACTION: usize = 256;

pub struct Seen {
    pending: Mutex<HashMap<AccountId, i64>>,
    store: Arc<dyn AdminStore>,
    stop: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Seen {
    pub fn start(store: Arc<dyn AdminStore>) -> Arc<Self> {
        let seen =
            Arc::new(Seen { pending: Mutex::default(), store, stop: CancellationToken::new(), task: Mutex::default() });
        let task = tokio::spawn(run(Arc::downgrade(&seen), seen.stop.clone()));
        *seen.task.lock().unwrap_or_else(PoisonError::into_inner) = Some(task);
        seen
    }

    /// The account is here now.
    pub fn mark(&self, account: AccountId) {
        let now = crate::clock::now().0;
        self.pending.lock().unwrap_or_else(PoisonError::into_inner).insert(account, now);
    }

    /// Writes what is marked.
    pub async fn flush(&self) {
        let marks: Vec<(AccountId, i64)> =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner)).into_iter().collect();
        for chunk in marks.chunks(PER_TRANSACTION) {
            if let Err(error) = self.store.seen(chunk.to_vec()).await {
                tracing::warn!(%error, "writing when accounts were last seen failed");
            }
        }
    }

    /// Stops the task and writes the last marks.
    pub async fn close(&self) {
        self.stop.cancel();
        let task = self.task.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(task) = task {
            if let Err(error) = task.await {
                tracing::error!(%error, "the last-seen task failed");
            }
        }
        self.flush().await;
    }
}

/// Marks the account seen again when dropped (a socket closing).
pub struct SeenUntilDropped(pub Arc<Seen>, pub AccountId);

impl Drop for SeenUntilDropped {
    fn drop(&mut self) {
        self.0.mark(self.1);
    }
}

async fn run(seen: std::sync::Weak<Seen>, stop: CancellationToken) {
    let mut every = tokio::time::interval(FLUSH_EVERY);
    every.tick().await;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        let Some(seen) = seen.upgrade() else { return };
        seen.flush().await;
    }
}
