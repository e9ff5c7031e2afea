//! Async views that the server builds once.
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
//! resource it reads changes (a refetch, the list after a sign-in).

use std::future::Future;

use leptos::prelude::*;

/// The view `make`'s future resolves to, under a `<Suspense>` or `<Transition>`.
pub fn awaited<V, Fut>(make: impl Fn() -> Fut + Send + 'static) -> impl IntoView
where
    V: IntoView + 'static,
    Fut: Future<Output = V> + Send + 'static,
{
    #[cfg(feature = "ssr")]
    {
        Suspend::new(make())
    }
    #[cfg(not(feature = "ssr"))]
    {
        move || Suspend::new(make())
    }
}
