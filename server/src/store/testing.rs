//! A store for tests that must hold a commit open or see a read fail at a chosen
//! moment. It wraps the real SQLite store, so everything it does not hold or
//! fail is real.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::Semaphore;

use app::protocol::{ChatMessage, Seq};
use app::room_name::RoomName;

use super::{Appended, NewMessage, Result, SqliteStore, Store};

pub struct TestStore {
    inner: SqliteStore,
    /// While set, each commit waits for a permit from `commits`.
    holding: AtomicBool,
    commits: Semaphore,
    /// A permit for each commit that has begun (and may be held).
    entered: Semaphore,
    fail_last_seq: AtomicBool,
}

impl TestStore {
    pub fn new(inner: SqliteStore) -> Arc<Self> {
        Arc::new(TestStore {
            inner,
            holding: AtomicBool::new(false),
            commits: Semaphore::new(0),
            entered: Semaphore::new(0),
            fail_last_seq: AtomicBool::new(false),
        })
    }

    /// From now on every commit waits for [`TestStore::release_commit`].
    pub fn hold_commits(&self) {
        self.holding.store(true, Ordering::SeqCst);
    }

    /// Waits until a commit has begun (it is held there if commits are held).
    pub async fn commit_begun(&self) {
        self.entered.acquire().await.expect("never closed").forget();
    }

    /// Lets one held commit go on.
    pub fn release_commit(&self) {
        self.commits.add_permits(1);
    }

    /// Makes `last_seq` fail (as a database that went away would) or work again.
    pub fn fail_last_seq(&self, fail: bool) {
        self.fail_last_seq.store(fail, Ordering::SeqCst);
    }
}

impl Store for TestStore {
    fn append_batch(&self, batch: Vec<NewMessage>) -> BoxFuture<'_, Result<Vec<Appended>>> {
        async move {
            self.entered.add_permits(1);
            if self.holding.load(Ordering::SeqCst) {
                self.commits.acquire().await.expect("never closed").forget();
            }
            self.inner.append_batch(batch).await
        }
        .boxed()
    }

    fn page<'a>(
        &'a self,
        room: &'a RoomName,
        before: Option<Seq>,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<ChatMessage>>> {
        self.inner.page(room, before, limit)
    }

    fn after<'a>(&'a self, room: &'a RoomName, after: Seq, limit: u32) -> BoxFuture<'a, Result<Vec<ChatMessage>>> {
        self.inner.after(room, after, limit)
    }

    fn last_seq<'a>(&'a self, room: &'a RoomName) -> BoxFuture<'a, Result<Seq>> {
        if self.fail_last_seq.load(Ordering::SeqCst) {
            return async { Err(super::StoreError::Database(sqlx::Error::PoolClosed)) }.boxed();
        }
        self.inner.last_seq(room)
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        self.inner.close()
    }
}
