//! The wire protocol between the room page and the server's room hub.
//!
//! Every WebSocket text frame is one JSON object tagged by `"type"`: a [`ClientMsg`]
//! from the browser, a [`ServerMsg`] from the server. Both sides compile these same
//! types. The first frame a client sends is [`ClientMsg::Join`], carrying
//! [`PROTOCOL_VERSION`]; a server that speaks another version answers with
//! [`ChatError::UnsupportedVersion`] and closes.
//!
//! Every message has a per-room [`Seq`]. A client remembers the last one it saw and
//! joins with `since`, so a reconnect replays exactly what it missed. Each message a
//! client sends carries the client's own [`ClientMsgId`]; the server acknowledges it
//! with the seq it stored it under, and a retry of the same id is acknowledged again
//! without being stored twice.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::room_name::RoomName;
use crate::rooms::{NotifyLevel, RoomEntry};

pub use crate::error::ChatError;

/// Bumped on every change a peer of the previous version would misread.
/// 4: errors are a code and its data (`ChatError`), no English on the wire.
/// 5: the room list rides on the room's socket (`rooms`, `activity`, `room_read`,
/// `room_joined`, `room_left`; `read` from the client), and messages name whom
/// they mention.
/// 6: presence per person, not per connection: the welcome counts the people
/// and lists a first page of them, `presence` notices are coalesced (counts
/// only in a crowded room), `people` pages on request; `away` and `typing`.
/// 7: a room's notification level: `notify` from the client, `room_notify`
/// to every tab of the person.
/// 8: a message carries its author's username.
/// 9: `edit` and `delete` from the client; `changed` from the server (a
/// change takes a seq of the room's sequence); a message says whether it was
/// edited or deleted.
/// 10: a server frame is `{"<kind>":{…}}` (or `"<kind>"`), not `{"type":"<kind>",…}`.
/// 11: `react` from the client; a message carries its reactions, and the
/// quote of the message it replies to (`send` names it as `reply_to`).
/// 12: `send` may name an uploaded `file`; a message carries it (`file`).
pub const PROTOCOL_VERSION: u32 = 12;

/// How many people the welcome lists, and each [`ClientMsg::People`] page.
pub const PEOPLE_PAGE: usize = 50;
/// Above this many people in a room, [`ServerMsg::Presence`] carries only the
/// count: telling every one of them of every arrival would cost the server
/// the square of the room's size.
pub const LISTED_UP_TO: usize = 100;

/// Longest message body accepted, in characters (Unicode scalar values).
pub const MAX_BODY_CHARS: usize = 4_000;

/// How many different reactions one message can carry.
pub const MAX_REACTION_KINDS: usize = 20;
/// How many of the people behind one reaction a message names (the count
/// says how many there are): a message everyone in a crowded room reacted to
/// must not make every frame about it carry the whole room.
pub const REACTION_NAMES: usize = 20;
/// Longest reaction accepted, in bytes (a family emoji with its joiners is 25).
pub const MAX_REACTION_BYTES: usize = 32;

/// Position of a message in its room: 1 for the first, then strictly increasing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Seq(pub u64);

/// The sender's own id for a message, so that a retry is recognised: 1 to 64
/// characters of `A-Z a-z 0-9 - _`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientMsgId(pub String);

impl ClientMsgId {
    pub const MAX_LEN: usize = 64;

    pub fn is_valid(&self) -> bool {
        (1..=Self::MAX_LEN).contains(&self.0.len())
            && self.0.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }
}

/// One connection's membership in a room; unique per server process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MemberId(pub u64);

/// Milliseconds since the Unix epoch, as assigned by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

