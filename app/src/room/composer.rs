use leptos::prelude::*;

use super::state::{ConnectionStatus, RoomState};
use crate::protocol::{validate_body, MAX_BODY_CHARS};

/// Within this many characters of the limit, the composer shows how many are left.
const COUNTER_FROM: usize = MAX_BODY_CHARS - 500;

#[component]
pub fn Composer(state: RoomState, send: Callback<String>) -> impl IntoView {
    let draft = RwSignal::new(String::new());
    // While (re)connecting, messages wait as pending and go out once live.
    let can_send = move || {
        matches!(
            *state.status.read(),
            ConnectionStatus::Connecting
                | ConnectionStatus::Live
                | ConnectionStatus::Reconnecting { .. }
                | ConnectionStatus::Offline
        )
    };
    let length = move || draft.read().chars().count();

    let submit = move || {
        if !can_send() {
            return;
        }
        let body = draft.get_untracked();
        if let Err(refusal) = validate_body(&body) {
            if !body.trim().is_empty() {
                state.error.set(Some(refusal.to_string()));
            }
            return;
        }
        send.run(body);
        draft.set(String::new());
        state.error.set(None);
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        submit();
    };
    // Enter sends; Shift+Enter makes a new line; Enter that ends an IME composition does neither.
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
            ev.prevent_default();
            submit();
        }
    };

    view! {
        <form class="composer" on:submit=on_submit>
            {move || state.error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <div class="row">
                <textarea
                    id="composer"
                    rows="1"
                    aria-label="Message"
                    placeholder="Write a message…"
                    enterkeyhint="send"
                    bind:value=draft
                    on:keydown=on_keydown
                ></textarea>
                <button type="submit" disabled=move || !can_send()>"Send"</button>
            </div>
            <p class="counter hint" aria-live="polite">
                {move || counter_text(length())}
            </p>
        </form>
    }
}

/// "12 characters left" near the limit, "3 characters over the limit" past it.
fn counter_text(length: usize) -> Option<String> {
    let plural = |n: usize| if n == 1 { "character" } else { "characters" };
    if length > MAX_BODY_CHARS {
        let over = length - MAX_BODY_CHARS;
        Some(format!("{over} {} over the limit", plural(over)))
    } else if length >= COUNTER_FROM {
        let left = MAX_BODY_CHARS - length;
        Some(format!("{left} {} left", plural(left)))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_appears_near_the_limit() {
        assert_eq!(counter_text(10), None);
        assert_eq!(counter_text(MAX_BODY_CHARS - 2).as_deref(), Some("2 characters left"));
        assert_eq!(counter_text(MAX_BODY_CHARS - 1).as_deref(), Some("1 character left"));
        assert_eq!(counter_text(MAX_BODY_CHARS + 1).as_deref(), Some("1 character over the limit"));
    }
}
