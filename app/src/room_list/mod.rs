//! The room list beside the room (a drawer on a phone): the rooms this person
//! keeps, newest activity first, with unread and mention counts, live.

mod controls;
pub mod notices;
pub mod state;
mod view;

pub use state::RoomList;
pub use view::{RoomControls, RoomListNav};
