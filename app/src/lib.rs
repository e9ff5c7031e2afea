//! The chat's pages and components, rendered on the server and hydrated in the
//! browser, plus the types both sides share: the wire [`protocol`] and the
//! [`room_name`] rule.

pub mod directory;
pub mod history;
pub mod display_name;
pub mod pages;
pub mod protocol;
pub mod room;
pub mod room_name;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Redirect, Route, Router, Routes},
    path, SsrMode,
};

use pages::{LobbyPage, NotFound, RoomPage};

/// The HTML document around the app, rendered by the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
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
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    view! {
        <Stylesheet id="leptos" href="/pkg/chat.css"/>
        <Title formatter=|page: String| format!("{page} · Chat")/>
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/") view=|| view! { <Redirect path="/chat/"/> }/>
                <Route path=path!("/chat/") view=LobbyPage/>
                // Rendered whole before it is sent, so the latest messages are in the
                // HTML itself (readable with JavaScript off).
                <Route path=path!("/chat/:room/") view=RoomPage ssr=SsrMode::Async/>
            </Routes>
        </Router>
    }
}
