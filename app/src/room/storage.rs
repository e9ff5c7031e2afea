//! The display name a person picked, kept in the browser's localStorage until
//! accounts exist. Browser only; on the server there is nothing stored.

#[cfg(feature = "hydrate")]
const KEY: &str = "chat.display_name";

pub fn load_display_name() -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        let stored = local_storage()?.get_item(KEY).ok()??;
        crate::display_name::parse_display_name(&stored).ok()
    }
    #[cfg(not(feature = "hydrate"))]
    None
}

#[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
pub fn save_display_name(name: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(storage) = local_storage() {
        if storage.set_item(KEY, name).is_err() {
            leptos::logging::warn!("could not keep the display name in this browser");
        }
    }
}

#[cfg(feature = "hydrate")]
fn local_storage() -> Option<web_sys::Storage> {
    leptos::prelude::window().local_storage().ok().flatten()
}
