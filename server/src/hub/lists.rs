//! Room lists, live: what tells each tab of a person that a room of their list
//! got messages, that they read a room on another device, or that a room came
//! or went.
//!
//! Two kinds of channel ([`Topics`]): a room's activity, listened to by the tabs
//! that list the room without having it open (one small frame per room per
//! commit, serialised once), and an account's inbox, listened to by all its
//! tabs. Neither is per pair of members: a message costs one frame per listening
//! tab, as its delivery does.
//!
//! Read positions arrive often (every tab reports what it has on screen), so
//! they are coalesced per account and room by one task and stored in one
//! transaction per flush, a few times a second at most, whatever the number of
//! readers; only positions that moved are announced.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use app::protocol::{ChatMessage, Seq, ServerMsg, Timestamp};
use app::room_name::RoomName;
use app::rooms::{NotifyLevel, RoomEntry};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::post::SharedStore;
use super::topics::{Subscription, Topics};
use super::Frame;
use crate::push::PushOffer;
use crate::store::{AccountId, ReadMark};

/// How long read marks gather before they are stored together.
const READ_FLUSH_AFTER: Duration = Duration::from_millis(100);
/// Most read marks waiting; past it, sessions wait to add theirs.
const READ_QUEUE: usize = 8192;

/// An event of an account's inbox: the frame for its tabs, and what it changes
/// in the list (the session starts or stops listening to that room's activity).
#[derive(Debug, Clone)]
pub struct InboxEvent {
    pub frame: Frame,
    pub change: ListChange,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListChange {
    Nothing,
    Joined(RoomName),
    Left(RoomName),
    /// Changes may have been lost (the bus was away): read the whole list
    /// again (the event's frame is not sent).
    Resync,
}

/// A post stored by a commit (not a retry), as the room list sees it.
#[derive(Debug, Clone)]
pub(super) struct Posted {
    pub account: AccountId,
    pub username: String,
    pub seq: Seq,
    /// It put the room in its author's list.
    pub joined: bool,
}

pub type Inbox = Subscription<AccountId, InboxEvent>;
pub type Activity = Subscription<RoomName, Frame>;

/// The channels; cheap to clone (the poster and the read task hold them too).
#[derive(Clone)]
pub(super) struct Lists {
    inboxes: Topics<AccountId, InboxEvent>,
    activity: Topics<RoomName, Frame>,
    /// Where commits are offered for Web Push, once the server attaches it.
    push: Arc<OnceLock<PushOffer>>,
    /// Where commits are offered for the bots' outgoing webhooks, likewise.
    bots: Arc<OnceLock<crate::api::outgoing::BotOffer>>,
    /// With other processes: what is told here is told there too, and what
    /// they tell comes here (`hub::relay`), for the keys listened to here.
    bus: Option<crate::bus::Bus>,
}

/// An account's list changes seldom (read positions are coalesced): a few
/// slots are plenty, and there is a channel per account online, so its size
/// counts in every connection's memory. A tab that lags re-reads its list.
const INBOX_CAPACITY: usize = 8;
/// A room's activity comes as fast as its messages, shared by all who list it.
const ACTIVITY_CAPACITY: usize = 64;

impl Default for Lists {
    fn default() -> Self {
        Lists::new(None)
    }
}

/// An account's channel on the bus.
pub fn account_channel(account: AccountId) -> String {
    format!("chat:account:{}", account.0)
}

/// A room's activity channel on the bus.
pub fn activity_channel(room: &RoomName) -> String {
    format!("chat:activity:{room}")
}

impl Lists {
    pub(super) fn new(bus: Option<crate::bus::Bus>) -> Self {
        let watch_inboxes = bus.clone().map(|bus| {
            Arc::new(move |account: &AccountId, on: bool| match on {
                true => bus.subscribe(account_channel(*account)),
                false => bus.unsubscribe(account_channel(*account)),
            }) as super::topics::Watch<AccountId>
        });
        let watch_activity = bus.clone().map(|bus| {
            Arc::new(move |room: &RoomName, on: bool| match on {
                true => bus.subscribe(activity_channel(room)),
                false => bus.unsubscribe(activity_channel(room)),
            }) as super::topics::Watch<RoomName>
        });
        Lists {
            inboxes: Topics::watched(INBOX_CAPACITY, watch_inboxes),
            activity: Topics::watched(ACTIVITY_CAPACITY, watch_activity),
            push: Arc::default(),
            bots: Arc::default(),
            bus,
        }
    }

    /// An account's inbox event another process told (for the tabs here).
    pub(super) fn heard_inbox(&self, account: AccountId, event: InboxEvent) {
        self.inboxes.publish(&account, event);
    }

    /// What other processes told may have been lost (the bus was away):
    /// every tab here reads its whole list again.
    pub(super) fn resync_all(&self) {
        self.inboxes.publish_everywhere(InboxEvent { frame: Frame::from(String::new()), change: ListChange::Resync });
    }

