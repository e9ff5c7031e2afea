//! A post from outside a room's members: the room page's form (scripts off),
//! the HTTP API and the incoming webhooks. The same rules as a member's post
//! over the socket, in the same order: what the post is refused for by itself
//! first (it takes no turn of slow mode), then the room's moderation (removed:
//! never; slow mode: once per pause, moderators exempt), then the sender's
//! allowance and the one writer, waiting until it is stored.

use app::protocol::{ChatError, ClientMsgId};
use app::room_name::RoomName;

use super::{Author, Hub, PostError};
use crate::store::Appended;

/// Why a post from outside was not stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// Refused for what it is or who sent it, or the store failed it.
    #[error("{0}")]
    Refused(ChatError),
    /// The store could not be read, or the server is stopping: try again.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl Hub {
    /// Checks, stores and broadcasts `body` from `author` in `room`; answers
    /// once it is stored (a second post with the same `id` is answered with
    /// the first, marked a duplicate).
    pub async fn submit(
        &self,
        author: &Author,
        room: &RoomName,
        body: String,
        id: ClientMsgId,
    ) -> Result<Appended, SubmitError> {
        self.validate_post(Some(author), &id, &body, &Default::default()).map_err(SubmitError::Refused)?;
        let standing = match self.store().standing(room, author.id, crate::clock::now()).await {
            Ok(standing) => standing,
            Err(error) => {
                tracing::warn!(%error, %room, "reading a poster's standing failed");
                return Err(SubmitError::Unavailable(error.to_string()));
            }
        };
        if standing.removed.is_some() {
            return Err(SubmitError::Refused(ChatError::Removed));
        }
        self.set_slow_mode(room, standing.slow_mode_s);
        self.slow_check(room, Some(author), standing.moderator).map_err(SubmitError::Refused)?;
        let pending = self.post(Some(author), room, body, id).await.map_err(from_post)?;
        pending.await.map_err(from_post)
    }
}

fn from_post(error: PostError) -> SubmitError {
    match error {
        PostError::Refused(error) => SubmitError::Refused(error),
        PostError::Store(reason) => {
            tracing::warn!(%reason, "a post from outside a room was not stored");
            SubmitError::Refused(ChatError::StoreUnavailable)
        }
        PostError::Closed => SubmitError::Unavailable("the server is restarting".to_owned()),
    }
}
