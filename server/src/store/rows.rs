//! A stored message and an event of a room's sequence as both stores read
//! them (by column name; times in milliseconds, JSON as text, in either
//! dialect), and what they become.

use app::protocol::{ChatMessage, ClientMsgId, Quote, Seq, ServerMsg, Timestamp};

/// A stored message, read by column name.
#[derive(sqlx::FromRow)]
pub(super) struct MessageRow {
    pub(super) seq: i64,
    pub(super) author: String,
    /// NULL for a message from before accounts.
    pub(super) username: Option<String>,
    pub(super) body: String,
    pub(super) created_at: i64,
    pub(super) client_id: String,
    /// A JSON array of usernames, or NULL.
    pub(super) mentions: Option<String>,
    pub(super) edited_at: Option<i64>,
    pub(super) deleted_at: Option<i64>,
    /// JSON: `app::protocol::Reaction`s, or NULL.
    pub(super) reactions: Option<String>,
    /// The message it answers, when it is a reply, and that message as it is
    /// now (by `reply_join!`).
    pub(super) reply_to: Option<i64>,
    pub(super) reply_author: Option<String>,
    pub(super) reply_body: Option<String>,
    pub(super) reply_deleted: Option<i64>,
    /// JSON: an `app::protocol::Attachment`, or NULL.
    pub(super) file: Option<String>,
}

/// An event of a room's sequence: a message (`event_seq` is its own seq) or a
/// change of the message it names.
#[derive(sqlx::FromRow)]
pub(super) struct EventRow {
    pub(super) event_seq: i64,
    #[sqlx(flatten)]
    pub(super) message: MessageRow,
}

impl EventRow {
    pub(super) fn into_msg(self) -> ServerMsg {
        let message = ChatMessage::from(self.message);
        if message.seq.0 as i64 == self.event_seq {
            ServerMsg::Message(message)
        } else {
            ServerMsg::Changed { seq: Seq(self.event_seq as u64), message }
        }
    }
}

impl From<MessageRow> for ChatMessage {
    fn from(row: MessageRow) -> Self {
        ChatMessage {
            seq: Seq(row.seq as u64),
            author: row.author,
            username: row.username.unwrap_or_default(),
            body: row.body,
            sent_at: Timestamp(row.created_at),
            client_id: ClientMsgId(row.client_id),
            mentions: row.mentions.and_then(|json| serde_json::from_str(&json).ok()).unwrap_or_default(),
            edited_at: row.edited_at.map(Timestamp),
            deleted: row.deleted_at.is_some(),
            reactions: row.reactions.and_then(|json| serde_json::from_str(&json).ok()).unwrap_or_default(),
            file: row.file.and_then(|json| serde_json::from_str(&json).ok()),
            reply: row.reply_to.map(|seq| {
                Box::new(Quote::of(
                    Seq(seq as u64),
                    row.reply_author.unwrap_or_default(),
                    row.reply_body.as_deref().unwrap_or_default(),
                    row.reply_deleted.is_some(),
                ))
            }),
        }
    }
}

/// An API token, read by column name (`crate::api::store`).
#[derive(sqlx::FromRow)]
pub(super) struct TokenRow {
    id: i64,
    account_id: i64,
    name: String,
    prefix: String,
    can_read: i64,
    can_post: i64,
    created_at: i64,
    last_used_at: Option<i64>,
}

impl From<TokenRow> for crate::api::store::TokenRecord {
    fn from(row: TokenRow) -> Self {
        crate::api::store::TokenRecord {
            id: row.id,
            account: super::AccountId(row.account_id),
            name: row.name,
            prefix: row.prefix,
            scopes: crate::api::store::Scopes { read: row.can_read != 0, post: row.can_post != 0 },
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        }
    }
}

/// A token with its account's names.
#[derive(sqlx::FromRow)]
pub(super) struct TokenAccountRow {
    #[sqlx(flatten)]
    token: TokenRow,
    username: String,
    display_name: String,
}

impl TokenAccountRow {
    pub(super) fn into_records(self) -> (crate::api::store::TokenRecord, super::Account) {
        let account = super::Account {
            id: super::AccountId(self.token.account_id),
            username: self.username,
            display_name: self.display_name,
        };
        (self.token.into(), account)
    }
}

/// A bot account, read by column name.
#[derive(sqlx::FromRow)]
pub(super) struct BotRow {
    id: i64,
    username: String,
    display_name: String,
    bot_owner_id: i64,
    bot_url: Option<String>,
    bot_secret: Option<String>,
}

impl From<BotRow> for crate::api::store::BotRecord {
    fn from(row: BotRow) -> Self {
        crate::api::store::BotRecord {
            account: super::Account {
                id: super::AccountId(row.id),
                username: row.username,
                display_name: row.display_name,
            },
            owner: super::AccountId(row.bot_owner_id),
            url: row.bot_url,
            secret: row.bot_secret,
        }
    }
}

/// An incoming webhook with its bot, read by column name.
#[derive(sqlx::FromRow)]
pub(super) struct WebhookRow {
    id: i64,
    room: String,
    created_by: i64,
    prefix: String,
    created_at: i64,
    last_used_at: Option<i64>,
    bot_id: i64,
    bot_username: String,
    bot_display_name: String,
}

impl From<WebhookRow> for crate::api::store::WebhookRecord {
    fn from(row: WebhookRow) -> Self {
        crate::api::store::WebhookRecord {
            id: row.id,
            room: row.room,
            bot: super::Account {
                id: super::AccountId(row.bot_id),
                username: row.bot_username,
                display_name: row.bot_display_name,
            },
            created_by: super::AccountId(row.created_by),
            prefix: row.prefix,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        }
    }
}

/// A moderation log entry as both stores read it: when, who, what, whom,
/// which message, until when, how many seconds.
pub(crate) type LogRow = (i64, Option<String>, String, Option<String>, Option<i64>, Option<i64>, Option<i64>);

pub(crate) fn log_entry((at, actor, action, target, seq, until, seconds): LogRow) -> app::moderation::LogEntry {
    app::moderation::LogEntry {
        at: Timestamp(at),
        actor: actor.unwrap_or_default(),
        action,
        target,
        seq: seq.map(|s| s as u64),
        until: until.map(Timestamp),
        seconds: seconds.and_then(|s| u32::try_from(s).ok()),
    }
}
