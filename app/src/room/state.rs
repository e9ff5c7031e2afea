//! What the room page knows about its room, as signals the view reads. The
//! connection writes into it by applying each [`ServerMsg`]; the composer adds the
//! person's own messages as pending until the server acknowledges them.

use leptos::prelude::*;

use crate::history::HistoryPage;
use crate::protocol::{ChatError, ClientMsgId, Quote, Seq, ServerMsg};
use crate::room::presence::PresenceState;
use crate::sorted::Messages;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionStatus {
    /// Server render and the moment before hydration.
    Idle,
    Connecting,
    Live,
    /// Lost the connection; the next try is attempt `attempt`.
    Reconnecting {
        attempt: u32,
    },
    /// The browser has no network; reconnects when it is back.
    Offline,
    /// The server refused us for good (for instance another protocol version).
    Closed {
        reason: String,
    },
}

impl ConnectionStatus {
    /// A stable word for styling and tests (`data-state`).
    pub fn key(&self) -> &'static str {
        match self {
            ConnectionStatus::Idle | ConnectionStatus::Connecting => "connecting",
            ConnectionStatus::Live => "live",
            ConnectionStatus::Reconnecting { .. } | ConnectionStatus::Offline => "reconnecting",
            ConnectionStatus::Closed { .. } => "closed",
        }
    }

    pub fn label(&self) -> String {
        match self {
            ConnectionStatus::Idle | ConnectionStatus::Connecting => "Connecting…".into(),
            ConnectionStatus::Live => "Live".into(),
            ConnectionStatus::Reconnecting { attempt } if *attempt <= 1 => "Reconnecting…".into(),
            ConnectionStatus::Reconnecting { attempt } => format!("Reconnecting… (try {attempt})"),
            ConnectionStatus::Offline => "Offline: reconnecting when the network is back…".into(),
            ConnectionStatus::Closed { reason } => format!("Disconnected: {reason}"),
        }
    }
}

/// The room's reactive state. `Copy`, so handlers and the connection can share it.
#[derive(Clone, Copy)]
pub struct RoomState {
    pub status: RwSignal<ConnectionStatus>,
    /// Every message the page has, by seq: no gaps within what was loaded, no duplicates.
    pub messages: RwSignal<Messages>,
    pub pending: RwSignal<Vec<Pending>>,
    /// The oldest loaded message is the room's first.
    pub at_start: RwSignal<bool>,
    /// History could be loaded (false: the page shows live messages only).
    pub history_loaded: RwSignal<bool>,
    /// Who is here and who is typing.
    pub presence: PresenceState,
    /// This person's username; `None` for a signed-out reader.
    pub me: RwSignal<Option<String>>,
    /// The last error the server reported that concerns no particular message.
    pub error: RwSignal<Option<String>>,
    /// Set once the page is hydrated: times switch from UTC to the reader's zone.
    pub hydrated: RwSignal<bool>,
    /// The first message that was unread when the room was opened: the "new
    /// messages" divider goes above it (and the log starts there).
    pub unread_from: RwSignal<Option<Seq>>,
    /// The message the composer's next message answers.
    pub replying: RwSignal<Option<Seq>>,
    /// This person moderates the room: anyone's message can be deleted.
    pub moderator: RwSignal<bool>,
    /// The file the composer's next message posts.
    pub upload: RwSignal<Option<super::uploading::Upload>>,
    /// The newest seq of the room's sequence the page has applied (a message
    /// or a change): what a reconnect resumes after.
    seen: StoredValue<Seq>,
    /// Reactions this person is adding, by request id: the message and the emoji.
    adding: StoredValue<Vec<(ClientMsgId, Seq, String)>>,
}

impl RoomState {
    pub fn new() -> Self {
        Self {
            status: RwSignal::new(ConnectionStatus::Idle),
            messages: RwSignal::new(Messages::default()),
            pending: RwSignal::new(Vec::new()),
            at_start: RwSignal::new(false),
            history_loaded: RwSignal::new(false),
            presence: PresenceState::new(),
            me: RwSignal::new(None),
            error: RwSignal::new(None),
            hydrated: RwSignal::new(false),
            unread_from: RwSignal::new(None),
            replying: RwSignal::new(None),
            moderator: RwSignal::new(false),
            upload: RwSignal::new(None),
            seen: StoredValue::new(Seq(0)),
            adding: StoredValue::new(Vec::new()),
        }
    }

