//! Accounts and sessions: sign-up, sign-in, sign-out, and finding the session
//! behind a request. Also the attempt limits that keep password guessing slow and
//! the registry that lets a sign-out close that session's sockets.

mod cache;
mod password;
mod sockets;
mod token;

use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use app::account::{
    check_password, parse_username, AccountError, AccountService, Answer, NewAccount, Viewer, MAX_PASSWORD_CHARS,
};
use app::display_name::parse_display_name;
use http::request::Parts;
use http::HeaderMap;

use crate::http::client_ip;
use crate::limits::KeyedBuckets;
use crate::policy::Policy;
use crate::store::{Account, AccountId, AccountStore};

pub(crate) use password::DUMMY_HASH;
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
    /// Per username and address: guessing one person's password is slow, yet
    /// nobody elsewhere can lock that person out.
    attempts_by_username: KeyedBuckets<(String, IpAddr)>,
    /// Password hashes under way at once: each takes ~19 MiB and tens of ms of
    /// a core, so a crowd of sign-ins waits here instead of exhausting the machine.
    hashing: Arc<tokio::sync::Semaphore>,
    /// When expired sessions were last swept away (ms since the epoch).
    last_sweep: AtomicI64,
    /// Sessions read lately, so each request does not read them again.
    cache: cache::SessionCache,
    /// With other processes: tells them of a session that ended here (they
    /// forget it and close its sockets: [`Accounts::ended_elsewhere`]).
    tell_ended: std::sync::OnceLock<TellEnded>,
}

/// With other processes: how long a session read from the store is trusted
/// before it is read again (a sign-out the bus lost takes effect within it).
const SESSION_RECHECK_MS: i64 = 30_000;

/// Told the hash of a session's token that ended here.
pub type TellEnded = Arc<dyn Fn(&str) + Send + Sync>;

/// Expired sessions are removed at most this often (each sweep is a write that
/// waits in line with the messages' commits).
const SWEEP_EVERY_MS: i64 = 10 * 60 * 1000;

