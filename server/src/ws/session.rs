//! One WebSocket connection, from its join to its end. Generic over the socket's
//! `Sink` and `Stream`, so tests can drive it with channels.

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ws::{close_code, Message};
use futures::stream::FuturesOrdered;
use futures::{FutureExt, Sink, Stream, StreamExt};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use app::protocol::{decode_client, ChatError, ClientMsg, ClientMsgId, Member, Seq, ServerMsg, PROTOCOL_VERSION};
use app::room_name::RoomName;

use super::replay::Replay;
use super::writer::{text, Gone, Writer, WRITE_BATCH};
use crate::hub::{Author, Event, Hub, Membership, PendingPost, PostError};
use crate::store::Appended;

/// A connection that has not joined within this time is closed.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages one connection may have on their way to the store at once; past
/// this, its frames wait in the socket until an ack goes out.
pub const MAX_IN_FLIGHT: usize = 64;
/// How long a closing connection waits for its posts on their way to be stored.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(2);

pub struct SessionContext {
    pub room: RoomName,
    pub hub: Hub,
    pub shutdown: CancellationToken,
    /// Who posts from this connection, from its session cookie; `None` for a
    /// signed-out reader, who cannot post.
    pub author: Option<Author>,
    /// Cancelled when the session ends (sign-out); never, for a reader.
    pub session_ended: CancellationToken,
    /// When the session expires; the connection closes then.
    pub session_expires: Option<tokio::time::Instant>,
    /// Ping after this long without a frame from the client…
    pub ping_after: Duration,
    /// …and close after this long without one.
    pub idle_timeout: Duration,
}

impl SessionContext {
    /// A signed-out reader's session with the default limits; set `author` and
    /// the rest for others.
    pub fn reader(room: RoomName, hub: Hub, shutdown: CancellationToken) -> Self {
        let policy = crate::policy::Policy::default();
        SessionContext {
            room,
            hub,
            shutdown,
            author: None,
            session_ended: CancellationToken::new(),
            session_expires: None,
            ping_after: policy.ping_after,
            idle_timeout: policy.idle_timeout,
        }
    }
}

/// Where a connection's missed messages come from.
fn replay(context: &SessionContext) -> Replay<'_> {
    Replay { store: context.hub.store(), room: &context.room }
}

/// What one incoming frame amounts to.
enum Incoming {
    Msg(ClientMsg),
    Refused(ChatError),
    Control,
    Closed,
}

pub async fn run_session<S, R, E>(sink: S, stream: R, context: SessionContext)
where
    S: Sink<Message> + Unpin,
    S::Error: Display,
    R: Stream<Item = Result<Message, E>> + Unpin,
    E: Display,
{
    let span = tracing::debug_span!("session", room = %context.room, member = tracing::field::Empty);
    let mut session = Session { writer: Writer::new(sink), stream, context, last_heard: tokio::time::Instant::now() };
    async move {
        let Some(joined) = session.await_join().await else {
            return;
        };
        tracing::Span::current().record("member", joined.membership.id().0);
        tracing::debug!(author = ?session.context.author.as_ref().map(|a| a.id.0), since = ?joined.since, "joined");
        session.live(joined).await;
        tracing::debug!("left");
    }
    .instrument(span)
    .await
}

struct Joined {
    membership: Membership,
    since: Option<Seq>,
}

/// Why the server ends a live connection.
enum Ending {
    Shutdown,
    SignedOut,
    Expired,
    Idle,
}

struct Session<S, R> {
    writer: Writer<S>,
    stream: R,
    context: SessionContext,
    /// When the client last sent any frame (pongs included).
    last_heard: tokio::time::Instant,
}

