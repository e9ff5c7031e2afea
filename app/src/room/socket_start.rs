//! How the room page's WebSocket starts: its address, its join frame, and the
//! socket a small script opened before the WebAssembly arrived.
//!
//! On a page the server sent, the socket's handshake and the join's answer
//! (about 0.6 s on a slow mobile link) would otherwise wait for the WebAssembly
//! to download and hydrate. `socket_start.js`, inline at the end of every page
//! (with the response's nonce), opens the socket as soon as the HTML is read,
//! sends the join the room's message list names in its `data-join` attribute,
//! and keeps what the server says. The connection takes that socket over and
//! applies the kept frames first, as if they had just come (see
//! [`take_early`]). It is hand-written JavaScript because it must run before
//! any of the WebAssembly exists; it is kept to what the hand-over needs.
//!
//! Nothing depends on it: without it (no script, a socket already closed, a
//! different join because the page moved on) the connection opens its own
//! socket and joins from the same place, and resuming by seq makes that exact.

use crate::protocol::{ClientMsg, PROTOCOL_VERSION};
use crate::room::state::RoomState;
use crate::room_name::RoomName;

/// The script, for the page's shell.
pub const SCRIPT: &str = include_str!("socket_start.js");

/// The room's socket, as a path on this site.
pub fn path(room: &RoomName) -> String {
    format!("/ws/chat/{room}")
}

/// The frame that joins the room, resuming after what the page has.
pub fn join(state: &RoomState) -> ClientMsg {
    ClientMsg::Join { version: PROTOCOL_VERSION, since: state.last_seq() }
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// Defined by `socket_start.js`: the socket it opened for `path` and joined
    /// with `join`, then the frames it kept; `null` when there is none.
    #[wasm_bindgen(catch, js_name = chatEarlySocket)]
    fn early_socket(path: &str, join: &str) -> Result<Option<js_sys::Array>, wasm_bindgen::JsValue>;
}

/// The socket the page's script opened for `path` and joined with `join`, and
/// what the server has said on it so far. Once: later calls get `None`, as does
/// a page whose script did not run.
#[cfg(feature = "hydrate")]
pub fn take_early(path: &str, join: &str) -> Option<(web_sys::WebSocket, Vec<String>)> {
    use wasm_bindgen::JsCast;
    // An error is the page without the script (a ReferenceError): no socket.
    let taken = early_socket(path, join).ok().flatten()?;
    let socket = taken.get(0).dyn_into::<web_sys::WebSocket>().ok()?;
    let frames = taken.iter().skip(1).filter_map(|frame| frame.as_string()).collect();
    Some((socket, frames))
}
