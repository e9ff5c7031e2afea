//! `/chat/<room>/`: checks the name from the URL, then shows the live room.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::Redirect, hooks::use_params_map};

use crate::room::Room;
use crate::room_name::{RoomName, RoomNameError, ROOM_NAME_RULE};

#[component]
pub fn RoomPage() -> impl IntoView {
    let params = use_params_map();
    let raw = Memo::new(move |_| params.read().get("room").unwrap_or_default());
    move || {
        let raw = raw.get();
        match RoomName::parse(&raw) {
            Ok(room) if room.as_str() == raw => view! { <Room room/> }.into_any(),
            // Another spelling of a valid name: send people to the one address.
            Ok(room) => view! { <Redirect path=room.path()/> }.into_any(),
            Err(error) => view! { <BadRoomName error/> }.into_any(),
        }
    }
}

#[component]
fn BadRoomName(error: RoomNameError) -> impl IntoView {
    super::set_status(400);
    view! {
        <Title text="Not a room name"/>
        <main class="page narrow">
            <h1>"That is not a room name"</h1>
            <p class="error" role="alert" data-code=error.code()>{error.to_string()}</p>
            <p class="hint">{ROOM_NAME_RULE}</p>
            <p><a href="/chat/">"Back to the lobby"</a></p>
        </main>
    }
}
