//! What a site administrator does here (the first account, or one named by
//! `--admin`): deactivate an account, whose sessions end at once (its open
//! pages sign out) and which cannot sign in again; optionally its messages are
//! deleted too. A server function, so the form works without JavaScript.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Why an administrator's request was refused: a code the page renders in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum AdminError {
    #[error("Sign in as a site administrator.")]
    SignInRequired,
    #[error("Only a site administrator can do that.")]
    NotAdmin,
    #[error("There is nobody with that username.")]
    NoSuchPerson,
    #[error("You cannot deactivate your own account here.")]
    NotYourself,
    #[error("There is no room of that name.")]
    NoSuchRoom,
    #[error("That is not a room's name.")]
    BadRoomName,
    #[error("That is unavailable right now. Try again in a moment.")]
    Unavailable,
    #[error("Could not reach the server. Check your connection and try again.")]
    Unreachable,
}

impl AdminError {
    pub fn code(self) -> &'static str {
        match self {
            AdminError::SignInRequired => "sign_in_required",
            AdminError::NotAdmin => "not_admin",
            AdminError::NoSuchPerson => "no_such_person",
            AdminError::NotYourself => "not_yourself",
            AdminError::NoSuchRoom => "no_such_room",
            AdminError::BadRoomName => "bad_room_name",
            AdminError::Unavailable => "unavailable",
            AdminError::Unreachable => "unreachable",
        }
    }
}

crate::server_fns::server_fn_error!(AdminError);

/// What a deactivation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deactivated {
    pub username: String,
    /// Messages of theirs deleted.
    pub deleted: u32,
}

/// A room, as the administrators' page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSummary {
    pub name: String,
    /// Its owner's username.
    pub owner: Option<String>,
    pub created_at: i64,
    /// When its newest message was sent.
    pub last_at: Option<i64>,
    /// Accounts that have it in their list.
    pub members: u64,
    /// Messages not deleted.
    pub messages: u64,
}

/// An account, as the administrators' page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSummary {
    pub username: String,
    pub display_name: String,
    pub created_at: i64,
    /// When a socket of theirs last opened or closed, or their token was used.
    pub last_seen_at: Option<i64>,
    pub deactivated: bool,
    /// For a bot: its owner's username.
    pub bot_of: Option<String>,
}

/// An entry of a room's moderation log, with the room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteLogEntry {
    pub room: String,
    pub entry: crate::moderation::LogEntry,
}

/// What the administrators' page shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overview {
    pub rooms: Vec<RoomSummary>,
    /// Direct conversations: counted, never named.
    pub direct_rooms: u64,
    pub accounts: Vec<AccountSummary>,
    pub log: Vec<SiteLogEntry>,
}

/// What deleting a room did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomDeleted {
    pub room: String,
    /// Messages deleted.
    pub deleted: u32,
    /// Lists it was taken out of.
    pub members: u32,
}

#[cfg(feature = "ssr")]
pub use service::{AdminService, SharedAdmin};

#[cfg(feature = "ssr")]
mod service {
    use http::request::Parts;

    use super::{AdminError, Deactivated, Overview, RoomDeleted};
    use crate::account::Answer;

    pub trait AdminService: Send + Sync + 'static {
        /// Deactivates `username`'s account (and with `erase`, deletes its messages).
        fn deactivate(&self, request: &Parts, username: String, erase: bool)
            -> Answer<Result<Deactivated, AdminError>>;
        /// The rooms, accounts and moderation log.
        fn overview(&self, request: &Parts) -> Answer<Result<Overview, AdminError>>;
        /// Deletes every message of the room and takes it out of every list.
        fn delete_room(&self, request: &Parts, room: String) -> Answer<Result<RoomDeleted, AdminError>>;
    }

    pub type SharedAdmin = std::sync::Arc<dyn AdminService>;
}

/// Deactivates `username`'s account; `erase` ("on", from a checkbox) deletes
/// its messages too.
#[server(endpoint = "deactivate-account")]
pub async fn deactivate_account(username: String, #[server(default)] erase: String) -> Result<Deactivated, AdminError> {
    let (service, parts) = crate::server_fns::context::<SharedAdmin, _>(AdminError::Unavailable)?;
    let done = service.deactivate(&parts, username, !erase.is_empty()).await;
    if let Err(error) = &done {
        crate::pages::set_status(status_of(error));
    }
    done
}

#[cfg(feature = "ssr")]
fn status_of(error: &AdminError) -> u16 {
    match error {
        AdminError::SignInRequired => 401,
        AdminError::NotAdmin => 403,
        AdminError::NoSuchPerson | AdminError::NoSuchRoom => 404,
        AdminError::NotYourself | AdminError::BadRoomName => 400,
        _ => 503,
    }
}

/// The rooms, accounts and moderation log of the whole site.
#[server(endpoint = "admin-overview")]
pub async fn admin_overview() -> Result<Overview, AdminError> {
    let (service, parts) = crate::server_fns::context::<SharedAdmin, _>(AdminError::Unavailable)?;
    let done = service.overview(&parts).await;
    if let Err(error) = &done {
        crate::pages::set_status(status_of(error));
    }
    done
}

/// Deletes every message of `room` (each as a delete its author could make:
/// tombstones, heard by every open page) and takes it out of every list.
#[server(endpoint = "delete-room")]
pub async fn delete_room(room: String) -> Result<RoomDeleted, AdminError> {
    let (service, parts) = crate::server_fns::context::<SharedAdmin, _>(AdminError::Unavailable)?;
    let done = service.delete_room(&parts, room).await;
    if let Err(error) = &done {
        crate::pages::set_status(status_of(error));
    }
    done
}