/// What the browser sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// First frame on a connection: the protocol version, and the last seq this
    /// client has seen (it gets every message after it). Who is joining is not
    /// said here: the server takes it from the session cookie of the upgrade.
    Join {
        version: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<Seq>,
    },
    /// A message for everyone in the room; `reply_to` names the message it
    /// answers, `file` a file its sender uploaded to the room (then the body
    /// may be empty).
    Send {
        id: ClientMsgId,
        body: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<Seq>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<String>,
    },
    /// This person has read `room` up to `seq` (on screen, page visible). The
    /// server keeps the furthest position per account, never past the room's end,
    /// and tells every tab of the account.
    Read { room: RoomName, seq: Seq },
    /// This tab is hidden or idle (`away`), or back. A person shows as away
    /// when every one of their tabs in the room says so.
    Away { away: bool },
    /// This person is typing (sent at most every few seconds while they do).
    Typing,
    /// The next page of the people in the room, after the username `after`.
    People {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<String>,
    },
    /// When this room notifies this person from now on (it must be in their
    /// list); every tab of theirs hears `room_notify`.
    Notify { level: NotifyLevel },
    /// Replace the body of one's own message `seq`. Answered as a post is
    /// (`ack` with the seq of the change, or an error naming `id`); everyone
    /// in the room hears `changed`.
    Edit { id: ClientMsgId, seq: Seq, body: String },
    /// Delete one's own message `seq`: its body is gone from the server, a
    /// tombstone keeps its place. Answered and told as an edit is.
    Delete { id: ClientMsgId, seq: Seq },
    /// Adds (`on`) or takes back this person's reaction `emoji` to message
    /// `seq`. One per person per emoji: adding one that is there already (or
    /// taking back one that is not) changes nothing and is acknowledged with
    /// the message's seq; otherwise answered and told as an edit is.
    React { id: ClientMsgId, seq: Seq, emoji: String, on: bool },
}

/// What the server sends. On the wire, a frame is an object with one key, the
/// kind (`{"message":{…}}`), or for a kind without data its name as a string
/// (`"shutting_down"`): a `type` field among the others would make the page's
/// decoder buffer every frame first, and cost its WASM 7 KB of code for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerMsg {
    /// The join was accepted. `online` counts the signed-in people in the room
    /// (each once, however many tabs; readers are not counted) and `people`
    /// lists them, `you` included, in a room of up to [`LISTED_UP_TO`] (in a
    /// bigger one, nobody: ask for pages); `you` is absent for a
    /// signed-out reader, who can read but not post. `latest` is the room's
    /// newest seq. Missed messages follow as `message`s.
    Welcome {
        version: u32,
        room: RoomName,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        you: Option<Person>,
        online: u32,
        people: Vec<Person>,
        latest: Seq,
        /// This person moderates the room (deletes anyone's message).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        moderator: bool,
    },
    /// A message posted to the room (the sender gets its own, too).
    Message(ChatMessage),
    /// The room's event `seq` changed an earlier message: `message` is that
    /// message as it is now (edited, or deleted). Edits and deletes take their
    /// place in the room's sequence like messages, so a client that resumes
    /// after `since` gets every change it missed, once.
    Changed { seq: Seq, message: ChatMessage },
    /// The message the client sent as `id` is stored as `seq`.
    Ack { id: ClientMsgId, seq: Seq },
    /// More was missed than the server replays; reload the room's latest history.
    HistoryGap { latest: Seq },
    /// Who is here changed: sent at most a few times a second, whatever
    /// happened meanwhile. `people` are those who came or went away or came
    /// back, `left` the usernames of those who went. In a room of more than
    /// [`LISTED_UP_TO`] people, only `online` changes (ask for pages). With
    /// `all`, `people` is everyone: the list restarts from it.
    Presence {
        online: u32,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        people: Vec<Person>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        left: Vec<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        all: bool,
    },
    /// A page of the people here, after the one asked for; `next` asks for the
    /// page after it.
    People {
        people: Vec<Person>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<String>,
    },
    /// Someone is typing; it stops showing a few seconds after the last of
    /// these, or when their message arrives. Never stored.
    Typing { username: String, display_name: String },
    /// The request was refused; the connection stays usable unless the error
    /// says otherwise ([`ChatError::is_fatal`]). `id` names the refused message,
    /// when it was a `send`. On the wire: `{"error":{"code":…, its data…, "id":…}}`.
    #[serde(
        serialize_with = "crate::error_wire::serialize_refusal",
        deserialize_with = "crate::error_wire::deserialize_refusal"
    )]
    Error { error: ChatError, id: Option<ClientMsgId> },
    /// The server is going away (restart or shutdown); reconnect after a moment.
    ShuttingDown,
    /// A signed-in person's whole room list, sent after the welcome on every
    /// connection: a reconnecting tab replaces what it had with it, so it misses
    /// nothing that changed while it was away. What follows updates it.
    Rooms { rooms: Vec<RoomEntry> },
    /// New messages in a room of the list other than the open one: its newest seq
    /// and time, how many of them mention each of the named usernames, and the
    /// read positions their authors moved to by posting. With `change`, the
    /// event `seq` is an edit or a delete there, not a message.
    Activity {
        room: RoomName,
        seq: Seq,
        at: Timestamp,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        mentioned: BTreeMap<String, u32>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        read: BTreeMap<String, Seq>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        change: bool,
    },
    /// This account's read position in `room` moved to `seq` (on any of its
    /// tabs or devices); `mentions` is what is left unread of its mentions there.
    /// `changes`: the edits and deletes after it (not unread messages).
    RoomRead {
        room: RoomName,
        seq: Seq,
        mentions: u32,
        #[serde(default, skip_serializing_if = "is_zero")]
        changes: u32,
    },
    /// A room was added to this account's list.
    RoomJoined { entry: RoomEntry },
    /// A room was taken off this account's list.
    RoomLeft { room: RoomName },
    /// When `room` notifies this account changed (on any of its tabs).
    RoomNotify { room: RoomName, notify: NotifyLevel },
}

