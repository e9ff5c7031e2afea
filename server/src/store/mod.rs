//! Where messages are kept: a small trait the hub and the pages use, so another
//! database can stand behind it without touching either, and its two
//! implementations: SQLite (the default: one file, created on first start) and
//! PostgreSQL (several server processes on one database).

mod accounts;
pub mod backup;
pub mod copy;
mod open;
mod postgres;
mod rows;
mod sqlite;
#[cfg(test)]
pub mod testing;

use futures::future::BoxFuture;

use app::error::ChatError;
use app::protocol::{Attachment, ChatMessage, ClientMsgId, Quote, Seq, ServerMsg, Timestamp};
use app::room_name::RoomName;
use app::rooms::{NotifyLevel, RoomEntry};

pub use accounts::{Account, AccountId, AccountStore, Credentials, SessionRecord};
pub use open::{redacted, Database, Opened};
pub use postgres::testing::{fresh_database as fresh_postgres_database, from_services_script};
pub use postgres::{PgStore, PgWriter};
pub(crate) use rows::{log_entry, LogRow};
pub use sqlite::{SqliteStore, SqliteWriter};

/// A message accepted by the server, not yet stored.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub room: RoomName,
    /// Who sent it: always the account of the sender's session.
    pub author_id: AccountId,
    /// The author's display name when it was sent.
    pub author: String,
    /// The author's username (what the room list's read positions are told by).
    pub author_username: String,
    /// The names the body `@`-mentions (lowercase); the writer keeps those that
    /// name an account.
    pub mentioned: Vec<String>,
    pub body: String,
    pub client_id: ClientMsgId,
    pub sent_at: Timestamp,
    /// The message it answers, quoted as it was when the reply was checked.
    pub reply: Option<Box<Quote>>,
    /// The file it posts: an upload of its author's to its room.
    pub file: Option<Box<Attachment>>,
}

/// One person's upload of one file to one room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub account: AccountId,
    /// The room's name as the store keeps it (`RoomName::as_str`).
    pub room: String,
    /// The message that posted it; none until that is sent.
    pub seq: Option<Seq>,
    /// Its content's SHA-256 (hex), and its thumbnail's, for an image.
    pub hash: String,
    pub thumb_hash: Option<String>,
    /// What a message shows of it (its id is the upload's).
    pub file: Attachment,
    pub created_at: Timestamp,
}

/// What storing a message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The message as stored (for a duplicate: as it was stored the first time).
    pub message: ChatMessage,
    /// The sender had stored this client id in this room already.
    pub duplicate: bool,
    /// Storing it put the room in its author's list.
    pub joined: bool,
}

/// "This account has read this room up to here."
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadMark {
    pub account: AccountId,
    pub room: RoomName,
    pub seq: Seq,
}

/// A read position that moved, with the mentions left unread after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadMoved {
    pub account: AccountId,
    pub room: RoomName,
    pub seq: Seq,
    pub mentions: u32,
    /// Edits and deletes after `seq`.
    pub changes: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the database directory {path}: {source}")]
    CreateDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An edit, a delete or a reaction to a stored message, asked for by the session's account.
#[derive(Debug, Clone)]
pub struct NewChange {
    pub room: RoomName,
    /// The message it changes.
    pub target: Seq,
    /// Who asks: only the message's author may edit or delete it.
    pub author_id: AccountId,
    pub at: Timestamp,
    pub kind: ChangeKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    /// A new body, and the names it `@`-mentions (the writer keeps those that
    /// name an account).
    Edit {
        body: String,
        mentioned: Vec<String>,
    },
    Delete,
    /// Adds (`on`) or takes back the asker's reaction `emoji` (anyone who can
    /// post may react); `username` is the asker's.
    React {
        emoji: String,
        on: bool,
        username: String,
    },
}

/// A stored change: the seq it took, and the message as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    /// For a change that changed nothing (a reaction given already): the
    /// message's own seq, and nothing to tell.
    pub seq: Seq,
    pub message: ChatMessage,
}

