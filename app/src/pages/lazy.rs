//! The pages a room's first load does not need, as lazy routes: their code
//! is a chunk of its own in the release WASM (`cargo leptos build --split`),
//! fetched when the route is entered (or, opened directly, before hydration).
//! On the server they render as any page does.

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

use super::{AccountPage, AdminPage, LobbyPage, ModerationPage, SearchPage, SignInPage, SignUpPage};

/// A route whose view is `$page`, loaded lazily; it has no data of its own
/// (the page loads what it needs).
macro_rules! lazy_page {
    ($route:ident, $page:ident) => {
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(this: Self) -> AnyView {
                let $route = this;
                view! { <$page/> }.into_any()
            }
        }
    };
}

lazy_page!(LobbyRoute, LobbyPage);
lazy_page!(SignUpRoute, SignUpPage);
lazy_page!(SignInRoute, SignInPage);
lazy_page!(SearchRoute, SearchPage);
lazy_page!(ModerationRoute, ModerationPage);
lazy_page!(AdminRoute, AdminPage);
lazy_page!(AccountRoute, AccountPage);
