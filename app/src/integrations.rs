//! Scripts and bots, as their owner manages them on the account page
//! (`/account`): personal API tokens (made, listed, revoked; the secret shown
//! once) and the incoming webhooks of rooms one owns (each posting as a named
//! bot). The HTTP API itself is the server's (`/api/v1`).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Why a request of the account page was refused: a code the page renders in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationError {
    #[error("Sign in to manage your tokens and webhooks.")]
    SignInRequired,
    #[error("Give it a name of 1 to 60 characters.")]
    BadName,
    #[error("A token needs to read, to post, or both.")]
    NoScope,
    #[error("You have as many as you may; revoke or delete some first.")]
    TooMany,
    #[error("That is not a room's name.")]
    BadRoomName,
    #[error("Only the room's owner can add webhooks to it.")]
    NotOwner,
    #[error("That username is taken by a person or someone else's bot.")]
    BotTaken,
    #[error("A bot's username is 3 to 32 characters: lowercase letters, digits, '-' and '_'.")]
    BadBotName,
    #[error("A bot's address is an http:// or https:// URL of at most 1,024 characters.")]
    BadUrl,
    #[error("There is no such token or webhook (it may be gone already).")]
    NotFound,
    #[error("That is unavailable right now. Try again in a moment.")]
    Unavailable,
    #[error("Could not reach the server. Check your connection and try again.")]
    Unreachable,
}

impl IntegrationError {
    pub fn code(self) -> &'static str {
        match self {
            IntegrationError::SignInRequired => "sign_in_required",
            IntegrationError::BadName => "bad_name",
            IntegrationError::NoScope => "no_scope",
            IntegrationError::TooMany => "too_many",
            IntegrationError::BadRoomName => "bad_room_name",
            IntegrationError::NotOwner => "not_owner",
            IntegrationError::BotTaken => "bot_taken",
            IntegrationError::BadBotName => "bad_bot_name",
            IntegrationError::BadUrl => "bad_url",
            IntegrationError::NotFound => "not_found",
            IntegrationError::Unavailable => "unavailable",
            IntegrationError::Unreachable => "unreachable",
        }
    }
}

crate::server_fns::server_fn_error!(IntegrationError);

/// Sets the response's status for a refusal (the page renders its words).
#[cfg(feature = "ssr")]
fn refused<T>(done: Result<T, IntegrationError>) -> Result<T, IntegrationError> {
    if let Err(error) = &done {
        crate::pages::set_status(match error {
            IntegrationError::SignInRequired => 401,
            IntegrationError::NotOwner | IntegrationError::BotTaken => 403,
            IntegrationError::NotFound => 404,
            IntegrationError::Unavailable | IntegrationError::Unreachable => 503,
            _ => 400,
        });
    }
    done
}

/// Longest name of a token.
pub const MAX_TOKEN_NAME_CHARS: usize = 60;

/// A token as its owner's list shows it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    pub id: i64,
    pub name: String,
    /// The secret's first characters.
    pub prefix: String,
    pub read: bool,
    pub post: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// An incoming webhook as its maker's list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookView {
    pub id: i64,
    pub room: String,
    pub bot_username: String,
    pub bot_name: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// A bot of one's own, and where it is told of mentions and direct messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotView {
    pub username: String,
    pub name: String,
    pub url: Option<String>,
    /// What its POSTs are signed with (`X-Chat-Signature`), once it has an address.
    pub signing_secret: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Integrations {
    pub tokens: Vec<TokenView>,
    pub webhooks: Vec<WebhookView>,
    pub bots: Vec<BotView>,
}

/// A secret just made, shown this once: a token, or a webhook's address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    pub name: String,
    pub secret: String,
}

#[cfg(feature = "ssr")]
pub use service::{IntegrationService, SharedIntegrations};

#[cfg(feature = "ssr")]
mod service {
    use http::request::Parts;

    use super::{Created, IntegrationError, Integrations};
    use crate::account::Answer;

