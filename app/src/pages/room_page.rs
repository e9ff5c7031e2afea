//! `/chat/<room>/`: checks the name from the URL, then shows the live room.
//! `/chat/@<username>/`: the signed-in person's direct conversation with that
//! person, opened (started, if new) on the server; refused to anyone else.

use leptos::prelude::*;
use leptos_router::{components::Redirect, hooks::use_params_map};

use crate::account::SIGN_IN_PAGE;
use crate::awaited::awaited;
use crate::room::Room;
use crate::room_name::{RoomName, RoomNameError, ROOM_NAME_RULE};
use crate::rooms::{open_direct, RoomListError};
use crate::title::Title;
use crate::viewer::form_link;

#[component]
pub fn RoomPage() -> impl IntoView {
    let params = use_params_map();
    let raw = Memo::new(move |_| params.read().get("room").unwrap_or_default());
    move || {
        let raw = raw.get();
        if let Some(username) = raw.strip_prefix('@') {
            return view! { <DirectPage username=username.to_owned()/> }.into_any();
        }
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

#[component]
fn DirectPage(username: String) -> impl IntoView {
    let direct = {
        let username = username.clone();
        crate::codec::load(move || username.clone(), open_direct)
    };
    view! {
        <Suspense fallback=|| view! { <p class="hint loading">"Opening the conversation…"</p> }>
            {
                let username = username.clone();
                awaited!(move || {
                    let username = username.clone();
                    async move {
                        match direct.await {
                            Ok(direct) => view! { <Room room=direct.room with=direct.with/> }.into_any(),
                            Err(error) => view! { <NoConversation username error/> }.into_any(),
                        }
                    }
                })
            }
        </Suspense>
    }
}

#[component]
fn NoConversation(username: String, error: RoomListError) -> impl IntoView {
    let here = format!("/chat/@{username}/");
    super::set_status(match error {
        RoomListError::SignInRequired => 401,
        RoomListError::NoSuchPerson => 404,
        RoomListError::Private => 403,
        RoomListError::RateLimited | RoomListError::TooManyConversations => 429,
        _ => 503,
    });
    view! {
        <Title text="Direct message"/>
        <main class="page narrow">
            <h1>"Direct message with @" {username}</h1>
            <p class="error" role="alert" data-code=error.code()>{error.to_string()}</p>
            {(error == RoomListError::SignInRequired)
                .then(|| view! { <p><a class="button" href=form_link(SIGN_IN_PAGE, &here)>"Sign in"</a></p> })}
            <p><a href="/chat/">"Back to the lobby"</a></p>
        </main>
    }
}
