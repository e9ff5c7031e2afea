//! What a joined connection may say besides its posts: read positions, away,
//! typing, pages of people, its room's notification level. All share one
//! allowance per connection ([`Minor`]); each is refused to a signed-out
//! reader where it needs an account.

use std::fmt::Display;
use std::time::Duration;

use axum::extract::ws::Message;
use futures::{Sink, Stream};

use app::protocol::{ChatError, Seq, ServerMsg};
use app::room_name::RoomName;
use app::rooms::NotifyLevel;

use super::session::Session;
use super::writer::Gone;
use crate::hub::Membership;
use crate::limits::rate::TokenBucket;

/// Frames other than posts (read positions, away, typing, pages of people) one
/// connection may send: a burst, then so many a second (a tab sends at most a
/// few a second while messages arrive and its person types).
const MINOR_BURST: u32 = 20;
const MINOR_PER_SECOND: f64 = 5.0;
/// A connection's typing frames are told to the room at most this often; the
/// ones between are the same news.
pub const TYPING_EVERY: Duration = Duration::from_millis(2_500);

/// A connection's allowance of frames other than posts.
pub(super) struct Minor {
    bucket: TokenBucket,
    /// When its last typing frame was told to the room.
    last_typing: Option<tokio::time::Instant>,
}

impl Minor {
    pub(super) fn new() -> Self {
        Minor { bucket: TokenBucket::new(MINOR_BURST, MINOR_PER_SECOND, std::time::Instant::now()), last_typing: None }
    }

    fn take(&mut self) -> Result<(), ChatError> {
        self.bucket
            .take(std::time::Instant::now())
            .map_err(|wait| ChatError::RateLimited { retry_after_ms: wait.as_millis().max(1) as u64 })
    }
}

impl<S, R, E> Session<S, R>
where
    S: Sink<Message> + Unpin,
    S::Error: Display,
    R: Stream<Item = Result<Message, E>> + Unpin,
    E: Display,
{
    /// A read position from the client, handed to the hub (which stores the
    /// furthest and tells the account's tabs).
    pub(super) async fn read(&mut self, minor: &mut Minor, room: RoomName, seq: Seq) -> Result<(), Gone> {
        let Some(author) = &self.context.author else {
            return self.writer.refuse(ChatError::SignInRequired).await;
        };
        if let Err(refusal) = minor.take() {
            return self.writer.refuse(refusal).await;
        }
        if !self.context.hub.mark_read(author.id, room, seq).await {
            // The hub is closing: so is this connection, in a moment.
            tracing::debug!("a read position arrived after the hub closed");
        }
        Ok(())
    }

    /// This tab went away or came back.
    pub(super) async fn away(
        &mut self,
        minor: &mut Minor,
        membership: &mut Membership,
        away: bool,
    ) -> Result<(), Gone> {
        if self.context.author.is_none() {
            return self.writer.refuse(ChatError::SignInRequired).await;
        }
        if let Err(refusal) = minor.take() {
            return self.writer.refuse(refusal).await;
        }
        membership.set_away(away);
        Ok(())
    }

    /// This person is typing: told to the room, at most every [`TYPING_EVERY`].
    pub(super) async fn typing(&mut self, minor: &mut Minor, membership: &Membership) -> Result<(), Gone> {
        let Some(author) = &self.context.author else {
            return self.writer.refuse(ChatError::SignInRequired).await;
        };
        if let Err(refusal) = minor.take() {
            return self.writer.refuse(refusal).await;
        }
        let now = tokio::time::Instant::now();
        if minor.last_typing.is_none_or(|last| now.duration_since(last) >= TYPING_EVERY) {
            minor.last_typing = Some(now);
            membership.typing(author);
        }
        Ok(())
    }

    /// A page of the people here, for anyone in the room (readers too).
    pub(super) async fn people(
        &mut self,
        minor: &mut Minor,
        membership: &Membership,
        after: Option<String>,
    ) -> Result<(), Gone> {
        if let Err(refusal) = minor.take() {
            return self.writer.refuse(refusal).await;
        }
        let (people, next) = membership.room().people(after.as_deref());
        self.writer.send(&ServerMsg::People { people, next }).await
    }

    /// When the open room notifies this person: stored, and told to their tabs.
    pub(super) async fn notify(&mut self, minor: &mut Minor, level: NotifyLevel) -> Result<(), Gone> {
        let Some(author) = &self.context.author else {
            return self.writer.refuse(ChatError::SignInRequired).await;
        };
        if let Err(refusal) = minor.take() {
            return self.writer.refuse(refusal).await;
        }
        match self.context.hub.set_notify(author.id, &self.context.room, level).await {
            Ok(true) => Ok(()),
            Ok(false) => self.writer.refuse(ChatError::NotInList).await,
            Err(error) => {
                tracing::warn!(%error, "storing a notification level failed");
                self.writer.refuse(ChatError::StoreUnavailable).await
            }
        }
    }
}
