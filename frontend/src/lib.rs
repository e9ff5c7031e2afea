//! The WASM entry point: hydrates the server-rendered page. Pages other than
//! the room's are split into chunks of their own (`cargo leptos build
//! --split`), loaded when their route is: hydration waits for the open page's.

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // The browser's own microtask queue drives it; hydration sets up Leptos'
    // executor on the same as it starts.
    wasm_bindgen_futures::spawn_local(async {
        let body = leptos::prelude::document().body().expect("a page has a body");
        // Owned by the page for its lifetime: never unmounted.
        leptos::mount::hydrate_from_async(body, app::App).await.forget();
        mark_hydrated();
    });
}

/// `<body data-hydrated>`: tells people's tools (and the browser tests) that the page
/// is interactive now.
fn mark_hydrated() {
    let body = web_sys::window().and_then(|w| w.document()).and_then(|d| d.body());
    if let Some(body) = body {
        if body.dataset().set("hydrated", "").is_err() {
            leptos::logging::warn!("could not mark the page as hydrated");
        }
    }
}
