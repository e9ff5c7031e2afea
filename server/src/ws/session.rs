//! One WebSocket connection, from its join to its end. Generic over the socket's
//! `Sink` and `Stream`, so tests can drive it with channels.

use std::fmt::Display;
use std::time::Duration;

use axum::extract::ws::{close_code, CloseFrame, Message, Utf8Bytes};
use futures::{Sink, SinkExt, Stream, StreamExt};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use app::display_name::parse_display_name;
use app::protocol::{validate_body, ClientMsg, ClientMsgId, ErrorCode, Seq, ServerMsg, PROTOCOL_VERSION};
use app::room_name::RoomName;

use crate::hub::{Event, Hub, Membership, PostError, RoomEvent};
use crate::ws::rate::TokenBucket;

/// A connection that has not joined within this time is closed.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection that cannot take a batch of frames within this time is closed, so a
/// stuck reader costs the room nothing.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// At most this many queued events go out in one write.
const WRITE_BATCH: usize = 64;
/// A client that missed more messages than this reloads the history instead.
pub const MAX_REPLAY: u32 = 1000;

pub struct SessionContext {
    pub room: RoomName,
    pub hub: Hub,
    pub shutdown: CancellationToken,
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
        sends: TokenBucket::for_sends(std::time::Instant::now()),
    };
    async move {
        let Some(joined) = session.await_join().await else {
            return;
        };
        tracing::Span::current().record("member", joined.membership.id().0);
        tracing::debug!(display_name = %joined.display_name, since = ?joined.since, "joined");
        session.live(joined).await;
        tracing::debug!("left");
    }
    .instrument(span)
    .await
}

struct Joined {
    membership: Membership,
    display_name: String,
    since: Option<Seq>,
}

struct Session<S, R> {
    writer: Writer<S>,
    stream: R,
    context: SessionContext,
    /// This connection's allowance of messages.
    sends: TokenBucket,
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
                    self.say_goodbye().await;
                    return None;
                }
                frame = self.stream.next() => frame,
            };
            let reply = match classify(frame) {
                Incoming::Msg(ClientMsg::Join { version, display_name, since }) => {
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
                    match parse_display_name(&display_name) {
                        Ok(name) => {
                            let membership = self.context.hub.join(&self.context.room, name.clone());
                            return Some(Joined { membership, display_name: name, since });
                        }
                        Err(error) => (ErrorCode::InvalidDisplayName, error.to_string()),
                    }
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
        let Joined { mut membership, display_name, since } = joined;
        let room = self.context.room.clone();
        // Subscribed already (by the join): whatever is posted from here on is in
        // the membership's queue, so the store read below cannot miss anything.
        let latest = match self.context.hub.store().last_seq(&room).await {
            Ok(latest) => latest,
            Err(error) => {
                tracing::error!(%error, "reading the room's last seq failed");
                Seq(0)
            }
        };
        let welcome = ServerMsg::Welcome {
            version: PROTOCOL_VERSION,
            room,
            you: membership.id(),
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
        loop {
            tokio::select! {
                biased;
                _ = self.context.shutdown.cancelled() => {
                    self.say_goodbye().await;
                    return;
                }
                frame = self.stream.next() => {
                    let outcome = match classify(frame) {
                        Incoming::Msg(ClientMsg::Send { id, body }) => {
                            self.post(&mut membership, &display_name, id, body, &mut seen).await
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

    /// Stores and broadcasts a message, then acknowledges it (after the broadcast
    /// frames already queued for this member, its own message among them).
    async fn post(
        &mut self,
        membership: &mut Membership,
        display_name: &str,
        id: ClientMsgId,
        body: String,
        seen: &mut Seq,
    ) -> Result<(), Gone> {
        if !id.is_valid() {
            let message = format!(
                "Message ids are 1 to {} characters of letters, digits, '-' and '_'.",
                ClientMsgId::MAX_LEN
            );
            return self.writer.refuse(ErrorCode::InvalidMessageId, message).await;
        }
        if let Err((code, message)) = validate_body(&body) {
            return self.writer.refuse_message(id, code, message).await;
        }
        if let Err(wait) = self.sends.take(std::time::Instant::now()) {
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
            return self.writer.send(&refusal).await;
        }
        match membership.post(display_name, &body, id.clone()).await {
            Ok(appended) => {
                let mut frames = Vec::new();
                while let Some(event) = membership.try_next_event() {
                    self.frames_for(event, seen, &mut frames).await?;
                }
                frames.push(text(&ServerMsg::Ack { id, seq: appended.message.seq }));
                self.writer.write(frames).await
            }
            Err(PostError::Closed) => Err(Gone),
            Err(PostError::Store(reason)) => {
                let message = format!("Your message was not saved: {reason}. Send it again in a moment.");
                self.writer.refuse_message(id, ErrorCode::StoreUnavailable, message).await
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
            Event::Room(RoomEvent { seq: Some(seq), .. }) if seq <= *seen => Ok(()),
            Event::Room(RoomEvent { seq, frame }) => {
                if let Some(seq) = seq {
                    *seen = seq;
                }
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

    async fn say_goodbye(&mut self) {
        if self.writer.send(&ServerMsg::ShuttingDown).await.is_ok() {
            self.writer.close(close_code::RESTART, "server restarting").await;
        }
    }
}

fn text(msg: &ServerMsg) -> Message {
    Message::Text(msg.to_json().into())
}

fn classify<E: Display>(frame: Option<Result<Message, E>>) -> Incoming {
    match frame {
        Some(Ok(Message::Text(text))) => match serde_json::from_str::<ClientMsg>(text.as_str()) {
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
