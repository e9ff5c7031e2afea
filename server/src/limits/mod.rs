//! How much one account, address or connection may hold or do at once: the
//! counters and buckets behind the limits in [`crate::policy`], used by the
//! listener (TCP connections per address), the WebSocket route (sockets per
//! account and address), the accounts (attempts) and the hub's posting checks
//! (messages per account); with a bus, over every process (`shared`).

mod caps;
mod peers;
pub mod rate;
pub mod shared;

pub use caps::{CapError, ConnectionCaps, ConnectionSlot};
pub use peers::{PeerCaps, PeerSlot};
pub use rate::KeyedBuckets;
pub use shared::SharedLimits;
