//! The chat server: Leptos pages rendered by axum, and the room hub behind the
//! WebSocket route.

pub mod accounts;
mod clock;
pub mod config;
mod headers;
pub mod hub;
pub mod loadgen;
pub mod memory;
mod origin;
pub mod policy;
pub mod rate;
pub mod shutdown;
pub mod state;
pub mod store;
pub mod ws;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use app::account::SharedAccounts;
use app::directory::SharedDirectory;
use app::history::SharedHistory;
use app::{shell, App};
use axum::extract::{Path, State};
use axum::response::Redirect;
use axum::routing::get;
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{file_and_error_handler, generate_route_list, LeptosRoutes};
use tokio::net::TcpListener;

pub use state::AppState;

/// How long shutdown waits for sessions to say goodbye to their clients.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let directory: SharedDirectory = Arc::new(state.hub.clone());
    let history: SharedHistory = Arc::new(state.hub.clone());
    let accounts: SharedAccounts = Arc::new(state.accounts.clone());
    let options = state.leptos_options.clone();
    Router::new()
        .route("/ws/chat/{room}", get(ws::upgrade))
        // Room addresses end in a slash; lead the slash-less spellings there.
        .route("/chat", get(|| async { Redirect::permanent("/chat/") }))
        .route("/chat/{room}", get(add_trailing_slash))
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                provide_context(directory.clone());
                provide_context(history.clone());
                provide_context(accounts.clone());
            },
            move || shell(options.clone()),
        )
        .fallback(file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn_with_state(state.clone(), same_origin_writes))
        .layer(axum::middleware::from_fn_with_state(state.clone(), forwarded_client))
        .layer(axum::middleware::map_response(headers::add))
        .with_state(state)
}

/// Behind a trusted reverse proxy, the client is the address the proxy appended
/// last to `X-Forwarded-For`; everything after this sees it as the peer.
async fn forwarded_client(
    State(state): State<AppState>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if state.trust_proxy {
        let forwarded = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|entry| entry.trim().parse::<std::net::IpAddr>().ok())
            .last();
        if let Some(ip) = forwarded {
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(std::net::SocketAddr::new(ip, 0)));
        }
    }
    next.run(request).await
}

/// A form post from another site's page is refused: it could otherwise sign a
/// visitor out, or into an account of the other site's choosing (login CSRF).
async fn same_origin_writes(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::Method;
    use axum::response::IntoResponse;

    let reads = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !reads {
        if let Err(refusal) = origin::check(request.headers(), &state.allowed_origins) {
            tracing::info!(%refusal, path = %request.uri().path(), "cross-site post refused");
            return (axum::http::StatusCode::FORBIDDEN, refusal.to_string()).into_response();
        }
    }
    next.run(request).await
}

async fn add_trailing_slash(Path(room): Path<String>) -> Redirect {
    // A '/' inside the segment is encoded too, so it stays one segment.
    let encoded = app::url::encode(&room).replace('/', "%2F");
    Redirect::permanent(&format!("/chat/{encoded}/"))
}

/// Serves until `signal` completes; then tells every WebSocket session, stops
/// accepting, and waits (up to [`SHUTDOWN_GRACE`]) for the sessions to end.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let shutdown = state.shutdown.clone();
    let sessions = state.sessions.clone();
    let begin_shutdown = {
        let shutdown = shutdown.clone();
        async move {
            tokio::select! {
                () = signal => shutdown.cancel(),
                () = shutdown.cancelled() => {}
            }
        }
    };
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    // Chat frames are small and wanted now: without TCP_NODELAY, Nagle's
    // algorithm holds a frame back until the previous one is acknowledged, which
    // the peer's delayed ACK can put off by 40 ms.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(begin_shutdown)
        .await?;
    sessions.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, sessions.wait()).await.is_err() {
        tracing::warn!(left = sessions.len(), "sessions still open after the shutdown grace period");
    }
    Ok(())
}
