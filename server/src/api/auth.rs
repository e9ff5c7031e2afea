//! Who an API request comes from: the personal token in its `Authorization:
//! Bearer` header, found by its hash, live only while its account is. A
//! session cookie is never read here, so a page of another site cannot make a
//! visitor's browser call the API (and the Origin check does not apply).
//! Requests with bad tokens are limited per address; a string that is not a
//! token's shape is refused without a look-up.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::FromRequestParts;
use http::request::Parts;

use super::error::ApiError;
use super::secret::{hash_of, TOKEN_PREFIX};
use super::store::{IntegrationStore, Scopes};
use crate::limits::KeyedBuckets;
use crate::state::AppState;
use crate::store::Account;

/// A token's last use is written at most this often (ms).
const TOUCH_EVERY_MS: i64 = 60_000;

/// The API's share of the server: its store and its limits.
#[derive(Clone)]
pub struct Api {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn IntegrationStore>,
    bad_tokens: KeyedBuckets<IpAddr>,
}

impl Api {
    pub fn new(store: Arc<dyn IntegrationStore>, policy: &crate::policy::Policy) -> Self {
        let bad_tokens = KeyedBuckets::new(policy.guess_burst, policy.guesses_per_second);
        Api { inner: Arc::new(Inner { store, bad_tokens }) }
    }

    pub fn store(&self) -> &Arc<dyn IntegrationStore> {
        &self.inner.store
    }

    /// Refuses, before any look-up, a request from an address that has
    /// guessed too often of late (its guesses spent).
    pub fn guessing(&self, ip: IpAddr) -> Result<(), ApiError> {
        let network = crate::accounts::network_of(ip);
        let now = Instant::now();
        if self.inner.bad_tokens.tokens(&network, now) >= 1.0 {
            return Ok(());
        }
        // Spent: the wait is what one more guess would take.
        match self.inner.bad_tokens.take(&network, now) {
            Ok(()) => Ok(()),
            Err(wait) => Err(ApiError::TooManyAttempts { retry_after_ms: wait.as_millis().max(1) as u64 }),
        }
    }

    /// A request with a bad secret from `ip` (a token, or a webhook's
    /// address): refused, and too many of them are refused for a while.
    pub fn bad_secret(&self, ip: IpAddr, refusal: ApiError) -> ApiError {
        match self.inner.bad_tokens.take(&crate::accounts::network_of(ip), Instant::now()) {
            Ok(()) => refusal,
            Err(wait) => ApiError::TooManyAttempts { retry_after_ms: wait.as_millis().max(1) as u64 },
        }
    }

    /// Notes a use of token or webhook `id` last used at `last_used_at`, at most once a minute.
    pub async fn touch(&self, id: i64, webhook: bool, last_used_at: Option<i64>) {
        let now = crate::clock::now().0;
        if last_used_at.is_some_and(|at| now - at < TOUCH_EVERY_MS) {
            return;
        }
        if let Err(error) = self.inner.store.touch(id, webhook, now).await {
            tracing::warn!(%error, id, webhook, "noting an API secret's use failed");
        }
    }
}

/// The account an API request acts as, and what its token allows.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account: Account,
    pub scopes: Scopes,
}

impl Caller {
    pub fn may_read(&self) -> Result<(), ApiError> {
        if self.scopes.read {
            Ok(())
        } else {
            Err(ApiError::Forbidden("read"))
        }
    }

    pub fn may_post(&self) -> Result<(), ApiError> {
        if self.scopes.post {
            Ok(())
        } else {
            Err(ApiError::Forbidden("post"))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let ip = crate::http::client_ip(parts);
        let api = &state.api;
        api.guessing(ip)?;
        let Some(hash) = bearer(parts).and_then(|token| hash_of(token, TOKEN_PREFIX)) else {
            return Err(api.bad_secret(ip, ApiError::Unauthorized));
        };
        let Some((token, account)) = api.store().token(&hash).await? else {
            return Err(api.bad_secret(ip, ApiError::Unauthorized));
        };
        api.touch(token.id, false, token.last_used_at).await;
        state.seen.mark(account.id);
        Ok(Caller { account, scopes: token.scopes })
    }
}

/// The token of an `Authorization: Bearer …` header.
fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}
