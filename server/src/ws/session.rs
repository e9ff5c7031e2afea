//! One WebSocket connection, from its join to its end. Generic over the socket's
//! `Sink` and `Stream`, so tests can drive it with channels.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use axum::extract::ws::{close_code, Message};
use futures::{FutureExt, Sink, Stream, StreamExt};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use app::protocol::{ChatError, ClientMsg, Person, Seq, ServerMsg, PROTOCOL_VERSION};
use app::room_name::RoomName;

use super::incoming::{classify, Incoming};
use super::list::{ListFeed, ListItem};
use super::minor::Minor;
use super::posting::Posts;
use super::replay::Replay;
use super::writer::{Gone, Writer, WRITE_BATCH};
use crate::hub::{Author, Event, Extras, Hub, Membership};

/// A connection that has not joined within this time is closed.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages one connection may have on their way to the store at once; past
/// this, its frames wait in the socket until an ack goes out.
pub const MAX_IN_FLIGHT: usize = 64;
pub struct SessionContext {
    pub room: RoomName,
    pub hub: Hub,
    pub shutdown: CancellationToken,
    /// Who posts from this connection, from its session cookie; `None` for a
    /// signed-out reader, who cannot post.
    pub author: Option<Author>,
    /// Cancelled when the session ends (sign-out); `None` for a reader (a
    /// token of its own would be an allocation per connection, never used).
    pub session_ended: Option<CancellationToken>,
    /// When the session expires; the connection closes then.
    pub session_expires: Option<tokio::time::Instant>,
    /// Ping after this long without a frame from the client…
    pub ping_after: Duration,
    /// …and close after this long without one.
    pub idle_timeout: Duration,
    /// The person moderates the room (as of the upgrade).
    pub moderator: bool,
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
            session_ended: None,
            session_expires: None,
            ping_after: policy.ping_after,
            idle_timeout: policy.idle_timeout,
            moderator: false,
        }
    }
}

/// Where a connection's missed messages come from.
pub(super) fn replay(context: &SessionContext) -> Replay<'_> {
    Replay { store: context.hub.store(), room: &context.room, account: context.author.as_ref().map(|a| a.id) }
}

/// The connection's whole life, as one future. Built so that what an open
/// connection holds while it waits is small (it is held per connection: 10,000
/// in one room are 10,000 of these): the joining and welcoming state is boxed
/// and gone once the connection is live, and rare branches of the live loop
/// are boxed while they run.
pub fn run_session<S, R, E>(sink: S, stream: R, context: SessionContext) -> impl Future<Output = ()>
where
    S: Sink<Message> + Unpin,
    S::Error: Display,
    R: Stream<Item = Result<Message, E>> + Unpin,
    E: Display,
{
    let span = tracing::debug_span!("session", room = %context.room, member = tracing::field::Empty);
    let mut session = Session { writer: Writer::new(sink), stream, context, last_heard: tokio::time::Instant::now() };
    // The session is used where it was captured, never moved into a second place.
    async move { session.run().await }.instrument(span)
}

struct Joined {
    membership: Membership,
    since: Option<Seq>,
}

/// What a live connection keeps between frames.
struct Live {
    membership: Membership,
    /// The room list, on a signed-in person's connection.
    list: Option<ListFeed>,
    /// The newest seq this client has (or has been told to reload up to).
    seen: Seq,
}

/// Why the server ends a live connection.
pub(super) enum Ending {
    Shutdown,
    SignedOut,
    Expired,
    Idle,
}

pub(super) struct Session<S, R> {
    pub(super) writer: Writer<S>,
    pub(super) stream: R,
    pub(super) context: SessionContext,
    /// When the client last sent any frame (pongs included).
    pub(super) last_heard: tokio::time::Instant,
}

