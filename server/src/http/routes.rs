//! The routes: Leptos pages, the WebSocket, and the layers every response
//! passes through.

use std::sync::{Arc, LazyLock, Mutex};

use app::account::SharedAccounts;
use app::admin::SharedAdmin;
use app::directory::SharedDirectory;
use app::history::SharedHistory;
use app::integrations::SharedIntegrations;
use app::moderation::SharedModeration;
use app::push::SharedPush;
use app::rooms::SharedRoomLists;
use app::search::SharedSearch;
use app::{shell, App};
use axum::extract::Path;
use axum::response::Redirect;
use axum::routing::{get, post};
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{file_and_error_handler, generate_route_list, AxumRouteListing, LeptosRoutes};

use crate::state::AppState;

/// The pages' routes, found once per process. Finding them renders the app with
/// resource loading suppressed by a process-wide flag (leptos_server's
/// `SuppressResourceLoad`): a page rendering on another thread at that moment
/// waits forever on a resource first polled under the flag (leptos issue #4773).
/// A server that starts while others serve (the integration tests start one per
/// test in one process) must not walk the app again.
static ROUTES: LazyLock<Mutex<Vec<AxumRouteListing>>> = LazyLock::new(|| Mutex::new(generate_route_list(App)));

pub fn router(state: AppState) -> Router {
    let routes = ROUTES.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    let directory: SharedDirectory = Arc::new(state.hub.clone());
    let history: SharedHistory = Arc::new(state.hub.clone());
    let accounts: SharedAccounts = Arc::new(state.accounts.clone());
    let lists: SharedRoomLists = Arc::new(crate::lists::RoomLists::new(state.accounts.clone(), state.hub.clone()));
    let push: SharedPush = Arc::new(crate::push::PushAccounts::new(state.accounts.clone(), state.pusher.clone()));
    let search: SharedSearch =
        Arc::new(crate::search::Search::new(state.accounts.clone(), state.hub.store().clone(), &state.policy));
    let moderation: SharedModeration =
        Arc::new(crate::moderation::Moderation::new(state.accounts.clone(), state.hub.clone()));
    let admin: SharedAdmin = Arc::new(crate::admin::Admin::new(
        state.accounts.clone(),
        state.hub.clone(),
        state.admin_store.clone(),
        state.admins.clone(),
    ));
    let integrations: SharedIntegrations =
        Arc::new(crate::api::service::Service::new(state.api.clone(), state.accounts.clone(), state.hub.clone()));
    let options = state.leptos_options.clone();
    Router::new()
        .route("/ws/chat/{room}", get(crate::ws::upgrade))
        .route("/healthz", get(super::health::healthz))
        .route("/readyz", get(super::health::readyz))
        // Room addresses end in a slash; lead the slash-less spellings there.
        .route("/chat", get(|| async { Redirect::permanent("/chat/") }))
        .route("/chat/{room}", get(add_trailing_slash))
        // The room page's form, for browsers without scripts; the page itself
        // (GET) is the Leptos route of the same address.
        .route("/chat/{room}/", post(super::message_form::post_message))
        .route("/files", post(crate::files::upload))
        .route("/files/{id}/{name}", get(crate::files::download))
        .merge(crate::api::router())
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                provide_context(directory.clone());
                provide_context(history.clone());
                provide_context(accounts.clone());
                provide_context(lists.clone());
                provide_context(push.clone());
                provide_context(search.clone());
                provide_context(moderation.clone());
                provide_context(admin.clone());
                provide_context(integrations.clone());
            },
            move || shell(options.clone()),
        )
        .fallback(file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn_with_state(state.clone(), super::assets::compressed_assets))
        .layer(axum::middleware::from_fn_with_state(state.clone(), super::origin::same_origin_writes))
        .layer(axum::middleware::from_fn_with_state(state.clone(), super::client::forwarded_client))
        .layer(axum::middleware::map_response(super::headers::add))
        .with_state(state)
}

async fn add_trailing_slash(Path(room): Path<String>) -> Redirect {
    // A '/' inside the segment is encoded too, so it stays one segment.
    let encoded = app::url::encode(&room).replace('/', "%2F");
    Redirect::permanent(&format!("/chat/{encoded}/"))
}