    /// The newest seq the page has; what a reconnect resumes after.
    pub fn last_seq(&self) -> Option<Seq> {
        if !self.history_loaded.get_untracked() {
            return None;
        }
        Some(self.seen.get_value())
    }

    /// Whether the room's event `seq` is the next one: `Err` when events were
    /// missed (resume from the hole), `Ok(false)` for one applied already.
    fn next_event(&self, seq: Seq) -> Result<bool, ()> {
        let Some(last) = self.last_seq() else { return Ok(true) };
        if seq.0 > last.0 + 1 {
            leptos::logging::warn!("missed events {}..{}; resuming", last.0 + 1, seq.0);
            return Err(());
        }
        Ok(seq > last)
    }

    pub fn first_seq(&self) -> Option<Seq> {
        self.messages.with_untracked(|m| m.first().map(|m| m.seq))
    }

    /// Replaces what the page has with the room's newest page (first render, or
    /// after a gap too large to replay). Pending messages stay.
    pub fn reset_to(&self, page: HistoryPage) {
        self.seen.set_value(page.messages.last().map_or(Seq(0), |m| m.seq));
        self.messages.set(Messages::from_items(page.messages));
        self.at_start.set(page.at_start);
        self.history_loaded.set(true);
        self.settle_pending();
    }

    /// Adds an older page in front.
    pub fn prepend(&self, page: HistoryPage) {
        self.messages.update(|messages| messages.insert_page(page.messages));
        self.at_start.set(page.at_start);
    }

    /// Places the "new messages" divider for a reader who had read up to
    /// `read`: above the first loaded message after it, if there is one.
    pub fn mark_unread_from(&self, read: Seq) {
        let first = self.messages.with_untracked(|m| m.from_key(&Seq(read.0 + 1)).first().map(|m| m.seq));
        self.unread_from.set(first);
    }

    /// The newest seq loaded (0 when none).
    pub fn newest(&self) -> Seq {
        self.messages.with_untracked(|m| m.last().map_or(Seq(0), |m| m.seq))
    }