    /// The server's tokens and webhooks, handed to Leptos as context; the
    /// request's session says whose.
    pub trait IntegrationService: Send + Sync + 'static {
        fn list(&self, request: &Parts) -> Answer<Result<Integrations, IntegrationError>>;
        fn create_token(
            &self,
            request: &Parts,
            name: String,
            read: bool,
            post: bool,
        ) -> Answer<Result<Created, IntegrationError>>;
        fn revoke_token(&self, request: &Parts, id: i64) -> Answer<Result<(), IntegrationError>>;
        fn create_webhook(
            &self,
            request: &Parts,
            room: String,
            bot: String,
            bot_name: String,
        ) -> Answer<Result<Created, IntegrationError>>;
        fn delete_webhook(&self, request: &Parts, id: i64) -> Answer<Result<(), IntegrationError>>;
        /// Deletes one's bot `bot` (its webhooks too).
        fn delete_bot(&self, request: &Parts, bot: String) -> Answer<Result<(), IntegrationError>>;
        /// Gives one's bot `bot` a new signing secret.
        fn new_bot_secret(&self, request: &Parts, bot: String) -> Answer<Result<(), IntegrationError>>;
        /// Makes the bot `bot` (or finds one's own) and sets its address (`""`: none).
        fn save_bot(
            &self,
            request: &Parts,
            bot: String,
            bot_name: String,
            url: String,
        ) -> Answer<Result<(), IntegrationError>>;
    }

    pub type SharedIntegrations = std::sync::Arc<dyn IntegrationService>;
}

/// The signed-in person's tokens and webhooks.
#[server(endpoint = "integrations")]
pub async fn my_integrations() -> Result<Integrations, IntegrationError> {
    let (service, parts) = crate::server_fns::context::<SharedIntegrations, _>(IntegrationError::Unavailable)?;
    refused(service.list(&parts).await)
}

/// Makes a token; `read` and `post` are checkboxes ("on" when ticked).
#[server(endpoint = "create-token")]
pub async fn create_token(
    name: String,
    #[server(default)] read: String,
    #[server(default)] post: String,
) -> Result<Created, IntegrationError> {
    let (service, parts) = crate::server_fns::context::<SharedIntegrations, _>(IntegrationError::Unavailable)?;
    refused(service.create_token(&parts, name, !read.is_empty(), !post.is_empty()).await)
}

#[server(endpoint = "revoke-token")]
pub async fn revoke_token(id: i64) -> Result<(), IntegrationError> {
    let (service, parts) = crate::server_fns::context::<SharedIntegrations, _>(IntegrationError::Unavailable)?;
    refused(service.revoke_token(&parts, id).await)
}

/// Makes an incoming webhook of `room` posting as the bot `bot` (made, named
/// `bot_name`, if the caller has no bot of that username yet).
#[server(endpoint = "create-webhook")]
pub async fn create_webhook(
    room: String,
    bot: String,
    #[server(default)] bot_name: String,
) -> Result<Created, IntegrationError> {
    let (service, parts) = crate::server_fns::context::<SharedIntegrations, _>(IntegrationError::Unavailable)?;
    refused(service.create_webhook(&parts, room, bot, bot_name).await)
}

#[server(endpoint = "delete-webhook")]
pub async fn delete_webhook(id: i64) -> Result<(), IntegrationError> {
    let (service, parts) = crate::server_fns::context::<SharedIntegrations, _>(IntegrationError::Unavailable)?;
    refused(service.delete_webhook(&parts, id).await)
}

/// Makes the bot `bot` (named `bot_name`) if the caller has none of that
/// username, and sets where it is told of mentions and direct messages
/// (`url`; empty: nowhere).
#[server(endpoint = "save-bot")]
pub async fn save_bot(
    bot: String,
    #[server(default)] bot_name: String,
    #[server(default)] url: String,
) -> Result<(), IntegrationError> {
    let (service, parts) = crate::server_fns::context::<SharedIntegrations, _>(IntegrationError::Unavailable)?;
    refused(service.save_bot(&parts, bot, bot_name, url).await)
}

/// Deletes one's bot `bot`: it is told nothing more, its webhooks go, its
/// messages stay.
#[server(endpoint = "delete-bot")]
pub async fn delete_bot(bot: String) -> Result<(), IntegrationError> {
    let (service, parts) = crate::server_fns::context::<SharedIntegrations, _>(IntegrationError::Unavailable)?;
    refused(service.delete_bot(&parts, bot).await)
}

/// Gives one's bot `bot` a new signing secret (the old one stops at once).
#[server(endpoint = "new-bot-secret")]
pub async fn new_bot_secret(bot: String) -> Result<(), IntegrationError> {
    let (service, parts) = crate::server_fns::context::<SharedIntegrations, _>(IntegrationError::Unavailable)?;
    refused(service.new_bot_secret(&parts, bot).await)
}
