//! The room list's views: the list itself ([`RoomListNav`]) and what a room's
//! header offers about it ([`RoomControls`]). Both read [`RoomList`], which the
//! page fills from the server (in its first HTML) and the room socket keeps live.

use leptos::prelude::*;

use super::controls;
use super::notices::{self, NotifyPermission};
use super::RoomList;
use crate::awaited::reactive;
use crate::room_name::RoomName;
use crate::rooms::{NotifyLevel, RoomEntry};

/// The list beside the open room (`current`); a drawer on a narrow screen,
/// opened by the room header's Rooms button.
///
/// The server renders the list in the page; the browser leaves that HTML alone
/// while it hydrates, then builds the live list (counts that move, notices)
/// from a chunk of its own fetched after hydration and puts it in place, as
/// the room's controls are. Until then the links are plain links. Its views
/// (a keyed list of rooms, twice, and their counts) cost the first page's
/// WASM about 3% of its size.
#[component]
pub fn RoomListNav(current: Option<RoomName>, #[prop(into)] open: Signal<bool>) -> impl IntoView {
    let slot = NodeRef::<leptos::html::Div>::new();
    #[cfg(feature = "hydrate")]
    {
        let owner = Owner::current().expect("a component has an owner");
        let current = current.clone();
        Effect::new(move |_| {
            let Some(slot) = slot.get() else { return };
            let current = current.clone();
            owner.with(|| {
                leptos::reactive::spawn_local_scoped(async move {
                    crate::late::mount_in_place(&slot, live_list(current).await);
                })
            });
        });
    }
    #[cfg(feature = "ssr")]
    let body = view! { <div class="my-rooms-body" node_ref=slot>{list_view(current)}</div> };
    #[cfg(not(feature = "ssr"))]
    let body = {
        let _ = current;
        view! { <div class="my-rooms-body" node_ref=slot inner_html=String::new()></div> }
    };
    view! {
        <nav class="my-rooms" class:open=move || open.get() aria-label="Your rooms" id="my-rooms">
            {body}
        </nav>
    }
    .into_any()
}

/// [`list_view`], from a chunk of its own.
#[cfg(feature = "hydrate")]
#[lazy]
fn live_list(current: Option<RoomName>) -> AnyView {
    list_view(current)
}

/// The rooms (and direct conversations) with their counts, and the way to turn
/// notifications on.
fn list_view(current: Option<RoomName>) -> AnyView {
    let list = RoomList::expect();
    let current = StoredValue::new(current);
    view! {
        <h2>"Rooms"</h2>
        {reactive!(move || {
            if list.me.read().is_none() {
                view! { <p class="hint">"Sign in to keep a list of your rooms."</p> }.into_any()
            } else if list.entries.read().is_empty() {
                view! { <p class="hint">"Rooms you join or post in show here."</p> }.into_any()
            } else {
                let section = move |direct: bool| {
                    move || list.entries.get().into_iter().filter(|e| e.room.is_direct() == direct).collect::<Vec<_>>()
                };
                // The server renders the rooms once, as a plain list (a keyed
                // list is built twice there); the browser's live list replaces it.
                #[cfg(feature = "ssr")]
                let links = move |direct: bool| {
                    section(direct)()
                        .into_iter()
                        .map(|entry| view! { <RoomLink entry current=current.get_value()/> })
                        .collect_view()
                };
                #[cfg(not(feature = "ssr"))]
                let links = move |direct: bool| {
                    view! {
                        <For each=section(direct) key=|e| e.room.clone() let:entry>
                            <RoomLink entry current=current.get_value()/>
                        </For>
                    }
                };
                view! {
                    <ul aria-label="Rooms">{links(false)}</ul>
                    <Show when=move || list.entries.read().iter().any(|e| e.room.is_direct())>
                        <h2>"Direct messages"</h2>
                        <ul aria-label="Direct messages">{links(true)}</ul>
                    </Show>
                }
                .into_any()
            }
        })}
        <Show when=move || list.me.read().is_some()>
            <NotifyPermissionButton/>
        </Show>
    }
    .into_any()
}

/// The way to turn browser notifications on, shown once the page knows the
/// browser's answer (never before hydration: only a script can ask).
#[component]
fn NotifyPermissionButton() -> impl IntoView {
    let wanted = RwSignal::new(false);
    let list = RoomList::expect();
    Effect::new(move |_| {
        let permission = notices::permission();
        wanted.set(matches!(permission, NotifyPermission::Ask | NotifyPermission::Denied));
        #[cfg(feature = "hydrate")]
        if let (NotifyPermission::Granted, Some(me)) = (permission, list.me.get_untracked()) {
            notices::keep_pushing(me);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = list;
    });
    move || {
        wanted.get().then(|| {
            view! { <Suspense fallback=|| ()>{Suspend::new(async move { controls::permission_button().await })}</Suspense> }
        })
    }
}

#[component]
fn RoomLink(entry: RoomEntry, current: Option<RoomName>) -> impl IntoView {
    let list = RoomList::expect();
    let room = entry.room.clone();
    let (name, path) = (entry.label(), entry.path());
    let is_current = current.as_ref() == Some(&room);
    // Closures over `Copy` values (so `Copy` themselves), not a memo: each
    // memo type costs the WASM; a list change asks each of them again.
    let key = StoredValue::new(room.clone());
    let entry = move || key.with_value(|room| list.entry(room));
    let unread = move || entry().map(|e: RoomEntry| e.unread()).unwrap_or(0);
    let mentions = move || entry().map(|e| e.mentions).unwrap_or(0);
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
            class:muted=move || entry().is_some_and(|e| e.notify == NotifyLevel::Nothing)
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

/// What I can do about the room in its header: Join or Leave it, choose when
/// it notifies me. The server renders the controls as plain forms (they work
/// without a script); the browser leaves that HTML alone while it hydrates and
/// then puts the live controls in its place, from a chunk of their own
/// ([`controls`]) fetched after hydration. Hydrating them in place would need
/// their code in the first chunk, or the chunk before hydration.
#[component]
pub fn RoomControls(room: RoomName, choose: Callback<NotifyLevel>) -> impl IntoView {
    let slot = NodeRef::<leptos::html::Div>::new();
    #[cfg(feature = "ssr")]
    let html = controls::room_controls_view(room.clone(), choose).to_html();
    #[cfg(not(feature = "ssr"))]
    let html = String::new();
    #[cfg(feature = "hydrate")]
    {
        // The component's owner, not the Effect's: the controls live as long
        // as the header.
        let owner = Owner::current().expect("a component has an owner");
        Effect::new(move |_| {
            let Some(slot) = slot.get() else { return };
            let room = room.clone();
            owner.with(|| {
                leptos::reactive::spawn_local_scoped(async move {
                    let view = controls::room_controls(room, choose).await;
                    crate::late::mount_in_place(&slot, view);
                })
            });
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (&room, choose);
    view! { <div class="room-controls" node_ref=slot inner_html=html></div> }
}
