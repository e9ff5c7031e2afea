//! The rooms a person keeps in their list (joined with the Join button, or by
//! posting), with what they have not read there yet.
//!
//! Shared by both sides: [`RoomEntry`] is what the server sends (in the page
//! for its first render, and over the room socket when it connects and as it
//! changes), and the server functions behind the Join and Leave buttons. The
//! counts are the server's: its read position per person per room is what every
//! device and tab shows.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::protocol::{Seq, Timestamp};
use crate::room_name::RoomName;

/// Most people the composer offers after an `@`.
pub const MENTION_CANDIDATES: usize = 8;
/// Longest `@` prefix looked up.
pub const MAX_MENTION_PREFIX: usize = 32;

/// Most rooms one person's list holds; joining another is refused.
pub const MAX_ROOMS_PER_ACCOUNT: usize = 500;

/// One room of a person's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomEntry {
    pub room: RoomName,
    /// The room's newest seq.
    pub last_seq: Seq,
    /// The newest seq this person has read there.
    pub read_seq: Seq,
    /// When the newest message was sent; `None` in a room without messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_at: Option<Timestamp>,
    /// Unread messages that mention this person.
    #[serde(default)]
    pub mentions: u32,
    /// Edits and deletes after the read position: they take seqs of the
    /// room's sequence but are not messages to read.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub changes: u32,
    #[serde(default)]
    pub notify: NotifyLevel,
    /// In a direct conversation: the other person (oneself, in one's own notes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<Correspondent>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The other person of a direct conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Correspondent {
    pub username: String,
    pub display_name: String,
}

impl Correspondent {
    /// The conversation's page: `/chat/@<username>/`.
    pub fn path(&self) -> String {
        format!("/chat/@{}/", self.username)
    }
}

/// A direct conversation, as its page opens it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectRoom {
    /// The conversation's room (`@<id>.<id>`).
    pub room: RoomName,
    pub with: Correspondent,
}

impl RoomEntry {
    /// Where the entry leads: the room's page, or the conversation's.
    pub fn path(&self) -> String {
        match &self.with {
            Some(with) => with.path(),
            None => self.room.path(),
        }
    }

    /// What the list calls it: `#room`, or the other person's name.
    pub fn label(&self) -> String {
        match &self.with {
            Some(with) => with.display_name.clone(),
            None if self.room.is_direct() => "Direct message".to_owned(),
            None => format!("#{}", self.room),
        }
    }

    /// Messages after the read position.
    pub fn unread(&self) -> u64 {
        self.last_seq.0.saturating_sub(self.read_seq.0).saturating_sub(u64::from(self.changes))
    }

    /// The list's order: newest activity first.
    pub fn sort(entries: &mut [RoomEntry]) {
        entries.sort_by(|a, b| b.last_at.cmp(&a.last_at).then_with(|| a.room.cmp(&b.room)));
    }
}

/// When a room notifies its member.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyLevel {
    All,
    #[default]
    Mentions,
    Nothing,
}

impl NotifyLevel {
    /// A new member's level: every message of a direct conversation is for its
    /// two people; in a room, only what mentions them.
    pub fn default_for(room: &RoomName) -> Self {
        if room.is_direct() {
            NotifyLevel::All
        } else {
            NotifyLevel::Mentions
        }
    }

    /// Whether a message by someone else that mentions the member (`mentioned`)
    /// or not is worth a notification.
    pub fn notifies(self, mentioned: bool) -> bool {
        match self {
            NotifyLevel::All => true,
            NotifyLevel::Mentions => mentioned,
            NotifyLevel::Nothing => false,
        }
    }

