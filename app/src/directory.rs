//! The lobby's list of rooms that have people in them right now.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::room_name::RoomName;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSummary {
    pub name: RoomName,
    pub members: usize,
}

/// Where the server keeps its rooms; the server hands one to Leptos as context.
#[cfg(feature = "ssr")]
pub trait RoomDirectory: Send + Sync + 'static {
    /// Rooms with at least one member, busiest first.
    fn active_rooms(&self) -> Vec<RoomSummary>;
}

#[cfg(feature = "ssr")]
pub type SharedDirectory = std::sync::Arc<dyn RoomDirectory>;

/// How many rooms the lobby lists at most.
pub const LOBBY_ROOM_LIMIT: usize = 50;

#[server]
pub async fn active_rooms() -> Result<Vec<RoomSummary>, ServerFnError> {
    let directory =
        use_context::<SharedDirectory>().ok_or_else(|| ServerFnError::new("the room directory is not available"))?;
    let mut rooms = directory.active_rooms();
    rooms.truncate(LOBBY_ROOM_LIMIT);
    Ok(rooms)
}
