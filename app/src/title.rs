//! The page's title, `<page> · Chat`. The server writes it into the page's
//! head with leptos_meta; the browser sets `document.title` itself, from an
//! Effect, as the title changes (a room's unread count) or the app moves to
//! another page. leptos_meta's code in the browser (its title, stylesheet and
//! context: 5.8 KB of the room page's WASM gzipped, measured when it went) did
//! no more than that one assignment.

use leptos::prelude::*;

/// The title of the page that renders it (the last one rendered wins).
#[component]
pub fn Title(#[prop(into)] text: Signal<String>) -> impl IntoView {
    // Both render nothing but the same placeholder, so the browser hydrates
    // what the server sent.
    #[cfg(feature = "ssr")]
    {
        // leptos_meta takes the title when its component is called, and
        // writes it into the head; its view (an empty one of its own type) is
        // not kept.
        let title = text.get_untracked() + " · Chat";
        drop(leptos_meta::Title(leptos_meta::TitleProps::builder().text(title).build()));
    }
    #[cfg(not(feature = "ssr"))]
    Effect::new(move |_| document().set_title(&format!("{} · Chat", text.get())));
}