    /// In the room header's menu.
    pub fn label(self) -> &'static str {
        match self {
            NotifyLevel::All => "All messages",
            NotifyLevel::Mentions => "Mentions only",
            NotifyLevel::Nothing => "Nothing",
        }
    }

    pub const ALL: [NotifyLevel; 3] = [NotifyLevel::All, NotifyLevel::Mentions, NotifyLevel::Nothing];

    pub fn as_str(self) -> &'static str {
        match self {
            NotifyLevel::All => "all",
            NotifyLevel::Mentions => "mentions",
            NotifyLevel::Nothing => "nothing",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// What can go wrong with a room list request: a code the page renders in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum RoomListError {
    #[error("Sign in to keep rooms in your list.")]
    SignInRequired,
    #[error("That is not a room name.")]
    BadRoomName,
    #[error("Your list is full ({MAX_ROOMS_PER_ACCOUNT} rooms). Leave a room first.")]
    ListFull,
    #[error("You are changing your rooms too fast. Wait a moment.")]
    RateLimited,
    #[error("Join the room first to choose when it notifies you.")]
    NotInList,
    #[error("Choose all messages, mentions only or nothing.")]
    BadNotifyLevel,
    #[error("There is nobody with that username.")]
    NoSuchPerson,
    #[error("This conversation is private to its two people.")]
    Private,
    #[error("You are starting conversations too fast. Wait a moment.")]
    TooManyConversations,
    #[error("Rooms are unavailable right now. Try again in a moment.")]
    Unavailable,
    #[error("Could not reach the server. Check your connection and try again.")]
    Unreachable,
}

impl RoomListError {
    pub fn code(self) -> &'static str {
        match self {
            RoomListError::SignInRequired => "sign_in_required",
            RoomListError::BadRoomName => "bad_room_name",
            RoomListError::ListFull => "list_full",
            RoomListError::RateLimited => "rate_limited",
            RoomListError::NotInList => "not_in_list",
            RoomListError::BadNotifyLevel => "bad_notify_level",
            RoomListError::NoSuchPerson => "no_such_person",
            RoomListError::Private => "private",
            RoomListError::TooManyConversations => "too_many_conversations",
            RoomListError::Unavailable => "unavailable",
            RoomListError::Unreachable => "unreachable",
        }
    }
}

crate::server_fns::server_fn_error!(RoomListError);

#[cfg(feature = "ssr")]
pub use service::{RoomListService, SharedRoomLists};

#[cfg(feature = "ssr")]
mod service {
    use http::request::Parts;

    use super::{Correspondent, DirectRoom, NotifyLevel, RoomEntry, RoomListError};
    use crate::account::Answer;
    use crate::room_name::RoomName;

    /// The server's room lists, handed to Leptos as context. Each call gets the
    /// request, whose session says whose list it is.
    pub trait RoomListService: Send + Sync + 'static {
        /// The signed-in person's rooms, newest activity first; empty when signed out.
        fn list(&self, request: &Parts) -> Answer<Result<Vec<RoomEntry>, RoomListError>>;
        /// Adds the room to the list (nothing unread in it yet); every open tab
        /// of the account hears of it.
        fn join(&self, request: &Parts, room: RoomName) -> Answer<Result<RoomEntry, RoomListError>>;
        /// Takes the room off the list.
        fn leave(&self, request: &Parts, room: RoomName) -> Answer<Result<(), RoomListError>>;
        /// Sets when a room of the list notifies its person; every open tab
        /// of the account hears of it. Returns the path of the room's page.
        fn set_notify(
            &self,
            request: &Parts,
            room: RoomName,
            level: NotifyLevel,
        ) -> Answer<Result<String, RoomListError>>;
        /// The signed-in person's conversation with `username`, started (in
        /// both their lists) if it is new.
        fn open_direct(&self, request: &Parts, username: String) -> Answer<Result<DirectRoom, RoomListError>>;
        /// Up to [`MENTION_CANDIDATES`] people whose username or display name
        /// starts with `prefix`, the room's members first: who the composer
        /// offers after an `@`.
        fn people_named(
            &self,
            request: &Parts,
            room: RoomName,
            prefix: String,
        ) -> Answer<Result<Vec<Correspondent>, RoomListError>>;
        /// Whether the request's person may read `room`: anyone a room, its two
        /// people a direct conversation.
        fn may_read(&self, request: &Parts, room: RoomName) -> Answer<Result<(), RoomListError>>;
    }

    pub type SharedRoomLists = std::sync::Arc<dyn RoomListService>;
}

#[cfg(feature = "ssr")]
fn context() -> Result<(SharedRoomLists, http::request::Parts), RoomListError> {
    crate::server_fns::context(RoomListError::Unavailable)
}

#[cfg(feature = "ssr")]
use crate::server_fns::is_plain_form;

