//! Reading a refusal ([`ChatError`]) from JSON. A refusal is an object tagged
//! by its `code`, its data beside it (and, in a server frame, the `id` of the
//! refused message). serde's derive reads such an internally tagged enum, and
//! a flattened field, by buffering the whole object in its `Content` type
//! first: 23 KB of code in the page's WASM before optimisation, for one small
//! object. So it is read here into one flat struct of every field a refusal
//! can have, and the code picks the variant. Written by serde's derive, as
//! before (the page never writes one).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ChatError;
use crate::protocol::ClientMsgId;

/// Every field of every refusal, and the refused message's id.
#[derive(Deserialize)]
struct Wire {
    code: String,
    detail: Option<String>,
    len: Option<usize>,
    max: Option<usize>,
    client: Option<u32>,
    server: Option<u32>,
    max_len: Option<usize>,
    retry_after_ms: Option<u64>,
    seq: Option<u64>,
    seconds: Option<u32>,
    max_bytes: Option<u64>,
    quota_bytes: Option<u64>,
    width: Option<u32>,
    height: Option<u32>,
    id: Option<ClientMsgId>,
}

impl Wire {
    /// The refusal its code names, with the data that one carries.
    fn error(self) -> Option<ChatError> {
        Some(match self.code.as_str() {
            "malformed" => ChatError::Malformed { detail: self.detail? },
            "binary_frame" => ChatError::BinaryFrame,
            "too_long" => ChatError::TooLong { len: self.len?, max: self.max? },
            "empty_message" => ChatError::EmptyMessage,
            "unsupported_version" => ChatError::UnsupportedVersion { client: self.client?, server: self.server? },
            "not_joined" => ChatError::NotJoined,
            "already_joined" => ChatError::AlreadyJoined,
            "invalid_message_id" => ChatError::InvalidMessageId { max_len: self.max_len? },
            "store_unavailable" => ChatError::StoreUnavailable,
            "rate_limited" => ChatError::RateLimited { retry_after_ms: self.retry_after_ms? },
            "not_in_list" => ChatError::NotInList,
            "sign_in_required" => ChatError::SignInRequired,
            "signed_out" => ChatError::SignedOut,
            "session_expired" => ChatError::SessionExpired,
            "idle" => ChatError::Idle,
            "no_such_message" => ChatError::NoSuchMessage { seq: self.seq? },
            "not_your_message" => ChatError::NotYourMessage,
            "message_deleted" => ChatError::MessageDeleted,
            "bad_reaction" => ChatError::BadReaction,
            "too_many_reactions" => ChatError::TooManyReactions { max: self.max? },
            "removed" => ChatError::Removed,
            "slow_mode" => ChatError::SlowMode { seconds: self.seconds?, retry_after_ms: self.retry_after_ms? },
            "file_too_large" => ChatError::FileTooLarge { max_bytes: self.max_bytes? },
            "quota_exceeded" => ChatError::QuotaExceeded { quota_bytes: self.quota_bytes? },
            "image_too_large" => ChatError::ImageTooLarge { width: self.width?, height: self.height? },
            "bad_image" => ChatError::BadImage,
            "no_such_file" => ChatError::NoSuchFile,
            _ => return None,
        })
    }
}

fn unknown<E: serde::de::Error>() -> E {
    E::custom("not a refusal this page knows")
}

impl<'de> Deserialize<'de> for ChatError {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Wire::deserialize(deserializer)?.error().ok_or_else(unknown)
    }
}

/// `ServerMsg::Error`'s data as written: the refusal's fields and the id.
pub fn serialize_refusal<S: Serializer>(
    error: &ChatError,
    id: &Option<ClientMsgId>,
    out: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Refusal<'a> {
        #[serde(flatten)]
        error: &'a ChatError,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: &'a Option<ClientMsgId>,
    }
    Refusal { error, id }.serialize(out)
}

/// `ServerMsg::Error`'s data as read.
pub fn deserialize_refusal<'de, D: Deserializer<'de>>(input: D) -> Result<(ChatError, Option<ClientMsgId>), D::Error> {
    let mut wire = Wire::deserialize(input)?;
    let id = wire.id.take();
    Ok((wire.error().ok_or_else(unknown)?, id))
}
