//! What the room page knows about its room, as signals the view reads. The
//! connection writes into it by applying each [`ServerMsg`].

use leptos::prelude::*;

use crate::protocol::{ChatMessage, Member, MemberId, ServerMsg};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionStatus {
    /// Server render and the moment before hydration.
    Idle,
    /// Waiting for the person to choose a display name.
    AwaitingName,
    Connecting,
    Live,
    /// Lost the connection; the next try is attempt `attempt`.
    Reconnecting { attempt: u32 },
    /// The server refused us for good (for instance another protocol version).
    Closed { reason: String },
}

impl ConnectionStatus {
    /// A stable word for styling and tests (`data-state`).
    pub fn key(&self) -> &'static str {
        match self {
            ConnectionStatus::Idle | ConnectionStatus::Connecting => "connecting",
            ConnectionStatus::AwaitingName => "idle",
            ConnectionStatus::Live => "live",
            ConnectionStatus::Reconnecting { .. } => "reconnecting",
            ConnectionStatus::Closed { .. } => "closed",
        }
    }

    pub fn label(&self) -> String {
        match self {
            ConnectionStatus::Idle | ConnectionStatus::Connecting => "Connecting…".into(),
            ConnectionStatus::AwaitingName => "Not joined yet".into(),
            ConnectionStatus::Live => "Live".into(),
            ConnectionStatus::Reconnecting { attempt } if *attempt <= 1 => "Reconnecting…".into(),
            ConnectionStatus::Reconnecting { attempt } => format!("Reconnecting… (try {attempt})"),
            ConnectionStatus::Closed { reason } => format!("Disconnected: {reason}"),
        }
    }
}

/// A line in the room's log: a message, or a note from the client itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEntry {
    Message(ChatMessage),
    Note(String),
}

/// A log entry with a key that is unique for the page's lifetime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyed {
    pub key: u64,
    pub entry: LogEntry,
}

/// The room's reactive state. `Copy`, so handlers and the connection can share it.
#[derive(Clone, Copy)]
pub struct RoomState {
    pub status: RwSignal<ConnectionStatus>,
    pub log: RwSignal<Vec<Keyed>>,
    pub members: RwSignal<Vec<Member>>,
    pub me: RwSignal<Option<MemberId>>,
    /// The last error the server reported for something this person did.
    pub error: RwSignal<Option<String>>,
    next_key: StoredValue<u64>,
}

/// The page keeps at most this many log entries; older ones scroll away.
pub const MAX_LOG_ENTRIES: usize = 1_000;

impl RoomState {
    pub fn new() -> Self {
        Self {
            status: RwSignal::new(ConnectionStatus::Idle),
            log: RwSignal::new(Vec::new()),
            members: RwSignal::new(Vec::new()),
            me: RwSignal::new(None),
            error: RwSignal::new(None),
            next_key: StoredValue::new(0),
        }
    }

    pub fn push(&self, entry: LogEntry) {
        let key = self.next_key.get_value();
        self.next_key.set_value(key + 1);
        self.log.update(|log| {
            log.push(Keyed { key, entry });
            if log.len() > MAX_LOG_ENTRIES {
                let extra = log.len() - MAX_LOG_ENTRIES;
                log.drain(..extra);
            }
        });
    }

