//! Edits, deletes and reactions on their way to the store: the same single writer as
//! posts (a change takes the room's next seq), by a queue of their own that
//! the poster task serves between commits, then told to the room.

use tokio::sync::oneshot;

use app::protocol::{ClientMsgId, Seq, ServerMsg};
use app::room_name::RoomName;

use super::post::{Delivery, PostError, Writer};
use super::room::Frame;
use super::{Author, Hub};
use crate::store::{AccountId, ChangeKind, Changed, NewChange};

pub(super) struct ChangeRequest {
    pub change: NewChange,
    pub reply: oneshot::Sender<Result<Changed, PostError>>,
}

/// Stores one change, tells the room, answers the asker.
pub(super) async fn apply(writer: &mut Writer, delivery: &Delivery, request: ChangeRequest) {
    let ChangeRequest { change, reply } = request;
    let (room, at) = (change.room.clone(), change.at);
    let result = match writer.change(change).await {
        Ok(Ok(changed)) if changed.is_noop() => Ok(changed),
        Ok(Ok(changed)) => {
            let live = delivery.registry.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&room).cloned();
            let msg = ServerMsg::Changed { seq: changed.seq, message: changed.message.clone() };
            delivery.deliver(live.as_ref(), &room, vec![(changed.seq, Frame::from(msg.to_json()))]);
            delivery.lists.announce_change(&room, changed.seq, at);
            Ok(changed)
        }
        Ok(Err(refusal)) => Err(PostError::Refused(refusal)),
        Err(error) => {
            tracing::error!(%error, "storing a change failed");
            Err(PostError::Store(error.to_string()))
        }
    };
    if reply.send(result).is_err() {
        tracing::trace!("an editor left before the change was acknowledged");
    }
}

impl Hub {
    /// Replaces the body of `author`'s message `target` in `room`; resolves once
    /// the change is stored and told to the room.
    pub async fn edit(
        &self,
        author: Option<&Author>,
        room: &RoomName,
        id: &ClientMsgId,
        target: Seq,
        body: String,
    ) -> Result<Changed, PostError> {
        let author = self.check_with(author, id, Some(&body)).map_err(PostError::Refused)?;
        let mentioned = app::markdown::mentions::mentions(&body);
        self.change(author.id, room, target, ChangeKind::Edit { body: super::storable(body), mentioned }).await
    }

    /// Deletes `author`'s message `target` in `room` (a tombstone stays).
    pub async fn delete(
        &self,
        author: Option<&Author>,
        room: &RoomName,
        id: &ClientMsgId,
        target: Seq,
    ) -> Result<Changed, PostError> {
        let author = self.check_with(author, id, None).map_err(PostError::Refused)?;
        self.change(author.id, room, target, ChangeKind::Delete).await
    }

    /// Adds (`on`) or takes back `author`'s reaction `emoji` to message
    /// `target` in `room`.
    pub async fn react(
        &self,
        author: Option<&Author>,
        room: &RoomName,
        id: &ClientMsgId,
        target: Seq,
        emoji: String,
        on: bool,
    ) -> Result<Changed, PostError> {
        let author = self.check_with(author, id, None).map_err(PostError::Refused)?;
        app::protocol::validate_reaction(&emoji).map_err(PostError::Refused)?;
        let kind = ChangeKind::React { emoji, on, username: author.username.clone() };
        self.change(author.id, room, target, kind).await
    }

    /// Deletes `author`'s message `target` in `room` as its author would,
    /// without the sending allowance (a site administrator's clean-up).
    pub async fn erase(&self, author: &Author, room: &RoomName, target: Seq) -> Result<(), PostError> {
        self.erase_as(author.id, room, target).await
    }

    /// [`Hub::erase`], by the author's account alone (a deleted room's messages).
    pub async fn erase_as(&self, author: AccountId, room: &RoomName, target: Seq) -> Result<(), PostError> {
        self.change(author, room, target, ChangeKind::Delete).await.map(|_| ())
    }

    async fn change(
        &self,
        author: AccountId,
        room: &RoomName,
        target: Seq,
        kind: ChangeKind,
    ) -> Result<Changed, PostError> {
        let (reply, answer) = oneshot::channel();
        let change = NewChange { room: room.clone(), target, author_id: author, at: crate::clock::now(), kind };
        self.inner.changes.send(ChangeRequest { change, reply }).await.map_err(|_| PostError::Closed)?;
        answer.await.map_err(|_| PostError::Closed)?
    }
}
