//! Why the server refused something, as data: one type for every refusal a
//! client can meet on the WebSocket or a form post (with its numbers: the
//! limit, the time to wait), serialised as a `code` and those fields. The
//! words a person reads come from [`std::fmt::Display`] here, on whichever side
//! shows them; the wire carries no English, and tests match variants.

use serde::Serialize;

/// A refusal of a frame or a post. Clients match on it; people read its `Display`.
// Read by hand (`crate::error_wire`): serde's derive would buffer each one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum ChatError {
    /// The frame was not a JSON client message of this protocol; `detail` is
    /// the decoder's account of where.
    #[error("That frame is not a message this server understands ({detail}).")]
    Malformed { detail: String },
    /// Binary frames are not part of the protocol.
    #[error("Binary frames are not supported; send JSON text frames.")]
    BinaryFrame,
    /// The body has more than `max` characters.
    #[error("Your message is {len} characters long; the limit is {max}. Shorten it or split it in parts.")]
    TooLong { len: usize, max: usize },
    /// The body was empty or only white space.
    #[error("A message cannot be empty.")]
    EmptyMessage,
    /// The client speaks another protocol version; the connection closes.
    #[error("This page speaks protocol version {client}, the server {server}. Reload the page to update it.")]
    UnsupportedVersion { client: u32, server: u32 },
    /// A `send` arrived before the `join`.
    #[error("Join the room before sending messages.")]
    NotJoined,
    /// A second `join` on the same connection.
    #[error("This connection has joined the room already.")]
    AlreadyJoined,
    /// The message id is missing or not of the allowed form.
    #[error("Message ids are 1 to {max_len} characters of letters, digits, '-' and '_'.")]
    InvalidMessageId { max_len: usize },
    /// The message store did not answer; nothing was stored. Retry later.
    #[error("The message store is not answering. Try again in a moment.")]
    StoreUnavailable,
    /// Sending too fast; nothing was stored. Retry after `retry_after_ms`.
    // Tenths of a second by integers: formatting a float with a precision
    // costs the page's WASM 5 KB of code.
    #[error("You are sending messages too fast. Try again in {}.{} s.", tenths(*retry_after_ms) / 10, tenths(*retry_after_ms) % 10)]
    RateLimited { retry_after_ms: u64 },
    /// Choosing when a room notifies needs the room in one's list.
    #[error("Join the room first to choose when it notifies you.")]
    NotInList,
    /// Posting needs an account; this is a signed-out reader.
    #[error("Sign in to post in this room; reading needs no account.")]
    SignInRequired,
    /// The session ended (signed out here or elsewhere); the connection closes.
    #[error("You signed out. Sign in again to post.")]
    SignedOut,
    /// The session expired; the connection closes.
    #[error("Your session has expired. Sign in again to post.")]
    SessionExpired,
    /// Nothing was heard from the client for too long; the connection closes (a
    /// client that is still there reconnects).
    #[error("Nothing was heard from this page for too long.")]
    Idle,
    /// An edit or delete named a seq that is no message of the room.
    #[error("There is no message {seq} in this room.")]
    NoSuchMessage { seq: u64 },
    /// Only a message's author may edit or delete it.
    #[error("Only its author can change this message.")]
    NotYourMessage,
    /// The message was deleted; it cannot be edited or deleted again.
    #[error("That message was deleted.")]
    MessageDeleted,
    /// A reaction is an emoji, nothing else.
    #[error("A reaction is one emoji.")]
    BadReaction,
    /// The message has as many different reactions as it can carry.
    #[error("That message has {max} different reactions already; add to one of them.")]
    TooManyReactions { max: usize },
    /// A moderator removed this person from the room; the connection closes.
    #[error("A moderator removed you from this room.")]
    Removed,
    /// The room is in slow mode: one message every `seconds` per person;
    /// nothing was stored. Retry after `retry_after_ms`.
    #[error("Slow mode: one message every {seconds} s here. Wait a moment.")]
    SlowMode { seconds: u32, retry_after_ms: u64 },
    /// An upload is larger than the server takes.
    #[error("That file is larger than {} MB, the most this server takes.", mib(*max_bytes))]
    FileTooLarge { max_bytes: u64 },
    /// The uploader's files already take up their whole allowance.
    #[error("Your files take up your allowance of {} MB. Delete messages with files to make room.", mib(*quota_bytes))]
    QuotaExceeded { quota_bytes: u64 },
    /// An image too large to make a preview of (a decompression bomb looks so).
    #[error("That image is {width} × {height} pixels; images up to {} megapixels can be posted.", crate::protocol::MAX_IMAGE_PIXELS / 1_000_000)]
    ImageTooLarge { width: u32, height: u32 },
    /// An upload that says it is an image and is none that can be read.
    #[error("That image cannot be read: it is damaged, or not the kind of image it says.")]
    BadImage,
    /// A message named a file that is not its sender's upload to this room.
    #[error("That file is not one you uploaded here. Upload it again.")]
    NoSuchFile,
}

/// Bytes as whole mebibytes.
fn mib(bytes: u64) -> u64 {
    bytes / (1024 * 1024)
}

/// Milliseconds as tenths of a second, rounded up, at least one.
fn tenths(ms: u64) -> u64 {
    ms.div_ceil(100).max(1)
}

