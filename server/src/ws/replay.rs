//! What a member gets besides the live broadcast: the stored messages it
//! missed (after a reconnect, or after falling behind the room's buffer), each
//! once and in order.

use std::fmt::Display;

use axum::extract::ws::Message;
use futures::Sink;

use app::protocol::{ChatError, Seq, ServerMsg};
use app::room_name::RoomName;

use super::writer::{text, Gone, Writer, WRITE_BATCH};
use crate::hub::{Event, RoomEvent, SharedStore};

/// A client that missed more messages than this reloads the history instead.
pub const MAX_REPLAY: u32 = 1000;

/// Where a member's missed messages come from.
pub struct Replay<'a> {
    pub store: &'a SharedStore,
    pub room: &'a RoomName,
    /// The connection's account (none for a reader).
    pub account: Option<crate::store::AccountId>,
}

impl Replay<'_> {
    /// The frames one room event becomes for this client: nothing for a message it
    /// has already, and a catch-up from the store after it lagged behind the room.
    pub async fn frames_for<S>(
        &self,
        writer: &mut Writer<S>,
        event: Event,
        seen: &mut Seq,
        frames: &mut Vec<Message>,
    ) -> Result<(), Gone>
    where
        S: Sink<Message> + Unpin,
        S::Error: Display,
    {
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
            // Removed by a moderator: told, and closed (after what came before).
            // Boxed, as the lag's catch-up is.
            Event::Room(RoomEvent::Removed(account)) if self.account == Some(account) => {
                Box::pin(removed(writer, frames)).await
            }
            Event::Room(RoomEvent::Removed(_)) => Ok(()),
            // Rare, and a store read: boxed, so that every connection's waiting
            // state need not have room for it.
            Event::Lagged { missed } => Box::pin(self.after_lag(writer, missed, seen, frames)).await,
        }
    }

    async fn after_lag<S>(
        &self,
        writer: &mut Writer<S>,
        missed: u64,
        seen: &mut Seq,
        frames: &mut Vec<Message>,
    ) -> Result<(), Gone>
    where
        S: Sink<Message> + Unpin,
        S::Error: Display,
    {
        tracing::debug!(missed, "member lagged behind the room; catching up from the store");
        crate::metrics::METRICS.lag_catch_ups.inc();
        // What it missed may have been its own removal (told only live): the
        // store says.
        if let Some(account) = self.account {
            match self.store.standing(self.room, account, crate::clock::now()).await {
                Ok(standing) if standing.removed.is_some() => return removed(writer, frames).await,
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "reading whether a lagging member was removed failed"),
            }
        }
        // Whatever was gathered goes first, to keep the order.
        writer.write(std::mem::take(frames)).await?;
        *seen = self.catch_up(writer, *seen).await?;
        Ok(())
    }

    /// Sends the stored messages after `since`, or a history gap when there are too
    /// many. Returns the newest seq the client has now.
    pub async fn catch_up<S>(&self, writer: &mut Writer<S>, since: Seq) -> Result<Seq, Gone>
    where
        S: Sink<Message> + Unpin,
        S::Error: Display,
    {
        let missed = match self.store.after(self.room, since, MAX_REPLAY + 1).await {
            Ok(missed) => missed,
            Err(error) => {
                tracing::error!(%error, "reading missed messages failed");
                writer.refuse(ChatError::StoreUnavailable).await?;
                return Ok(since);
            }
        };
        if missed.len() > MAX_REPLAY as usize {
            let latest = match self.store.last_seq(self.room).await {
                Ok(latest) => latest,
                Err(_) => missed.last().and_then(ServerMsg::event_seq).unwrap_or(since),
            };
            writer.send(&ServerMsg::HistoryGap { latest }).await?;
            return Ok(latest);
        }
        let seen = missed.last().and_then(ServerMsg::event_seq).unwrap_or(since);
        let frames: Vec<Message> = missed.iter().map(text).collect();
        for chunk in frames.chunks(WRITE_BATCH) {
            writer.write(chunk.to_vec()).await?;
        }
        Ok(seen)
    }
}

/// Tells a removed member why, after what it was owed, and closes.
async fn removed<S>(writer: &mut Writer<S>, frames: &mut Vec<Message>) -> Result<(), Gone>
where
    S: Sink<Message> + Unpin,
    S::Error: Display,
{
    frames.push(text(&ServerMsg::error(ChatError::Removed)));
    writer.write(std::mem::take(frames)).await?;
    writer.close(axum::extract::ws::close_code::POLICY, "removed from the room").await;
    Err(Gone)
}
