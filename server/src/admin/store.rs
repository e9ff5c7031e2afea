//! What the site administrators' page reads and does in the store: rooms with
//! their members and messages, accounts with when they were last seen, the
//! site's moderation log, and what deleting a room needs (both stores
//! implement it: `store/sqlite/admin.rs`, `store/postgres/admin.rs`).

use futures::future::BoxFuture;

use app::admin::{AccountSummary, RoomSummary, SiteLogEntry};
use app::protocol::Seq;
use app::room_name::RoomName;

use crate::store::{AccountId, Result};

/// Most rows one list of the admin page shows.
pub const MAX_ROWS: u32 = 200;

pub trait AdminStore: Send + Sync + 'static {
    /// Up to `limit` rooms (not direct conversations), the most recently
    /// active first, with their owners, members and messages not deleted.
    fn rooms_summary(&self, limit: u32) -> BoxFuture<'_, Result<Vec<RoomSummary>>>;

    /// How many direct conversations there are (their names are not shown).
    fn direct_rooms(&self) -> BoxFuture<'_, Result<u64>>;

    /// Up to `limit` accounts, the most recently seen first.
    fn accounts_summary(&self, limit: u32) -> BoxFuture<'_, Result<Vec<AccountSummary>>>;

    /// Notes when each account was last seen (`crate::admin::seen`), in one transaction.
    fn seen(&self, marks: Vec<(AccountId, i64)>) -> BoxFuture<'_, Result<()>>;

    /// The newest `limit` entries of every room's moderation log.
    fn site_log(&self, limit: u32) -> BoxFuture<'_, Result<Vec<SiteLogEntry>>>;

    /// The room's messages not deleted that have an author, with their authors.
    fn live_messages<'a>(&'a self, room: &'a RoomName) -> BoxFuture<'a, Result<Vec<(Seq, AccountId)>>>;

    /// The accounts that have the room in their list.
    fn members<'a>(&'a self, room: &'a RoomName) -> BoxFuture<'a, Result<Vec<AccountId>>>;

    /// Logs in the room's moderation log that `actor` deleted the room, and
    /// deletes the room's incoming webhooks; says whether the room exists.
    fn log_room_deleted<'a>(&'a self, room: &'a RoomName, actor: AccountId, now: i64) -> BoxFuture<'a, Result<bool>>;
}

/// A room as both stores read it: name, owner, made, last message, members, messages.
pub(crate) type RoomRow = (String, Option<String>, i64, Option<i64>, i64, i64);
/// An account: username, name, made, last seen, deactivated, its owner if a bot.
pub(crate) type AccountRow = (String, String, i64, Option<i64>, bool, Option<String>);
/// A log entry with its room's name.
pub(crate) type SiteLogRow =
    (String, i64, Option<String>, String, Option<String>, Option<i64>, Option<i64>, Option<i64>);

pub(crate) fn room_summary((name, owner, created_at, last_at, members, messages): RoomRow) -> RoomSummary {
    RoomSummary { name, owner, created_at, last_at, members: members as u64, messages: messages as u64 }
}

pub(crate) fn account_summary(
    (username, display_name, created_at, last_seen_at, deactivated, bot_of): AccountRow,
) -> AccountSummary {
    AccountSummary { username, display_name, created_at, last_seen_at, deactivated, bot_of }
}

pub(crate) fn site_log_entry((room, at, actor, action, target, seq, until, seconds): SiteLogRow) -> SiteLogEntry {
    SiteLogEntry { room, entry: crate::store::log_entry((at, actor, action, target, seq, until, seconds)) }
}
