//! The writing half of a connection: frames go out in batches with one flush,
//! and a client that cannot take a batch in time is given up on, so a stuck
//! reader costs the room nothing.

use std::fmt::Display;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use futures::{Sink, SinkExt};

use app::protocol::{ChatError, ClientMsgId, ServerMsg};

/// A connection that cannot take a batch of frames within this time is closed.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// At most this many queued events go out in one write.
pub const WRITE_BATCH: usize = 64;

/// The connection went away, or could not be written to in time.
#[derive(Debug)]
pub struct Gone;

pub struct Writer<S> {
    sink: S,
}

impl<S> Writer<S>
where
    S: Sink<Message> + Unpin,
    S::Error: Display,
{
    pub fn new(sink: S) -> Self {
        Writer { sink }
    }

    pub async fn send(&mut self, msg: &ServerMsg) -> Result<(), Gone> {
        self.write(vec![text(msg)]).await
    }

    /// Refuses a frame that names no message.
    pub async fn refuse(&mut self, error: ChatError) -> Result<(), Gone> {
        tracing::debug!(code = error.code(), "refused a frame");
        self.send(&ServerMsg::error(error)).await
    }

    /// Refuses the message the client sent as `id`.
    pub async fn refuse_message(&mut self, id: ClientMsgId, error: ChatError) -> Result<(), Gone> {
        tracing::debug!(code = error.code(), "refused a message");
        self.send(&ServerMsg::message_error(id, error)).await
    }

    pub async fn write(&mut self, frames: Vec<Message>) -> Result<(), Gone> {
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

    pub async fn close(&mut self, code: u16, reason: &'static str) {
        let frame = Message::Close(Some(CloseFrame { code, reason: Utf8Bytes::from_static(reason) }));
        // The peer may be gone already; there is nobody left to tell.
        if self.write(vec![frame]).await.is_err() {
            tracing::trace!("close frame not delivered");
        }
    }
}

pub fn text(msg: &ServerMsg) -> Message {
    Message::Text(msg.to_json().into())
}