/// A signed-in person present in a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub username: String,
    pub display_name: String,
    /// Every one of their tabs here is hidden or idle.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub away: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub seq: Seq,
    /// The author's display name when it was sent.
    pub author: String,
    /// The author's username (who they are; empty for a message from before
    /// accounts).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    pub body: String,
    pub sent_at: Timestamp,
    /// The sender's id for it, so the sender can match it to what it sent.
    pub client_id: ClientMsgId,
    /// The usernames it mentions that name an account (lowercase), as the
    /// server found them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    /// When its author last edited it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<Timestamp>,
    /// Deleted by its author: the body is empty, the place kept.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// Its reactions, in the order they were first given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reaction>,
    /// The message it answers, as that message is now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<Box<Quote>>,
    /// The file or image posted with it (gone once it is deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<Box<Attachment>>,
}

impl ChatMessage {
    /// Its words as a notification or a quote shows them: the body, or for
    /// a file posted with none, the file's name.
    pub fn text(&self) -> String {
        match &self.file {
            Some(file) if self.body.trim().is_empty() => format!("📎 {}", file.name),
            _ => self.body.clone(),
        }
    }
}

/// A file posted in a message. Its bytes are at [`Attachment::url`]; an
/// image's thumbnail at [`Attachment::thumb_url`], `thumb` its size in
/// pixels, known before it loads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The upload's id (random: an address nobody can guess).
    pub id: String,
    /// The name it was uploaded under (shown, and offered when saved; never
    /// where it is kept).
    pub name: String,
    /// In bytes.
    pub size: u64,
    /// Its type, as read from its content (not from its name).
    pub mime: String,
    /// An image's thumbnail: its width and height.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumb: Option<(u32, u32)>,
}

impl Attachment {
    /// Where its bytes are served.
    pub fn url(&self) -> String {
        format!("/files/{}/{}", self.id, crate::url::encode(&self.name))
    }

    /// Where an image's thumbnail is served.
    pub fn thumb_url(&self) -> String {
        format!("/files/{}/thumb", self.id)
    }
}

/// Largest image (in pixels) the server makes a thumbnail of; a larger one
/// is refused: decoding it would take gigabytes.
pub const MAX_IMAGE_PIXELS: u64 = 50_000_000;

/// Largest upload accepted by default, in bytes (the server's
/// `--max-upload-mb` changes it).
pub const DEFAULT_MAX_UPLOAD: u64 = 10 * 1024 * 1024;

/// One emoji on a message: how many gave it, and the usernames of the first
/// [`REACTION_NAMES`] of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    pub emoji: String,
    pub count: u32,
    pub users: Vec<String>,
}

/// What a reply shows of the message it answers: who wrote it and the start
/// of its first line (empty once it is deleted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub seq: Seq,
    pub author: String,
    pub excerpt: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

/// How much of its first line a quote shows, in characters.
pub const QUOTE_CHARS: usize = 120;

