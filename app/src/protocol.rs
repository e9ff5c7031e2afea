//! The wire protocol between the room page and the server's room hub.
//!
//! Every WebSocket text frame is one JSON object tagged by `"type"`: a [`ClientMsg`]
//! from the browser, a [`ServerMsg`] from the server. Both sides compile these same
//! types. The first frame a client sends is [`ClientMsg::Join`], carrying
//! [`PROTOCOL_VERSION`]; a server that speaks another version answers with
//! [`ErrorCode::UnsupportedVersion`] and closes.

use serde::{Deserialize, Serialize};

use crate::room_name::RoomName;

/// Bumped on every change a peer of the previous version would misread.
pub const PROTOCOL_VERSION: u32 = 1;

/// Longest message body accepted, in characters (Unicode scalar values).
pub const MAX_BODY_CHARS: usize = 4_000;

/// Position of a message in its room: 1 for the first, then strictly increasing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Seq(pub u64);

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
    /// First frame on a connection: who is joining, in which protocol version.
    Join { version: u32, display_name: String },
    /// A message for everyone in the room.
    Send { body: String },
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// The join was accepted; `members` is everyone present, including `you`.
    Welcome {
        version: u32,
        room: RoomName,
        you: MemberId,
        members: Vec<Member>,
    },
    /// A message posted to the room (the sender gets its own, too).
    Message(ChatMessage),
    /// Someone joined the room.
    MemberJoined { member: Member },
    /// Someone left the room.
    MemberLeft { member: MemberId },
    /// This connection fell behind the room and `missed` messages were skipped.
    Lagged { missed: u64 },
    /// The request was refused; the connection stays usable unless the code says otherwise.
    Error { code: ErrorCode, message: String },
    /// The server is going away (restart or shutdown); reconnect after a moment.
    ShuttingDown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub id: MemberId,
    pub display_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub seq: Seq,
    pub author: String,
    pub body: String,
    pub sent_at: Timestamp,
}

/// Why the server refused a frame. Clients can match on it; `message` is for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame was not a JSON client message of this protocol.
    Malformed,
    /// Binary frames are not part of the protocol.
    BinaryFrame,
    /// The message body was longer than [`MAX_BODY_CHARS`].
    TooLong,
    /// The message body was empty or only white space.
    EmptyMessage,
    /// The display name broke the rule in [`crate::display_name`].
    InvalidDisplayName,
    /// The client speaks another protocol version; the connection closes.
    UnsupportedVersion,
    /// A `send` arrived before the `join`.
    NotJoined,
    /// A second `join` on the same connection.
    AlreadyJoined,
}

impl ErrorCode {
    /// Whether the server closes the connection after this error.
    pub fn is_fatal(self) -> bool {
        matches!(self, ErrorCode::UnsupportedVersion)
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

    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        ServerMsg::Error {
            code,
            message: message.into(),
        }
    }
}

/// Checks a message body against the protocol's rules; returns the body to store.
pub fn validate_body(body: &str) -> Result<&str, (ErrorCode, String)> {
    if body.trim().is_empty() {
        return Err((ErrorCode::EmptyMessage, "A message cannot be empty.".into()));
    }
    let chars = body.chars().count();
    if chars > MAX_BODY_CHARS {
        return Err((
            ErrorCode::TooLong,
            format!(
                "Your message is {chars} characters long; the limit is {MAX_BODY_CHARS}. \
                 Shorten it or split it in parts."
            ),
        ));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_messages_are_tagged_snake_case() {
        let join = ClientMsg::Join {
            version: PROTOCOL_VERSION,
            display_name: "Ada".into(),
        };
        assert_eq!(
            join.to_json(),
            r#"{"type":"join","version":1,"display_name":"Ada"}"#
        );
        let send: ClientMsg = serde_json::from_str(r#"{"type":"send","body":"hi"}"#).unwrap();
        assert_eq!(send, ClientMsg::Send { body: "hi".into() });
    }

    #[test]
    fn server_messages_round_trip() {
        let msgs = [
            ServerMsg::Message(ChatMessage {
                seq: Seq(7),
                author: "Ada".into(),
                body: "hello".into(),
                sent_at: Timestamp(1_700_000_000_000),
            }),
            ServerMsg::error(ErrorCode::TooLong, "too long"),
            ServerMsg::Lagged { missed: 3 },
            ServerMsg::ShuttingDown,
        ];
        for msg in msgs {
            let back: ServerMsg = serde_json::from_str(&msg.to_json()).unwrap();
            assert_eq!(back, msg);
        }
        assert!(ServerMsg::Lagged { missed: 1 }
            .to_json()
            .starts_with(r#"{"type":"lagged""#));
    }

    #[test]
    fn unknown_or_incomplete_frames_do_not_parse() {
        for bad in [
            r#"{"type":"shout","body":"x"}"#,
            r#"{"type":"send"}"#,
            r#"{"body":"x"}"#,
            "not json",
        ] {
            assert!(serde_json::from_str::<ClientMsg>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn body_limits() {
        assert!(validate_body("hello").is_ok());
        assert_eq!(validate_body("  \n ").unwrap_err().0, ErrorCode::EmptyMessage);
        let at_limit = "é".repeat(MAX_BODY_CHARS);
        assert!(validate_body(&at_limit).is_ok(), "the limit counts characters, not bytes");
        let over = "a".repeat(MAX_BODY_CHARS + 1);
        let (code, message) = validate_body(&over).unwrap_err();
        assert_eq!(code, ErrorCode::TooLong);
        assert!(message.contains("4000"), "{message}");
    }
}