/// The signed-in person's room list (empty when signed out).
#[server(endpoint = "my-rooms")]
pub async fn my_rooms() -> Result<Vec<RoomEntry>, RoomListError> {
    let (lists, parts) = context()?;
    lists.list(&parts).await
}

/// Puts `room` in the signed-in person's list.
#[server(endpoint = "join-room")]
pub async fn join_room(room: String) -> Result<Option<RoomEntry>, RoomListError> {
    let (lists, parts) = context()?;
    let room = RoomName::parse(&room).map_err(|_| RoomListError::BadRoomName)?;
    let entry = lists.join(&parts, room.clone()).await?;
    if is_plain_form(&parts) {
        leptos_axum::redirect(&room.path());
        return Ok(None);
    }
    Ok(Some(entry))
}

/// Opens the signed-in person's direct conversation with `username`.
#[server(endpoint = "open-direct")]
pub async fn open_direct(username: String) -> Result<DirectRoom, RoomListError> {
    let (lists, parts) = context()?;
    lists.open_direct(&parts, username).await
}

/// Refuses a request whose person may not read `room` (a direct conversation
/// of others); the history and the room page ask before anything is read.
#[cfg(feature = "ssr")]
pub async fn check_readable(room: &RoomName) -> Result<(), RoomListError> {
    if !room.is_direct() {
        return Ok(());
    }
    let (lists, parts) = context()?;
    lists.may_read(&parts, room.clone()).await
}

/// Takes `room` off the signed-in person's list.
#[server(endpoint = "leave-room")]
pub async fn leave_room(room: String) -> Result<(), RoomListError> {
    let (lists, parts) = context()?;
    let room = RoomName::parse(&room).map_err(|_| RoomListError::BadRoomName)?;
    lists.leave(&parts, room.clone()).await?;
    if is_plain_form(&parts) {
        leptos_axum::redirect(&room.path());
    }
    Ok(())
}

/// Who the composer offers for `@prefix` in `room` (signed in only).
#[server(endpoint = "mention-candidates")]
pub async fn mention_candidates(room: String, prefix: String) -> Result<Vec<Correspondent>, RoomListError> {
    let (lists, parts) = context()?;
    let room = RoomName::parse_key(&room).map_err(|_| RoomListError::BadRoomName)?;
    let prefix: String = prefix.trim().to_lowercase().chars().take(MAX_MENTION_PREFIX).collect();
    lists.people_named(&parts, room, prefix).await
}

/// Sets when `room` notifies the signed-in person (`level`: all, mentions or
/// nothing).
#[server(endpoint = "set-notify")]
pub async fn set_notify(room: String, level: String) -> Result<(), RoomListError> {
    let (lists, parts) = context()?;
    let room = RoomName::parse_key(&room).map_err(|_| RoomListError::BadRoomName)?;
    let level = NotifyLevel::parse(&level).ok_or(RoomListError::BadNotifyLevel)?;
    let page = lists.set_notify(&parts, room, level).await?;
    if is_plain_form(&parts) {
        leptos_axum::redirect(&page);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unread_and_order() {
        let entry = |name: &str, last: u64, read: u64, at: Option<i64>| RoomEntry {
            room: RoomName::parse(name).unwrap(),
            last_seq: Seq(last),
            read_seq: Seq(read),
            last_at: at.map(Timestamp),
            mentions: 0,
            changes: 0,
            notify: NotifyLevel::Mentions,
            with: None,
        };
        assert_eq!(entry("a", 10, 7, None).unread(), 3);
        assert_eq!(entry("a", 3, 7, None).unread(), 0, "a read position ahead of what this tab knows");
        let mut list = vec![entry("quiet", 1, 1, None), entry("old", 1, 0, Some(5)), entry("new", 1, 0, Some(9))];
        RoomEntry::sort(&mut list);
        let names: Vec<&str> = list.iter().map(|e| e.room.as_str()).collect();
        assert_eq!(names, ["new", "old", "quiet"]);
    }

    #[test]
    fn notify_levels_by_name() {
        for level in [NotifyLevel::All, NotifyLevel::Mentions, NotifyLevel::Nothing] {
            assert_eq!(NotifyLevel::parse(level.as_str()), Some(level));
            assert_eq!(serde_json::to_string(&level).unwrap(), format!("\"{}\"", level.as_str()));
        }
    }
}