impl Quote {
    /// The quote of message `seq` by `author` whose body is `body`.
    pub fn of(seq: Seq, author: String, body: &str, deleted: bool) -> Self {
        let line = body.lines().find(|l| !l.trim().is_empty()).unwrap_or_default().trim();
        let mut excerpt: String = line.chars().take(QUOTE_CHARS).collect();
        if excerpt.len() < line.len() {
            excerpt.push('…');
        }
        Quote { seq, author, excerpt, deleted }
    }
}

/// Checks a reaction: one emoji (or a short sequence of them) and nothing
/// else: no letters, digits alone, spaces or markup.
pub fn validate_reaction(emoji: &str) -> Result<&str, ChatError> {
    let fits = !emoji.is_empty()
        && emoji.len() <= MAX_REACTION_BYTES
        && emoji.chars().any(|c| c as u32 >= 0xA9)
        && emoji.chars().all(|c| match c {
            // Keycaps (1️⃣, #️⃣) start with these.
            '0'..='9' | '#' | '*' => true,
            // The joiner of a sequence; double exclamation; exclamation question.
            '\u{200d}' | '\u{203c}' | '\u{2049}' => true,
            // Spaces, bidi controls and the rest of the punctuation block.
            '\u{2000}'..='\u{206f}' => false,
            _ => c >= '\u{a9}' && !c.is_whitespace() && !c.is_control() && !c.is_alphabetic(),
        });
    if fits {
        Ok(emoji)
    } else {
        Err(ChatError::BadReaction)
    }
}

/// Reads one text frame from a client. Never panics, whatever the input: this is
/// the decoder the fuzz target (`fuzz/`) drives.
pub fn decode_client(frame: &str) -> Result<ClientMsg, String> {
    serde_json::from_str::<ClientMsg>(frame).map_err(|error| error.to_string())
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl ServerMsg {
    /// The seq of the room's sequence this frame is (a message or a change).
    pub fn event_seq(&self) -> Option<Seq> {
        match self {
            ServerMsg::Message(message) => Some(message.seq),
            ServerMsg::Changed { seq, .. } => Some(*seq),
            _ => None,
        }
    }
}

impl ClientMsg {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("client messages always serialise")
    }
}

impl ServerMsg {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server messages always serialise")
    }

    pub fn error(error: ChatError) -> Self {
        ServerMsg::Error { error, id: None }
    }

    /// A refusal of the message the client sent as `id`.
    pub fn message_error(id: ClientMsgId, error: ChatError) -> Self {
        ServerMsg::Error { error, id: Some(id) }
    }
}

