//! One WebSocket connection, from its join to its end. Generic over the socket's
//! `Sink` and `Stream`, so tests can drive it with channels.

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ws::{close_code, CloseFrame, Message, Utf8Bytes};
use futures::stream::FuturesOrdered;
use futures::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use app::protocol::{decode_client, validate_body, ClientMsg, ClientMsgId, ErrorCode, Member, Seq, ServerMsg, PROTOCOL_VERSION};
use app::room_name::RoomName;

use crate::hub::{Author, Event, Hub, Membership, PendingPost, PostError, RoomEvent};
use crate::limits::KeyedBuckets;
use crate::store::{AccountId, Appended};

/// A connection that has not joined within this time is closed.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection that cannot take a batch of frames within this time is closed, so a
/// stuck reader costs the room nothing.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// At most this many queued events go out in one write.
const WRITE_BATCH: usize = 64;
/// Messages one connection may have on their way to the store at once; past
/// this, its frames wait in the socket until an ack goes out.
pub const MAX_IN_FLIGHT: usize = 64;
/// How long a closing connection waits for its posts on their way to be stored.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(2);
/// A client that missed more messages than this reloads the history instead.
pub const MAX_REPLAY: u32 = 1000;

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
    /// Every account's allowance of messages, shared by all its connections.
    pub sends: Arc<KeyedBuckets<AccountId>>,
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
            sends: Arc::new(KeyedBuckets::new(policy.send_burst, policy.sends_per_second)),
            ping_after: policy.ping_after,
            idle_timeout: policy.idle_timeout,
        }
    }
}

/// What one incoming frame amounts to.
enum Incoming {
    Msg(ClientMsg),
    Refused(ErrorCode, String),
    Control,
    Closed,
}

/// The connection went away, or could not be written to in time.
struct Gone;

struct Writer<S> {
    sink: S,
}

impl<S> Writer<S>
where
    S: Sink<Message> + Unpin,
    S::Error: Display,
{
    async fn send(&mut self, msg: &ServerMsg) -> Result<(), Gone> {
        self.write(vec![text(msg)]).await
    }

    async fn refuse(&mut self, code: ErrorCode, message: String) -> Result<(), Gone> {
        tracing::debug!(?code, %message, "refused a frame");
        self.send(&ServerMsg::error(code, message)).await
    }

    async fn refuse_message(&mut self, id: ClientMsgId, code: ErrorCode, message: String) -> Result<(), Gone> {
        tracing::debug!(?code, %message, "refused a message");
        self.send(&ServerMsg::message_error(id, code, message)).await
    }

    async fn write(&mut self, frames: Vec<Message>) -> Result<(), Gone> {
        if frames.is_empty() {
            return Ok(());
        }
        let batch = async {
            for frame in frames {
                self.sink.feed(frame).await?;
            }
            self.sink.flush().await
        };
        match tokio::time::timeout(WRITE_TIMEOUT, batch).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => {
                tracing::debug!(%error, "write failed");
                Err(Gone)
            }
            Err(_) => {
                tracing::info!("closing a connection that stopped reading");
                Err(Gone)
            }
        }
    }

    async fn close(&mut self, code: u16, reason: &'static str) {
        let frame = Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        }));
        // The peer may be gone already; there is nobody left to tell.
        if self.write(vec![frame]).await.is_err() {
            tracing::trace!("close frame not delivered");
        }
    }
}

