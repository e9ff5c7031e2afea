//! `/chat/`: pick a room from the active ones, or name a new one.
//!
//! The form is a plain GET to `/chat/?room=…`, so it works without JavaScript: the
//! server answers a valid name with a redirect to the room, a bad one with the form
//! again and the reason. After hydration the router does the same in the browser.

use leptos::prelude::*;
use leptos_router::{
    components::{Form, Redirect},
    hooks::use_query_map,
};

use crate::awaited::awaited;
use crate::directory::{active_rooms, RoomSummary};
use crate::room_name::{RoomName, ROOM_NAME_RULE};
use crate::title::Title;

#[component]
pub fn LobbyPage() -> impl IntoView {
    let query = use_query_map();
    let submitted = Memo::new(move |_| query.read().get("room"));
    let outcome = Memo::new(move |_| submitted.get().map(|raw| RoomName::parse(&raw)));
    let error = move || match outcome.get() {
        Some(Err(e)) => Some(e),
        _ => None,
    };
    if matches!(outcome.get_untracked(), Some(Err(_))) {
        super::set_status(400);
    }

    view! {
        <Title text="Lobby"/>
        <main class="page narrow lobby">
            <h1>"Chat"</h1>
            <p class="lede">"Join a room by name. A room exists as soon as someone goes there."</p>
            {move || match outcome.get() {
                Some(Ok(room)) => Some(view! { <Redirect path=room.path()/> }),
                _ => None,
            }}
            <Form method="GET" action="/chat/" attr:class="room-form">
                <label for="room-name">"Room name"</label>
                <div class="row">
                    <input
                        id="room-name"
                        name="room"
                        type="text"
                        required
                        autocomplete="off"
                        autocapitalize="none"
                        spellcheck="false"
                        placeholder="general"
                        value=move || submitted.get().unwrap_or_default()
                        aria-invalid=move || error().map(|_| "true")
                        aria-describedby=move || if error().is_some() { "room-error room-rule" } else { "room-rule" }
                    />
                    <button type="submit">"Go"</button>
                </div>
                {move || {
                    error().map(|e| view! { <p id="room-error" class="error" role="alert" data-code=e.code()>{e.to_string()}</p> })
                }}
                <p id="room-rule" class="hint">{ROOM_NAME_RULE}</p>
            </Form>
            <ActiveRooms/>
        </main>
    }
}

#[component]
fn ActiveRooms() -> impl IntoView {
    let rooms = crate::codec::load(|| (), |_| active_rooms());
    view! {
        <section class="active-rooms" aria-labelledby="active-rooms-title">
            <h2 id="active-rooms-title">"Active rooms"</h2>
            <Suspense fallback=|| view! { <p class="hint">"Loading…"</p> }>
                {awaited!(move || async move {
                    match rooms.await {
                        Ok(list) if list.is_empty() => view! {
                            <p class="hint">"Nobody is chatting right now. Start a room above."</p>
                        }.into_any(),
                        Ok(list) => view! {
                            <ul class="room-list">
                                {list.into_iter().map(|room| view! { <RoomLink room/> }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(_) => view! {
                            <p class="hint">"The list of rooms is not available right now."</p>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn RoomLink(room: RoomSummary) -> impl IntoView {
    let people = if room.members == 1 { "1 person".to_owned() } else { format!("{} people", room.members) };
    view! {
        <li>
            <a href=room.name.path()>
                <span class="room-name">"#" {room.name.to_string()}</span>
                <span class="room-count">{people}</span>
            </a>
        </li>
    }
}