impl<S, R, E> Session<S, R>
where
    S: Sink<Message> + Unpin,
    S::Error: Display,
    R: Stream<Item = Result<Message, E>> + Unpin,
    E: Display,
{
    async fn run(&mut self) {
        let Some(joined) = Box::pin(self.await_join()).await else {
            return;
        };
        tracing::Span::current().record("member", joined.membership.id().0);
        tracing::debug!(author = ?self.context.author.as_ref().map(|a| a.id.0), since = ?joined.since, "joined");
        let Some(mut live) = Box::pin(self.welcome(joined)).await else {
            return;
        };
        self.live(&mut live).await;
        tracing::debug!("left");
    }

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
                () = ended(self.context.session_ended.as_ref()) => {
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
                    let hub = &self.context.hub;
                    // With other processes writing (a bus), a room new here
                    // starts delivering after the newest seq the store had
                    // before this join: this member reads the rest itself.
                    let anchor = if hub.is_relayed() {
                        match hub.store().last_seq(&self.context.room).await {
                            Ok(anchor) => anchor,
                            Err(error) => {
                                tracing::error!(%error, "reading the room's last seq failed");
                                if self.writer.refuse(ChatError::StoreUnavailable).await.is_ok() {
                                    self.writer.close(close_code::AGAIN, "store unavailable").await;
                                }
                                return None;
                            }
                        }
                    } else {
                        Seq(0)
                    };
                    let membership = hub.join_from(&self.context.room, self.context.author.as_ref(), anchor);
                    return Some(Joined { membership, since });
                }
                Incoming::Msg(
                    ClientMsg::Send { .. }
                    | ClientMsg::Read { .. }
                    | ClientMsg::Away { .. }
                    | ClientMsg::Typing
                    | ClientMsg::People { .. }
                    | ClientMsg::Notify { .. }
                    | ClientMsg::Edit { .. }
                    | ClientMsg::Delete { .. }
                    | ClientMsg::React { .. },
                ) => ChatError::NotJoined,
                Incoming::Refused(refusal) => refusal,
                Incoming::Control => continue,
                Incoming::Closed => return None,
            };
            self.writer.refuse(reply).await.ok()?;
        }
    }

    /// The welcome, the room list and what the client missed; `None` when the
    /// connection ended meanwhile.
    async fn welcome(&mut self, joined: Joined) -> Option<Live> {
        let Joined { mut membership, since } = joined;
        let room = self.context.room.clone();
        // Subscribed already (by the join): whatever is posted from here on is in
        // the membership's queue, so the store read below cannot miss anything.
        // (With other processes: once the bus has the room's subscription too.)
        self.context.hub.settled().await;
        let latest = match self.context.hub.store().last_seq(&room).await {
            Ok(latest) => latest,
            Err(error) => {
                // Without it the client cannot tell a gap from a fresh room:
                // refuse, and let it come back when the store answers again.
                tracing::error!(%error, "reading the room's last seq failed");
                if self.writer.refuse(ChatError::StoreUnavailable).await.is_ok() {
                    self.writer.close(close_code::AGAIN, "store unavailable").await;
                }
                return None;
            }
        };
        let (online, people) = membership.take_welcome();
        let welcome = ServerMsg::Welcome {
            version: PROTOCOL_VERSION,
            room,
            you: self.context.author.as_ref().map(|author| Person {
                username: author.username.clone(),
                display_name: author.display_name.clone(),
                away: false,
            }),
            online,
            people,
            latest,
            moderator: self.context.moderator,
        };
        if self.writer.send(&welcome).await.is_err() {
            return None;
        }
        // A signed-in person's room list rides on the same connection.
        let list = match &self.context.author {
            Some(author) => match ListFeed::start(&self.context.hub, author.id, self.context.room.clone()).await {
                Ok((feed, rooms)) => {
                    // The list's channels on the bus too, before the list is sent.
                    self.context.hub.settled().await;
                    if self.writer.send(&rooms).await.is_err() {
                        return None;
                    }
                    Some(feed)
                }
                Err(error) => {
                    tracing::error!(%error, "reading the room list failed");
                    if self.writer.refuse(ChatError::StoreUnavailable).await.is_ok() {
                        self.writer.close(close_code::AGAIN, "store unavailable").await;
                    }
                    return None;
                }
            },
            None => None,
        };
        let seen = match since {
            None => latest,
            Some(since) if since > latest => {
                // The client knows messages this store does not: its history is
                // from elsewhere. Start it afresh.
                if self.writer.send(&ServerMsg::HistoryGap { latest }).await.is_err() {
                    return None;
                }
                latest
            }
            Some(since) => match replay(&self.context).catch_up(&mut self.writer, since).await {
                Ok(seen) => seen,
                Err(Gone) => return None,
            },
        };
        Some(Live { membership, list, seen })
    }

    async fn live(&mut self, live: &mut Live) {
        let Live { membership, list, seen } = live;
        let mut minor = Minor::new();
        let mut heartbeat = tokio::time::interval(self.context.ping_after.min(self.context.idle_timeout) / 2);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Posts on their way to the store, acknowledged in the order sent.
        let mut in_flight = Posts::default();
        // Shutdown and sign-out, waited on by one future for the connection's
        // whole life rather than made again at each turn: the shutdown token is
        // shared by every connection (its check takes a mutex), and each turn
        // registered and removed a waiter. Side by side, one message to 10,000
        // signed-in members: p99 154 ms against 187 (medians of five rounds),
        // for 168 bytes more per connection.
        let (shutdown, session) = (self.context.shutdown.clone(), self.context.session_ended.clone());
        let ending = async move {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => Ending::Shutdown,
                () = ended(session.as_ref()) => Ending::SignedOut,
            }
        };
        tokio::pin!(ending);
        loop {
            tokio::select! {
                biased;
                why = &mut ending => {
                    Box::pin(self.settle_and_end(why, membership, &mut in_flight, seen)).await;
                    return;
                }
                _ = heartbeat.tick() => {
                    // Checked at each beat rather than by a timer of its own
                    // (one less per connection): a session of weeks closes at
                    // most half a ping interval late.
                    if self.context.session_expires.is_some_and(|at| at <= tokio::time::Instant::now()) {
                        Box::pin(self.settle_and_end(Ending::Expired, membership, &mut in_flight, seen)).await;
                        return;
                    }
                    let quiet = self.last_heard.elapsed();
                    // A client with posts on their way is not idle: its frames wait
                    // in the socket while they are stored.
                    if quiet >= self.context.idle_timeout && in_flight.is_empty() {
                        Box::pin(self.end(Ending::Idle)).await;
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
                    if Box::pin(self.acknowledge(membership, stored, seen)).await.is_err() {
                        return;
                    }
                }
                frame = self.stream.next(), if in_flight.len() < MAX_IN_FLIGHT => {
                    self.last_heard = tokio::time::Instant::now();
                    let outcome = match classify(frame) {
                        // Boxed while it runs, as the rest are: a post's state is
                        // larger than what the connection waits on between frames.
                        Incoming::Msg(ClientMsg::Send { id, body, reply_to: None, file: None }) => {
                            Box::pin(self.post(membership, id, body, Extras::default())).await.map(|post| in_flight.extend(post))
                        }
                        Incoming::Msg(ClientMsg::Send { id, body, reply_to, file }) => {
                            Box::pin(self.post_with(membership, id, body, (reply_to, file)))
                                .await
                                .map(|post| in_flight.extend(post))
                        }
                        // The rest are rarer than messages.
                        Incoming::Msg(ClientMsg::Read { room, seq }) => Box::pin(self.read(&mut minor, room, seq)).await,
                        Incoming::Msg(ClientMsg::Away { away }) => Box::pin(self.away(&mut minor, membership, away)).await,
                        Incoming::Msg(ClientMsg::Typing) => Box::pin(self.typing(&mut minor, membership)).await,
                        Incoming::Msg(ClientMsg::People { after }) => {
                            Box::pin(self.people(&mut minor, membership, after)).await
                        }
                        Incoming::Msg(ClientMsg::Notify { level }) => Box::pin(self.notify(&mut minor, level)).await,
                        Incoming::Msg(
                            request @ (ClientMsg::Edit { .. } | ClientMsg::Delete { .. } | ClientMsg::React { .. }),
                        ) => Box::pin(self.change(membership, seen, request)).await,
                        Incoming::Msg(ClientMsg::Join { .. }) => Box::pin(self.writer.refuse(ChatError::AlreadyJoined)).await,
                        Incoming::Refused(refusal) => Box::pin(self.writer.refuse(refusal)).await,
                        Incoming::Control => Ok(()),
                        Incoming::Closed => return,
                    };
                    if outcome.is_err() {
                        return;
                    }
                }
                event = membership.next_event() => {
                    if self.forward(event, membership, seen).await.is_err() {
                        return;
                    }
                }
                item = next_in_list(list) => {
                    let sent = match item {
                        ListItem::Frame(frame) => self.writer.write(vec![frame]).await,
                        ListItem::Resync => Box::pin(self.resend_list(list)).await,
                    };
                    if sent.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// The whole room list again, after the connection fell behind its events.
    async fn resend_list(&mut self, list: &mut Option<ListFeed>) -> Result<(), Gone> {
        let Some(list) = list else { return Ok(()) };
        match list.read().await {
            Ok(rooms) => self.writer.send(&rooms).await,
            Err(error) => {
                tracing::warn!(%error, "re-reading the room list failed");
                self.writer.refuse(ChatError::StoreUnavailable).await
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
}

/// When the session ends; never, for a signed-out reader's connection.
async fn ended(session: Option<&CancellationToken>) {
    match session {
        Some(token) => token.cancelled().await,
        None => std::future::pending().await,
    }
}

/// The room list's next item, or never for a signed-out reader's connection.
async fn next_in_list(list: &mut Option<ListFeed>) -> ListItem {
    match list {
        Some(feed) => feed.next().await,
        None => std::future::pending().await,
    }
}
