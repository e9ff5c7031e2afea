use leptos::html::Div;
use leptos::prelude::*;

use super::state::{Keyed, LogEntry, RoomState};
use super::time::{clock_time, rfc3339};

/// Distance from the bottom (px) within which the log keeps following new messages.
const FOLLOW_SLACK_PX: i32 = 80;

#[component]
pub fn MessageList(state: RoomState) -> impl IntoView {
    let scroller = NodeRef::<Div>::new();
    let follow = StoredValue::new(true);

    // New entries scroll into view, unless the reader has scrolled up to read.
    Effect::new(move |_| {
        state.log.track();
        if let (Some(el), true) = (scroller.get(), follow.get_value()) {
            el.set_scroll_top(el.scroll_height());
        }
    });
    let on_scroll = move |_| {
        if let Some(el) = scroller.get() {
            let from_bottom = el.scroll_height() - el.scroll_top() - el.client_height();
            follow.set_value(from_bottom <= FOLLOW_SLACK_PX);
        }
    };

    view! {
        <div class="log-scroller" node_ref=scroller on:scroll=on_scroll>
            <Show when=move || state.log.read().is_empty()>
                <p class="empty hint">"No messages yet. Say hello!"</p>
            </Show>
            <ol class="log" role="log" aria-live="polite" aria-label="Messages">
                <For each=move || state.log.get() key=|item| item.key let:item>
                    <Entry item/>
                </For>
            </ol>
        </div>
    }
}

#[component]
fn Entry(item: Keyed) -> impl IntoView {
    match item.entry {
        LogEntry::Message(message) => view! {
            <li class="message">
                <div class="meta">
                    <span class="author">{message.author}</span>
                    <time datetime=rfc3339(message.sent_at)>{clock_time(message.sent_at)}</time>
                </div>
                <p class="body">{message.body}</p>
            </li>
        }
        .into_any(),
        LogEntry::Note(note) => view! { <li class="note">{note}</li> }.into_any(),
    }
}
