//! Views put on the page after hydration, from chunks of their own: what a
//! first render does not need (or renders as plain HTML the browser keeps until
//! then) is built when its chunk arrives and mounted in a slot the page left.

#[cfg(feature = "hydrate")]
use leptos::prelude::*;

/// Replaces what the server rendered in `slot` (if anything) with the live
/// `view`, kept for as long as the current owner lives.
#[cfg(feature = "hydrate")]
pub fn mount_in_place(slot: &web_sys::HtmlElement, view: AnyView) {
    use leptos::tachys::view::{Mountable, Render};
    slot.set_inner_html("");
    let mut state = view.build();
    state.mount(slot, None);
    let state = StoredValue::new_local(state);
    on_cleanup(move || state.update_value(|state| state.unmount()));
}
