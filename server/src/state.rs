use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::hub::{Hub, SharedStore};

/// Everything the routes share. Handed to axum as `State` and to Leptos as context.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub hub: Hub,
    /// Cancelled when the server begins to shut down.
    pub shutdown: CancellationToken,
    /// Every WebSocket session, so shutdown can wait for them to say goodbye.
    pub sessions: TaskTracker,
    /// Origins besides the site's own whose pages may open the WebSocket.
    pub allowed_origins: std::sync::Arc<[String]>,
}

impl AppState {
    /// Must be called inside a Tokio runtime: the hub starts its poster task.
    pub fn new(leptos_options: LeptosOptions, store: SharedStore) -> Self {
        AppState {
            leptos_options,
            hub: Hub::new(store),
            shutdown: CancellationToken::new(),
            sessions: TaskTracker::new(),
            allowed_origins: std::sync::Arc::from([]),
        }
    }
}
