//! The live room: header with connection state and who is here, the message log,
//! and the composer (or, first time, the display-name picker).

pub mod backoff;
mod composer;
mod connection;
mod header;
mod message_list;
mod name_picker;
pub mod state;
mod storage;
pub mod time;

use leptos::prelude::*;
use leptos_meta::Title;

use crate::history::history;
use crate::room_name::RoomName;
use composer::Composer;
use connection::{connect, new_client_id, Connection};
use header::RoomHeader;
use message_list::MessageList;
use name_picker::NamePicker;
use state::{ConnectionStatus, RoomState};

/// Who this person is in the room, as far as the page knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameChoice {
    /// Server render and the moment before hydration: not read from the browser yet.
    Unknown,
    /// No name stored yet (or the person asked to change it).
    Missing { previous: Option<String> },
    Chosen(String),
}

#[component]
pub fn Room(room: RoomName) -> impl IntoView {
    let state = RoomState::new();
    let name = RwSignal::new(NameChoice::Unknown);
    let connection = StoredValue::<Option<Connection>>::new(None);
    // The newest page of messages, rendered by the server (readable without
    // JavaScript) and handed to the browser with the page.
    let first_page = {
        let room = room.to_string();
        Resource::new(move || room.clone(), |room| history(room, None))
    };
    // Set once the first page is in the state (or failed): the join resumes after it.
    let history_ready = RwSignal::new(false);

    // Browser only (Effects do not run on the server): the stored name, once.
    Effect::new(move |_| {
        state.hydrated.set(true);
        name.set(match storage::load_display_name() {
            Some(chosen) => NameChoice::Chosen(chosen),
            None => NameChoice::Missing { previous: None },
        });
    });
    // Connect when a name is chosen and the history is in; a new name means a new
    // join. Replacing the stored Connection drops the old one, which ends its task.
    let joined_room = room.clone();
    Effect::new(move |_| {
        let next = match (name.get(), history_ready.get()) {
            (NameChoice::Chosen(display_name), true) => Some(connect(joined_room.clone(), display_name, state)),
            (NameChoice::Missing { .. }, _) => {
                state.status.set(ConnectionStatus::AwaitingName);
                state.members.set(Vec::new());
                None
            }
            _ => None,
        };
        connection.set_value(next);
    });

    let send = Callback::new(move |body: String| {
        state.add_pending(new_client_id(), body);
        connection.with_value(|c| {
            if let Some(c) = c {
                c.nudge();
            }
        });
    });
    let retry = Callback::new(move |id| {
        state.retry(&id);
        connection.with_value(|c| {
            if let Some(c) = c {
                c.nudge();
            }
        });
    });
    let choose_name = Callback::new(move |chosen: String| {
        storage::save_display_name(&chosen);
        name.set(NameChoice::Chosen(chosen));
    });
    let change_name = Callback::new(move |()| {
        let previous = match name.get_untracked() {
            NameChoice::Chosen(current) => Some(current),
            _ => None,
        };
        name.set(NameChoice::Missing { previous });
    });
    let my_name = Signal::derive(move || match name.get() {
        NameChoice::Chosen(current) => current,
        _ => String::new(),
    });

    view! {
        <Title text=format!("#{room}")/>
        <div class="room">
            <RoomHeader room=room.clone() state name change_name/>
            <Suspense fallback=|| view! { <p class="hint loading">"Loading messages…"</p> }>
                {
                    let room = room.clone();
                    move || {
                        let room = room.clone();
                        Suspend::new(async move {
                            match first_page.await {
                                Ok(page) => state.reset_to(page),
                                Err(error) => state.error.set(Some(format!("Earlier messages are not available: {error}"))),
                            }
                            history_ready.set(true);
                            view! { <MessageList room state my_name retry/> }
                        })
                    }
                }
            </Suspense>
            <footer class="room-footer">
                {move || match name.get() {
                    NameChoice::Missing { previous } => {
                        view! { <NamePicker previous on_choose=choose_name/> }.into_any()
                    }
                    _ => view! { <Composer state send/> }.into_any(),
                }}
            </footer>
            <noscript>
                <p class="hint">"Live chat needs JavaScript; this page shows the latest messages only."</p>
            </noscript>
        </div>
    }
}
