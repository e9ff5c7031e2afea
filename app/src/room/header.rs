use leptos::prelude::*;

use super::people::PeopleHere;
use super::state::RoomState;
use crate::room_list::{RoomControls, RoomList};
use crate::room_name::RoomName;

#[component]
pub fn RoomHeader(
    room: RoomName,
    /// `#room`, or `@Person` in a direct conversation.
    name: String,
    state: RoomState,
    drawer: RwSignal<bool>,
    more_people: Callback<Option<String>>,
    /// Sets when the room notifies me.
    set_notify: Callback<crate::rooms::NotifyLevel>,
) -> impl IntoView {
    let status = state.status;
    let list = RoomList::expect();
    // A closure over `Copy` values (so `Copy` itself), not a memo: each memo
    // type costs the WASM more than the sum costs.
    let here = StoredValue::new(room.clone());
    let unread_elsewhere = move || {
        here.with_value(|room| {
            list.entries.with(|e| e.iter().filter(|e| e.room != *room).map(|e| e.unread()).sum::<u64>())
        })
    };
    view! {
            <header class="room-header">
                <button
                    type="button"
                    class="drawer-toggle secondary"
                    aria-controls="my-rooms"
                    aria-expanded=move || if drawer.get() { "true" } else { "false" }
                    on:click=move |_| drawer.update(|open| *open = !*open)
                >
                    "Rooms"
                    {move || (unread_elsewhere() > 0).then(|| view! { <span class="unread-count">{unread_elsewhere}</span> })}
                </button>
                <a class="to-lobby" href="/chat/" title="Back to the lobby">
                    <span aria-hidden="true">"‹ "</span>"Lobby"
                </a>
                <h1 class="room-title">{name}</h1>
                <RoomControls room=room.clone() choose=set_notify/>
                {move || {
                    state.moderator.get().then(|| {
                        view! { <a class="to-moderation" href=format!("{}moderation", here.with_value(RoomName::path))>"Moderation"</a> }
                    })
                }}
                <p
                    class="connection"
                    role="status"
                    data-state=move || status.read().key()
                >
                    <span class="dot" aria-hidden="true"></span>
                    {move || status.read().label()}
                </p>
    <PeopleHere presence=state.presence more=more_people/>
            </header>
        }
    .into_any()
}
