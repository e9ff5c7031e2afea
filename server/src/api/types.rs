//! What the HTTP API reads and answers, as its OpenAPI document describes
//! them: its own stable shapes, not the WebSocket's frames (those may change
//! with the page that reads them).

use app::protocol::ChatMessage;
use app::rooms::RoomEntry;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Most messages one page holds.
pub const MAX_PAGE: u32 = 200;
pub const DEFAULT_PAGE: u32 = 50;

/// A message as a script reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Message {
    /// Its position in the room: 1, 2, 3, … (an edit or a delete takes a seq
    /// of its own, so a page may skip some).
    pub seq: u64,
    /// The author's username (empty for a message from before accounts).
    pub username: String,
    /// The author's display name when it was sent.
    pub author: String,
    /// Markdown, as it was written (empty once deleted).
    pub text: String,
    /// Milliseconds since the Unix epoch.
    pub sent_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<i64>,
    pub deleted: bool,
    /// The seq of the message it answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<u64>,
    /// Usernames it mentions.
    pub mentions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<File>,
    pub reactions: Vec<Reaction>,
}

/// A file posted with a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct File {
    pub name: String,
    /// Its address on this server.
    pub url: String,
    pub size: u64,
    pub mime: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Reaction {
    pub emoji: String,
    pub count: u32,
    /// Who gave it (usernames).
    pub usernames: Vec<String>,
}

impl From<ChatMessage> for Message {
    fn from(message: ChatMessage) -> Self {
        Message {
            seq: message.seq.0,
            file: message.file.map(|file| File { url: file.url(), name: file.name, size: file.size, mime: file.mime }),
            username: message.username,
            author: message.author,
            text: message.body,
            sent_at: message.sent_at.0,
            edited_at: message.edited_at.map(|at| at.0),
            deleted: message.deleted,
            reply_to: message.reply.map(|quote| quote.seq.0),
            mentions: message.mentions,
            reactions: message
                .reactions
                .into_iter()
                .map(|r| Reaction { emoji: r.emoji, count: r.count, usernames: r.users })
                .collect(),
        }
    }
}

/// A page of a room's history, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MessagePage {
    pub room: String,
    pub messages: Vec<Message>,
    /// Pass as `before` for the page older than this one; absent at the room's start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub older: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Messages before this seq (without it: the newest).
    #[param(minimum = 1)]
    pub before: Option<u64>,
    /// How many, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// A message to post.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewMessage {
    /// Markdown, 1 to 4,000 characters, not only spaces.
    #[schema(min_length = 1, max_length = 4000, pattern = "\\S")]
    pub text: String,
    /// Your id for this message (1 to 64 of `A-Z a-z 0-9 - _`): a second post
    /// with the same id is answered with the first, never stored twice.
    /// Without it, each request is a new message.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub id: Option<String>,
}

/// A message stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Posted {
    pub room: String,
    /// A repeat of an id already stored: this is the first post's message.
    pub duplicate: bool,
    pub message: Message,
}

/// A room of the token's account's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Room {
    /// The name to use in this API's paths: the room's name, or `@username`
    /// for a direct conversation.
    pub name: String,
    /// The room's page on this server.
    pub url: String,
    /// Its newest seq, and the newest the account has read.
    pub last_seq: u64,
    pub read_seq: u64,
    /// Unread messages that mention the account.
    pub mentions: u32,
    /// When its newest message was sent (ms since the Unix epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_at: Option<i64>,
}

impl From<RoomEntry> for Room {
    fn from(entry: RoomEntry) -> Self {
        let (name, url) = match &entry.with {
            Some(person) => (format!("@{}", person.username), person.path()),
            None => (entry.room.as_str().to_owned(), entry.room.path()),
        };
        Room {
            name,
            url,
            last_seq: entry.last_seq.0,
            read_seq: entry.read_seq.0,
            mentions: entry.mentions,
            last_at: entry.last_at.map(|at| at.0),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RoomList {
    pub rooms: Vec<Room>,
}
