//! Web Push subscriptions: the server functions a page calls to get the
//! server's public key and to hand in (or take back) its browser's push
//! subscription. The subscribing itself (service worker, push manager) is in
//! `room_list::notices`, loaded only when asked for.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What can go wrong with a subscription: a code the page renders in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum PushError {
    #[error("Sign in to be notified.")]
    SignInRequired,
    #[error("This browser's push subscription is not one the server can use.")]
    BadSubscription,
    #[error("You are changing notifications too fast. Wait a moment.")]
    RateLimited,
    #[error("Notifications are unavailable right now. Try again in a moment.")]
    Unavailable,
    #[error("Could not reach the server. Check your connection and try again.")]
    Unreachable,
}

impl PushError {
    pub fn code(self) -> &'static str {
        match self {
            PushError::SignInRequired => "sign_in_required",
            PushError::BadSubscription => "bad_subscription",
            PushError::RateLimited => "rate_limited",
            PushError::Unavailable => "unavailable",
            PushError::Unreachable => "unreachable",
        }
    }
}

crate::server_fns::server_fn_error!(PushError);

#[cfg(feature = "ssr")]
pub use service::{PushService, SharedPush};

#[cfg(feature = "ssr")]
mod service {
    use http::request::Parts;

    use super::PushError;
    use crate::account::Answer;

    /// The server's side, handed to Leptos as context.
    pub trait PushService: Send + Sync + 'static {
        /// The VAPID public key (base64url) browsers subscribe with.
        fn public_key(&self) -> Answer<Result<String, PushError>>;
        /// Keeps the request's person's browser subscription.
        fn subscribe(
            &self,
            request: &Parts,
            endpoint: String,
            p256dh: String,
            auth: String,
        ) -> Answer<Result<(), PushError>>;
        /// Forgets it.
        fn unsubscribe(&self, request: &Parts, endpoint: String) -> Answer<Result<(), PushError>>;
    }

    pub type SharedPush = std::sync::Arc<dyn PushService>;
}

#[cfg(feature = "ssr")]
fn context() -> Result<(SharedPush, http::request::Parts), PushError> {
    crate::server_fns::context(PushError::Unavailable)
}

/// The key a browser's push subscription is made with.
#[server(endpoint = "push-key")]
pub async fn push_key() -> Result<String, PushError> {
    let (push, _) = context()?;
    push.public_key().await
}

/// Keeps this browser's push subscription (`PushSubscription.toJSON()`'s
/// endpoint and keys) for the signed-in person.
#[server(endpoint = "push-subscribe")]
pub async fn push_subscribe(endpoint: String, p256dh: String, auth: String) -> Result<(), PushError> {
    let (push, parts) = context()?;
    push.subscribe(&parts, endpoint, p256dh, auth).await
}

/// Forgets this browser's push subscription.
#[server(endpoint = "push-unsubscribe")]
pub async fn push_unsubscribe(endpoint: String) -> Result<(), PushError> {
    let (push, parts) = context()?;
    push.unsubscribe(&parts, endpoint).await
}
