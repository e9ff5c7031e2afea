//! Accounts and sessions: sign-up, sign-in, sign-out, and finding the session
//! behind a request. Also the attempt limits that keep password guessing slow and
//! the registry that lets a sign-out close that session's sockets.

mod password;
mod sockets;
mod token;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use app::account::{
    check_password, parse_username, AccountError, AccountService, Answer, NewAccount, Viewer,
};
use app::display_name::parse_display_name;
use axum::extract::ConnectInfo;
use http::request::Parts;
use http::HeaderMap;

use crate::policy::Policy;
use crate::rate::KeyedBuckets;
use crate::store::{Account, AccountStore};

pub use sockets::{SessionSockets, SocketRegistration};
pub use token::{clearing_cookie, is_https, SessionKey, SessionToken, COOKIE_NAME};

pub type SharedAccountStore = Arc<dyn AccountStore>;

/// A request's live session.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub key: SessionKey,
    pub account: Account,
    /// Milliseconds since the epoch.
    pub expires_at: i64,
}

#[derive(Clone)]
pub struct Accounts {
    inner: Arc<Inner>,
}

struct Inner {
    store: SharedAccountStore,
    policy: Policy,
    sockets: SessionSockets,
    attempts_by_ip: KeyedBuckets<IpAddr>,
    attempts_by_username: KeyedBuckets<String>,
}

impl Accounts {
    pub fn new(store: SharedAccountStore, policy: Policy) -> Self {
        Accounts {
            inner: Arc::new(Inner {
                store,
                attempts_by_ip: KeyedBuckets::new(policy.attempts_burst, policy.attempts_per_minute / 60.0),
                attempts_by_username: KeyedBuckets::new(
                    policy.attempts_per_username_burst,
                    policy.attempts_per_username_per_minute / 60.0,
                ),
                policy,
                sockets: SessionSockets::default(),
            }),
        }
    }

    pub fn sockets(&self) -> &SessionSockets {
        &self.inner.sockets
    }

    /// Creates an account and signs it in.
    pub async fn sign_up(&self, ip: IpAddr, form: NewAccount) -> Result<(SessionToken, Account), AccountError> {
        self.attempt(ip, None)?;
        let username = parse_username(&form.username)?;
        let display_name = parse_display_name(&form.display_name).map_err(|_| AccountError::InvalidDisplayName)?;
        check_password(&username, &form.password)?;
        let hash = password::hash(form.password).await.map_err(unavailable)?;
        let account = self
            .inner
            .store
            .create_account(&username, &display_name, &hash, now_ms())
            .await
            .map_err(unavailable)?
            .ok_or(AccountError::UsernameTaken)?;
        tracing::info!(account = account.id.0, %ip, "account created");
        let token = self.start_session(&account).await?;
        Ok((token, account))
    }

    /// Checks the password and starts a session. Unknown name and wrong password
    /// are one error, and cost the same time.
    pub async fn sign_in(&self, ip: IpAddr, username: &str, password: &str) -> Result<(SessionToken, Account), AccountError> {
        let username = username.trim().to_lowercase();
        self.attempt(ip, Some(&username))?;
        let credentials = match parse_username(&username) {
            Ok(name) => self.inner.store.credentials(&name).await.map_err(unavailable)?,
            Err(_) => None,
        };
        let (account, stored) = match credentials {
            Some(c) => (Some(c.account), Some(c.password_hash)),
            None => (None, None),
        };
        let matches = password::verify(password.to_owned(), stored).await.map_err(unavailable)?;
        match account {
            Some(account) if matches => {
                tracing::info!(account = account.id.0, %ip, "signed in");
                let token = self.start_session(&account).await?;
                Ok((token, account))
            }
            _ => {
                tracing::info!(%ip, "sign-in refused: no such username and password");
                Err(AccountError::Mismatch)
            }
        }
    }

    /// Ends the session: deleted from the store, its sockets closed.
    pub async fn sign_out(&self, token: &SessionToken) {
        let key = token.key();
        if let Err(error) = self.inner.store.delete_session(&key.0).await {
            tracing::error!(%error, "deleting a session failed");
        }
        self.inner.sockets.end(&key);
    }

