use std::sync::Arc;

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::accounts::Accounts;
use crate::hub::Hub;
use crate::policy::Policy;
use crate::rate::KeyedBuckets;
use crate::store::{AccountId, SqliteStore};
use crate::ws::ConnectionCaps;

/// Everything the routes share. Handed to axum as `State` and to Leptos as context.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub hub: Hub,
    pub accounts: Accounts,
    pub policy: Arc<Policy>,
    /// Open WebSockets per account and per address.
    pub caps: ConnectionCaps,
    /// Each account's allowance of messages, over all its connections.
    pub sends: Arc<KeyedBuckets<AccountId>>,
    /// Cancelled when the server begins to shut down.
    pub shutdown: CancellationToken,
    /// Every WebSocket session, so shutdown can wait for them to say goodbye.
    pub sessions: TaskTracker,
    /// Origins besides the site's own whose pages may open the WebSocket.
    pub allowed_origins: Arc<[String]>,
    /// Behind a reverse proxy: the client's address is the last `X-Forwarded-For` entry.
    pub trust_proxy: bool,
}

impl AppState {
    /// Must be called inside a Tokio runtime: the hub starts its poster task.
    pub fn new(leptos_options: LeptosOptions, store: SqliteStore) -> Self {
        Self::with_policy(leptos_options, store, Policy::default())
    }

    pub fn with_policy(leptos_options: LeptosOptions, store: SqliteStore, policy: Policy) -> Self {
        let store = Arc::new(store);
        AppState {
            leptos_options,
            hub: Hub::configured(store.clone(), crate::hub::DEFAULT_ROOM_BUFFER, policy.commit_pace),
            accounts: Accounts::new(store, policy.clone()),
            caps: ConnectionCaps::new(policy.connections_per_account, policy.connections_per_ip),
            sends: Arc::new(KeyedBuckets::new(policy.send_burst, policy.sends_per_second)),
            policy: Arc::new(policy),
            shutdown: CancellationToken::new(),
            sessions: TaskTracker::new(),
            allowed_origins: Arc::from([]),
            trust_proxy: false,
        }
    }
}