impl<S, R, E> Session<S, R>
where
    S: Sink<Message> + Unpin,
    S::Error: Display,
    R: Stream<Item = Result<Message, E>> + Unpin,
    E: Display,
{
    /// Reads frames until a valid join; answers anything else with an error.
    async fn await_join(&mut self) -> Option<Joined> {
        let deadline = tokio::time::sleep(JOIN_TIMEOUT);
        tokio::pin!(deadline);
        loop {
            let frame = tokio::select! {
                _ = &mut deadline => {
                    self.writer.close(close_code::POLICY, "no join received").await;
                    return None;
                }
                _ = self.context.shutdown.cancelled() => {
                    self.end(Ending::Shutdown).await;
                    return None;
                }
                _ = self.context.session_ended.cancelled() => {
                    self.end(Ending::SignedOut).await;
                    return None;
                }
                frame = self.stream.next() => frame,
            };
            self.last_heard = tokio::time::Instant::now();
            let reply = match classify(frame) {
                Incoming::Msg(ClientMsg::Join { version, since }) => {
                    if version != PROTOCOL_VERSION {
                        let refusal = ChatError::UnsupportedVersion { client: version, server: PROTOCOL_VERSION };
                        if self.writer.refuse(refusal).await.is_ok() {
                            self.writer.close(close_code::POLICY, "unsupported protocol version").await;
                        }
                        return None;
                    }
                    let display_name = self.context.author.as_ref().map(|a| a.display_name.clone());
                    let membership = self.context.hub.join(&self.context.room, display_name);
                    return Some(Joined { membership, since });
                }
                Incoming::Msg(ClientMsg::Send { .. }) => ChatError::NotJoined,
                Incoming::Refused(refusal) => refusal,
                Incoming::Control => continue,
                Incoming::Closed => return None,
            };
            self.writer.refuse(reply).await.ok()?;
        }
    }

    async fn live(&mut self, joined: Joined) {
        let Joined { mut membership, since } = joined;
        let room = self.context.room.clone();
        // Subscribed already (by the join): whatever is posted from here on is in
        // the membership's queue, so the store read below cannot miss anything.
        let latest = match self.context.hub.store().last_seq(&room).await {
            Ok(latest) => latest,
            Err(error) => {
                // Without it the client cannot tell a gap from a fresh room:
                // refuse, and let it come back when the store answers again.
                tracing::error!(%error, "reading the room's last seq failed");
                if self.writer.refuse(ChatError::StoreUnavailable).await.is_ok() {
                    self.writer.close(close_code::AGAIN, "store unavailable").await;
                }
                return;
            }
        };
        let welcome = ServerMsg::Welcome {
            version: PROTOCOL_VERSION,
            room,
            you: self
                .context
                .author
                .as_ref()
                .map(|author| Member { id: membership.id(), display_name: author.display_name.clone() }),
            members: membership.members_at_join().to_vec(),
            latest,
        };
        if self.writer.send(&welcome).await.is_err() {
            return;
        }
        // The newest seq this client has (or has been told to reload up to).
        let mut seen = match since {
            None => latest,
            Some(since) if since > latest => {
                // The client knows messages this store does not: its history is
                // from elsewhere. Start it afresh.
                if self.writer.send(&ServerMsg::HistoryGap { latest }).await.is_err() {
                    return;
                }
                latest
            }
            Some(since) => match replay(&self.context).catch_up(&mut self.writer, since).await {
                Ok(seen) => seen,
                Err(Gone) => return,
            },
        };
        let expiry = self.context.session_expires.map(tokio::time::sleep_until);
        let expiry = async move {
            match expiry {
                Some(expiry) => expiry.await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(expiry);
        let mut heartbeat = tokio::time::interval(self.context.ping_after.min(self.context.idle_timeout) / 2);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Posts on their way to the store, acknowledged in the order sent.
        let mut in_flight: FuturesOrdered<InFlight> = FuturesOrdered::new();
        loop {
            tokio::select! {
                biased;
                _ = self.context.shutdown.cancelled() => {
                    self.settle_and_end(Ending::Shutdown, &mut membership, &mut in_flight, &mut seen).await;
                    return;
                }
                _ = self.context.session_ended.cancelled() => {
                    self.settle_and_end(Ending::SignedOut, &mut membership, &mut in_flight, &mut seen).await;
                    return;
                }
                () = &mut expiry => {
                    self.settle_and_end(Ending::Expired, &mut membership, &mut in_flight, &mut seen).await;
                    return;
                }
                _ = heartbeat.tick() => {
                    let quiet = self.last_heard.elapsed();
                    // A client with posts on their way is not idle: its frames wait
                    // in the socket while they are stored.
                    if quiet >= self.context.idle_timeout && in_flight.is_empty() {
                        self.end(Ending::Idle).await;
                        return;
                    }
                    if quiet >= self.context.ping_after
                        && self.writer.write(vec![Message::Ping(Default::default())]).await.is_err()
                    {
                        return;
                    }
                }
                Some(first) = in_flight.next(), if !in_flight.is_empty() => {
                    // Posts stored by the same commit are answered with one write.
                    let mut stored = vec![first];
                    while let Some(Some(next)) = in_flight.next().now_or_never() {
                        stored.push(next);
                    }
                    if self.acknowledge(&mut membership, stored, &mut seen).await.is_err() {
                        return;
                    }
                }
                frame = self.stream.next(), if in_flight.len() < MAX_IN_FLIGHT => {
                    self.last_heard = tokio::time::Instant::now();
                    let outcome = match classify(frame) {
                        Incoming::Msg(ClientMsg::Send { id, body }) => {
                            self.post(&membership, id, body).await.map(|post| in_flight.extend(post))
                        }
                        Incoming::Msg(ClientMsg::Join { .. }) => self.writer.refuse(ChatError::AlreadyJoined).await,
                        Incoming::Refused(refusal) => self.writer.refuse(refusal).await,
                        Incoming::Control => Ok(()),
                        Incoming::Closed => return,
                    };
                    if outcome.is_err() {
                        return;
                    }
                }
                event = membership.next_event() => {
                    if self.forward(event, &mut membership, &mut seen).await.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Hands a message to the room's writer, checked by the hub as every post
    /// is; returns the post on its way, or `None` when the message was refused
    /// (and the client told why).
    async fn post(&mut self, membership: &Membership, id: ClientMsgId, body: String) -> Result<Option<InFlight>, Gone> {
        match membership.submit(self.context.author.as_ref(), body, id.clone()).await {
            Ok(post) => Ok(Some(InFlight { id: Some(id), post })),
            // An id that is not one cannot name the refusal.
            Err(PostError::Refused(refusal @ ChatError::InvalidMessageId { .. })) => {
                self.writer.refuse(refusal).await.map(|()| None)
            }
            Err(PostError::Refused(refusal)) => self.writer.refuse_message(id, refusal).await.map(|()| None),
            // Submitting fails otherwise only when the writer is gone: the server is stopping.
            Err(PostError::Closed | PostError::Store(_)) => Err(Gone),
        }
    }

    /// Answers posts once they are stored: the broadcast frames already queued for
    /// this member go first (its own messages among them), then the acks (or the
    /// store's refusals), all in one write.
    async fn acknowledge(
        &mut self,
        membership: &mut Membership,
        stored: Vec<(ClientMsgId, Result<Appended, PostError>)>,
        seen: &mut Seq,
    ) -> Result<(), Gone> {
        let mut frames = Vec::new();
        while let Some(event) = membership.try_next_event() {
            replay(&self.context).frames_for(&mut self.writer, event, seen, &mut frames).await?;
        }
        for (id, result) in stored {
            let answer = match result {
                Ok(appended) => ServerMsg::Ack { id, seq: appended.message.seq },
                Err(PostError::Closed) => return Err(Gone),
                Err(PostError::Store(reason)) => {
                    tracing::debug!(%reason, "a message was not stored");
                    ServerMsg::message_error(id, ChatError::StoreUnavailable)
                }
                Err(PostError::Refused(refusal)) => ServerMsg::message_error(id, refusal),
            };
            frames.push(text(&answer));
        }
        self.writer.write(frames).await
    }

    /// Before the connection ends: answers the posts on their way, waiting a
    /// little for them to be stored, so that the client knows which are.
    async fn settle(
        &mut self,
        membership: &mut Membership,
        in_flight: &mut FuturesOrdered<InFlight>,
        seen: &mut Seq,
    ) -> Result<(), Gone> {
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

    /// Sends an event (and whatever else is queued, up to a batch) to the client.
    async fn forward(&mut self, first: Event, membership: &mut Membership, seen: &mut Seq) -> Result<(), Gone> {
        let mut frames = Vec::new();
        replay(&self.context).frames_for(&mut self.writer, first, seen, &mut frames).await?;
        while frames.len() < WRITE_BATCH {
            let Some(event) = membership.try_next_event() else { break };
            replay(&self.context).frames_for(&mut self.writer, event, seen, &mut frames).await?;
        }
        if frames.is_empty() {
            return Ok(());
        }
        self.writer.write(frames).await
    }

    /// Tells the client why, then closes.
    async fn end(&mut self, ending: Ending) {
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
    async fn settle_and_end(
        &mut self,
        ending: Ending,
        membership: &mut Membership,
        in_flight: &mut FuturesOrdered<InFlight>,
        seen: &mut Seq,
    ) {
        if self.settle(membership, in_flight, seen).await.is_ok() {
            self.end(ending).await;
        }
    }
}

/// One post of this connection on its way to the store, with the id its ack carries.
struct InFlight {
    /// Taken when the post resolves.
    id: Option<ClientMsgId>,
    post: PendingPost,
}

impl Future for InFlight {
    type Output = (ClientMsgId, Result<Appended, PostError>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let stored = std::task::ready!(Pin::new(&mut self.post).poll(cx));
        Poll::Ready((self.id.take().expect("an in-flight post resolves once"), stored))
    }
}

fn classify<E: Display>(frame: Option<Result<Message, E>>) -> Incoming {
    match frame {
        Some(Ok(Message::Text(text))) => match decode_client(text.as_str()) {
            Ok(msg) => Incoming::Msg(msg),
            Err(detail) => Incoming::Refused(ChatError::Malformed { detail }),
        },
        Some(Ok(Message::Binary(_))) => Incoming::Refused(ChatError::BinaryFrame),
        Some(Ok(Message::Ping(_) | Message::Pong(_))) => Incoming::Control,
        Some(Ok(Message::Close(_))) | None => Incoming::Closed,
        Some(Err(error)) => {
            tracing::debug!(%error, "read failed");
            Incoming::Closed
        }
    }
}
