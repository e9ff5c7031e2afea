//! The WASM entry point: hydrates the server-rendered page.

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    mark_hydrated();
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
