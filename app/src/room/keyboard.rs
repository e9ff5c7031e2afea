//! The room's keyboard shortcuts: Alt+Up and Alt+Down open the previous and
//! next room of the list, Esc marks the open room read.

use leptos::prelude::*;

use super::state::RoomState;
use crate::protocol::Seq;
use crate::room_list::RoomList;
use crate::room_name::RoomName;

/// Listens while the room is open (browser only).
pub fn shortcuts(room: RoomName, list: RoomList, state: RoomState, seen: Callback<Seq>) {
    #[cfg(feature = "hydrate")]
    {
        let navigate = leptos_router::hooks::use_navigate();
        let handle = window_event_listener(leptos::ev::keydown, move |event| {
            if event.default_prevented() {
                return;
            }
            match (event.key().as_str(), event.alt_key()) {
                ("ArrowUp" | "ArrowDown", true) => {
                    let up = event.key() == "ArrowUp";
                    if let Some(next) = neighbour(&list, &room, up) {
                        event.prevent_default();
                        navigate(&next, Default::default());
                    }
                }
                ("Escape", false) => {
                    let newest = state.newest();
                    if newest.0 > 0 {
                        seen.run(newest);
                    }
                }
                _ => {}
            }
        });
        on_cleanup(move || handle.remove());
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (room, list, state, seen);
}

/// The room above (or below) `room` in the list, wrapping around.
#[cfg(feature = "hydrate")]
/// The address of the room above or below this one in the list.
fn neighbour(list: &RoomList, room: &RoomName, up: bool) -> Option<String> {
    list.entries.with_untracked(|entries| {
        if entries.is_empty() {
            return None;
        }
        let n = entries.len();
        let next = match entries.iter().position(|e| &e.room == room) {
            Some(at) if up => (at + n - 1) % n,
            Some(at) => (at + 1) % n,
            None => 0,
        };
        Some(&entries[next]).filter(|e| &e.room != room).map(|e| e.path())
    })
}
