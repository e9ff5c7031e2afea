//! The chat server: Leptos pages rendered by axum, and the room hub behind the
//! WebSocket route.

pub mod accounts;
pub mod admin;
pub mod api;
pub mod bus;
mod clock;
pub mod config;
pub mod config_file;
pub mod files;
pub mod http;
pub mod hub;
pub mod limits;
pub mod lists;
pub mod memory;
pub mod metrics;
pub mod moderation;
pub mod policy;
pub mod push;
pub mod retention;
pub mod search;
pub mod shutdown;
pub mod state;
pub mod store;
pub mod ws;

pub use http::{bind, router, serve, LISTEN_BACKLOG, SHUTDOWN_GRACE};
pub use state::AppState;
