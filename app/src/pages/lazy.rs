//! The pages a room's first load does not need, as lazy routes: their code
//! is a chunk of its own in the release WASM (`cargo leptos build --split`),
//! fetched when the route is entered (or, opened directly, before hydration).
//! On the server they render as any page does.

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

use super::{LobbyPage, SignInPage, SignUpPage};

pub struct LobbyRoute;

#[lazy_route]
impl LazyRoute for LobbyRoute {
    fn data() -> Self {
        LobbyRoute
    }

    fn view(this: Self) -> AnyView {
        let LobbyRoute = this;
        view! { <LobbyPage/> }.into_any()
    }
}

pub struct SignUpRoute;

#[lazy_route]
impl LazyRoute for SignUpRoute {
    fn data() -> Self {
        SignUpRoute
    }

    fn view(this: Self) -> AnyView {
        let SignUpRoute = this;
        view! { <SignUpPage/> }.into_any()
    }
}

pub struct SignInRoute;

#[lazy_route]
impl LazyRoute for SignInRoute {
    fn data() -> Self {
        SignInRoute
    }

    fn view(this: Self) -> AnyView {
        let SignInRoute = this;
        view! { <SignInPage/> }.into_any()
    }
}
