//! The WebSocket layer's own limits, set on purpose rather than left at the
//! library's defaults (which reserve 128 KiB of read buffer per connection and
//! accept 64 MiB messages).

use axum::extract::WebSocketUpgrade;

/// Largest frame or message accepted. A body at the protocol's 4,000-character limit
/// is at most 16 KiB of UTF-8, 24 KiB once JSON-escaped; this leaves room for the
/// server to answer an over-long message with a clear error instead of dropping the
/// connection. Past this, the WebSocket layer drops the connection.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Read buffer per connection: chat frames are small; it grows for a large one
/// (read 512 bytes at a time: a message of 4,000 characters takes a few reads).
/// (1 KiB rather than 2 took 10,000 idle connections from 8.05 to 7.04 KiB each.)
pub const READ_BUFFER_BYTES: usize = 512;

/// Writes are gathered up to this much before they go to the socket.
pub const WRITE_BUFFER_BYTES: usize = 8 * 1024;

/// A connection whose unsent output exceeds this is failed rather than buffered
/// without bound (the room's broadcast buffer is where slow readers wait).
pub const MAX_WRITE_BUFFER_BYTES: usize = 256 * 1024;

pub fn apply(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .max_message_size(MAX_MESSAGE_BYTES)
}
