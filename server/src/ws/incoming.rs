//! What a frame from the client amounts to: a message of the protocol, a
//! refusal to send back, a control frame, or the end.

use std::fmt::Display;

use axum::extract::ws::Message;

use app::protocol::{decode_client, ChatError, ClientMsg};

/// What one incoming frame amounts to.
pub(super) enum Incoming {
    Msg(ClientMsg),
    Refused(ChatError),
    Control,
    Closed,
}

pub(super) fn classify<E: Display>(frame: Option<Result<Message, E>>) -> Incoming {
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
