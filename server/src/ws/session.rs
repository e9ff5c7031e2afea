//! One WebSocket connection, from its join to its end. Generic over the socket's
//! `Sink` and `Stream`, so tests can drive it with channels.

use std::fmt::Display;
use std::time::Duration;

use axum::extract::ws::{close_code, CloseFrame, Message, Utf8Bytes};
use futures::{Sink, SinkExt, Stream, StreamExt};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use app::display_name::parse_display_name;
use app::protocol::{validate_body, ClientMsg, ErrorCode, ServerMsg, PROTOCOL_VERSION};
use app::room_name::RoomName;

use crate::hub::{Event, Hub, Membership};

/// A connection that has not joined within this time is closed.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection that cannot take a batch of frames within this time is closed, so a
/// stuck reader costs the room nothing.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// At most this many queued events go out in one write.
const WRITE_BATCH: usize = 64;

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
        self.write(vec![Message::Text(msg.to_json().into())]).await
    }

    async fn refuse(&mut self, code: ErrorCode, message: String) -> Result<(), Gone> {
        tracing::debug!(?code, %message, "refused a frame");
        self.send(&ServerMsg::error(code, message)).await
    }

    async fn write(&mut self, frames: Vec<Message>) -> Result<(), Gone> {
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
    };
    async move {
        let Some((membership, display_name)) = session.await_join().await else {
            return;
        };
        tracing::Span::current().record("member", membership.id().0);
        tracing::debug!(%display_name, "joined");
        session.live(membership, &display_name).await;
        tracing::debug!("left");
    }
    .instrument(span)
    .await
}

struct Session<S, R> {
    writer: Writer<S>,
    stream: R,
    context: SessionContext,
}

impl<S, R, E> Session<S, R>
where
    S: Sink<Message> + Unpin,
    S::Error: Display,
    R: Stream<Item = Result<Message, E>> + Unpin,
    E: Display,
{
    /// Reads frames until a valid join; answers anything else with an error.
    async fn await_join(&mut self) -> Option<(Membership, String)> {
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
                Incoming::Msg(ClientMsg::Join { version, display_name }) => {
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
                            return Some((membership, name));
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

    async fn live(&mut self, mut membership: Membership, display_name: &str) {
        let welcome = ServerMsg::Welcome {
            version: PROTOCOL_VERSION,
            room: self.context.room.clone(),
            you: membership.id(),
            members: membership.members_at_join().to_vec(),
        };
        if self.writer.send(&welcome).await.is_err() {
            return;
        }
        loop {
            tokio::select! {
                biased;
                _ = self.context.shutdown.cancelled() => {
                    self.say_goodbye().await;
                    return;
                }
                frame = self.stream.next() => {
                    let refused = match classify(frame) {
                        Incoming::Msg(ClientMsg::Send { body }) => match validate_body(&body) {
                            Ok(body) => {
                                membership.post(display_name, body);
                                None
                            }
                            Err(refusal) => Some(refusal),
                        },
                        Incoming::Msg(ClientMsg::Join { .. }) => Some((
                            ErrorCode::AlreadyJoined,
                            "This connection has joined the room already.".into(),
                        )),
                        Incoming::Refused(code, message) => Some((code, message)),
                        Incoming::Control => None,
                        Incoming::Closed => return,
                    };
                    if let Some((code, message)) = refused {
                        if self.writer.refuse(code, message).await.is_err() {
                            return;
                        }
                    }
                }
                event = membership.next_event() => {
                    let mut frames = vec![to_message(event)];
                    while frames.len() < WRITE_BATCH {
                        match membership.try_next_event() {
                            Some(event) => frames.push(to_message(event)),
                            None => break,
                        }
                    }
                    if self.writer.write(frames).await.is_err() {
                        return;
                    }
                }
            }
        }
    }

    async fn say_goodbye(&mut self) {
        if self.writer.send(&ServerMsg::ShuttingDown).await.is_ok() {
            self.writer.close(close_code::RESTART, "server restarting").await;
        }
    }
}

fn to_message(event: Event) -> Message {
    match event {
        Event::Frame(frame) => Message::Text(frame),
        Event::Lagged { missed } => {
            tracing::debug!(missed, "member lagged behind the room");
            Message::Text(ServerMsg::Lagged { missed }.to_json().into())
        }
    }
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