impl Changed {
    /// Whether it changed nothing, so took no seq.
    pub fn is_noop(&self) -> bool {
        self.seq == self.message.seq
    }
}

/// A search of the messages, as the store runs it.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// What the person typed (each store makes its own query of it).
    pub query: String,
    /// An FTS5 expression made by `crate::search::text::match_expression`.
    pub expression: String,
    /// Its words as the index holds them (`crate::search::text::terms`), to
    /// count the messages holding each.
    pub terms: Vec<String>,
    /// Whose search it is (signed out: none): a direct conversation is
    /// searched only for its two people.
    pub viewer: Option<AccountId>,
    pub room: Option<RoomName>,
    /// An author's username.
    pub author: Option<String>,
    pub limit: u32,
}

impl SearchRequest {
    /// The search for what a person typed, everywhere they may read, at most
    /// `limit` results; `None` when it holds no word to look for.
    pub fn new(query: &str, viewer: Option<AccountId>, limit: u32) -> Option<Self> {
        let expression = crate::search::text::match_expression(query)?;
        let terms = crate::search::text::terms(query);
        Some(SearchRequest { query: query.to_owned(), expression, terms, viewer, room: None, author: None, limit })
    }
}

/// A message found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub room: RoomName,
    pub seq: Seq,
    pub author: String,
    pub body: String,
    pub sent_at: Timestamp,
    /// In a direct conversation: the other person's username and display name.
    pub with: Option<(String, String)>,
}

/// Where an account stands in a room.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Standing {
    pub owner: bool,
    /// The owner, or named by the owner.
    pub moderator: bool,
    /// Removed from the room: until when (`None` inside: for good).
    pub removed: Option<Option<Timestamp>>,
    /// The room's slow mode: seconds between one person's messages (0: off).
    pub slow_mode_s: u32,
}