    /// A room's activity another process told (for the tabs here).
    pub(super) fn heard_activity(&self, room: &RoomName, frame: Frame) {
        self.activity.publish(room, frame);
    }

    /// Whether a room's activity is to be told: tabs here list it, or other
    /// processes may have some.
    fn activity_wanted(&self, room: &RoomName) -> bool {
        self.bus.is_some() || self.activity.has_listeners(room)
    }

    fn tell_activity(&self, room: &RoomName, frame: Frame) {
        if let Some(bus) = &self.bus {
            bus.publish_told(activity_channel(room), encode_activity(room, &frame));
        }
        self.activity.publish(room, frame);
    }

    pub(super) fn inbox(&self, account: AccountId) -> Inbox {
        self.inboxes.subscribe(account)
    }

    pub(super) fn activity(&self, room: RoomName) -> Activity {
        self.activity.subscribe(room)
    }

    pub(super) fn attach_bots(&self, offer: crate::api::outgoing::BotOffer) {
        if self.bots.set(offer).is_err() {
            tracing::warn!("the outgoing webhooks were attached twice; the first stay");
        }
    }

    pub(super) fn attach_push(&self, offer: PushOffer) {
        if self.push.set(offer).is_err() {
            tracing::warn!("web push was attached twice; the first stays");
        }
    }

    /// Whether the account has a connection open (every signed-in
    /// connection listens to its account's inbox).
    pub(super) fn is_online(&self, account: AccountId) -> bool {
        self.inboxes.has_listeners(&account)
    }

    pub(super) fn tell(&self, account: AccountId, msg: &ServerMsg, change: ListChange) {
        if self.bus.is_none() && !self.inboxes.has_listeners(&account) {
            return;
        }
        let event = InboxEvent { frame: Frame::from(msg.to_json()), change };
        if let Some(bus) = &self.bus {
            bus.publish_told(account_channel(account), encode_inbox(account, &event));
        }
        self.inboxes.publish(&account, event);
    }

    /// After a commit: one activity frame per room for the tabs listing it (if
    /// any), and the rooms the posts put in their authors' lists.
    /// An edit or a delete stored as the room's event `seq`: the lists listening
    /// move the room's end without counting it unread.
    pub(super) fn announce_change(&self, room: &RoomName, seq: Seq, at: Timestamp) {
        if self.activity_wanted(room) {
            let msg = ServerMsg::Activity {
                room: room.clone(),
                seq,
                at,
                mentioned: BTreeMap::new(),
                read: BTreeMap::new(),
                change: true,
            };
            self.tell_activity(room, Frame::from(msg.to_json()));
        }
    }

