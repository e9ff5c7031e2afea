//! One component per route.

mod account;
mod admin;
mod integrations;
mod lazy;
mod lobby;
mod moderation;
mod not_found;
mod room_page;
mod search;

pub use account::{AccountNav, SignInPage, SignUpPage};
pub use admin::AdminPage;
pub use integrations::AccountPage;
pub use lazy::{AccountRoute, AdminRoute, LobbyRoute, ModerationRoute, SearchRoute, SignInRoute, SignUpRoute};
pub use lobby::LobbyPage;
pub use moderation::ModerationPage;
pub use not_found::NotFound;
pub use room_page::RoomPage;
pub use search::SearchPage;

/// Sets the HTTP status of the server-rendered response (no-op in the browser).
#[cfg_attr(not(feature = "ssr"), allow(unused_variables))]
pub(crate) fn set_status(code: u16) {
    #[cfg(feature = "ssr")]
    if let (Some(response), Ok(status)) =
        (leptos::prelude::use_context::<leptos_axum::ResponseOptions>(), http::StatusCode::from_u16(code))
    {
        response.set_status(status);
    }
}
