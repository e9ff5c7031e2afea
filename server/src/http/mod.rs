//! Everything HTTP: the listener and its per-connection limits, the routes,
//! who a request comes from, which origins may write, and the security headers
//! on every response.

pub mod assets;
mod client;
mod headers;
pub mod health;
mod message_form;
pub mod origin;
mod routes;
mod serve;

pub use client::{client_ip, ClientIp};
pub use headers::CSP;
pub use routes::router;
pub use serve::{bind, serve, LISTEN_BACKLOG, SHUTDOWN_GRACE};
