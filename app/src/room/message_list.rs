//! The room's log: older pages on demand, the messages, then this person's pending
//! ones. Follows new messages while the reader is at the bottom; keeps the reader's
//! place when older messages are added above. Opened with unread messages, it
//! starts at the "new messages" divider, offers a jump back to it while it is
//! above the view, and reports the newest message on screen while the page is
//! visible (what counts as read). Opened at a message (`#m<seq>`: a link, a
//! notification) further back than the first page, it loads older pages until
//! that message is there.

use leptos::html::Div;
use leptos::prelude::*;

use super::actions::MessageActions;
use super::message_body::MessageBody;
use super::message_parts::{FileView, QuoteLink, Reactions};
use super::socket_start;
use super::state::{Pending, PendingState, RoomState};
use super::time::{clock_time, rfc3339};
use crate::history::history;
use crate::protocol::{ChatMessage, ClientMsgId, Seq};
use crate::room_name::RoomName;

/// Distance from the bottom (px) within which the log keeps following new messages.
const FOLLOW_SLACK_PX: i32 = 80;
/// Distance from the top (px) at which scrolling up loads the previous page.
const LOAD_OLDER_AT_PX: i32 = 120;

#[component]
pub fn MessageList(
    room: RoomName,
    /// `#room` or `@Person`, for "This is the beginning of …".
    name: String,
    state: RoomState,
    my_name: Signal<String>,
    /// The reader's username (signed out: `None`): messages mentioning them stand out.
    me: Signal<Option<String>>,
    retry: Callback<ClientMsgId>,
    /// Called with the newest message on screen, while the page is visible.
    seen: Callback<Seq>,
    /// Puts `@username ` in the composer.
    mention: Callback<String>,
    /// What a message's action asks for (see `MessageActions`).
    act: Callback<(Seq, &'static str)>,
    /// Gives or takes back one's reaction (an emoji) to a message.
    react: Callback<(Seq, String)>,
) -> impl IntoView {
    let scroller = NodeRef::<Div>::new();
    let follow = StoredValue::new(true);
    // The divider has been brought into view once (when the room opened).
    let started_at_divider = StoredValue::new(false);
    // The divider is above what the reader sees.
    let divider_above = RwSignal::new(false);
    let report_seen = move || {
        #[cfg(feature = "hydrate")]
        if let Some(el) = scroller.get_untracked() {
            if let Some(seq) = browser::newest_on_screen(&el) {
                seen.run(seq);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (seen, scroller);
    };
    #[cfg(feature = "hydrate")]
    {
        let visible = leptos::prelude::window_event_listener(leptos::ev::visibilitychange, move |_| report_seen());
        let focused = leptos::prelude::window_event_listener(leptos::ev::focus, move |_| report_seen());
        // A link to a message (a reply's quote) further back than what is
        // loaded: older pages, until it is (as when the room opens at one).
        let linked = leptos::prelude::window_event_listener(leptos::ev::hashchange, move |_| {
            let Some(el) = scroller.get_untracked() else { return };
            if !browser::show_target(&el)
                && browser::target().zip(state.first_seq()).is_some_and(|(target, first)| target < first)
            {
                started_at_divider.set_value(false);
                state.messages.update(|_| {});
            }
        });
        on_cleanup(move || {
            visible.remove();
            focused.remove();
            linked.remove();
        });
    }
    // Distance from the bottom to restore after older messages are put in front.
    let keep_place = StoredValue::new(None::<i32>);
    let loading = RwSignal::new(false);
    let room_key = StoredValue::new(room.to_string());

    let load_older = move || {
        if loading.get_untracked() || state.at_start.get_untracked() {
            return;
        }
        let Some(first) = state.first_seq() else { return };
        if let Some(el) = scroller.get_untracked() {
            keep_place.set_value(Some(el.scroll_height() - el.scroll_top()));
        }
        loading.set(true);
        let room = room_key.get_value();
        // Going to a message further back: everything down to it (and a few
        // before), in as few requests as the server allows.
        #[cfg(feature = "hydrate")]
        let limit =
            browser::target().filter(|t| *t < first).map(|t| (first.0 - t.0 + 10).min(u64::from(u32::MAX)) as u32);
        #[cfg(not(feature = "hydrate"))]
        let limit = None;
        leptos::task::spawn_local(async move {
            match history(room, Some(first.0), limit).await {
                Ok(page) => state.prepend(page),
                Err(error) => {
                    keep_place.set_value(None);
                    state.error.set(Some(format!("Could not load older messages: {error}")));
                }
            }
            loading.set(false);
        });
    };
    Effect::new(move |_| {
        state.messages.track();
        state.pending.track();
        let Some(el) = scroller.get() else { return };
        // Opened at a message (`#m<seq>`, from a notification): there, once.
        #[cfg(feature = "hydrate")]
        if !started_at_divider.get_value() {
            if browser::show_target(&el) {
                started_at_divider.set_value(true);
                follow.set_value(false);
                // Pages loaded to reach it keep no place of their own.
                keep_place.set_value(None);
                report_seen();
                return;
            }
            // Further back than what is loaded: older pages, until it is.
            if browser::target().zip(state.first_seq()).is_some_and(|(target, first)| target < first)
                && !state.at_start.get_untracked()
            {
                follow.set_value(false);
                load_older();
                return;
            }
        }
        if !started_at_divider.get_value() && state.unread_from.get_untracked().is_some() {
            started_at_divider.set_value(true);
            #[cfg(feature = "hydrate")]
            if browser::show_divider(&el) {
                follow.set_value(false);
                report_seen();
                return;
            }
        }
        if let Some(from_bottom) = keep_place.get_value() {
            keep_place.set_value(None);
            el.set_scroll_top(el.scroll_height() - from_bottom);
        } else if follow.get_value() {
            el.set_scroll_top(el.scroll_height());
        }
        report_seen();
    });

    let on_scroll = move |_| {
        let Some(el) = scroller.get() else { return };
        let from_bottom = el.scroll_height() - el.scroll_top() - el.client_height();
        follow.set_value(from_bottom <= FOLLOW_SLACK_PX);
        if el.scroll_top() <= LOAD_OLDER_AT_PX {
            load_older();
        }
        #[cfg(feature = "hydrate")]
        divider_above.set(browser::divider_above(&el));
        report_seen();
    };
    let jump_to_divider = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(el) = scroller.get_untracked() {
            browser::show_divider(&el);
            divider_above.set(false);
        }
    };
    let room_title = StoredValue::new(name);
    // An edit or a delete changes the key: the item is made afresh.
    #[cfg(not(feature = "ssr"))]
    let messages = view! {
        <For each=move || state.messages.get() key=item_key let:message>
            <MessageItem message state me mention act react/>
        </For>
    };
    // The server renders the list once, as it is: a keyed list would build every
    // item twice (Leptos walks a reactive view once to find what it awaits, then
    // builds it again to render). The HTML is the same, so the page's keyed list
    // takes it over.
    #[cfg(feature = "ssr")]
    let messages = state
        .messages
        .get_untracked()
        .into_iter()
        .map(|message| view! { <MessageItem message state me mention act react/> })
        .collect_view();

    // What the page's early socket opens and joins with (`socket_start`).
    let (socket, join) = (socket_start::path(&room), socket_start::join(&state).to_json());
    view! {
        <div class="log-area" data-socket=socket data-join=join>
        {move || {
            divider_above.get().then(|| {
                view! { <button type="button" class="jump-unread" on:click=jump_to_divider>"↑ Jump to first unread"</button> }
            })
        }}
        <div class="log-scroller" node_ref=scroller on:scroll=on_scroll>
            <div class="log-start">
                {move || {
                    if state.at_start.get() {
                        let empty = state.messages.read().is_empty() && state.pending.read().is_empty();
                        let text = if empty {
                            format!("This is the beginning of {}. No messages yet: say hello!", room_title.get_value())
                        } else {
                            format!("This is the beginning of {}.", room_title.get_value())
                        };
                        view! { <p class="hint beginning">{text}</p> }.into_any()
                    } else if state.history_loaded.get() {
                        view! {
                            <button type="button" class="link load-older" disabled=move || loading.get() on:click=move |_| load_older()>
                                {move || if loading.get() { "Loading older messages…" } else { "Load older messages" }}
                            </button>
                        }.into_any()
                    } else {
                        ().into_any()
                    }
                }}
            </div>
            // The live region wraps the list, so the list stays a list to
            // assistive technology (a list with role=log is not one).
            <div role="log" aria-live="polite" aria-label="Messages">
                <ol class="log">
                    {messages}
                    <For each=move || state.pending.get() key=|p| p.id.clone() let:pending>
                        <PendingItem id=pending.id.clone() state my_name retry/>
                    </For>
                </ol>
            </div>
        </div>
        </div>
    }
    .into_any()
}

/// A message's key in the log: its seq, and which version of it this is (an
/// edit, a delete, a reaction or a change of what it quotes makes the item
/// afresh). One `u64`, as `Seq`, because a key type of its own costs the WASM
/// a keyed list's code again: the seq in the high 32 bits (4 billion messages
/// a room), below it a hash (FNV-1a) of what can change. Two versions of one
/// message alike to 31 bits would look alike to a page open all along, until
/// it reloads.
#[cfg(not(feature = "ssr"))]
fn item_key(message: &ChatMessage) -> Seq {
    let mut hash = 0x811c_9dc5_u32;
    let mut add = |bytes: &[u8]| {
        for b in bytes {
            hash = (hash ^ u32::from(*b)).wrapping_mul(0x0100_0193);
        }
    };
    add(&message.edited_at.map_or(0, |at| at.0).to_le_bytes());
    for reaction in &message.reactions {
        add(reaction.emoji.as_bytes());
        add(&reaction.count.to_le_bytes());
        reaction.users.iter().for_each(|user| add(user.as_bytes()));
    }
    if let Some(quote) = &message.reply {
        add(quote.excerpt.as_bytes());
        add(&[u8::from(quote.deleted)]);
    }
    Seq(message.seq.0 << 32 | u64::from(hash & 0x7fff_ffff) << 1 | u64::from(message.deleted))
}

/// What a deleted message shows (Markdown: in italics).
const TOMBSTONE: &str = "*Message deleted*";

/// Messages of one person this close together are shown under one name.
const GROUP_WITHIN_MS: i64 = 5 * 60_000;

#[component]
fn MessageItem(
    message: ChatMessage,
    state: RoomState,
    me: Signal<Option<String>>,
    mention: Callback<String>,
    act: Callback<(Seq, &'static str)>,
    react: Callback<(Seq, String)>,
) -> impl IntoView {
    let (hydrated, unread_from) = (state.hydrated, state.unread_from);
    let at = message.sent_at;
    let seq = message.seq;
    // The message before this one, as far as the page has it: its author and time.
    // (A closure, not a memo: one more memo type costs the WASM budget more
    // than the look-ups cost the page.)
    let previous_at = move || state.messages.with(|m| m.before(&seq).map(|p| p.sent_at));
    let day = move || super::time::day_of(at, hydrated.get());
    let new_day = move || previous_at().is_none_or(|t| super::time::day_of(t, hydrated.get()) != day());
    let day_text = move || super::time::day_label(day(), super::time::today(hydrated.get()));
    let author = message.author.clone();
    let grouped = move || {
        !new_day()
            && state
                .messages
                .with(|m| m.before(&seq).is_some_and(|p| p.author == author && at.0 - p.sent_at.0 < GROUP_WITHIN_MS))
    };
    // A deleted message keeps its place: its body says so.
    let body = if message.deleted { TOMBSTONE.to_owned() } else { message.body.clone() };
    let mentions = message.mentions.clone();
    let mentions_me = move || me.with(|me| me.as_ref().is_some_and(|me| mentions.contains(me)));
    // The server renders UTC; once hydrated, the reader's own time zone.
    let clock = move || {
        if hydrated.get() {
            clock_time(at)
        } else {
            super::time::utc_clock_time(at)
        }
    };
    view! {
        <li
            class="message"
            class:grouped=grouped
            class:mentions-me=mentions_me
            id=format!("m{}", message.seq.0)
            data-seq=message.seq.0
            // Focusable by a tap (its actions show), not a stop for Tab.
            tabindex="-1"
        >
            // Closures, not `<Show>`: a `<Show>` is a memo and a component for each
            // message, a tenth of a room page's render on the server (perf,
            // 2026-12-04); the dividers are small enough to build again.
            {move || {
                new_day().then(|| view! {
                    <div class="day-divider" role="separator">
                        <span>{day_text}</span>
                    </div>
                })
            }}
            {move || {
                (unread_from.get() == Some(seq)).then(|| view! {
                    <div class="unread-divider" id="unread-divider">
                        <span>"New messages"</span>
                    </div>
                })
            }}
            <Avatar name=message.author.clone()/>
            <div class="meta">
                <span class="author">{message.author}</span>
                <time datetime=rfc3339(at)>{clock}</time>
                // Plain text either way: a view of its own would cost the WASM more.
                <span class="edited">{if message.edited_at.is_some() && !message.deleted { "(edited)" } else { "" }}</span>
            </div>
            {message.reply.map(|quote| view! { <QuoteLink quote=*quote/> })}
            <MessageBody body=body mentions=message.mentions.clone()/>
            {message.file.map(|file| view! { <FileView file=*file/> })}
            <div class="edit-slot"></div>
            {(!message.reactions.is_empty()).then(|| view! { <Reactions seq reactions=message.reactions me react/> })}
            <MessageActions seq username=message.username me mention deleted=message.deleted act moderator=state.moderator/>
        </li>
    }
    .into_any()
}

#[component]
fn PendingItem(
    id: ClientMsgId,
    state: RoomState,
    my_name: Signal<String>,
    retry: Callback<ClientMsgId>,
) -> impl IntoView {
    let find = {
        let id = id.clone();
        move || state.pending.with(|p| p.iter().find(|p| p.id == id).cloned())
    };
    let body = {
        let find = find.clone();
        move || find().map(|p: Pending| p.body).unwrap_or_default()
    };
    let file = {
        let find = find.clone();
        move || find().and_then(|p| p.file).map(|file| view! { <FileView file/> })
    };
    let status = move || match find().map(|p| p.state) {
        Some(PendingState::Failed(reason)) => {
            let id = id.clone();
            view! {
                <span class="pending-state failed" data-pending="failed">
                    {format!("Not sent: {reason} ")}
                    <button type="button" class="link" on:click=move |_| retry.run(id.clone())>"Retry"</button>
                </span>
            }
            .into_any()
        }
        Some(PendingState::Stored(_)) => {
            view! { <span class="pending-state" data-pending="sent">"Sent"</span> }.into_any()
        }
        _ => view! { <span class="pending-state" data-pending="sending">"Sending…"</span> }.into_any(),
    };
    view! {
        <li class="message pending">
            {move || view! { <Avatar name=my_name.get()/> }}
            <div class="meta">
                <span class="author">{move || my_name.get()}</span>
                {status}
            </div>
            <MessageBody body=body()/>
            {file}
        </li>
    }
    .into_any()
}

/// Initials on a colour of their own: the same person, the same colour.
#[component]
fn Avatar(name: String) -> impl IntoView {
    let initials: String =
        name.split_whitespace().filter_map(|word| word.chars().next()).take(2).flat_map(char::to_uppercase).collect();
    // FNV-1a of the name, to one of the stylesheet's twelve hues (a class: the
    // content security policy allows no inline style).
    let hash = name.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    let class = format!("avatar hue-{}", hash % 12);
    view! { <span class=class aria-hidden="true">{initials}</span> }.into_any()
}

/// Geometry, which only a browser has.
#[cfg(feature = "hydrate")]
mod browser {
    use wasm_bindgen::JsCast;

    use crate::protocol::Seq;

    /// The newest message at least partly inside the log's view, if the page
    /// is visible.
    pub fn newest_on_screen(log: &web_sys::Element) -> Option<Seq> {
        if leptos::prelude::document().hidden() {
            return None;
        }
        let bottom = log.get_bounding_client_rect().bottom();
        let items = log.query_selector_all("li.message[data-seq]").ok()?;
        (0..items.length()).rev().find_map(|i| {
            let item: web_sys::Element = items.item(i)?.dyn_into().ok()?;
            if item.get_bounding_client_rect().top() >= bottom {
                return None;
            }
            item.get_attribute("data-seq")?.parse().ok().map(Seq)
        })
    }

    /// The message the address points at (`#m<seq>`), if any.
    pub fn target() -> Option<Seq> {
        let hash = leptos::prelude::window().location().hash().ok()?;
        hash.strip_prefix("#m").and_then(|seq| seq.parse().ok()).map(Seq)
    }

    /// Scrolls the message the address points at (`#m<seq>`) into view;
    /// `false` when it points at none loaded.
    pub fn show_target(log: &web_sys::Element) -> bool {
        let Some(seq) = target().map(|seq| seq.0) else {
            return false;
        };
        match log.query_selector(&format!("#m{seq}")) {
            Ok(Some(message)) => {
                message.scroll_into_view();
                true
            }
            _ => false,
        }
    }

    /// Scrolls the divider to the top of the view; `false` when there is none.
    pub fn show_divider(log: &web_sys::Element) -> bool {
        match log.query_selector("#unread-divider") {
            Ok(Some(divider)) => {
                divider.scroll_into_view();
                true
            }
            _ => false,
        }
    }

    pub fn divider_above(log: &web_sys::Element) -> bool {
        match log.query_selector("#unread-divider") {
            Ok(Some(divider)) => divider.get_bounding_client_rect().bottom() < log.get_bounding_client_rect().top(),
            _ => false,
        }
    }
}
