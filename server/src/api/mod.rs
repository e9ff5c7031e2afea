//! The HTTP API for scripts and bots, and the incoming webhooks:
//!
//! - `GET /api/v1/rooms`, `GET|POST /api/v1/rooms/{room}/messages`, with a
//!   personal API token (`Authorization: Bearer chat_pat_…`) scoped to
//!   reading, posting or both, made and revoked on the account page;
//! - `POST /hooks/{secret}`: a room's incoming webhook, posting as its bot;
//! - `GET /api/v1/openapi.json`: the OpenAPI document of both.
//!
//! The author is always the token's account (or the webhook's bot), and every
//! post takes the path a member's does ([`crate::hub::Hub::submit`]): the same
//! checks, limits, moderation and writer.

mod auth;
mod error;
pub mod hooks;
mod messages;
pub mod openapi;
pub mod outgoing;
pub mod secret;
pub mod service;
pub mod store;
mod types;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

pub use auth::{Api, Caller};
pub use error::{ApiError, ErrorBody};

use crate::state::AppState;

/// Largest request body the API reads: a message of 4,000 characters in
/// JSON, with room to spare for Slack's shapes.
const MAX_BODY: usize = 64 * 1024;

/// Whether a path is the API's or a webhook's: requests there carry their own
/// secret, never a session cookie, so the Origin check does not apply. (The
/// pages' server functions, under `/api/` too, are not these: they are checked.)
pub fn is_api_path(path: &str) -> bool {
    path.starts_with("/api/v1/") || path.starts_with("/hooks/")
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/api/v1/rooms", get(messages::rooms))
        .route("/api/v1/rooms/{room}/messages", get(messages::history).post(messages::post))
        .route("/hooks/{secret}", post(hooks::incoming))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}
