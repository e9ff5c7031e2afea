//! Pages of a room's stored messages, for the room page's first render and for
//! scrolling back.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::protocol::ChatMessage;
#[cfg(feature = "ssr")]
use crate::protocol::Seq;
#[cfg(feature = "ssr")]
use crate::room_name::RoomName;

/// Messages per page.
pub const HISTORY_PAGE: u32 = 50;
/// Most messages one request reads (a jump to a message far back asks for
/// everything down to it in pages this long, not fifty at a time).
pub const MAX_HISTORY_PAGE: u32 = 1_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPage {
    /// Oldest first.
    pub messages: Vec<ChatMessage>,
    /// The page reaches the room's first message: there is nothing older.
    pub at_start: bool,
}

/// Where the server reads history from; the server hands one to Leptos as context.
#[cfg(feature = "ssr")]
pub trait HistorySource: Send + Sync + 'static {
    /// Up to `limit` messages before `before` (or the newest), oldest first.
    fn page(
        &self,
        room: RoomName,
        before: Option<Seq>,
        limit: u32,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<ChatMessage>, String>> + Send>>;
}

#[cfg(feature = "ssr")]
pub type SharedHistory = std::sync::Arc<dyn HistorySource>;

/// The page of `room`'s messages before seq `before` (the newest page without
/// it): [`HISTORY_PAGE`] of them, or `limit` (at most [`MAX_HISTORY_PAGE`]).
#[server(endpoint = "history")]
pub async fn history(
    room: String,
    before: Option<u64>,
    #[server(default)] limit: Option<u32>,
) -> Result<HistoryPage, ServerFnError> {
    let limit = limit.unwrap_or(HISTORY_PAGE).clamp(1, MAX_HISTORY_PAGE);
    let room = RoomName::parse_key(&room).map_err(|e| ServerFnError::new(e.to_string()))?;
    // A direct conversation's history is its two people's only.
    crate::rooms::check_readable(&room).await.map_err(|e| ServerFnError::new(e.code()))?;
    let source =
        use_context::<SharedHistory>().ok_or_else(|| ServerFnError::new("the message history is not available"))?;
    let mut messages = source.page(room, before.map(Seq), limit + 1).await.map_err(ServerFnError::new)?;
    let at_start = messages.len() <= limit as usize;
    if !at_start {
        messages.remove(0);
    }
    Ok(HistoryPage { messages, at_start })
}
