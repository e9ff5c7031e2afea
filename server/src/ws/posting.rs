//! A connection's posts on their way to the store, answered in the order sent
//! (each ack after its own message), and the end of a connection, which first
//! answers what is still on its way.

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ws::{close_code, Message};
use futures::stream::FuturesOrdered;
use futures::{Sink, Stream, StreamExt};

use app::protocol::{Attachment, ChatError, ClientMsg, ClientMsgId, Quote, Seq, ServerMsg};

use super::session::{replay, Ending, Session};
use super::writer::{text, Gone};
use crate::hub::{Extras, Membership, PendingPost, PostError};
use crate::store::Appended;

/// How long a closing connection waits for its posts on their way to be stored.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(2);

impl<S, R, E> Session<S, R>
where
    S: Sink<Message> + Unpin,
    S::Error: Display,
    R: Stream<Item = Result<Message, E>> + Unpin,
    E: Display,
{
    /// Hands a message to the room's writer, checked by the hub as every post
    /// is; returns the post on its way, or `None` when the message was refused
    /// (and the client told why).
    pub(super) async fn post(
        &mut self,
        membership: &Membership,
        id: ClientMsgId,
        body: String,
        extras: Extras,
    ) -> Result<Option<InFlight>, Gone> {
        let (hub, author) = (&self.context.hub, self.context.author.as_ref());
        // A post refused for what it is takes no turn of slow mode.
        match hub.validate_post(author, &id, &body, &extras) {
            Err(refusal @ ChatError::InvalidMessageId { .. }) => {
                return Box::pin(self.writer.refuse(refusal)).await.map(|()| None)
            }
            Err(refusal) => return Box::pin(self.writer.refuse_message(id, refusal)).await.map(|()| None),
            Ok(()) => {}
        }
        if let Err(slowed) = hub.slow_check(&self.context.room, author, self.context.moderator) {
            // Slowed: unless a moderator since the connection opened (the
            // owner, when it opened before the room was made).
            if !Box::pin(self.moderates_now()).await {
                return Box::pin(self.writer.refuse_message(id, slowed)).await.map(|()| None);
            }
        }
        match membership.submit(self.context.author.as_ref(), body, id.clone(), extras).await {
            Ok(post) => Ok(Some(InFlight { id: Some(id), post })),
            // An id that is not one cannot name the refusal.
            // Refusals are boxed (see `run_session`).
            Err(PostError::Refused(refusal @ ChatError::InvalidMessageId { .. })) => {
                Box::pin(self.writer.refuse(refusal)).await.map(|()| None)
            }
            Err(PostError::Refused(refusal)) => Box::pin(self.writer.refuse_message(id, refusal)).await.map(|()| None),
            // Submitting fails otherwise only when the writer is gone: the server is stopping.
            Err(PostError::Closed | PostError::Store(_)) => Err(Gone),
        }
    }

    /// Answers posts once they are stored: the broadcast frames already queued for
    /// this member go first (its own messages among them), then the acks (or the
    /// store's refusals), all in one write.
    pub(super) async fn acknowledge(
        &mut self,
        membership: &mut Membership,
        stored: Vec<Stored>,
        seen: &mut Seq,
    ) -> Result<(), Gone> {
        let mut answers = Vec::with_capacity(stored.len());
        for (id, result) in stored {
            let answer = match result {
                Ok(seq) => ServerMsg::Ack { id, seq },
                Err(PostError::Closed) => return Err(Gone),
                Err(PostError::Store(reason)) => {
                    tracing::debug!(%reason, "a message was not stored");
                    ServerMsg::message_error(id, ChatError::StoreUnavailable)
                }
                Err(PostError::Refused(refusal)) => ServerMsg::message_error(id, refusal),
            };
            answers.push(answer);
        }
        self.answer_after_queued(membership, seen, answers).await
    }

    /// Sends the room's events already queued for this member (its own among
    /// them), then `answers`, in one write: an answer never overtakes the
    /// event it answers for.
    async fn answer_after_queued(
        &mut self,
        membership: &mut Membership,
        seen: &mut Seq,
        answers: Vec<ServerMsg>,
    ) -> Result<(), Gone> {
        let mut frames = Vec::new();
        while let Some(event) = membership.try_next_event() {
            replay(&self.context).frames_for(&mut self.writer, event, seen, &mut frames).await?;
        }
        frames.extend(answers.iter().map(text));
        self.writer.write(frames).await
    }

    /// An edit or a delete of one's own message, or a reaction to anyone's:
    /// stored as the room's next seq, told to the room, then answered like a
    /// post (`ack` with the change's seq, or a refusal naming `id`).
    pub(super) async fn change(
        &mut self,
        membership: &mut Membership,
        seen: &mut Seq,
        request: ClientMsg,
    ) -> Result<(), Gone> {
        let (hub, room, author) = (&self.context.hub, &self.context.room, self.context.author.as_ref());
        let (id, result) = match request {
            ClientMsg::Edit { id, seq, body } => {
                let result = hub.edit(author, room, &id, seq, body).await;
                (id, result)
            }
            ClientMsg::Delete { id, seq } => {
                let result = hub.delete(author, room, &id, seq).await;
                (id, result)
            }
            ClientMsg::React { id, seq, emoji, on } => {
                let result = hub.react(author, room, &id, seq, emoji, on).await;
                (id, result)
            }
            _ => return Ok(()),
        };
        let answer = match result {
            Ok(changed) => ServerMsg::Ack { id, seq: changed.seq },
            Err(PostError::Refused(refusal @ ChatError::InvalidMessageId { .. })) => ServerMsg::error(refusal),
            Err(PostError::Refused(refusal)) => ServerMsg::message_error(id, refusal),
            Err(PostError::Store(_)) => ServerMsg::message_error(id, ChatError::StoreUnavailable),
            Err(PostError::Closed) => return Err(Gone),
        };
        self.answer_after_queued(membership, seen, vec![answer]).await
    }

    /// Whether the connection's person moderates the room now, as the store says.
    async fn moderates_now(&mut self) -> bool {
        let Some(author) = &self.context.author else { return false };
        let standing = self.context.hub.store().standing(&self.context.room, author.id, crate::clock::now()).await;
        let moderator = match standing {
            Ok(standing) => standing.moderator,
            Err(error) => {
                tracing::warn!(%error, "reading whether a slowed poster moderates failed; slowed");
                false
            }
        };
        // What the store says now, either way (a moderator may have been unnamed).
        self.context.moderator = moderator;
        moderator
    }

    /// A reply, or a message with a file: the message it answers is looked
    /// up first (a reply to a message the room does not have is refused), and
    /// the file (it must be the sender's upload to this room); then it is
    /// posted.
    pub(super) async fn post_with(
        &mut self,
        membership: &Membership,
        id: ClientMsgId,
        body: String,
        (reply_to, file): (Option<Seq>, Option<String>),
    ) -> Result<Option<InFlight>, Gone> {
        let mut extras = Extras::default();
        if let Some(parent) = reply_to {
            match self.quote(&id, parent).await? {
                Ok(quote) => extras.reply = Some(quote),
                Err(()) => return Ok(None),
            }
        }
        if let Some(file) = file {
            match self.attachment(&id, &file).await? {
                Ok(file) => extras.file = Some(file),
                Err(()) => return Ok(None),
            }
        }
        self.post(membership, id, body, extras).await
    }

    /// The upload `file` as a message shows it, or the refusal of a message
    /// naming a file that is not its sender's upload to this room.
    async fn attachment(&mut self, id: &ClientMsgId, file: &str) -> Result<Result<Box<Attachment>, ()>, Gone> {
        let me = self.context.author.as_ref().map(|a| a.id);
        let refusal = match me {
            None => ChatError::SignInRequired,
            Some(_) if file.len() > crate::files::MAX_ID_LEN => ChatError::NoSuchFile,
            Some(me) => match self.context.hub.store().upload(file).await {
                Ok(Some(upload)) if upload.account == me && upload.room == self.context.room.as_str() => {
                    return Ok(Ok(Box::new(upload.file)))
                }
                Ok(_) => ChatError::NoSuchFile,
                Err(error) => {
                    tracing::warn!(%error, "reading the file a message posts failed");
                    ChatError::StoreUnavailable
                }
            },
        };
        self.writer.refuse_message(id.clone(), refusal).await.map(|()| Err(()))
    }

    /// The quote of the message a reply answers, or the refusal of a reply
    /// to a message the room does not have (told the client, naming `id`).
    pub(super) async fn quote(&mut self, id: &ClientMsgId, parent: Seq) -> Result<Result<Box<Quote>, ()>, Gone> {
        let refusal = match self.context.hub.store().quote(&self.context.room, parent).await {
            Ok(Some(quote)) => return Ok(Ok(Box::new(quote))),
            Ok(None) => ChatError::NoSuchMessage { seq: parent.0 },
            Err(error) => {
                tracing::warn!(%error, "reading the message a reply answers failed");
                ChatError::StoreUnavailable
            }
        };
        self.writer.refuse_message(id.clone(), refusal).await.map(|()| Err(()))
    }

    /// Before the connection ends: answers the posts on their way, waiting a
    /// little for them to be stored, so that the client knows which are.
    async fn settle(&mut self, membership: &mut Membership, in_flight: &mut Posts, seen: &mut Seq) -> Result<(), Gone> {
        if in_flight.is_empty() {
            return Ok(());
        }
        let stored = tokio::time::timeout(SETTLE_TIMEOUT, in_flight.by_ref().collect::<Vec<_>>()).await;
        match stored {
            Ok(stored) => self.acknowledge(membership, stored, seen).await,
            // Unanswered, they are still stored or not; a retry with the same id tells.
            Err(_) => {
                tracing::warn!(posts = in_flight.len(), "closing before the store answered these posts");
                Ok(())
            }
        }
    }

    /// Tells the client why, then closes.
    pub(super) async fn end(&mut self, ending: Ending) {
        let (notice, close, reason) = match ending {
            Ending::Shutdown => (ServerMsg::ShuttingDown, close_code::RESTART, "server restarting"),
            Ending::SignedOut => (ServerMsg::error(ChatError::SignedOut), close_code::POLICY, "signed out"),
            Ending::Expired => (ServerMsg::error(ChatError::SessionExpired), close_code::POLICY, "session expired"),
            Ending::Idle => (ServerMsg::error(ChatError::Idle), close_code::AWAY, "idle"),
        };
        tracing::debug!(reason, "ending the connection");
        if self.writer.send(&notice).await.is_ok() {
            self.writer.close(close, reason).await;
        }
    }

    /// Answers the posts still on their way, then ends the connection.
    pub(super) async fn settle_and_end(
        &mut self,
        ending: Ending,
        membership: &mut Membership,
        in_flight: &mut Posts,
        seen: &mut Seq,
    ) {
        if self.settle(membership, in_flight, seen).await.is_ok() {
            self.end(ending).await;
        }
    }
}

