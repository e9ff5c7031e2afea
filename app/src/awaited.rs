//! Async (and other reactive) views that the server builds once.
//!
//! On the server, Leptos' `<Suspense>` walks its children up to three times: a
//! dry pass to find the resources they read, a second once those have loaded (to
//! catch reads that only happen then), and the render itself. A child written as
//! `move || Suspend::new(async move { .. })` is called anew by each pass, so the
//! view it builds (for the room page: the whole layout, every message item) was
//! built two or three times a page. A bare `Suspend` keeps what its first
//! completed poll built and renders that.
//!
//! In the browser the closure stays: there the view is built again when a
//! resource it reads changes (a refetch, the list after a sign-in). It is
//! erased as `view!` erases a `{move || ..}` child under `erase_components`
//! (see `.cargo/config.toml`): a closure type of its own per call site cost the
//! room page's WASM 3.6 KB gzip.

/// `awaited!(move || async move { .. })`: the view the future resolves to,
/// as the child of a `<Suspense>` or `<Transition>`.
macro_rules! awaited {
    (move || $future:expr) => {
        $crate::awaited::reactive!(move || leptos::prelude::Suspend::new($future))
    };
}
pub(crate) use awaited;

/// `reactive!(move || ..)`: a reactive child (a `{move || ..}` block of
/// `view!`, erased as `view!` erases it) in the browser; on the server, the
/// view the closure returns now, built once where Leptos would call the
/// closure once per pass.
macro_rules! reactive {
    (move || $view:expr) => {{
        #[cfg(feature = "ssr")]
        let view = $view;
        #[cfg(all(not(feature = "ssr"), erase_components))]
        let view = leptos::__as_shared_reactive_fn(move || $view);
        #[cfg(all(not(feature = "ssr"), not(erase_components)))]
        let view = move || $view;
        view
    }};
}
pub(crate) use reactive;
