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

use crate::protocol::ClientMsg;
use crate::room_name::RoomName;
use composer::Composer;
use connection::{connect, Connection};
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
    let connection = StoredValue::<Option<Connection>, LocalStorage>::new_local(None);

    // Browser only (Effects do not run on the server): the stored name, once.
    Effect::new(move |_| {
        name.set(match storage::load_display_name() {
            Some(chosen) => NameChoice::Chosen(chosen),
            None => NameChoice::Missing { previous: None },
        });
    });
    // Connect when a name is chosen; a new name means a new join. Replacing the
    // stored Connection drops the old one, which ends its task.
    let joined_room = room.clone();
    Effect::new(move |_| {
        let next = match name.get() {
            NameChoice::Chosen(display_name) => Some(connect(joined_room.clone(), display_name, state)),
            NameChoice::Missing { .. } => {
                state.status.set(ConnectionStatus::AwaitingName);
                state.members.set(Vec::new());
                None
            }
            NameChoice::Unknown => None,
        };
        connection.set_value(next);
    });

    let send = Callback::new(move |body: String| {
        connection.with_value(|c| c.as_ref().is_some_and(|c| c.send(ClientMsg::Send { body })))
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

    view! {
        <Title text=format!("#{room}")/>
        <div class="room">
            <RoomHeader room=room.clone() state name change_name/>
            <MessageList state/>
            <footer class="room-footer">
                {move || match name.get() {
                    NameChoice::Missing { previous } => {
                        view! { <NamePicker previous on_choose=choose_name/> }.into_any()
                    }
                    _ => view! { <Composer state send/> }.into_any(),
                }}
            </footer>
            <noscript>
                <p class="hint">"Live chat needs JavaScript; this page cannot send or receive without it."</p>
            </noscript>
        </div>
    }
}
