use std::sync::Arc;

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::accounts::Accounts;
use crate::config::Settings;
use crate::hub::Hub;
use crate::limits::{ConnectionCaps, PeerCaps};
use crate::policy::Policy;
use crate::push::Pusher;
use crate::store::Opened;

/// Everything the routes share. Handed to axum as `State` and to Leptos as context.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub hub: Hub,
    pub accounts: Accounts,
    pub policy: Arc<Policy>,
    /// Open TCP connections per peer address.
    pub peers: PeerCaps,
    /// Open WebSockets per account and per address.
    pub caps: ConnectionCaps,
    /// Cancelled when the server begins to shut down.
    pub shutdown: CancellationToken,
    /// Every WebSocket session, so shutdown can wait for them to say goodbye.
    pub sessions: TaskTracker,
    /// Origins besides the site's own whose pages may open the WebSocket.
    pub allowed_origins: Arc<[String]>,
    /// Usernames named site administrators (besides the first account).
    #[from_ref(skip)]
    pub admins: Arc<[String]>,
    /// Behind a reverse proxy: the client's address is the last `X-Forwarded-For` entry.
    pub trust_proxy: bool,
    /// Web Push's task (ended at shutdown).
    pub pusher: Pusher,
    /// The bots' outgoing webhooks' task (ended at shutdown).
    pub outgoing: Arc<crate::api::outgoing::Outgoing>,
    /// With `--retention-days`: the task deleting old messages (ended at shutdown).
    pub retention: Option<crate::retention::Retention>,
    /// What the administrators' page reads and does in the store.
    pub admin_store: Arc<dyn crate::admin::store::AdminStore>,
    /// When accounts were last seen (written once a minute; ended at shutdown).
    pub seen: Arc<crate::admin::seen::Seen>,
    /// The HTTP API's tokens and webhooks.
    pub api: crate::api::Api,
    /// Uploads and their contents.
    pub files: crate::files::Files,
    /// The site's files, compressed once each.
    pub compressed: crate::http::assets::Compressed,
}

impl AppState {
    /// The state of a server with these settings (checked when they were read).
    /// Must be called inside a Tokio runtime: the hub starts its poster task.
    pub fn build(leptos_options: LeptosOptions, opened: impl Into<Opened>, settings: &Settings) -> Self {
        Self::build_on_bus(leptos_options, opened, settings, None)
    }

    /// [`AppState::build`] for one of several processes on one database, with
    /// the bus between them (`None`: the only one).
    pub fn build_on_bus(
        leptos_options: LeptosOptions,
        opened: impl Into<Opened>,
        settings: &Settings,
        bus: Option<(crate::bus::Bus, tokio::sync::mpsc::Receiver<crate::bus::BusEvent>)>,
    ) -> Self {
        let policy = settings.policy.clone();
        let Opened { store, accounts, push, integrations, admin, blobs, writer } = opened.into();
        let hub = Hub::on_bus(store.clone(), writer, crate::hub::DEFAULT_ROOM_BUFFER, &policy, bus);
        let pusher = Pusher::start(&hub, push, settings.push.clone());
        let accounts = Accounts::new(accounts, policy.clone());
        hub.join_sign_outs(&accounts);
        let caps = ConnectionCaps::new(policy.connections_per_account, policy.connections_per_ip);
        hub.share_limits(&caps);
        let files = crate::files::Files::new(blobs, store, accounts.clone(), &policy);
        let retention =
            policy.retention.map(|keep| crate::retention::Retention::start(hub.clone(), accounts.clone(), keep));
        AppState {
            leptos_options,
            files,
            outgoing: crate::api::outgoing::Outgoing::start(&hub, integrations.clone()),
            seen: crate::admin::seen::Seen::start(admin.clone()),
            admin_store: admin,
            api: crate::api::Api::new(integrations, &policy),
            compressed: Default::default(),
            hub,
            pusher,
            retention,
            accounts,
            peers: PeerCaps::new(policy.tcp_connections_per_ip),
            caps,
            policy: Arc::new(policy),
            shutdown: CancellationToken::new(),
            sessions: TaskTracker::new(),
            allowed_origins: settings.allowed_origins.clone().into(),
            admins: settings.admins.clone().into(),
            trust_proxy: settings.trust_proxy,
        }
    }

    /// The state of a server with the default settings.
    pub fn new(leptos_options: LeptosOptions, opened: impl Into<Opened>) -> Self {
        Self::build(leptos_options, opened, &Settings::default())
    }
}
