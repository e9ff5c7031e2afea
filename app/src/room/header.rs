use leptos::prelude::*;

use super::state::RoomState;
use crate::room_name::RoomName;

#[component]
pub fn RoomHeader(room: RoomName, state: RoomState) -> impl IntoView {
    let status = state.status;
    let people = move || {
        let n = state.members.read().len();
        if n == 1 {
            "1 person here".to_owned()
        } else {
            format!("{n} people here")
        }
    };
    view! {
        <header class="room-header">
            <a class="to-lobby" href="/chat/" title="Back to the lobby">
                <span aria-hidden="true">"‹ "</span>"Lobby"
            </a>
            <h1 class="room-title">"#" {room.to_string()}</h1>
            <p
                class="connection"
                role="status"
                data-state=move || status.read().key()
            >
                <span class="dot" aria-hidden="true"></span>
                {move || status.read().label()}
            </p>
            <details class="members" class:hidden=move || state.members.read().is_empty()>
                <summary>{people}</summary>
                <ul>
                    <For
                        each=move || state.members.get()
                        key=|member| member.id
                        let:member
                    >
                        <li>{member.display_name}</li>
                    </For>
                </ul>
            </details>
        </header>
    }
}
