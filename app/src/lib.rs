//! The chat's pages and components, rendered on the server and hydrated in the
//! browser, plus the types both sides share: the wire [`protocol`] and the
//! [`room_name`] rule.

pub mod account;
pub mod admin;
mod awaited;
pub mod codec;
pub mod directory;
pub mod display_name;
pub mod error;
mod error_wire;
pub mod history;
pub mod integrations;
pub mod late;
pub mod markdown;
pub mod moderation;
pub mod pages;
pub mod protocol;
pub mod push;
pub mod room;
pub mod room_list;
pub mod room_name;
pub mod rooms;
pub mod search;
mod server_fns;
pub mod sorted;
pub mod title;
pub mod url;
pub mod viewer;

#[cfg(feature = "ssr")]
use leptos::nonce::use_nonce;
use leptos::prelude::*;
#[cfg(feature = "ssr")]
use leptos_meta::{provide_meta_context, MetaTags};
use leptos_router::{
    components::{Redirect, Route, Router, Routes},
    path, Lazy, SsrMode,
};

use pages::{AccountNav, NotFound, RoomPage};
use viewer::ViewerResource;

/// The HTML document around the app, rendered by the server only. Each response
/// gets a fresh nonce: only scripts carrying it (Leptos' hydration script and
/// the room's early socket) run.
#[cfg(feature = "ssr")]
pub fn shell(options: LeptosOptions) -> impl IntoView {
    content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                // The id lets `cargo leptos watch` swap the stylesheet in place.
                <link id="leptos" rel="stylesheet" href="/pkg/chat.css"/>
                <MetaTags/>
            </head>
            <body>
                <App/>
                // After the page it reads: a room's socket opens now, not once
                // the WebAssembly has come (`room::socket_start`).
                <script nonce=use_nonce() inner_html=room::socket_start::SCRIPT></script>
            </body>
        </html>
    }
}

/// Scripts only from this site and with this response's nonce (no inline script
/// without it, no `eval`; WebAssembly compiles), everything else from this site.
#[cfg(feature = "ssr")]
fn content_security_policy() {
    use leptos::nonce::{provide_nonce, use_nonce};
    provide_nonce();
    let (Some(nonce), Some(response)) = (use_nonce(), use_context::<leptos_axum::ResponseOptions>()) else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; object-src 'none'; \
         base-uri 'self'; form-action 'self'"
    );
    if let Ok(value) = http::HeaderValue::from_str(&policy) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
    // Pages name who is signed in and carry a one-time nonce: never from a cache.
    response.insert_header(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
}

#[component]
pub fn App() -> impl IntoView {
    #[cfg(feature = "ssr")]
    provide_meta_context();
    ViewerResource::provide();
    room_list::RoomList::provide();

    view! {
        <Router>
            <AccountNav/>
            <Routes fallback=NotFound>
                <Route path=path!("/") view=|| view! { <Redirect path="/chat/"/> }/>
                // Pages are rendered whole before they are sent, so what they load
                // (who is signed in, active rooms, the latest messages) is in the
                // HTML itself: complete with JavaScript off.
                // The room page is in the main bundle; the others are loaded
                // when their route is (see `pages::lazy`).
                <Route path=path!("/chat/") view={Lazy::<pages::LobbyRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/account/sign-up") view={Lazy::<pages::SignUpRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/account/sign-in") view={Lazy::<pages::SignInRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/search") view={Lazy::<pages::SearchRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/admin") view={Lazy::<pages::AdminRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/account") view={Lazy::<pages::AccountRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/chat/:room/") view=RoomPage ssr=SsrMode::Async/>
                <Route path=path!("/chat/:room/moderation") view={Lazy::<pages::ModerationRoute>::new()} ssr=SsrMode::Async/>
            </Routes>
        </Router>
    }
}