pub async fn run_session<S, R, E>(sink: S, stream: R, context: SessionContext)
where
    S: Sink<Message> + Unpin,
    S::Error: Display,
    R: Stream<Item = Result<Message, E>> + Unpin,
    E: Display,
{
    let span = tracing::debug_span!("session", room = %context.room, member = tracing::field::Empty);
    let mut session = Session {
        writer: Writer { sink },
        stream,
        context,
        last_heard: tokio::time::Instant::now(),
    };
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
                        let message = format!(
                            "This page speaks protocol version {version}, the server {PROTOCOL_VERSION}. \
                             Reload the page to update it."
                        );
                        if self.writer.refuse(ErrorCode::UnsupportedVersion, message).await.is_ok() {
                            self.writer.close(close_code::POLICY, "unsupported protocol version").await;
                        }
                        return None;
                    }
                    let display_name = self.context.author.as_ref().map(|a| a.display_name.clone());
                    let membership = self.context.hub.join(&self.context.room, display_name);
                    return Some(Joined { membership, since });
                }
                Incoming::Msg(ClientMsg::Send { .. }) => {
                    (ErrorCode::NotJoined, "Join the room before sending messages.".into())
                }
                Incoming::Refused(code, message) => (code, message),
                Incoming::Control => continue,
                Incoming::Closed => return None,
            };
            self.writer.refuse(reply.0, reply.1).await.ok()?;
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
                let message = "The message store is not answering; the page retries shortly.";
                if self.writer.refuse(ErrorCode::StoreUnavailable, message.into()).await.is_ok() {
                    self.writer.close(close_code::AGAIN, "store unavailable").await;
                }
                return;
            }
        };
        let welcome = ServerMsg::Welcome {
            version: PROTOCOL_VERSION,
            room,
            you: self.context.author.as_ref().map(|author| Member {
                id: membership.id(),
                display_name: author.display_name.clone(),
            }),
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
            Some(since) => match self.catch_up(since).await {
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
                        Incoming::Msg(ClientMsg::Join { .. }) => self.writer.refuse(
                            ErrorCode::AlreadyJoined,
                            "This connection has joined the room already.".into(),
                        ).await,
                        Incoming::Refused(code, message) => self.writer.refuse(code, message).await,
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

    /// Checks a message and hands it to the room's writer; returns the post on
    /// its way, or `None` when the message was refused (and the client told why).
    async fn post(&mut self, membership: &Membership, id: ClientMsgId, body: String) -> Result<Option<InFlight>, Gone> {
        if !id.is_valid() {
            let message = format!(
                "Message ids are 1 to {} characters of letters, digits, '-' and '_'.",
                ClientMsgId::MAX_LEN
            );
            return self.writer.refuse(ErrorCode::InvalidMessageId, message).await.map(|()| None);
        }
        let Some(author) = self.context.author.as_ref() else {
            let message = "Sign in to post in this room; reading needs no account.";
            return self.writer.refuse_message(id, ErrorCode::SignInRequired, message.into()).await.map(|()| None);
        };
        if let Err((code, message)) = validate_body(&body) {
            return self.writer.refuse_message(id, code, message).await.map(|()| None);
        }
        if let Err(wait) = self.context.sends.take(&author.id, std::time::Instant::now()) {
            tracing::debug!(?wait, "sender rate-limited");
            let refusal = ServerMsg::Error {
                code: ErrorCode::RateLimited,
                message: format!(
                    "You are sending messages too fast. Try again in {:.1} s.",
                    wait.as_secs_f64().max(0.1)
                ),
                id: Some(id),
                retry_after_ms: Some(wait.as_millis().max(1) as u64),
            };
            return self.writer.send(&refusal).await.map(|()| None);
        }
        match membership.submit(author, body, id.clone()).await {
            Ok(post) => Ok(Some(InFlight { id: Some(id), post })),
            // Submitting fails only when the writer is gone: the server is stopping.
            Err(_) => Err(Gone),
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
            self.frames_for(event, seen, &mut frames).await?;
        }
        for (id, result) in stored {
            let answer = match result {
                Ok(appended) => ServerMsg::Ack { id, seq: appended.message.seq },
                Err(PostError::Closed) => return Err(Gone),
                Err(PostError::Store(reason)) => {
                    tracing::debug!(%reason, "a message was not stored");
                    let message = format!("Your message was not saved: {reason}. Send it again in a moment.");
                    ServerMsg::message_error(id, ErrorCode::StoreUnavailable, message)
                }
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
        self.frames_for(first, seen, &mut frames).await?;
        while frames.len() < WRITE_BATCH {
            let Some(event) = membership.try_next_event() else { break };
            self.frames_for(event, seen, &mut frames).await?;
        }
        if frames.is_empty() {
            return Ok(());
        }
        self.writer.write(frames).await
    }

    /// The frames one room event becomes for this client: nothing for a message it
    /// has already, and a catch-up from the store after it lagged behind the room.
    async fn frames_for(&mut self, event: Event, seen: &mut Seq, frames: &mut Vec<Message>) -> Result<(), Gone> {
        match event {
            Event::Room(RoomEvent::Messages(messages)) => {
                for (seq, frame) in messages.iter() {
                    if *seq > *seen {
                        *seen = *seq;
                        frames.push(Message::Text(frame.clone()));
                    }
                }
                Ok(())
            }
            Event::Room(RoomEvent::Notice(frame)) => {
                frames.push(Message::Text(frame));
                Ok(())
            }
            Event::Lagged { missed } => {
                tracing::debug!(missed, "member lagged behind the room; catching up from the store");
                // Whatever was gathered goes first, to keep the order.
                self.writer.write(std::mem::take(frames)).await?;
                *seen = self.catch_up(*seen).await?;
                Ok(())
            }
        }
    }

    /// Sends the stored messages after `since`, or a history gap when there are too
    /// many. Returns the newest seq the client has now.
    async fn catch_up(&mut self, since: Seq) -> Result<Seq, Gone> {
        let store = self.context.hub.store().clone();
        let missed = match store.after(&self.context.room, since, MAX_REPLAY + 1).await {
            Ok(missed) => missed,
            Err(error) => {
                tracing::error!(%error, "reading missed messages failed");
                let message = "Could not load the messages you missed; reload the page to see them.";
                self.writer.refuse(ErrorCode::StoreUnavailable, message.into()).await?;
                return Ok(since);
            }
        };
        if missed.len() > MAX_REPLAY as usize {
            let latest = match store.last_seq(&self.context.room).await {
                Ok(latest) => latest,
                Err(_) => missed.last().map_or(since, |m| m.seq),
            };
            self.writer.send(&ServerMsg::HistoryGap { latest }).await?;
            return Ok(latest);
        }
        let seen = missed.last().map_or(since, |m| m.seq);
        let frames: Vec<Message> = missed.into_iter().map(|m| text(&ServerMsg::Message(m))).collect();
        for chunk in frames.chunks(WRITE_BATCH) {
            self.writer.write(chunk.to_vec()).await?;
        }
        Ok(seen)
    }

    /// Tells the client why, then closes.
    async fn end(&mut self, ending: Ending) {
        let ended = |code, message: &str| ServerMsg::error(code, message);
        let (notice, close, reason) = match ending {
            Ending::Shutdown => (ServerMsg::ShuttingDown, close_code::RESTART, "server restarting"),
            Ending::SignedOut => (
                ended(ErrorCode::SessionEnded, "You signed out. Sign in again to post."),
                close_code::POLICY,
                "signed out",
            ),
            Ending::Expired => (
                ended(ErrorCode::SessionEnded, "Your session has expired. Sign in again to post."),
                close_code::POLICY,
                "session expired",
            ),
            Ending::Idle => (ended(ErrorCode::Idle, "Nothing heard from you for too long."), close_code::AWAY, "idle"),
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

fn text(msg: &ServerMsg) -> Message {
    Message::Text(msg.to_json().into())
}

fn classify<E: Display>(frame: Option<Result<Message, E>>) -> Incoming {
    match frame {
        Some(Ok(Message::Text(text))) => match decode_client(text.as_str()) {
            Ok(msg) => Incoming::Msg(msg),
            Err(error) => Incoming::Refused(
                ErrorCode::Malformed,
                format!("That frame is not a message this server understands ({error})."),
            ),
        },
        Some(Ok(Message::Binary(_))) => Incoming::Refused(
            ErrorCode::BinaryFrame,
            "Binary frames are not supported; send JSON text frames.".into(),
        ),
        Some(Ok(Message::Ping(_) | Message::Pong(_))) => Incoming::Control,
        Some(Ok(Message::Close(_))) | None => Incoming::Closed,
        Some(Err(error)) => {
            tracing::debug!(%error, "read failed");
            Incoming::Closed
        }
    }
}