impl ChatError {
    /// The stable word a client matches on (`code` on the wire).
    pub fn code(&self) -> &'static str {
        match self {
            ChatError::Malformed { .. } => "malformed",
            ChatError::BinaryFrame => "binary_frame",
            ChatError::TooLong { .. } => "too_long",
            ChatError::EmptyMessage => "empty_message",
            ChatError::UnsupportedVersion { .. } => "unsupported_version",
            ChatError::NotJoined => "not_joined",
            ChatError::AlreadyJoined => "already_joined",
            ChatError::InvalidMessageId { .. } => "invalid_message_id",
            ChatError::StoreUnavailable => "store_unavailable",
            ChatError::RateLimited { .. } => "rate_limited",
            ChatError::NotInList => "not_in_list",
            ChatError::SignInRequired => "sign_in_required",
            ChatError::SignedOut => "signed_out",
            ChatError::SessionExpired => "session_expired",
            ChatError::Idle => "idle",
            ChatError::NoSuchMessage { .. } => "no_such_message",
            ChatError::NotYourMessage => "not_your_message",
            ChatError::MessageDeleted => "message_deleted",
            ChatError::BadReaction => "bad_reaction",
            ChatError::TooManyReactions { .. } => "too_many_reactions",
            ChatError::Removed => "removed",
            ChatError::SlowMode { .. } => "slow_mode",
            ChatError::FileTooLarge { .. } => "file_too_large",
            ChatError::QuotaExceeded { .. } => "quota_exceeded",
            ChatError::ImageTooLarge { .. } => "image_too_large",
            ChatError::BadImage => "bad_image",
            ChatError::NoSuchFile => "no_such_file",
        }
    }

    /// Whether the server closes the connection after this error.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            ChatError::UnsupportedVersion { .. }
                | ChatError::SignedOut
                | ChatError::SessionExpired
                | ChatError::Removed
        )
    }

    /// The session behind the connection is over: the page reloads as a reader.
    pub fn ends_session(&self) -> bool {
        matches!(self, ChatError::SignedOut | ChatError::SessionExpired)
    }

    /// As JSON, for a form's redirect to carry it back to its page.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("errors always serialise")
    }

    /// Reads what [`ChatError::to_json`] wrote; `None` for anything else.
    pub fn from_json(json: &str) -> Option<Self> {
        // From bytes, like everything else the page decodes (one decoder in its WASM).
        serde_json::from_slice(json.as_bytes()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_a_code_and_their_data() {
        let limited = ChatError::RateLimited { retry_after_ms: 1500 };
        assert_eq!(limited.to_json(), r#"{"code":"rate_limited","retry_after_ms":1500}"#);
        assert_eq!(ChatError::from_json(&limited.to_json()), Some(limited.clone()));
        assert_eq!(limited.to_string(), "You are sending messages too fast. Try again in 1.5 s.");
        let long = ChatError::TooLong { len: 4001, max: 4000 };
        assert_eq!(long.to_json(), r#"{"code":"too_long","len":4001,"max":4000}"#);
        assert!(long.to_string().contains("4000"));
        assert_eq!(ChatError::from_json(r#"{"code":"nonsense"}"#), None);
        assert_eq!(ChatError::from_json("<script>"), None);
    }

    #[test]
    fn every_code_is_what_serde_writes() {
        let all = [
            ChatError::Malformed { detail: "x".into() },
            ChatError::BinaryFrame,
            ChatError::TooLong { len: 2, max: 1 },
            ChatError::EmptyMessage,
            ChatError::UnsupportedVersion { client: 1, server: 2 },
            ChatError::NotJoined,
            ChatError::AlreadyJoined,
            ChatError::InvalidMessageId { max_len: 64 },
            ChatError::StoreUnavailable,
            ChatError::RateLimited { retry_after_ms: 1 },
            ChatError::NotInList,
            ChatError::SignInRequired,
            ChatError::SignedOut,
            ChatError::SessionExpired,
            ChatError::Idle,
            ChatError::NoSuchMessage { seq: 3 },
            ChatError::NotYourMessage,
            ChatError::MessageDeleted,
            ChatError::BadReaction,
            ChatError::TooManyReactions { max: 20 },
            ChatError::Removed,
            ChatError::SlowMode { seconds: 30, retry_after_ms: 1 },
            ChatError::FileTooLarge { max_bytes: 10 << 20 },
            ChatError::QuotaExceeded { quota_bytes: 1 << 30 },
            ChatError::ImageTooLarge { width: 50_000, height: 50_000 },
            ChatError::BadImage,
            ChatError::NoSuchFile,
        ];
        for error in all {
            let json: serde_json::Value = serde_json::from_str(&error.to_json()).unwrap();
            assert_eq!(json["code"], error.code());
            // And read back as it was written (by `crate::error_wire`), in a frame too.
            assert_eq!(ChatError::from_json(&error.to_json()), Some(error.clone()));
            let id = Some(crate::protocol::ClientMsgId("m1".into()));
            let frame = crate::protocol::ServerMsg::Error { error: error.clone(), id };
            assert_eq!(serde_json::from_str::<crate::protocol::ServerMsg>(&frame.to_json()).unwrap(), frame);
        }
        // A refusal missing its data, or of a code nobody knows, is no refusal.
        assert_eq!(ChatError::from_json(r#"{"code":"too_long","len":3}"#), None);
        assert_eq!(ChatError::from_json(r#"{"code":"no_such_code"}"#), None);
    }
}
