//! Moderating a room: its owner names moderators; owner and moderators
//! remove a person from the room (for some minutes or for good) and let them
//! back, and delete anyone's message (over the socket, as a delete); each
//! action is logged for the room's moderators. Server functions, so each
//! works from a plain form too.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::protocol::Timestamp;

/// One action of the log, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub at: Timestamp,
    /// Who acted (username).
    pub actor: String,
    /// `delete`, `remove`, `restore`, `moderator`, `unmoderator`.
    pub action: String,
    /// Whom it concerned (username), if anyone.
    pub target: Option<String>,
    /// The message it concerned, if any.
    pub seq: Option<u64>,
    /// A removal's end; `None` with `remove`: for good.
    pub until: Option<Timestamp>,
    /// Slow mode's seconds (0: off).
    pub seconds: Option<u32>,
}

/// What a moderator asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModAction {
    /// Make the person a moderator (the owner only).
    Moderator,
    /// Take that back (the owner only).
    Unmoderator,
    /// Remove the person from the room, for `minutes` (none: for good).
    Remove,
    /// Let a removed person back.
    Restore,
    /// One message every `seconds` per person in the room (0: off); no person.
    SlowMode,
}

/// Slow mode's longest pause, in seconds (an hour).
pub const MAX_SLOW_MODE_SECONDS: u32 = 3_600;

/// Why a moderation request was refused: a code the page renders in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum ModerationError {
    #[error("Sign in to moderate.")]
    SignInRequired,
    #[error("That is not a room name.")]
    BadRoomName,
    #[error("Only the room's moderators can do that.")]
    NotModerator,
    #[error("Only the room's owner names moderators.")]
    NotOwner,
    #[error("There is nobody with that username.")]
    NoSuchPerson,
    #[error("The room's owner cannot be removed.")]
    OwnerStays,
    #[error("Moderation is unavailable right now. Try again in a moment.")]
    Unavailable,
    #[error("Could not reach the server. Check your connection and try again.")]
    Unreachable,
}

crate::server_fns::server_fn_error!(ModerationError);

/// Longest removal in minutes short of "for good" (a year).
pub const MAX_REMOVAL_MINUTES: u32 = 525_600;

#[cfg(feature = "ssr")]
pub use service::{ModerationService, SharedModeration};

#[cfg(feature = "ssr")]
mod service {
    use http::request::Parts;

    use super::{LogEntry, ModAction, ModerationError};
    use crate::account::Answer;
    use crate::room_name::RoomName;

    /// The server's moderation, handed to Leptos as context; the request's
    /// session says who acts.
    pub trait ModerationService: Send + Sync + 'static {
        fn moderate(
            &self,
            request: &Parts,
            room: RoomName,
            action: ModAction,
            username: String,
            amount: Option<u32>,
        ) -> Answer<Result<(), ModerationError>>;
        /// The room's moderation log, newest first (its moderators only).
        fn log(&self, request: &Parts, room: RoomName) -> Answer<Result<Vec<LogEntry>, ModerationError>>;
    }

    pub type SharedModeration = std::sync::Arc<dyn ModerationService>;
}

/// Acts on `username` in `room` (see [`ModAction`]); `minutes` (a number, or
/// empty for good) bounds a removal; `seconds` sets slow mode. From a plain
/// form, answered with the room's moderation page again.
#[server(endpoint = "moderate")]
pub async fn moderate(
    room: String,
    action: ModAction,
    #[server(default)] username: String,
    #[server(default)] minutes: String,
    #[server(default)] seconds: String,
) -> Result<(), ModerationError> {
    let (service, parts) = crate::server_fns::context::<SharedModeration, _>(ModerationError::Unavailable)?;
    let room = crate::room_name::RoomName::parse(&room).map_err(|_| ModerationError::BadRoomName)?;
    let amount = match action {
        ModAction::SlowMode => Some(seconds.trim().parse::<u32>().unwrap_or(0)),
        _ => minutes.trim().parse::<u32>().ok(),
    };
    let done = service.moderate(&parts, room.clone(), action, username, amount).await;
    if crate::server_fns::is_plain_form(&parts) {
        let page = format!("{}moderation", room.path());
        match &done {
            Ok(()) => leptos_axum::redirect(&page),
            Err(error) => leptos_axum::redirect(&format!("{page}?error={}", error.code())),
        }
        return Ok(());
    }
    done
}

impl ModerationError {
    /// The stable word for it (what a plain form's redirect carries).
    pub fn code(self) -> &'static str {
        match self {
            ModerationError::SignInRequired => "sign_in_required",
            ModerationError::BadRoomName => "bad_room_name",
            ModerationError::NotModerator => "not_moderator",
            ModerationError::NotOwner => "not_owner",
            ModerationError::NoSuchPerson => "no_such_person",
            ModerationError::OwnerStays => "owner_stays",
            ModerationError::Unavailable => "unavailable",
            ModerationError::Unreachable => "unreachable",
        }
    }

    /// Reads what [`ModerationError::code`] wrote.
    pub fn from_code(code: &str) -> Option<Self> {
        [
            ModerationError::SignInRequired,
            ModerationError::BadRoomName,
            ModerationError::NotModerator,
            ModerationError::NotOwner,
            ModerationError::NoSuchPerson,
            ModerationError::OwnerStays,
            ModerationError::Unavailable,
            ModerationError::Unreachable,
        ]
        .into_iter()
        .find(|e| e.code() == code)
    }
}

/// The moderation log of `room`, newest first (its moderators only).
#[server(endpoint = "moderation-log")]
pub async fn moderation_log(room: String) -> Result<Vec<LogEntry>, ModerationError> {
    let (service, parts) = crate::server_fns::context::<SharedModeration, _>(ModerationError::Unavailable)?;
    let room = crate::room_name::RoomName::parse(&room).map_err(|_| ModerationError::BadRoomName)?;
    service.log(&parts, room).await
}