    /// Applies one server frame. Returns what the connection should do next.
    pub fn apply(&self, msg: ServerMsg) -> Applied {
        match msg {
            ServerMsg::Welcome { you, online, people, moderator, .. } => {
                self.me.set(you.map(|person| person.username));
                self.moderator.set(moderator);
                self.presence.welcome(online, people);
                self.status.set(ConnectionStatus::Live);
                self.error.set(None);
                Applied::Continue
            }
            ServerMsg::Message(message) => {
                // Events come in seq order: one past `last + 1` means some were
                // not delivered. Keep nothing past the hole and resume from its
                // start, so it heals whatever made it.
                if self.next_event(message.seq).is_err() {
                    return Applied::Resync;
                }
                self.seen.update_value(|seen| *seen = (*seen).max(message.seq));
                let id = message.client_id.clone();
                self.presence.posted(&message.author);
                self.messages.update(|messages| messages.insert(message));
                if self.pending.with_untracked(|p| p.iter().any(|p| p.id == id)) {
                    self.pending.update(|p| p.retain(|p| p.id != id));
                }
                Applied::Continue
            }
            ServerMsg::Changed { seq, message } => {
                match self.next_event(seq) {
                    Err(()) => return Applied::Resync,
                    Ok(false) => return Applied::Continue,
                    Ok(true) => self.seen.set_value(seq),
                }
                // A message not loaded (older than the first page) shows as it
                // is now when its page is; so do the replies quoting it.
                self.messages.update(|messages| {
                    let target = message.seq;
                    for reply in messages.from_key_mut(&target).iter_mut().filter_map(|m| m.reply.as_mut()) {
                        if reply.seq == target {
                            **reply = Quote::of(target, message.author.clone(), &message.text(), message.deleted);
                        }
                    }
                    if let Some(loaded) = messages.get_mut(&target) {
                        *loaded = message;
                    }
                });
                Applied::Continue
            }
            ServerMsg::Ack { id, seq } => {
                if let Some((target, emoji)) = self.added_reaction(&id) {
                    // The reaction is this person's now (or was already: then
                    // the ack is the message's own seq). A message names only
                    // its first reactors: past them, it would not show as
                    // theirs, nor could they take it back. It shows as theirs
                    // until the server's next word on the message.
                    let me = self.me.get_untracked().unwrap_or_default();
                    let unnamed = self.messages.with_untracked(|m| {
                        m.get(&target)
                            .is_some_and(|m| m.reactions.iter().any(|r| r.emoji == emoji && !r.users.contains(&me)))
                    });
                    // (Only then: an update re-renders what shows the messages.)
                    if unnamed && !me.is_empty() {
                        self.messages.update(|m| {
                            let reaction =
                                m.get_mut(&target).and_then(|m| m.reactions.iter_mut().find(|r| r.emoji == emoji));
                            if let Some(reaction) = reaction {
                                reaction.users.push(me);
                            }
                        });
                    }
                    return Applied::Continue;
                }
                if self.messages.with_untracked(|m| m.contains(&seq)) {
                    self.pending.update(|p| p.retain(|p| p.id != id));
                } else {
                    self.set_pending_state(&id, PendingState::Stored(seq));
                }
                Applied::Continue
            }
            ServerMsg::HistoryGap { .. } => Applied::ReloadHistory,
            ServerMsg::Presence { online, people, left, all } => {
                self.presence.notice(online, people, left, all);
                Applied::Continue
            }
            ServerMsg::People { people, next } => {
                self.presence.page(people, next);
                Applied::Continue
            }
            ServerMsg::Typing { username, display_name } => {
                if self.me.with_untracked(|me| me.as_deref() != Some(username.as_str())) {
                    self.presence.typing(username, display_name, now_ms());
                }
                Applied::Continue
            }
            // The words a person reads are this page's, from the error's data.
            ServerMsg::Error { error, .. } if error.ends_session() => {
                self.status.set(ConnectionStatus::Closed { reason: error.to_string() });
                Applied::SessionEnded
            }
            ServerMsg::Error { error, .. } if error.is_fatal() => {
                self.status.set(ConnectionStatus::Closed { reason: error.to_string() });
                Applied::Stop
            }
            ServerMsg::Error { error: ChatError::RateLimited { retry_after_ms }, id: Some(id) } => {
                // Not sent; it goes again by itself once the server allows.
                self.set_pending_state(&id, PendingState::Sending { sent_at: None });
                Applied::Throttled { retry_after_ms }
            }
            ServerMsg::Error { error: error @ ChatError::SlowMode { retry_after_ms, .. }, id: Some(id) } => {
                // The same, and said: it is the room's rule, not a fault.
                self.set_pending_state(&id, PendingState::Sending { sent_at: None });
                self.error.set(Some(error.to_string()));
                Applied::Throttled { retry_after_ms }
            }
            // A refused message says so on it; a refused edit or delete (no
            // pending message has its id) says so above the composer.
            ServerMsg::Error { error, id: Some(id) }
                if !self.pending.with_untracked(|p| p.iter().any(|p| p.id == id)) =>
            {
                self.error.set(Some(error.to_string()));
                Applied::Continue
            }
            ServerMsg::Error { error, id: Some(id) } => {
                self.set_pending_state(&id, PendingState::Failed(error.to_string()));
                Applied::Continue
            }
            ServerMsg::Error { error, id: None } => {
                self.error.set(Some(error.to_string()));
                Applied::Continue
            }
            ServerMsg::ShuttingDown => Applied::ServerLeaving,
            // The room list's (`crate::room_list`), not the room's.
            ServerMsg::Rooms { .. }
            | ServerMsg::Activity { .. }
            | ServerMsg::RoomRead { .. }
            | ServerMsg::RoomJoined { .. }
            | ServerMsg::RoomLeft { .. }
            | ServerMsg::RoomNotify { .. } => Applied::Continue,
        }
    }
}

impl Default for RoomState {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Continue,
    /// More was missed than the server replays: load the newest page again.
    ReloadHistory,
    /// A message arrived past a hole: join again from the last one before it,
    /// and the server replays what is missing.
    Resync,
    /// The server said it is going away: reconnect after a pause.
    ServerLeaving,
    /// The server refused a message for now: send the next one after this pause,
    /// one at a time until the backlog is through.
    Throttled {
        retry_after_ms: u64,
    },
    /// Do not reconnect.
    Stop,
    /// Signed out (here or in another tab) or expired: load the page again, as
    /// the signed-out reader this browser is now.
    SessionEnded,
}

mod pending;
#[cfg(test)]
pub(crate) mod tests;

pub use pending::{Pending, PendingState};

/// Milliseconds since the epoch, by the browser's clock (0 off the browser).
pub fn now_ms() -> f64 {
    #[cfg(feature = "hydrate")]
    return js_sys::Date::now();
    #[cfg(not(feature = "hydrate"))]
    0.0
}