    /// Applies one server frame. Returns what the connection should do next.
    pub fn apply(&self, msg: ServerMsg) -> Applied {
        match msg {
            ServerMsg::Welcome { you, members, .. } => {
                let rejoined = self.me.get_untracked().is_some();
                self.me.set(Some(you));
                self.members.set(members);
                self.status.set(ConnectionStatus::Live);
                self.error.set(None);
                if rejoined {
                    self.push(LogEntry::Note(
                        "Reconnected. Messages sent while you were away are not shown.".into(),
                    ));
                }
                Applied::Continue
            }
            ServerMsg::Message(message) => {
                self.push(LogEntry::Message(message));
                Applied::Continue
            }
            ServerMsg::MemberJoined { member } => {
                self.members.update(|members| {
                    if !members.iter().any(|m| m.id == member.id) {
                        members.push(member);
                    }
                });
                Applied::Continue
            }
            ServerMsg::MemberLeft { member } => {
                self.members.update(|members| members.retain(|m| m.id != member));
                Applied::Continue
            }
            ServerMsg::Lagged { missed } => {
                let s = if missed == 1 { "" } else { "s" };
                self.push(LogEntry::Note(format!(
                    "Your connection fell behind and skipped {missed} message{s}."
                )));
                Applied::Continue
            }
            ServerMsg::Error { code, message } if code.is_fatal() => {
                self.status.set(ConnectionStatus::Closed { reason: message });
                Applied::Stop
            }
            ServerMsg::Error { message, .. } => {
                self.error.set(Some(message));
                Applied::Continue
            }
            ServerMsg::ShuttingDown => Applied::ServerLeaving,
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
    /// The server said it is going away: reconnect after a pause.
    ServerLeaving,
    /// Do not reconnect.
    Stop,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ErrorCode, Seq, Timestamp};
    use crate::room_name::RoomName;

    fn welcome(you: u64) -> ServerMsg {
        ServerMsg::Welcome {
            version: 1,
            room: RoomName::parse("r").unwrap(),
            you: MemberId(you),
            members: vec![Member { id: MemberId(you), display_name: "Ada".into() }],
        }
    }

    fn message(seq: u64) -> ServerMsg {
        ServerMsg::Message(ChatMessage {
            seq: Seq(seq),
            author: "Ada".into(),
            body: format!("m{seq}"),
            sent_at: Timestamp(0),
        })
    }

    #[test]
    fn welcome_makes_the_room_live_and_rejoin_leaves_a_note() {
        let owner = Owner::new();
        owner.set();
        let room = RoomState::new();
        assert_eq!(room.apply(welcome(1)), Applied::Continue);
        assert_eq!(room.status.get_untracked(), ConnectionStatus::Live);
        assert!(room.log.get_untracked().is_empty());
        room.apply(welcome(2));
        assert_eq!(room.me.get_untracked(), Some(MemberId(2)));
        assert!(matches!(room.log.get_untracked()[0].entry, LogEntry::Note(_)));
    }

    #[test]
    fn messages_append_with_unique_keys_and_the_log_is_bounded() {
        let owner = Owner::new();
        owner.set();
        let room = RoomState::new();
        for seq in 1..=(MAX_LOG_ENTRIES as u64 + 5) {
            room.apply(message(seq));
        }
        let log = room.log.get_untracked();
        assert_eq!(log.len(), MAX_LOG_ENTRIES);
        assert_eq!(log[0].entry, LogEntry::Message(match message(6) {
            ServerMsg::Message(m) => m,
            _ => unreachable!(),
        }));
        assert!(log.windows(2).all(|w| w[0].key < w[1].key));
    }

    #[test]
    fn members_come_and_go() {
        let owner = Owner::new();
        owner.set();
        let room = RoomState::new();
        room.apply(welcome(1));
        let bob = Member { id: MemberId(9), display_name: "Bob".into() };
        room.apply(ServerMsg::MemberJoined { member: bob.clone() });
        room.apply(ServerMsg::MemberJoined { member: bob });
        assert_eq!(room.members.get_untracked().len(), 2);
        room.apply(ServerMsg::MemberLeft { member: MemberId(9) });
        assert_eq!(room.members.get_untracked().len(), 1);
    }

    #[test]
    fn errors_show_and_only_fatal_ones_stop() {
        let owner = Owner::new();
        owner.set();
        let room = RoomState::new();
        assert_eq!(room.apply(ServerMsg::error(ErrorCode::TooLong, "too long")), Applied::Continue);
        assert_eq!(room.error.get_untracked().as_deref(), Some("too long"));
        assert_eq!(
            room.apply(ServerMsg::error(ErrorCode::UnsupportedVersion, "old client")),
            Applied::Stop
        );
        assert_eq!(room.status.get_untracked().key(), "closed");
        assert_eq!(room.apply(ServerMsg::ShuttingDown), Applied::ServerLeaving);
    }
}
