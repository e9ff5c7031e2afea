//! A store for tests that must hold a commit open or see a read fail at a chosen
//! moment. It wraps the real SQLite store and writer, so everything it does not
//! hold or fail is real.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::Semaphore;

use app::protocol::{ChatMessage, Seq, ServerMsg, Timestamp};
use app::room_name::RoomName;
use app::rooms::{NotifyLevel, RoomEntry};

use super::{
    AccountId, Appended, MessageWriter, NewMessage, ReadMark, ReadMoved, Result, SqliteStore, SqliteWriter, Store,
    StoreError,
};

/// The reading half, and the switches a test pulls.
pub struct TestStore {
    inner: SqliteStore,
    switches: Arc<Switches>,
}

/// The writing half: commits wait while the test holds them.
pub struct TestWriter {
    inner: SqliteWriter,
    switches: Arc<Switches>,
}

struct Switches {
    /// While set, each commit waits for a permit from `commits`.
    holding: AtomicBool,
    commits: Semaphore,
    /// A permit for each commit that has begun (and may be held).
    entered: Semaphore,
    fail_last_seq: AtomicBool,
}

impl TestStore {
    pub fn new((store, writer): (SqliteStore, SqliteWriter)) -> (Arc<Self>, TestWriter) {
        let switches = Arc::new(Switches {
            holding: AtomicBool::new(false),
            commits: Semaphore::new(0),
            entered: Semaphore::new(0),
            fail_last_seq: AtomicBool::new(false),
        });
        let writer = TestWriter { inner: writer, switches: switches.clone() };
        (Arc::new(TestStore { inner: store, switches }), writer)
    }

    /// From now on every commit waits for [`TestStore::release_commit`].
    pub fn hold_commits(&self) {
        self.switches.holding.store(true, Ordering::SeqCst);
    }

    /// Waits until a commit has begun (it is held there if commits are held).
    pub async fn commit_begun(&self) {
        self.switches.entered.acquire().await.expect("never closed").forget();
    }

    /// Lets one held commit go on.
    pub fn release_commit(&self) {
        self.switches.commits.add_permits(1);
    }

    /// Makes `last_seq` fail (as a database that went away would) or work again.
    pub fn fail_last_seq(&self, fail: bool) {
        self.switches.fail_last_seq.store(fail, Ordering::SeqCst);
    }
}

impl MessageWriter for TestWriter {
    fn append_batch(&mut self, batch: Vec<NewMessage>) -> BoxFuture<'_, Result<Vec<Appended>>> {
        async move {
            self.switches.entered.add_permits(1);
            if self.switches.holding.load(Ordering::SeqCst) {
                self.switches.commits.acquire().await.expect("never closed").forget();
            }
            self.inner.append_batch(batch).await
        }
        .boxed()
    }

    fn change(
        &mut self,
        change: crate::store::NewChange,
    ) -> BoxFuture<'_, Result<std::result::Result<crate::store::Changed, app::error::ChatError>>> {
        self.inner.change(change)
    }

    fn close(&mut self) -> BoxFuture<'_, ()> {
        self.inner.close()
    }
}

impl Store for TestStore {
    fn page<'a>(
        &'a self,
        room: &'a RoomName,
        before: Option<Seq>,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<ChatMessage>>> {
        self.inner.page(room, before, limit)
    }

    fn after<'a>(&'a self, room: &'a RoomName, after: Seq, limit: u32) -> BoxFuture<'a, Result<Vec<ServerMsg>>> {
        self.inner.after(room, after, limit)
    }

    fn quote<'a>(&'a self, room: &'a RoomName, seq: Seq) -> BoxFuture<'a, Result<Option<app::protocol::Quote>>> {
        self.inner.quote(room, seq)
    }

    fn standing<'a>(
        &'a self,
        room: &'a RoomName,
        account: AccountId,
        now: app::protocol::Timestamp,
    ) -> BoxFuture<'a, Result<crate::store::Standing>> {
        self.inner.standing(room, account, now)
    }

    fn moderate<'a>(
        &'a self,
        room: &'a RoomName,
        actor: AccountId,
        action: app::moderation::ModAction,
        username: &'a str,
        amount: (Option<app::protocol::Timestamp>, u32),
    ) -> BoxFuture<'a, Result<std::result::Result<Option<AccountId>, app::moderation::ModerationError>>> {
        self.inner.moderate(room, actor, action, username, amount)
    }

    fn moderation_log<'a>(
        &'a self,
        room: &'a RoomName,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<app::moderation::LogEntry>>> {
        self.inner.moderation_log(room, limit)
    }

    fn search<'a>(
        &'a self,
        request: &'a crate::store::SearchRequest,
    ) -> BoxFuture<'a, Result<Vec<crate::store::Found>>> {
        self.inner.search(request)
    }

    fn last_seq<'a>(&'a self, room: &'a RoomName) -> BoxFuture<'a, Result<Seq>> {
        if self.switches.fail_last_seq.load(Ordering::SeqCst) {
            return async { Err(StoreError::Database(sqlx::Error::PoolClosed)) }.boxed();
        }
        self.inner.last_seq(room)
    }

    fn room_list(&self, account: AccountId) -> BoxFuture<'_, Result<Vec<RoomEntry>>> {
        self.inner.room_list(account)
    }

    fn committed_seq(&self, room: &RoomName) -> Option<Seq> {
        self.inner.committed_seq(room)
    }

    fn in_list<'a>(&'a self, account: AccountId, room: &'a RoomName) -> BoxFuture<'a, Result<bool>> {
        self.inner.in_list(account, room)
    }

    fn join_room<'a>(
        &'a self,
        account: AccountId,
        room: &'a RoomName,
        at: Timestamp,
    ) -> BoxFuture<'a, Result<Option<RoomEntry>>> {
        self.inner.join_room(account, room, at)
    }

    fn leave_room<'a>(&'a self, account: AccountId, room: &'a RoomName) -> BoxFuture<'a, Result<bool>> {
        self.inner.leave_room(account, room)
    }

    fn people_named<'a>(
        &'a self,
        room: &'a RoomName,
        prefix: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<app::rooms::Correspondent>>> {
        self.inner.people_named(room, prefix, limit)
    }

    fn set_notify<'a>(
        &'a self,
        account: AccountId,
        room: &'a RoomName,
        level: NotifyLevel,
    ) -> BoxFuture<'a, Result<bool>> {
        self.inner.set_notify(account, room, level)
    }

    fn mark_read(&self, marks: Vec<ReadMark>) -> BoxFuture<'_, Result<Vec<ReadMoved>>> {
        self.inner.mark_read(marks)
    }

    fn add_upload<'a>(&'a self, upload: &'a crate::store::Upload) -> BoxFuture<'a, Result<()>> {
        self.inner.add_upload(upload)
    }

    fn upload<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<crate::store::Upload>>> {
        self.inner.upload(id)
    }

    fn uploads_used(&self, account: AccountId, unsent_before: Timestamp) -> BoxFuture<'_, Result<u64>> {
        self.inner.uploads_used(account, unsent_before)
    }
}
