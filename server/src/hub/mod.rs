//! The room hub: which rooms exist, who is in each, and the broadcast that carries
//! every event of a room to all its members.
//!
//! The registry is plain synchronous data behind a short lock that is never held
//! across an `.await`. A room exists while it has members: the first join creates
//! it, the last [`Membership`] dropped removes it.

mod changes;
mod lists;
mod membership;
mod notices;
mod outside;
mod pacing;
mod post;
mod presence;
mod relay;
mod room;
pub mod sequencer;
mod slow;
mod topics;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use app::directory::{RoomDirectory, RoomSummary};
use app::history::HistorySource;
use app::protocol::{validate_body, ChatError, ChatMessage, ClientMsgId, MemberId, Quote, Seq, ServerMsg};
use app::room_name::RoomName;
use tokio::sync::mpsc;

use crate::limits::KeyedBuckets;
use crate::policy::Policy;
use app::rooms::RoomEntry;

use crate::store::{AccountId, MessageWriter, NewMessage, ReadMark};

pub use lists::{Activity, Inbox, InboxEvent, ListChange};
pub use membership::{Author, Event, Membership, PendingPost};
pub use notices::NOTICE_PACE;
pub use outside::SubmitError;
pub use pacing::DEFAULT_COMMIT_PACE;
pub use post::{PostError, SharedStore, Writer};
pub use presence::shared::DEFAULT_TTL as PRESENCE_TTL;
pub use room::{Frame, Room, RoomEvent};

/// A body as it is stored: a NUL character (which PostgreSQL's text cannot
/// hold, and no one types) becomes U+FFFD, as an unreadable byte would.
pub(crate) fn storable(body: String) -> String {
    if body.contains('\0') {
        body.replace('\0', "\u{FFFD}")
    } else {
        body
    }
}

/// How many events a room buffers for its slowest member before that member lags
/// (and is caught up from the store: nothing is lost, a notice may be). An event
/// is a whole commit's messages for the room, and commits come at most every
/// few milliseconds, so 128 events are over half a second of the busiest room.
/// Each slot is 64 bytes whatever the room's size, held while the room has a
/// member: 1,024 slots were 64 KiB per room, 655 MB for 10,000 small rooms.
pub const DEFAULT_ROOM_BUFFER: usize = 128;

/// What a post may carry besides its body.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// The message it answers, quoted.
    pub reply: Option<Box<Quote>>,
    /// Its sender's upload to the room, checked.
    pub file: Option<Box<app::protocol::Attachment>>,
}

#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

/// The rooms that have members, by name. Shared with the poster, which
/// broadcasts each stored message to its room as the registry has it at commit
/// time, not to the room it was posted in: that one may have emptied and been
/// replaced meanwhile, and its new members must not miss the message.
pub(crate) type Registry = Arc<Mutex<HashMap<RoomName, Arc<Room>>>>;

struct Inner {
    rooms: Registry,
    /// Each account's allowance of messages, over all its connections and
    /// forms; `None`: no limit (tests and tools).
    sends: Option<Arc<KeyedBuckets<AccountId>>>,
    next_member: AtomicU64,
    room_buffer: usize,
    store: SharedStore,
    posts: mpsc::Sender<Box<post::PostRequest>>,
    changes: mpsc::Sender<changes::ChangeRequest>,
    poster: post::Poster,
    lists: lists::Lists,
    reads: lists::ReadMarks,
    notices: notices::Notices,
    slow: slow::SlowRooms,
    /// With a bus: other processes' commits to this one's members, and this
    /// one's to theirs.
    relay: Option<Arc<relay::Relay>>,
}

impl Hub {
    /// A hub whose rooms keep their messages in `store`, without a limit on how
    /// fast anyone posts (tests and tools; a server takes [`Hub::with_policy`]).
    /// Starts the task that stores and broadcasts posts.
    pub fn new(store: SharedStore, writer: impl MessageWriter) -> Self {
        Self::with_room_buffer(store, writer, DEFAULT_ROOM_BUFFER)
    }

    pub fn with_room_buffer(store: SharedStore, writer: impl MessageWriter, room_buffer: usize) -> Self {
        let paces = (DEFAULT_COMMIT_PACE, presence::shared::DEFAULT_TTL);
        Self::start(store, Box::new(writer), room_buffer, paces, None, None)
    }