    pub(super) fn announce(&self, room: &RoomName, messages: &[ChatMessage], posts: &[Posted]) {
        let Some(last) = messages.last() else { return };
        let names_someone = room.is_direct() || messages.iter().any(|m| !m.mentions.is_empty());
        if let (Some(bots), true) = (self.bots.get(), names_someone) {
            let local: Vec<(AccountId, &ChatMessage)> =
                posted_here(messages, posts).into_iter().map(|(post, m)| (post.account, m)).collect();
            bots.offer(room, &local);
        }
        if let Some(push) = self.push.get() {
            push.offer(room, || {
                posted_here(messages, posts)
                    .into_iter()
                    .map(|(post, m)| (post.account, post.username.clone(), m.clone()))
                    .collect()
            });
        }
        if self.activity_wanted(room) {
            let mut mentioned: BTreeMap<String, u32> = BTreeMap::new();
            for name in messages.iter().flat_map(|m| m.mentions.iter()) {
                *mentioned.entry(name.clone()).or_default() += 1;
            }
            let read: BTreeMap<String, Seq> = posts.iter().map(|post| (post.username.clone(), post.seq)).collect();
            let msg = ServerMsg::Activity {
                room: room.clone(),
                seq: last.seq,
                at: last.sent_at,
                mentioned,
                read,
                change: false,
            };
            self.tell_activity(room, Frame::from(msg.to_json()));
        }
        for post in posts.iter().filter(|post| post.joined) {
            let entry = RoomEntry {
                room: room.clone(),
                last_seq: last.seq,
                read_seq: post.seq,
                last_at: Some(last.sent_at),
                mentions: 0,
                changes: 0,
                notify: NotifyLevel::default_for(room),
                with: None,
            };
            self.tell(post.account, &ServerMsg::RoomJoined { entry }, ListChange::Joined(room.clone()));
        }
    }
}

/// A room's activity as a bus message: the room's name, a newline, the frame.
fn encode_activity(room: &RoomName, frame: &Frame) -> Vec<u8> {
    format!("{room}\n{}", frame.as_str()).into_bytes()
}

/// [`encode_activity`]'s message read back.
pub(super) fn decode_activity(payload: &[u8]) -> Option<(RoomName, Frame)> {
    let (room, frame) = std::str::from_utf8(payload).ok()?.split_once('\n')?;
    Some((RoomName::parse_key(room).ok()?, Frame::from(frame.to_owned())))
}

/// An account's inbox event as a bus message: the account's id, what it
/// changes in the list (`=`, `+room`, `-room`) and the frame, a line each.
fn encode_inbox(account: AccountId, event: &InboxEvent) -> Vec<u8> {
    let change = match &event.change {
        ListChange::Nothing => "=".to_owned(),
        ListChange::Joined(room) => format!("+{room}"),
        ListChange::Left(room) => format!("-{room}"),
        ListChange::Resync => "!".to_owned(),
    };
    format!("{}\n{change}\n{}", account.0, event.frame.as_str()).into_bytes()
}

/// [`encode_inbox`]'s message read back.
pub(super) fn decode_inbox(payload: &[u8]) -> Option<(AccountId, InboxEvent)> {
    let mut parts = std::str::from_utf8(payload).ok()?.splitn(3, '\n');
    let account = AccountId(parts.next()?.parse().ok()?);
    let change = match parts.next()? {
        "=" => ListChange::Nothing,
        "!" => ListChange::Resync,
        change => match change.split_at_checked(1)? {
            ("+", room) => ListChange::Joined(RoomName::parse_key(room).ok()?),
            ("-", room) => ListChange::Left(RoomName::parse_key(room).ok()?),
            _ => return None,
        },
    };
    Some((account, InboxEvent { frame: Frame::from(parts.next()?.to_owned()), change }))
}

/// The task that stores read marks, owned by the hub: [`ReadMarks::close`]
/// stores what has arrived and waits for it to end.
pub(super) struct ReadMarks {
    marks: mpsc::Sender<ReadMark>,
    stop: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl ReadMarks {
    pub(super) fn start(store: SharedStore, lists: Lists) -> Self {
        let (marks, incoming) = mpsc::channel(READ_QUEUE);
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(store, lists, incoming, stop.clone()));
        ReadMarks { marks, stop, task: Mutex::new(Some(task)) }
    }

    /// Queues a mark; `false` once the hub is closing.
    pub(super) async fn add(&self, mark: ReadMark) -> bool {
        self.marks.send(mark).await.is_ok()
    }

    pub(super) async fn close(&self) {
        self.stop.cancel();
        let task = self.task.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(task) = task {
            if let Err(error) = task.await {
                tracing::error!(%error, "the read-mark task failed");
            }
        }
    }
}

async fn run(store: SharedStore, lists: Lists, mut incoming: mpsc::Receiver<ReadMark>, stop: CancellationToken) {
    let mut batch = Vec::new();
    loop {
        let received = tokio::select! {
            received = incoming.recv_many(&mut batch, READ_QUEUE) => received,
            () = stop.cancelled(), if !incoming.is_closed() => {
                incoming.close();
                continue;
            }
        };
        if received == 0 {
            break;
        }
        if !stop.is_cancelled() {
            // Let the marks of the next moments join these.
            tokio::time::sleep(READ_FLUSH_AFTER).await;
            while let Ok(mark) = incoming.try_recv() {
                batch.push(mark);
            }
        }
        let mut furthest: HashMap<(AccountId, RoomName), Seq> = HashMap::new();
        for mark in batch.drain(..) {
            let seq = furthest.entry((mark.account, mark.room)).or_insert(mark.seq);
            *seq = (*seq).max(mark.seq);
        }
        let marks: Vec<ReadMark> =
            furthest.into_iter().map(|((account, room), seq)| ReadMark { account, room, seq }).collect();
        match store.mark_read(marks).await {
            Ok(moved) => {
                for moved in moved {
                    let msg = ServerMsg::RoomRead {
                        room: moved.room,
                        seq: moved.seq,
                        mentions: moved.mentions,
                        changes: moved.changes,
                    };
                    lists.tell(moved.account, &msg, ListChange::Nothing);
                }
            }
            // The tabs keep their own positions and send them again with the
            // next message they show; nothing else depends on these.
            Err(error) => tracing::warn!(%error, "storing read positions failed"),
        }
    }
}

/// The messages of a commit that were posted through this process, each with
/// its post (its author): what Web Push and the bots are offered.
fn posted_here<'a, 'm>(messages: &'m [ChatMessage], posts: &'a [Posted]) -> Vec<(&'a Posted, &'m ChatMessage)> {
    let by_seq: HashMap<Seq, &Posted> = posts.iter().map(|p| (p.seq, p)).collect();
    messages.iter().filter_map(|m| by_seq.get(&m.seq).map(|post| (*post, m))).collect()
}