/// One post of this connection on its way to the store, with the id its ack carries.
pub(super) struct InFlight {
    /// Taken when the post resolves.
    pub(super) id: Option<ClientMsgId>,
    pub(super) post: PendingPost,
}

/// A post's answer from the store: its id, and its seq or why it was not stored.
/// (Only the seq of the stored message: what a connection waits on stays small.)
pub(super) type Stored = (ClientMsgId, Result<Seq, PostError>);

impl Future for InFlight {
    type Output = Stored;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let stored = std::task::ready!(Pin::new(&mut self.post).poll(cx));
        let stored = stored.map(|appended: Appended| appended.message.seq);
        Poll::Ready((self.id.take().expect("an in-flight post resolves once"), stored))
    }
}

/// A connection's posts on their way to the store, yielded in the order sent.
/// The queue is made by the first post: a reader, who never posts, holds none
/// (an empty `FuturesOrdered` is two allocations, about 150 bytes, and 10,000
/// readers hold 10,000 connections).
#[derive(Default)]
pub(super) struct Posts(Option<FuturesOrdered<InFlight>>);

impl Posts {
    pub(super) fn len(&self) -> usize {
        self.0.as_ref().map_or(0, FuturesOrdered::len)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Extend<InFlight> for Posts {
    fn extend<I: IntoIterator<Item = InFlight>>(&mut self, posts: I) {
        for post in posts {
            self.0.get_or_insert_with(FuturesOrdered::new).push_back(post);
        }
    }
}

impl Stream for Posts {
    type Item = Stored;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Stored>> {
        match &mut self.0 {
            Some(queue) => queue.poll_next_unpin(cx),
            None => Poll::Ready(None),
        }
    }
}
