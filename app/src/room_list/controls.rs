//! A room's controls in its header (Join or Leave, when it notifies me) and
//! the button that asks the browser for permission to notify. Their views are
//! `#[lazy]`: a chunk of their own in the release WASM, fetched as the page
//! hydrates, because every element and form a view adds costs the first
//! page's WASM (the notification level's menu alone cost 8 KB of gzip there,
//! more than the rest of the notification code).

use leptos::prelude::*;

use super::notices::{self, NotifyPermission};
use super::RoomList;
use crate::room_name::RoomName;
use leptos::form::ActionForm;

use crate::rooms::{JoinRoom, LeaveRoom, NotifyLevel, RoomEntry, SetNotify};

/// [`room_controls_view`], from this chunk.
#[cfg(feature = "hydrate")]
#[lazy]
pub fn room_controls(room: RoomName, choose: Callback<NotifyLevel>) -> AnyView {
    room_controls_view(room, choose)
}

/// Join or Leave (not in a direct conversation; signed in only) and the
/// notification level (rooms in my list).
pub fn room_controls_view(room: RoomName, choose: Callback<NotifyLevel>) -> AnyView {
    let list = RoomList::expect();
    let signed_in = move || list.me.read().is_some();
    let join_leave = (!room.is_direct()).then(|| {
        let room = room.clone();
        move || signed_in().then(|| join_leave(room.clone()))
    });
    view! {
        {notify_choice(room, choose)}
        {join_leave}
    }
    .into_any()
}

/// A plain form: without a script it posts to the server function and comes
/// back; with one, a choice goes over the room's socket (`choose`) at once,
/// and every tab of mine hears of it. Nothing for a room not in my list.
fn notify_choice(room: RoomName, choose: Callback<NotifyLevel>) -> AnyView {
    const SET_NOTIFY_PATH: &str = <SetNotify as leptos::server_fn::ServerFn>::PATH;
    let list = RoomList::expect();
    let level = {
        let room = room.clone();
        Memo::new(move |_| list.entry(&room).map(|e| e.notify))
    };
    let name = room.to_string();
    let room = StoredValue::new(room);
    let on_change = move |ev: leptos::ev::Event| {
        let Some(level) = NotifyLevel::parse(&event_target_value(&ev)) else { return };
        list.entries.update(|entries| {
            if let Some(entry) = room.with_value(|room| entries.iter_mut().find(|e| &e.room == room)) {
                entry.notify = level;
            }
        });
        choose.run(level);
    };
    let view = move || {
        // As the list has it when drawn: a page without a script shows the
        // stored choice selected.
        let current = level.get()?;
        let option = |option: NotifyLevel| {
            view! { <option value=option.as_str() selected=current == option>{option.label()}</option> }
        };
        Some(view! {
            <form class="notify-choice" method="post" action=SET_NOTIFY_PATH>
                <input type="hidden" name="room" value=name.clone()/>
                <label>
                    <span class="label">"Notify me of"</span>
                    <select name="level" prop:value=current.as_str() on:change=on_change>
                        {option(NotifyLevel::All)}
                        {option(NotifyLevel::Mentions)}
                        {option(NotifyLevel::Nothing)}
                    </select>
                </label>
                <button type="submit" class="secondary save">"Save"</button>
            </form>
        })
    };
    view.into_any()
}

/// Asks for the permission (a click is the gesture it needs), or says that
/// notifications are blocked.
#[lazy]
pub fn permission_button() -> AnyView {
    let permission = RwSignal::new(notices::permission());
    let list = RoomList::expect();
    let ask = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(me) = list.me.get_untracked() {
            leptos::task::spawn_local(async move { permission.set(notices::ask(me).await) });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = list;
    };
    let view = move || match permission.get() {
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
    };
    view.into_any()
}

/// Join (put the room in my list) or Leave. A form either way: without a
/// script it posts and comes back to the room.
fn join_leave(room: RoomName) -> AnyView {
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
