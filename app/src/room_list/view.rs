//! The room list's views: the list itself ([`RoomListNav`]) and the Join /
//! Leave button of a room ([`JoinLeave`]). Both read [`RoomList`], which the
//! page fills from the server (in its first HTML) and the room socket keeps live.

use leptos::form::ActionForm;
use leptos::prelude::*;

use super::notices::{self, NotifyPermission};
use super::RoomList;
use crate::room_name::RoomName;
use crate::rooms::{JoinRoom, LeaveRoom, NotifyLevel, RoomEntry, SetNotify};

/// The list beside the open room (`current`); a drawer on a narrow screen,
/// opened by the room header's Rooms button.
#[component]
pub fn RoomListNav(current: Option<RoomName>, #[prop(into)] open: Signal<bool>) -> impl IntoView {
    let list = RoomList::expect();
    let current = StoredValue::new(current);
    view! {
        <nav class="my-rooms" class:open=move || open.get() aria-label="Your rooms" id="my-rooms">
            <h2>"Rooms"</h2>
            {move || {
                if list.me.read().is_none() {
                    view! { <p class="hint">"Sign in to keep a list of your rooms."</p> }.into_any()
                } else if list.entries.read().is_empty() {
                    view! { <p class="hint">"Rooms you join or post in show here."</p> }.into_any()
                } else {
                    let section = move |direct: bool| {
                        move || {
                            list.entries.get().into_iter().filter(|e| e.room.is_direct() == direct).collect::<Vec<_>>()
                        }
                    };
                    view! {
                        <ul aria-label="Rooms">
                            <For each=section(false) key=|e| e.room.clone() let:entry>
                                <RoomLink entry current=current.get_value()/>
                            </For>
                        </ul>
                        <Show when=move || list.entries.read().iter().any(|e| e.room.is_direct())>
                            <h2>"Direct messages"</h2>
                            <ul aria-label="Direct messages">
                                <For each=section(true) key=|e| e.room.clone() let:entry>
                                    <RoomLink entry current=current.get_value()/>
                                </For>
                            </ul>
                        </Show>
                    }
                    .into_any()
                }
            }}
            <Show when=move || list.me.read().is_some()>
                <NotifyPermissionButton/>
            </Show>
        </nav>
    }
    .into_any()
}

/// Asks the browser for permission to notify (a click is the gesture it
/// wants); says so when notifications are blocked. Nothing before hydration:
/// only a script can ask.
#[component]
fn NotifyPermissionButton() -> impl IntoView {
    let permission = RwSignal::new(NotifyPermission::Unsupported);
    Effect::new(move |_| permission.set(notices::permission()));
    let ask = move |_| {
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move { permission.set(notices::ask().await) });
    };
    move || match permission.get() {
        NotifyPermission::Ask => Some(
            view! {
                <p class="notify-permission">
                    <button type="button" class="secondary" on:click=ask>"Turn on notifications"</button>
                </p>
            }
            .into_any(),
        ),
        NotifyPermission::Denied => Some(
            view! {
                <p class="notify-permission hint">"Notifications are blocked in this browser's site settings."</p>
            }
            .into_any(),
        ),
        NotifyPermission::Granted | NotifyPermission::Unsupported => None,
    }
}

#[component]
fn RoomLink(entry: RoomEntry, current: Option<RoomName>) -> impl IntoView {
    let list = RoomList::expect();
    let room = entry.room.clone();
    let (name, path) = (entry.label(), entry.path());
    let is_current = current.as_ref() == Some(&room);
    let entry = {
        let room = room.clone();
        Memo::new(move |_| list.entry(&room))
    };
    let unread = move || entry.get().map(|e: RoomEntry| e.unread()).unwrap_or(0);
    let mentions = move || entry.get().map(|e| e.mentions).unwrap_or(0);
    let label = {
        let name = name.clone();
        move || {
            let (n, m) = (unread(), mentions());
            match (n, m) {
                (0, _) => name.clone(),
                (n, 0) => format!("{name}, {n} unread"),
                (n, m) => format!("{name}, {n} unread, {m} mentioning you"),
            }
        }
    };
    view! {
        <li
            data-room=room.to_string()
            class:unread=move || { unread() > 0 }
            class:muted=move || entry.get().is_some_and(|e| e.notify == NotifyLevel::Nothing)
        >
            <a
                href=path
                aria-current=if is_current { Some("page") } else { None }
                aria-label=label
            >
                <span class="name">{name}</span>
                <span class="counts">
                    <Show when=move || { mentions() > 0 }>
                        <span class="mentions" data-mentions=mentions>"@" {mentions}</span>
                    </Show>
                    <Show when=move || { unread() > 0 }>
                        <span class="unread-count" data-unread=unread>{unread}</span>
                    </Show>
                </span>
            </a>
        </li>
    }
    .into_any()
}