    /// A server's hub: each account's posts limited to the policy's rate, and
    /// commits paced by it (see `post`).
    pub fn with_policy(store: SharedStore, writer: Writer, room_buffer: usize, policy: &Policy) -> Self {
        Self::on_bus(store, writer, room_buffer, policy, None)
    }

    /// [`Hub::with_policy`], one of several processes on one database, with
    /// the bus between them (`None`: the only one).
    pub fn on_bus(
        store: SharedStore,
        writer: Writer,
        room_buffer: usize,
        policy: &Policy,
        bus: Option<(crate::bus::Bus, mpsc::Receiver<crate::bus::BusEvent>)>,
    ) -> Self {
        let sends = KeyedBuckets::new(policy.send_burst, policy.sends_per_second);
        Self::start(store, writer, room_buffer, (policy.commit_pace, policy.presence_ttl), Some(sends), bus)
    }

    fn start(
        store: SharedStore,
        writer: Writer,
        room_buffer: usize,
        (commit_pace, presence_ttl): (std::time::Duration, std::time::Duration),
        sends: Option<KeyedBuckets<AccountId>>,
        bus: Option<(crate::bus::Bus, mpsc::Receiver<crate::bus::BusEvent>)>,
    ) -> Self {
        let sends = sends.map(Arc::new);
        let rooms = Registry::default();
        let lists = lists::Lists::new(bus.as_ref().map(|(bus, _)| bus.clone()));
        let notices = notices::Notices::start();
        let relay = bus.map(|bus| {
            Arc::new(relay::Relay::start(
                bus,
                (rooms.clone(), lists.clone(), notices.marker()),
                store.clone(),
                presence_ttl,
            ))
        });
        if let Some(relay) = &relay {
            notices.report_to(relay.presence().clone());
        }
        let (poster, posts, changes) =
            post::Poster::start(writer, commit_pace, rooms.clone(), lists.clone(), relay.clone());
        let reads = lists::ReadMarks::start(store.clone(), lists.clone());
        Hub {
            inner: Arc::new(Inner {
                next_member: AtomicU64::new(1),
                room_buffer,
                posts,
                changes,
                poster,
                rooms,
                sends,
                store,
                lists,
                reads,
                notices,
                slow: slow::SlowRooms::default(),
                relay,
            }),
        }
    }