/// How long a sign-in or sign-up waits for a turn at hashing before it is told
/// to come back later.
const HASHING_PATIENCE: std::time::Duration = std::time::Duration::from_secs(3);

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
                hashing: Arc::new(tokio::sync::Semaphore::new(
                    std::thread::available_parallelism().map_or(2, |n| n.get() * 2),
                )),
                last_sweep: AtomicI64::new(0),
                cache: cache::SessionCache::default(),
                tell_ended: std::sync::OnceLock::new(),
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
        let _turn = self.hashing_turn().await?;
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
    pub async fn sign_in(
        &self,
        ip: IpAddr,
        username: &str,
        password: &str,
    ) -> Result<(SessionToken, Account), AccountError> {
        self.attempt(ip, None)?;
        // The username rule is public: a name that breaks it, or a password longer
        // than any account's, cannot match, and costs no hashing.
        let Ok(username) = parse_username(username) else {
            return Err(AccountError::Mismatch);
        };
        if password.chars().count() > MAX_PASSWORD_CHARS {
            return Err(AccountError::Mismatch);
        }
        self.attempt(ip, Some(&username))?;
        let (account, stored) = match self.inner.store.credentials(&username).await.map_err(unavailable)? {
            Some(c) => (Some(c.account), Some(c.password_hash)),
            None => (None, None),
        };
        let _turn = self.hashing_turn().await?;
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

    /// The account with this username (as typed: compared lower-cased).
    pub async fn find(&self, username: &str) -> Result<Option<Account>, AccountError> {
        self.inner.store.account_named(&username.trim().to_lowercase()).await.map_err(unavailable)
    }

    pub async fn by_id(&self, id: AccountId) -> Result<Option<Account>, AccountError> {
        self.inner.store.account_by_id(id).await.map_err(unavailable)
    }

    /// Ends the session: deleted from the store, its sockets closed.
    pub async fn sign_out(&self, token: &SessionToken) -> Result<(), AccountError> {
        let key = token.key();
        // The row first: a closed socket makes its page reload at once, and that
        // page must find the session gone (it was found still there, now and
        // then, when the sockets were ended first). A socket that opens while
        // the row is deleted is registered before its session is read, so this
        // one pass ends it too.
        self.inner.store.delete_session(&key.0).await.map_err(unavailable)?;
        // Forgotten before the sockets end: one that opens from here on reads
        // the store and finds no session.
        self.inner.cache.forget(&key.0);
        self.inner.sockets.end(&key);
        self.tell_ended(&key.0);
        Ok(())
    }

    /// Several processes: `tell` is how this one tells the others of a
    /// session that ended here.
    pub fn tell_ended_with(&self, tell: TellEnded) {
        // The bus may lose a sign-out: sessions are read again every half minute.
        self.inner.cache.keep_for(SESSION_RECHECK_MS);
        if self.inner.tell_ended.set(tell).is_err() {
            tracing::warn!("sign-outs were given a second way to other processes; the first stays");
        }
    }

    /// A session (by the hash of its token) ended in another process: forgotten
    /// here, and its sockets here closed.
    pub fn ended_elsewhere(&self, hash: &str) {
        self.inner.cache.forget(hash);
        self.inner.sockets.end(&SessionKey(hash.to_owned()));
    }

    fn tell_ended(&self, hash: &str) {
        if let Some(tell) = self.inner.tell_ended.get() {
            tell(hash);
        }
    }

    /// Deactivates the account: it cannot sign in again, and every session of
    /// it ends, its sockets closed (each page reloads as a signed-out reader).
    pub async fn deactivate(&self, account: AccountId) -> Result<(), AccountError> {
        let ended = self.inner.store.deactivate(account, now_ms()).await.map_err(unavailable)?;
        for hash in ended {
            self.inner.cache.forget(&hash);
            self.tell_ended(&hash);
            self.inner.sockets.end(&SessionKey(hash));
        }
        tracing::info!(account = account.0, "account deactivated");
        Ok(())
    }

    /// The store the accounts are kept in.
    pub fn store(&self) -> &SharedAccountStore {
        &self.inner.store
    }

    /// The live session the token belongs to, if any.
    /// A store that cannot be read is an error, never "signed out".
    pub async fn session(&self, token: &SessionToken) -> Result<Option<SignedIn>, AccountError> {
        let key = token.key();
        let now = now_ms();
        if let Some((account, expires_at)) = self.inner.cache.get(&key.0, now) {
            return Ok(Some(SignedIn { key, account, expires_at }));
        }
        let record = self.inner.store.session(&key.0, now).await.map_err(unavailable)?;
        Ok(record.map(|record| {
            self.inner.cache.put(&key.0, &record.account, record.expires_at, now);
            SignedIn { key, account: record.account, expires_at: record.expires_at }
        }))
    }

    /// The live session of a request's cookie, if any.
    pub async fn session_of(&self, headers: &HeaderMap) -> Result<Option<SignedIn>, AccountError> {
        match SessionToken::from_headers(headers) {
            Some(token) => self.session(&token).await,
            None => Ok(None),
        }
    }

    /// Takes an attempt from the address's allowance (`username: None`), or from
    /// the allowance for that username from that address.
    fn attempt(&self, ip: IpAddr, username: Option<&str>) -> Result<(), AccountError> {
        let now = Instant::now();
        let network = network_of(ip);
        let allowed = match username {
            None => self.inner.attempts_by_ip.take(&network, now).is_ok(),
            Some(name) => self.inner.attempts_by_username.take(&(name.to_owned(), network), now).is_ok(),
        };
        if !allowed {
            tracing::warn!(%ip, "account attempts rate-limited");
            return Err(AccountError::TooManyAttempts);
        }
        Ok(())
    }

    async fn hashing_turn(&self) -> Result<tokio::sync::OwnedSemaphorePermit, AccountError> {
        let turn = self.inner.hashing.clone().acquire_owned();
        match tokio::time::timeout(HASHING_PATIENCE, turn).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(AccountError::Unavailable),
            Err(_) => {
                tracing::warn!("password hashing saturated; turning a request away");
                Err(AccountError::TooManyAttempts)
            }
        }
    }

    async fn start_session(&self, account: &Account) -> Result<SessionToken, AccountError> {
        let token = SessionToken::generate().map_err(unavailable)?;
        let now = now_ms();
        let expires_at = now.saturating_add(self.inner.policy.session_ttl.as_millis() as i64);
        self.inner.store.create_session(&token.key().0, account.id, now, expires_at).await.map_err(unavailable)?;
        // The page it signs in to, and its socket, use it next.
        self.inner.cache.put(&token.key().0, account, expires_at, now);
        // Old sessions go as new ones come (now and then), so the table holds
        // live ones only; one sign-in among many does the sweep.
        let last = self.inner.last_sweep.load(Ordering::Relaxed);
        if now - last >= SWEEP_EVERY_MS
            && self.inner.last_sweep.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            if let Err(error) = self.inner.store.delete_expired_sessions(now).await {
                tracing::warn!(%error, "removing expired sessions failed");
            }
        }
        Ok(token)
    }

    /// A browser signing in again leaves its previous session behind: end it.
    async fn replace_session_of(&self, headers: &HeaderMap) {
        if let Some(previous) = SessionToken::from_headers(headers) {
            if let Err(error) = self.sign_out(&previous).await {
                tracing::warn!(%error, "could not end the session a sign-in replaces");
            }
        }
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
            accounts.replace_session_of(&headers).await;
            Ok(accounts.cookie_for(&token, &headers))
        })
    }

    fn sign_in(&self, request: &Parts, username: String, password: String) -> Answer<Result<String, AccountError>> {
        let (accounts, ip, headers) = (self.clone(), client_ip(request), request.headers.clone());
        Box::pin(async move {
            let (token, _) = Accounts::sign_in(&accounts, ip, &username, &password).await?;
            accounts.replace_session_of(&headers).await;
            Ok(accounts.cookie_for(&token, &headers))
        })
    }

    fn sign_out(&self, request: &Parts) -> Answer<Result<String, AccountError>> {
        let (accounts, headers) = (self.clone(), request.headers.clone());
        Box::pin(async move {
            if let Some(token) = SessionToken::from_headers(&headers) {
                Accounts::sign_out(&accounts, &token).await?;
            }
            Ok(clearing_cookie(is_https(&headers)))
        })
    }

    fn viewer(&self, request: &Parts) -> Answer<Result<Option<Viewer>, AccountError>> {
        let (accounts, headers) = (self.clone(), request.headers.clone());
        Box::pin(async move {
            let signed_in = accounts.session_of(&headers).await?;
            Ok(signed_in.map(|signed_in| Viewer {
                username: signed_in.account.username,
                display_name: signed_in.account.display_name,
            }))
        })
    }
}

/// What limits count by: the address itself for IPv4, its /64 for IPv6 (one
/// subscriber usually holds a whole /64).
pub(crate) fn network_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let mut segments = v6.segments();
            segments[4..].fill(0);
            IpAddr::V6(std::net::Ipv6Addr::from(segments))
        }
    }
}

pub fn now_ms() -> i64 {
    crate::clock::now().0
}

fn unavailable(error: impl std::fmt::Display) -> AccountError {
    tracing::error!(%error, "accounts unavailable");
    AccountError::Unavailable
}

#[cfg(test)]
mod tests;