    /// The live session the token belongs to, if any.
    pub async fn session(&self, token: &SessionToken) -> Option<SignedIn> {
        let key = token.key();
        match self.inner.store.session(&key.0, now_ms()).await {
            Ok(record) => record.map(|record| SignedIn { key, account: record.account, expires_at: record.expires_at }),
            Err(error) => {
                tracing::error!(%error, "reading a session failed");
                None
            }
        }
    }

    /// The live session of a request's cookie, if any.
    pub async fn session_of(&self, headers: &HeaderMap) -> Option<SignedIn> {
        let token = SessionToken::from_headers(headers)?;
        self.session(&token).await
    }

    fn attempt(&self, ip: IpAddr, username: Option<&str>) -> Result<(), AccountError> {
        let now = Instant::now();
        // The address first: a refused address does not use up the name's allowance.
        let allowed = self.inner.attempts_by_ip.take(&ip, now).is_ok()
            && username.is_none_or(|name| self.inner.attempts_by_username.take(&name.to_owned(), now).is_ok());
        if !allowed {
            tracing::warn!(%ip, "account attempts rate-limited");
            return Err(AccountError::TooManyAttempts);
        }
        Ok(())
    }

    async fn start_session(&self, account: &Account) -> Result<SessionToken, AccountError> {
        let token = SessionToken::generate().map_err(unavailable)?;
        let now = now_ms();
        let expires_at = now.saturating_add(self.inner.policy.session_ttl.as_millis() as i64);
        self.inner
            .store
            .create_session(&token.key().0, account.id, now, expires_at)
            .await
            .map_err(unavailable)?;
        // Old sessions go when new ones come, so the table holds live ones only.
        if let Err(error) = self.inner.store.delete_expired_sessions(now).await {
            tracing::warn!(%error, "removing expired sessions failed");
        }
        Ok(token)
    }

    fn cookie_for(&self, token: &SessionToken, headers: &HeaderMap) -> String {
        token.cookie(self.inner.policy.session_ttl.as_secs(), is_https(headers))
    }
}

impl AccountService for Accounts {
    fn sign_up(&self, request: &Parts, form: NewAccount) -> Answer<Result<String, AccountError>> {
        let (accounts, ip, headers) = (self.clone(), client_ip(request), request.headers.clone());
        Box::pin(async move {
            let (token, _) = Accounts::sign_up(&accounts, ip, form).await?;
            Ok(accounts.cookie_for(&token, &headers))
        })
    }

    fn sign_in(&self, request: &Parts, username: String, password: String) -> Answer<Result<String, AccountError>> {
        let (accounts, ip, headers) = (self.clone(), client_ip(request), request.headers.clone());
        Box::pin(async move {
            let (token, _) = Accounts::sign_in(&accounts, ip, &username, &password).await?;
            Ok(accounts.cookie_for(&token, &headers))
        })
    }

    fn sign_out(&self, request: &Parts) -> Answer<String> {
        let (accounts, headers) = (self.clone(), request.headers.clone());
        Box::pin(async move {
            if let Some(token) = SessionToken::from_headers(&headers) {
                Accounts::sign_out(&accounts, &token).await;
            }
            clearing_cookie(is_https(&headers))
        })
    }

    fn viewer(&self, request: &Parts) -> Answer<Option<Viewer>> {
        let (accounts, headers) = (self.clone(), request.headers.clone());
        Box::pin(async move {
            accounts.session_of(&headers).await.map(|signed_in| Viewer {
                username: signed_in.account.username,
                display_name: signed_in.account.display_name,
            })
        })
    }
}

/// The address the request came from (the peer of the TCP connection).
pub fn client_ip(request: &Parts) -> IpAddr {
    request
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip())
}

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn unavailable(error: impl std::fmt::Display) -> AccountError {
    tracing::error!(%error, "accounts unavailable");
    AccountError::Unavailable
}

#[cfg(test)]
mod tests;