/// Checks a message body against the protocol's rules; returns the body to store.
pub fn validate_body(body: &str) -> Result<&str, ChatError> {
    if body.trim().is_empty() {
        return Err(ChatError::EmptyMessage);
    }
    let len = body.chars().count();
    if len > MAX_BODY_CHARS {
        return Err(ChatError::TooLong { len, max: MAX_BODY_CHARS });
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_messages_are_tagged_snake_case() {
        let join = ClientMsg::Join { version: PROTOCOL_VERSION, since: Some(Seq(41)) };
        assert_eq!(join.to_json(), r#"{"type":"join","version":12,"since":41}"#);
        let fresh: ClientMsg = serde_json::from_str(r#"{"type":"join","version":7}"#).unwrap();
        assert!(matches!(fresh, ClientMsg::Join { since: None, .. }));
        assert_eq!(ClientMsg::Typing.to_json(), r#"{"type":"typing"}"#);
        assert_eq!(ClientMsg::Away { away: true }.to_json(), r#"{"type":"away","away":true}"#);
        let notify: ClientMsg = serde_json::from_str(r#"{"type":"notify","level":"nothing"}"#).unwrap();
        assert_eq!(notify, ClientMsg::Notify { level: NotifyLevel::Nothing });
        let page: ClientMsg = serde_json::from_str(r#"{"type":"people","after":"ada"}"#).unwrap();
        assert_eq!(page, ClientMsg::People { after: Some("ada".into()) });
        let send: ClientMsg = serde_json::from_str(r#"{"type":"send","id":"m-1","body":"hi"}"#).unwrap();
        assert_eq!(
            send,
            ClientMsg::Send { id: ClientMsgId("m-1".into()), body: "hi".into(), reply_to: None, file: None }
        );
        let react: ClientMsg =
            serde_json::from_str(r#"{"type":"react","id":"r-1","seq":4,"emoji":"👍","on":true}"#).unwrap();
        assert_eq!(
            react,
            ClientMsg::React { id: ClientMsgId("r-1".into()), seq: Seq(4), emoji: "👍".into(), on: true }
        );
        let read: ClientMsg = serde_json::from_str(r#"{"type":"read","room":"Lounge","seq":3}"#).unwrap();
        assert_eq!(read, ClientMsg::Read { room: RoomName::parse("lounge").unwrap(), seq: Seq(3) });
        assert!(serde_json::from_str::<ClientMsg>(r#"{"type":"read","room":"no/pe","seq":3}"#).is_err());
    }

    #[test]
    fn server_messages_round_trip() {
        let msgs = [
            ServerMsg::Message(ChatMessage {
                seq: Seq(7),
                author: "Ada".into(),
                username: "ada".into(),
                body: "hello".into(),
                sent_at: Timestamp(1_700_000_000_000),
                client_id: ClientMsgId("c1".into()),
                mentions: vec!["ada".into()],
                edited_at: None,
                deleted: false,
                reactions: vec![Reaction { emoji: "🎉".into(), count: 2, users: vec!["bob".into(), "cy".into()] }],
                reply: Some(Box::new(Quote::of(Seq(3), "Bob".into(), "first line\nsecond", false))),
                file: None,
            }),
            ServerMsg::Ack { id: ClientMsgId("c1".into()), seq: Seq(7) },
            ServerMsg::HistoryGap { latest: Seq(9000) },
            ServerMsg::error(ChatError::TooLong { len: 4001, max: 4000 }),
            ServerMsg::message_error(ClientMsgId("c2".into()), ChatError::StoreUnavailable),
            ServerMsg::message_error(ClientMsgId("c3".into()), ChatError::RateLimited { retry_after_ms: 250 }),
            ServerMsg::ShuttingDown,
            ServerMsg::Activity {
                room: RoomName::parse("lounge").unwrap(),
                seq: Seq(12),
                at: Timestamp(5),
                mentioned: [("ada".to_string(), 2)].into(),
                read: [("bob".to_string(), Seq(12))].into(),
                change: false,
            },
            ServerMsg::RoomRead { room: RoomName::parse("lounge").unwrap(), seq: Seq(12), mentions: 0, changes: 2 },
            ServerMsg::RoomLeft { room: RoomName::parse("lounge").unwrap() },
            ServerMsg::RoomNotify { room: RoomName::parse("lounge").unwrap(), notify: NotifyLevel::Nothing },
        ];
        for msg in msgs {
            let back: ServerMsg = serde_json::from_str(&msg.to_json()).unwrap();
            assert_eq!(back, msg);
        }
        assert_eq!(ServerMsg::HistoryGap { latest: Seq(1) }.to_json(), r#"{"history_gap":{"latest":1}}"#);
        assert_eq!(ServerMsg::ShuttingDown.to_json(), r#""shutting_down""#);
        assert_eq!(
            ServerMsg::message_error(ClientMsgId("c3".into()), ChatError::RateLimited { retry_after_ms: 250 })
                .to_json(),
            r#"{"error":{"code":"rate_limited","retry_after_ms":250,"id":"c3"}}"#
        );
    }

    #[test]
    fn unknown_or_incomplete_frames_do_not_parse() {
        for bad in [r#"{"type":"shout","body":"x"}"#, r#"{"type":"send"}"#, r#"{"body":"x"}"#, "not json"] {
            assert!(serde_json::from_str::<ClientMsg>(bad).is_err(), "{bad}");
        }
    }

    /// The fuzz target's property, on a fixed budget that runs with every `cargo
    /// test` (the open-ended search is `cargo +nightly fuzz run protocol_decoder`).
    #[test]
    fn the_decoder_answers_every_mutation_of_real_frames_without_panicking() {
        let seeds = [
            r#"{"type":"join","version":5,"since":41}"#,
            r#"{"type":"read","room":"lounge","seq":7}"#,
            r#"{"type":"send","id":"m-1","body":"hello \u202e <b>"}"#,
            r#"{"type":"send","id":"m-2","body":"x","author":"bob"}"#,
        ];
        let alphabet = br#"{}[]":,\u0123456789eE+-.truefalsenul typejoinsendreadroomversionsinceidbody"#;
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut accepted = 0;
        for round in 0..20_000 {
            let mut frame = seeds[round % seeds.len()].as_bytes().to_vec();
            for _ in 0..=(next() % 6) {
                let at = (next() as usize) % (frame.len() + 1);
                match next() % 3 {
                    0 if at < frame.len() => {
                        frame.remove(at);
                    }
                    1 => frame.insert(at, alphabet[(next() as usize) % alphabet.len()]),
                    _ if at < frame.len() => frame[at] = (next() % 256) as u8,
                    _ => {}
                }
            }
            let Ok(text) = std::str::from_utf8(&frame) else { continue };
            if let Ok(msg) = decode_client(text) {
                accepted += 1;
                assert_eq!(decode_client(&msg.to_json()).as_ref(), Ok(&msg), "{text}");
            }
        }
        assert!(accepted > 100, "the mutations reach the accepting paths too: {accepted}");
    }

    #[test]
    fn reactions_are_emoji_only() {
        for good in ["👍", "🎉", "❤️", "👨\u{200d}👩\u{200d}👧\u{200d}👦", "1️⃣", "🇫🇷", "👍🏽"]
        {
            assert_eq!(validate_reaction(good), Ok(good), "{good}");
        }
        for bad in ["", "a", "+1", ":)", "👍 ", "ok👍", "<b>👍</b>", "\u{202e}👍", "日", &"👍".repeat(9)] {
            assert_eq!(validate_reaction(bad), Err(ChatError::BadReaction), "{bad}");
        }
    }

    #[test]
    fn a_file_with_no_words_is_told_by_its_name() {
        let file = Attachment {
            id: "x".into(),
            name: "plan.pdf".into(),
            size: 1,
            mime: "application/pdf".into(),
            thumb: None,
        };
        let message = ChatMessage {
            seq: Seq(1),
            author: "Ada".into(),
            username: "ada".into(),
            body: String::new(),
            sent_at: Timestamp(0),
            client_id: ClientMsgId("c".into()),
            mentions: Vec::new(),
            edited_at: None,
            deleted: false,
            reactions: Vec::new(),
            reply: None,
            file: Some(Box::new(file)),
        };
        assert_eq!(message.text(), "📎 plan.pdf");
        assert_eq!(ChatMessage { body: "see this".into(), ..message }.text(), "see this");
    }

    #[test]
    fn a_quote_is_the_start_of_the_first_line() {
        let quote = Quote::of(Seq(2), "Ada".into(), "\n  hello there  \nmore", false);
        assert_eq!(quote.excerpt, "hello there");
        let long = Quote::of(Seq(2), "Ada".into(), &"é".repeat(QUOTE_CHARS + 5), false);
        assert_eq!(long.excerpt.chars().count(), QUOTE_CHARS + 1);
        assert!(long.excerpt.ends_with('…'));
    }

    #[test]
    fn message_ids() {
        assert!(ClientMsgId("a1-B_2".into()).is_valid());
        assert!(ClientMsgId("x".repeat(ClientMsgId::MAX_LEN)).is_valid());
        assert!(!ClientMsgId(String::new()).is_valid());
        assert!(!ClientMsgId("x".repeat(ClientMsgId::MAX_LEN + 1)).is_valid());
        assert!(!ClientMsgId("no spaces".into()).is_valid());
    }

    #[test]
    fn body_limits() {
        assert!(validate_body("hello").is_ok());
        assert_eq!(validate_body("  \n "), Err(ChatError::EmptyMessage));
        let at_limit = "é".repeat(MAX_BODY_CHARS);
        assert!(validate_body(&at_limit).is_ok(), "the limit counts characters, not bytes");
        let over = "a".repeat(MAX_BODY_CHARS + 1);
        assert_eq!(validate_body(&over), Err(ChatError::TooLong { len: MAX_BODY_CHARS + 1, max: MAX_BODY_CHARS }));
    }
}
