//! The live room: the person's room list beside it, a header with connection
//! state and who is here, the message log, and the composer (or, signed out, a
//! prompt to sign in: reading needs no account).

mod actions;
pub mod backoff;
mod composer;
mod connection;
mod editing;
mod header;
mod keyboard;
mod mentions;
mod message_body;
mod message_list;
mod message_parts;
mod people;
pub mod presence;
mod reacting;
pub mod socket_start;
pub mod state;
pub mod time;
mod uploading;

use leptos::prelude::*;

use crate::account::{SIGN_IN_PAGE, SIGN_UP_PAGE};
use crate::awaited::awaited;
use crate::history::history;
use crate::protocol::Seq;
use crate::room_list::{RoomList, RoomListNav};
use crate::room_name::RoomName;
use crate::rooms::my_rooms;
use crate::rooms::Correspondent;
use crate::title::Title;
use crate::viewer::{form_link, ViewerResource};
use composer::{Composer, FormReturn};
use connection::{connect, new_client_id, Connection};
use header::RoomHeader;
use message_list::MessageList;
use people::TypingLine;
use state::RoomState;

#[component]
pub fn Room(
    room: RoomName,
    /// In a direct conversation: the other person.
    #[prop(optional)]
    with: Option<Correspondent>,
) -> impl IntoView {
    let state = RoomState::new();
    let viewer = ViewerResource::expect();
    let list = RoomList::expect();
    // The list as the server has it, in the first HTML; the socket keeps it live.
    let listed = crate::codec::load(|| (), |_| my_rooms());
    // The room list drawer, on a narrow screen.
    let drawer = RwSignal::new(false);
    let connection = StoredValue::<Option<Connection>>::new(None);
    // The newest page of messages, rendered by the server (readable without
    // JavaScript) and handed to the browser with the page.
    let first_page = {
        let room = room.to_string();
        crate::codec::load(move || room.clone(), |room| history(room, None, None))
    };
    // Set once the first page is in the state (or failed): the join resumes after it.
    let history_ready = RwSignal::new(false);
    // The id a plain form post of the composer carries, made by the server for
    // each page it renders. Only a page without scripts posts the form; a
    // hydrated page keeps the server's attribute and sends over the socket, so
    // the browser needs no copy of it (a resource for it cost the WASM 1 KB).
    #[cfg(feature = "ssr")]
    let form_id = new_client_id();
    #[cfg(not(feature = "ssr"))]
    let form_id = crate::protocol::ClientMsgId(String::new());
    // What a refused form post sent back in the address.
    let returned = {
        let query = leptos_router::hooks::use_query_map();
        query.with_untracked(|query| FormReturn {
            refusal: query.get("error").and_then(|json| crate::error::ChatError::from_json(&json)),
            draft: query.get("draft").unwrap_or_default(),
        })
    };

    // Browser only (Effects do not run on the server). Signed in or not, the page
    // connects: readers get messages live too. Who posts is the server's to say,
    // from the session cookie the socket carries.
    let joined_room = room.clone();
    Effect::new(move |_| {
        state.hydrated.set(true);
        if history_ready.get() && connection.with_value(Option::is_none) {
            connection.set_value(Some(connect(joined_room.clone(), state, list)));
        }
    });

    // The newest message on screen, reported while the page is visible: read.
    let seen = {
        let room = room.clone();
        Callback::new(move |seq: Seq| {
            if list.read_up_to(&room, seq) {
                connection.with_value(|c| {
                    if let Some(c) = c {
                        c.report_read(seq);
                    }
                });
            }
        })
    };
    keyboard::shortcuts(room.clone(), list, state, seen);

    let with_connection = move |act: &dyn Fn(&Connection)| {
        connection.with_value(|c| {
            if let Some(c) = c {
                act(c);
            }
        })
    };
    let more_people = Callback::new(move |after: Option<String>| {
        let after = after.filter(|after| !after.is_empty());
        with_connection(&|c| c.ask_people(after.clone()))
    });
    let typing = Callback::new(move |()| with_connection(&|c| c.report_typing()));
    let set_notify = Callback::new(move |level| with_connection(&|c| c.set_notify(level)));
    people::track_away(Callback::new(move |away: bool| with_connection(&|c| c.report_away(away))));

    // Edits and deletes of one's own messages (the editor loads on first
    // use), reactions (the picker too), replies (the composer says to what).
    let change =
        Callback::new(move |(seq, body): (Seq, Option<String>)| with_connection(&|c| c.change(seq, body.clone())));
    // Gives the reader's reaction, or takes it back if it is there.
    let react = Callback::new(move |(seq, emoji): (Seq, String)| {
        let me = state.me.get_untracked();
        let given = state.messages.with_untracked(|m| {
            m.get(&seq).is_some_and(|m| {
                m.reactions.iter().any(|r| r.emoji == emoji && me.as_ref().is_some_and(|me| r.users.contains(me)))
            })
        });
        let id = new_client_id();
        if !given {
            state.adding_reaction(id.clone(), seq, emoji.clone());
        }
        with_connection(&|c| c.react(id.clone(), seq, emoji.clone(), !given));
    });
    // The editor's signals and effects live as long as the room's page.
    let owner = Owner::current();
    let act = Callback::new(move |(seq, what): (Seq, &'static str)| {
        #[cfg(feature = "hydrate")]
        match what {
            "edit" => {
                let body =
                    state.messages.with_untracked(|m| m.get(&seq).filter(|m| !m.deleted).map(|m| m.body.clone()));
                if let (Some(body), Some(owner)) = (body, &owner) {
                    owner.with(|| {
                        leptos::reactive::spawn_local_scoped(editing::act(seq, Some(body), change, state.error))
                    });
                }
            }
            "delete" => leptos::task::spawn_local(editing::act(seq, None, change, state.error)),
            "react" => leptos::task::spawn_local(reacting::pick(seq, react)),
            _ => state.replying.set(Some(seq)),
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (seq, what, change, react, &owner);
    });
    // Text an action puts in the composer (a mention of a message's author).
    let insert = RwSignal::new(None::<String>);
    let mention = Callback::new(move |username: String| insert.set(Some(format!("@{username} "))));
    let send = Callback::new(move |body: String| {
        let reply_to = state.replying.get_untracked();
        state.replying.set(None);
        // The file the composer holds, once uploaded, goes with it.
        let file = match state.upload.get_untracked() {
            Some(uploading::Upload::Ready(file)) => {
                state.upload.set(None);
                Some(file)
            }
            _ => None,
        };
        state.add_pending_file(new_client_id(), body, reply_to, file);
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
    let my_name =
        Signal::derive(move || viewer.get().and_then(Result::ok).flatten().map(|v| v.display_name).unwrap_or_default());
    // Read once for the page, not once per message shown (every item and its
    // actions ask whose it is): derived, it cloned the viewer each time, 4.7%
    // of a room page's render (perf, 2026-12-04).
    let my_username: Signal<Option<String>> =
        Memo::new(move |_| viewer.get().and_then(Result::ok).flatten().map(|v| v.username)).into();
    // The page's own address: the room's, or `/chat/@<username>/`.
    let here = with.as_ref().map_or_else(|| room.path(), Correspondent::path);
    let room_key = room.to_string();
    let name = with.as_ref().map_or_else(|| format!("#{room}"), |with| format!("@{}", with.display_name));
    // The tab's title counts unread messages, live in the browser. The
    // server's is the room's name alone: leptos_meta writes the page's head
    // outside the request's reactive arena, where reading the list's signals
    // failed about one page in a hundred under concurrent requests.
    #[cfg(feature = "ssr")]
    let title = name.clone();
    #[cfg(not(feature = "ssr"))]
    let title = {
        let name = name.clone();
        move || match list.total_unread() {
            0 => name.clone(),
            n => format!("({n}) {name}"),
        }
    };

    // The layout waits for who is signed in and their list, on the server and
    // in the browser alike: what shows the list (the list itself, the room's
    // Join or Leave and its notification choice) is drawn from the list as it
    // is, in the first HTML too (a page without a script has only that).
    let layout = move || {
        let (here, room_key, returned, form_id) = (here.clone(), room_key.clone(), returned.clone(), form_id.clone());
        view! {
        <div class="room-layout">
        <RoomListNav current=Some(room.clone()) open=drawer/>
        <main class="room">
            <RoomHeader room=room.clone() name=name.clone() state drawer more_people set_notify/>
            <Suspense fallback=|| view! { <p class="hint loading">"Loading messages…"</p> }>
                {
                    let (room, name) = (room.clone(), name.clone());
                    awaited!(move || {
                        let (room, name) = (room.clone(), name.clone());
                        async move {
                            match first_page.await {
                                Ok(page) => state.reset_to(page),
                                Err(error) => state.error.set(Some(format!("Earlier messages are not available: {error}"))),
                            }
                            if let Some(entry) = list.entry_untracked(&room) {
                                state.mark_unread_from(entry.read_seq);
                            }
                            history_ready.set(true);
                            view! { <MessageList room name state my_name me=my_username retry seen mention act react/> }
                        }
                    })
                }
            </Suspense>
            <TypingLine presence=state.presence/>
            <footer class="room-footer">
                <Transition fallback=|| ()>
                    {
                        awaited!(move || {
                            let (here, room_key) = (here.clone(), room_key.clone());
                            let (returned, form_id) = (returned.clone(), form_id.clone());
                            async move {
                                match viewer.await {
                                    Ok(Some(_)) => {
                                        let form_id = form_id.clone();
                                        let action = here.clone();
                                        let mentions = mentions::MentionAssist::new(room_key.clone());
                                        view! { <Composer state send typing action form_id returned mentions insert act room_key/> }
                                            .into_any()
                                    }
                                    _ => view! { <SignInPrompt here/> }.into_any(),
                                }
                            }
                        })
                    }
                </Transition>
            </footer>
            <noscript>
                <p class="hint">"Without JavaScript, new messages show when you post or reload the page."</p>
            </noscript>
        </main>
        </div>
        }
    };

    view! {
        <Title text=title/>
        <Suspense fallback=|| ()>
            {awaited!(move || {
                let layout = layout.clone();
                async move {
                    let me = viewer.await.ok().flatten().map(|v| (v.username, v.display_name));
                    let listed = listed.await.unwrap_or_default();
                    list.load(me, listed);
                    layout()
                }
            })}
        </Suspense>
    }
}

/// In place of the composer for a signed-out reader.
#[component]
fn SignInPrompt(here: String) -> impl IntoView {
    view! {
        <div class="sign-in-prompt">
            <p>"Sign in to post in this room."</p>
            <p>
                <a class="button" href=form_link(SIGN_IN_PAGE, &here)>"Sign in"</a>
                " or "
                <a href=form_link(SIGN_UP_PAGE, &here)>"Create account"</a>
            </p>
        </div>
    }
}