/// Reading the rooms' messages, in seq order per room: shared by the pages,
/// the sockets' catch-up and the joins, any number at once.
pub trait Store: Send + Sync + 'static {
    /// Up to `limit` messages before `before` (or the newest, without it), oldest first.
    fn page<'a>(
        &'a self,
        room: &'a RoomName,
        before: Option<Seq>,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<ChatMessage>>>;

    /// Up to `limit` events after `after` (messages, and changes of earlier
    /// messages), in seq order.
    fn after<'a>(&'a self, room: &'a RoomName, after: Seq, limit: u32) -> BoxFuture<'a, Result<Vec<ServerMsg>>>;

    /// The quote a reply to message `seq` shows; `None` when the room has no
    /// such message (a seq of a change is none).
    fn quote<'a>(&'a self, room: &'a RoomName, seq: Seq) -> BoxFuture<'a, Result<Option<Quote>>>;

    /// The messages matching a search, best first.
    fn search<'a>(&'a self, request: &'a SearchRequest) -> BoxFuture<'a, Result<Vec<Found>>>;

    /// Where `account` stands in `room` at `now` (owner, moderator, removed).
    fn standing<'a>(
        &'a self,
        room: &'a RoomName,
        account: AccountId,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Standing>>;

    /// Does what a moderator (`actor`) asked of `username` in `room` (a
    /// removal until `until`; slow mode of `seconds`), and logs it; returns
    /// the account acted on (none for slow mode), or the refusal.
    fn moderate<'a>(
        &'a self,
        room: &'a RoomName,
        actor: AccountId,
        action: app::moderation::ModAction,
        username: &'a str,
        amount: (Option<Timestamp>, u32),
    ) -> BoxFuture<'a, Result<std::result::Result<Option<AccountId>, app::moderation::ModerationError>>>;

    /// The room's moderation log, newest first.
    fn moderation_log<'a>(
        &'a self,
        room: &'a RoomName,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<app::moderation::LogEntry>>>;

    /// The room's newest seq (0 for a room with no messages).
    fn last_seq<'a>(&'a self, room: &'a RoomName) -> BoxFuture<'a, Result<Seq>>;

    /// The newest seq of each of `rooms` (0 for one with no messages), in
    /// their order; one query where the store can.
    fn last_seqs<'a>(&'a self, rooms: &'a [RoomName]) -> BoxFuture<'a, Result<Vec<Seq>>> {
        Box::pin(async move {
            let mut seqs = Vec::with_capacity(rooms.len());
            for room in rooms {
                seqs.push(self.last_seq(room).await?);
            }
            Ok(seqs)
        })
    }

    /// The account's room list, newest activity first.
    fn room_list(&self, account: AccountId) -> BoxFuture<'_, Result<Vec<RoomEntry>>>;

    /// The newest seq the writer has committed in `room` since this process
    /// started (`None`: nothing since), from memory: set after each commit,
    /// before the commit's messages are announced.
    fn committed_seq(&self, room: &RoomName) -> Option<Seq>;

    /// Whether the room is in the account's list (one indexed look-up).
    fn in_list<'a>(&'a self, account: AccountId, room: &'a RoomName) -> BoxFuture<'a, Result<bool>>;

    /// Puts the room in the account's list (creating the room if need be), read
    /// up to its newest message; returns its entry, or `None` when the list holds
    /// [`app::rooms::MAX_ROOMS_PER_ACCOUNT`] rooms already.
    fn join_room<'a>(
        &'a self,
        account: AccountId,
        room: &'a RoomName,
        at: Timestamp,
    ) -> BoxFuture<'a, Result<Option<RoomEntry>>>;

    /// Takes the room off the account's list; says whether it was there.
    fn leave_room<'a>(&'a self, account: AccountId, room: &'a RoomName) -> BoxFuture<'a, Result<bool>>;

    /// Up to `limit` accounts whose username or display name starts with
    /// `prefix` (lowercase), members of `room` first, then by username.
    fn people_named<'a>(
        &'a self,
        room: &'a RoomName,
        prefix: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<app::rooms::Correspondent>>>;

    /// Sets when the room notifies the account; says whether it is in the list.
    fn set_notify<'a>(
        &'a self,
        account: AccountId,
        room: &'a RoomName,
        level: NotifyLevel,
    ) -> BoxFuture<'a, Result<bool>>;

    /// Moves read positions forward (never back, never past a room's newest
    /// seq; rooms not in the account's list are ignored), all in one
    /// transaction; returns those that moved.
    fn mark_read(&self, marks: Vec<ReadMark>) -> BoxFuture<'_, Result<Vec<ReadMoved>>>;

    /// Records an upload whose content is kept.
    fn add_upload<'a>(&'a self, upload: &'a Upload) -> BoxFuture<'a, Result<()>>;

    /// An upload, by its id.
    fn upload<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Upload>>>;

    /// The bytes the account's uploads take, once those it made before
    /// `unsent_before` and never sent are forgotten (and their contents
    /// removed, unless another upload holds them).
    fn uploads_used(&self, account: AccountId, unsent_before: Timestamp) -> BoxFuture<'_, Result<u64>>;
}

/// Writing them: there is one, it is not `Clone`, and the hub's poster task owns
/// it. Seqs are assigned here, so one writer is what keeps them gapless.
pub trait MessageWriter: Send + 'static {
    /// Stores the messages in one transaction, in order, each under its room's next
    /// seq; a message whose (room, author id, client id) is stored already is returned
    /// as it was, marked duplicate. Returns when the transaction is durable.
    fn append_batch(&mut self, batch: Vec<NewMessage>) -> BoxFuture<'_, Result<Vec<Appended>>>;

    /// Stores an edit or a delete as the room's next seq; `Ok(Err(..))` when it
    /// is refused (no such message, not the asker's, deleted already), and then
    /// nothing changed.
    fn change(&mut self, change: NewChange) -> BoxFuture<'_, Result<std::result::Result<Changed, ChatError>>>;

    /// After the last write: ends the store's background work (its last pass
    /// included) and closes its connections.
    fn close(&mut self) -> BoxFuture<'_, ()>;
}

#[cfg(test)]
mod list_tests;
#[cfg(test)]
mod search_tests;
#[cfg(test)]
mod tests;