/// Join (put the room in my list) or Leave. A form either way: without a
/// script it posts and comes back to the room.
#[component]
pub fn JoinLeave(room: RoomName) -> impl IntoView {
    let list = RoomList::expect();
    let join = ServerAction::<JoinRoom>::new();
    let leave = ServerAction::<LeaveRoom>::new();
    // What the server answered, applied at once (the socket says it too).
    Effect::new(move |_| {
        if let Some(Ok(Some(entry))) = join.value().get() {
            list.entries.update(|entries| {
                if !entries.iter().any(|e| e.room == entry.room) {
                    entries.push(entry);
                    RoomEntry::sort(entries);
                }
            });
        }
    });
    let left_room = room.clone();
    Effect::new(move |_| {
        if let Some(Ok(())) = leave.value().get() {
            list.entries.update(|entries| entries.retain(|e| e.room != left_room));
        }
    });
    let error = move || {
        let failed = join.value().get().and_then(Result::err).or_else(|| leave.value().get().and_then(Result::err));
        failed.map(|e| view! { <p class="error" role="alert" data-code=e.code()>{e.to_string()}</p> })
    };
    let joined = {
        let room = room.clone();
        move || list.contains(&room)
    };
    let name = room.to_string();
    view! {
        <div class="join-leave">
            {move || {
                let name = name.clone();
                if joined() {
                    view! {
                        <ActionForm action=leave>
                            <input type="hidden" name="room" value=name/>
                            <button type="submit" class="secondary" disabled=move || leave.pending().get()>"Leave"</button>
                        </ActionForm>
                    }
                    .into_any()
                } else {
                    view! {
                        <ActionForm action=join>
                            <input type="hidden" name="room" value=name/>
                            <button type="submit" disabled=move || join.pending().get()>"Join"</button>
                        </ActionForm>
                    }
                    .into_any()
                }
            }}
            {error}
        </div>
    }
    .into_any()
}

/// When the room notifies me: all messages, mentions only, or nothing. A form:
/// without a script it posts and comes back; with one, a change applies at
/// once (and every tab of mine hears of it).
#[component]
pub fn NotifyChoice(room: RoomName) -> impl IntoView {
    let list = RoomList::expect();
    let set = ServerAction::<SetNotify>::new();
    let level = {
        let room = room.clone();
        Memo::new(move |_| list.entry(&room).map(|e| e.notify))
    };
    let name = StoredValue::new(room.to_string());
    let room = StoredValue::new(room);
    let choose = move |ev: leptos::ev::Event| {
        let Some(level) = NotifyLevel::parse(&event_target_value(&ev)) else { return };
        list.entries.update(|entries| {
            if let Some(entry) = room.with_value(|room| entries.iter_mut().find(|e| &e.room == room)) {
                entry.notify = level;
            }
        });
        set.dispatch(SetNotify { room: name.get_value(), level: level.as_str().to_owned() });
    };
    let error = move || {
        set.value().get().and_then(Result::err).map(|e| view! { <p class="error" role="alert" data-code=e.code()>{e.to_string()}</p> })
    };
    view! {
        <Show when=move || level.get().is_some()>
            <ActionForm action=set attr:class="notify-choice">
                <input type="hidden" name="room" value=name.get_value()/>
                <label>
                    <span class="label">"Notify me of"</span>
                    <select name="level" on:change=choose>
                        {NotifyLevel::ALL
                            .map(|option| {
                                view! {
                                    <option value=option.as_str() selected=move || level.get() == Some(option)>
                                        {option.label()}
                                    </option>
                                }
                            })}
                    </select>
                </label>
                <button type="submit" class="secondary save">"Save"</button>
            </ActionForm>
        </Show>
        {error}
    }
    .into_any()
}