    /// The one place a post is checked, whether it comes over a socket or from a
    /// form: a valid id, an author (posting needs an account), a valid body,
    /// and the author's allowance. Returns the author it will be stored under.
    pub fn check<'a>(&self, author: Option<&'a Author>, id: &ClientMsgId, body: &str) -> Result<&'a Author, ChatError> {
        self.check_with(author, id, Some(body))
    }

    /// [`Hub::check`] for a post with these extras: with a file, the body
    /// may be empty.
    pub fn check_post<'a>(
        &self,
        author: Option<&'a Author>,
        id: &ClientMsgId,
        body: &str,
        extras: &Extras,
    ) -> Result<&'a Author, ChatError> {
        let captionless = extras.file.is_some() && body.trim().is_empty();
        self.check_with(author, id, (!captionless).then_some(body))
    }

    /// What [`Hub::check_post`] refuses a post for by itself (its id, its
    /// author, its body), taking nothing: asked before slow mode takes the
    /// poster's turn, so that a post refused for what it is costs no wait.
    pub fn validate_post(
        &self,
        author: Option<&Author>,
        id: &ClientMsgId,
        body: &str,
        extras: &Extras,
    ) -> Result<(), ChatError> {
        let captionless = extras.file.is_some() && body.trim().is_empty();
        Self::validate(author, id, (!captionless).then_some(body)).map(|_| ())
    }

    fn validate<'a>(author: Option<&'a Author>, id: &ClientMsgId, body: Option<&str>) -> Result<&'a Author, ChatError> {
        if !id.is_valid() {
            return Err(ChatError::InvalidMessageId { max_len: ClientMsgId::MAX_LEN });
        }
        let author = author.ok_or(ChatError::SignInRequired)?;
        if let Some(body) = body {
            validate_body(body)?;
        }
        Ok(author)
    }

    /// [`Hub::check`], for a request with a body or (a delete) without one.
    fn check_with<'a>(
        &self,
        author: Option<&'a Author>,
        id: &ClientMsgId,
        body: Option<&str>,
    ) -> Result<&'a Author, ChatError> {
        let author = Self::validate(author, id, body)?;
        if let Some(sends) = &self.inner.sends {
            if let Err(wait) = sends.take(&author.id, std::time::Instant::now()) {
                tracing::debug!(?wait, author = author.id.0, "sender rate-limited");
                crate::metrics::METRICS.refusals.with_label_values(&["rate_limited"]).inc();
                return Err(ChatError::RateLimited { retry_after_ms: wait.as_millis().max(1) as u64 });
            }
        }
        Ok(author)
    }

    /// Checks and queues a post to `room` from outside it (a form post): the
    /// same rules and the same path to the store as a member's.
    pub async fn post(
        &self,
        author: Option<&Author>,
        room: &RoomName,
        body: String,
        client_id: ClientMsgId,
    ) -> Result<PendingPost, PostError> {
        let author = self.check(author, &client_id, &body).map_err(PostError::Refused)?;
        self.enqueue(self.room(room), room.clone(), author, (body, Extras::default()), client_id).await
    }

    /// Hands a checked post to the writer. The request is made before the
    /// future (which waits only for a place in the queue) and boxed: a
    /// connection holds this future among its states.
    fn enqueue(
        &self,
        live: Option<Arc<Room>>,
        room: RoomName,
        author: &Author,
        (body, extras): (String, Extras),
        client_id: ClientMsgId,
    ) -> impl Future<Output = Result<PendingPost, PostError>> + '_ {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let request = Box::new(post::PostRequest {
            room: live,
            message: NewMessage {
                room,
                author_id: author.id,
                author: author.display_name.clone(),
                author_username: author.username.clone(),
                // Found here, on the sender's task, not in the writer's commit.
                mentioned: app::markdown::mentions::mentions(&body),
                body: storable(body),
                client_id,
                sent_at: crate::clock::now(),
                reply: extras.reply,
                file: extras.file,
            },
            reply,
        });
        let sent = self.inner.posts.send(request);
        async move {
            sent.await.map_err(|_| PostError::Closed)?;
            Ok(PendingPost::new(answer))
        }
    }

    /// The room's slow mode is `seconds` (0: off), as the store has it.
    pub fn set_slow_mode(&self, room: &RoomName, seconds: u32) {
        self.inner.slow.set(room, seconds);
    }

    /// Slow mode's check of a post by `author` in `room` (a moderator's is
    /// never slowed); takes the author's turn when it passes.
    pub fn slow_check(&self, room: &RoomName, author: Option<&Author>, moderator: bool) -> Result<(), ChatError> {
        let Some(author) = author.filter(|_| !moderator) else { return Ok(()) };
        self.inner.slow.take(room, author.id, std::time::Instant::now()).map_err(|(seconds, wait)| {
            crate::metrics::METRICS.refusals.with_label_values(&["slow_mode"]).inc();
            ChatError::SlowMode { seconds, retry_after_ms: wait.as_millis().max(1) as u64 }
        })
    }

    pub fn store(&self) -> &SharedStore {
        &self.inner.store
    }

    /// For shutdown, once the sessions have ended: stores the posts already
    /// queued (later ones are refused as [`PostError::Closed`]) and waits for the
    /// poster to end, which closes the store (its last checkpoint included).
    pub async fn close(&self) {
        // Read marks first: they share the store the poster closes.
        self.inner.reads.close().await;
        self.inner.notices.close().await;
        self.inner.poster.close().await;
        if let Some(relay) = &self.inner.relay {
            relay.close().await;
        }
    }

    /// Whether other processes write to the same rooms (a bus): a join then
    /// needs its room's newest seq first ([`Hub::join_from`]).
    pub fn is_relayed(&self) -> bool {
        self.inner.relay.is_some()
    }

    /// With other processes: ties sign-outs together both ways. `tell` is
    /// set on the accounts to tell the others of one here, `then` is what one
    /// there does here. Nothing without a bus.
    pub fn join_sign_outs(&self, accounts: &crate::accounts::Accounts) {
        let Some(relay) = &self.inner.relay else { return };
        // Weak: the relay holds the accounts (below), and the two must not
        // keep each other alive.
        let to_others = Arc::downgrade(relay);
        accounts.tell_ended_with(Arc::new(move |hash: &str| {
            if let Some(relay) = to_others.upgrade() {
                relay.session_ended(hash);
            }
        }));
        let here = accounts.clone();
        relay.when_session_ended(Arc::new(move |hash: &str| here.ended_elsewhere(hash)));
    }

    /// With a bus: waits (a moment at most) until what this process listens
    /// to for its connections is listened to on the bus too, so that what
    /// other processes tell from then on comes here. Nothing without one.
    pub async fn settled(&self) {
        if let Some(relay) = &self.inner.relay {
            relay.settled().await;
        }
    }

    /// With other processes: holds the connection caps and each account's
    /// send rate over all of them (see `limits::shared`). Nothing without a bus.
    pub fn share_limits(&self, caps: &crate::limits::ConnectionCaps) {
        if let Some(relay) = &self.inner.relay {
            relay.share_limits(caps.clone(), self.inner.sends.clone());
        }
    }

    /// The messages `account` may send at once now (`None`: no limit).
    pub fn send_allowance(&self, account: AccountId) -> Option<f64> {
        Some(self.inner.sends.as_ref()?.tokens(&account, std::time::Instant::now()))
    }

    /// Hands each commit's messages that name someone to the bots' outgoing
    /// webhooks from now on.
    pub fn attach_bots(&self, offer: crate::api::outgoing::BotOffer) {
        self.inner.lists.attach_bots(offer);
    }

    /// Hands each commit's messages to Web Push from now on.
    pub fn attach_push(&self, offer: crate::push::PushOffer) {
        self.inner.lists.attach_push(offer);
    }

    /// Whether the account has a connection open, here or (with a bus, as
    /// the others last told) on another process.
    pub fn is_online(&self, account: AccountId) -> bool {
        self.inner.lists.is_online(account)
            || self.inner.relay.as_ref().is_some_and(|relay| relay.online_elsewhere(account))
    }

    /// Listens to the account's room-list changes (all its tabs hear them).
    pub fn inbox(&self, account: AccountId) -> Inbox {
        self.inner.lists.inbox(account)
    }

    /// Listens to the activity of a room in a list (for a tab that does not
    /// have the room open).
    pub fn activity(&self, room: RoomName) -> Activity {
        self.inner.lists.activity(room)
    }

    /// Puts `room` in the account's list and tells its tabs; `Ok(None)` when the
    /// list is full.
    pub async fn join_list(&self, account: AccountId, room: &RoomName) -> crate::store::Result<Option<RoomEntry>> {
        let entry = self.store().join_room(account, room, crate::clock::now()).await?;
        if let Some(entry) = &entry {
            let msg = ServerMsg::RoomJoined { entry: entry.clone() };
            self.inner.lists.tell(account, &msg, ListChange::Joined(room.clone()));
        }
        Ok(entry)
    }

    /// Takes `room` off the account's list and tells its tabs.
    pub async fn leave_list(&self, account: AccountId, room: &RoomName) -> crate::store::Result<bool> {
        let left = self.store().leave_room(account, room).await?;
        if left {
            let msg = ServerMsg::RoomLeft { room: room.clone() };
            self.inner.lists.tell(account, &msg, ListChange::Left(room.clone()));
        }
        Ok(left)
    }

    /// Sets when `room` notifies the account and tells its tabs; `false` when
    /// the room is not in its list.
    pub async fn set_notify(
        &self,
        account: AccountId,
        room: &RoomName,
        level: app::rooms::NotifyLevel,
    ) -> crate::store::Result<bool> {
        let set = self.store().set_notify(account, room, level).await?;
        if set {
            let msg = ServerMsg::RoomNotify { room: room.clone(), notify: level };
            self.inner.lists.tell(account, &msg, ListChange::Nothing);
        }
        Ok(set)
    }

    /// Records that the account has read `room` up to `seq`; stored within a
    /// moment (coalesced with other marks), then told to the account's tabs.
    /// `false` once the hub is closing.
    pub async fn mark_read(&self, account: AccountId, room: RoomName, seq: Seq) -> bool {
        self.inner.reads.add(ReadMark { account, room, seq }).await
    }

    /// Adds a connection to `room` (creating the room if it is new): a tab of
    /// a signed-in person, shown to the room with the next notice, or (`None`)
    /// a signed-out reader, only counted. The returned membership receives
    /// every event that follows; dropping it leaves the room.
    pub fn join(&self, room: &RoomName, person: Option<&Author>) -> Membership {
        self.join_from(room, person, Seq(0))
    }

    /// [`Hub::join`] with a bus: `anchor` is the room's newest seq as the store
    /// had it before this join (read by the caller), where a room new to this
    /// process starts delivering from. Without a bus it is not used.
    pub fn join_from(&self, room: &RoomName, person: Option<&Author>, anchor: Seq) -> Membership {
        let id = MemberId(self.inner.next_member.fetch_add(1, Ordering::Relaxed));
        let (room, events, welcome) = {
            let mut rooms = self.rooms();
            let room = rooms
                .entry(room.clone())
                .or_insert_with(|| {
                    let anchor = self.inner.relay.as_ref().map(|relay| {
                        relay.subscribe(room);
                        relay.presence().load(room);
                        anchor
                    });
                    Arc::new(Room::new(room.clone(), self.inner.room_buffer, anchor))
                })
                .clone();
            // Subscribe before announcing, so the joiner misses nothing after its welcome.
            let events = room.subscribe();
            let welcome = room.add(person.map(|p| (p.username.as_str(), p.display_name.as_str())));
            (room, events, welcome)
        };
        // A reader changes only counts: told to the others (with a bus), not here.
        if person.is_some() || self.inner.relay.is_some() {
            self.inner.notices.mark(&room);
        }
        Membership::new(self.clone(), room, id, person.map(|p| p.username.clone()), events, welcome)
    }

    /// Called by [`Membership`]'s drop: removes the tab, and the room when empty.
    fn leave(&self, room: &Arc<Room>, username: Option<&str>, away: bool) {
        let now_empty = {
            let mut rooms = self.rooms();
            let now_empty = room.remove(username, away);
            if now_empty {
                // Only remove the entry if it is still this room (it always is while
                // the lock is held by joins, but be exact).
                if rooms.get(room.name()).is_some_and(|r| Arc::ptr_eq(r, room)) {
                    rooms.remove(room.name());
                    if let Some(relay) = &self.inner.relay {
                        relay.unsubscribe(room.name());
                        relay.presence().emptied(room.name());
                    }
                }
            }
            now_empty
        };
        if !now_empty && (username.is_some() || self.inner.relay.is_some()) {
            self.inner.notices.mark(room);
        }
    }

    /// A tab of `username` in `room` went away or came back.
    fn set_away(&self, room: &Arc<Room>, username: &str, away: bool) {
        room.set_away(username, away);
        self.inner.notices.mark(room);
    }

    /// The room by that name, if it has members.
    pub fn room(&self, name: &RoomName) -> Option<Arc<Room>> {
        self.rooms().get(name).cloned()
    }

    pub fn room_count(&self) -> usize {
        self.rooms().len()
    }

    /// People and readers over every room here (for the metrics).
    pub fn member_total(&self) -> usize {
        let rooms: Vec<Arc<Room>> = self.rooms().values().cloned().collect();
        rooms.iter().map(|room| room.member_count()).sum()
    }

    /// With a bus: whether Redis answers within `patience`; `None` without one.
    pub async fn bus_reachable(&self, patience: std::time::Duration) -> Option<bool> {
        let relay = self.inner.relay.clone()?;
        Some(relay.ping(patience).await)
    }

    /// Panics if the registry breaks a rule; for tests.
    pub fn check_invariants(&self) {
        for (name, room) in self.rooms().iter() {
            assert_eq!(name, room.name(), "room filed under another name");
            assert!(room.connections() > 0, "empty room {name} kept in the registry");
        }
    }

    fn rooms(&self) -> MutexGuard<'_, HashMap<RoomName, Arc<Room>>> {
        self.inner.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl RoomDirectory for Hub {
    fn active_rooms(&self) -> Vec<RoomSummary> {
        let mut rooms: Vec<RoomSummary> = self
            .rooms()
            .values()
            // Direct conversations are nobody else's business.
            .filter(|room| !room.name().is_direct())
            .map(|room| RoomSummary { name: room.name().clone(), members: room.member_count() })
            .collect();
        rooms.sort_by(|a, b| b.members.cmp(&a.members).then_with(|| a.name.cmp(&b.name)));
        rooms
    }
}

impl HistorySource for Hub {
    fn page(
        &self,
        room: RoomName,
        before: Option<Seq>,
        limit: u32,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<ChatMessage>, String>> + Send>> {
        let store = self.store().clone();
        Box::pin(async move { store.page(&room, before, limit).await.map_err(|e| e.to_string()) })
    }
}

#[cfg(test)]
mod tests;
