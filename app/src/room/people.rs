//! Who is here (the header's list of people, paged in a crowded room), who is
//! typing (the line under the log), and this tab's own away state.

use leptos::prelude::*;

use super::presence::{typing_line, PresenceState};
#[cfg(feature = "hydrate")]
use super::state::now_ms;

/// A tab with no input for this long, or hidden this long, is away.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub const AWAY_AFTER_MS: f64 = 5.0 * 60_000.0;

/// "3 people here", and the list of them (away ones marked); a crowded room
/// lists a page at a time. The list is empty until the socket's welcome (the
/// server renders it so), and its view is a chunk of its own, put in place
/// the first time someone is here.
#[component]
pub fn PeopleHere(presence: PresenceState, more: Callback<Option<String>>) -> impl IntoView {
    let summary = move || match presence.online.get() {
        1 => "1 person here".to_owned(),
        n => format!("{n} people here"),
    };
    let panel = NodeRef::<leptos::html::Div>::new();
    #[cfg(feature = "hydrate")]
    {
        let owner = Owner::current();
        let shown = StoredValue::new(false);
        Effect::new(move |_| {
            if presence.online.get() == 0 || shown.get_value() {
                return;
            }
            let (Some(owner), Some(slot)) = (owner.clone(), panel.get()) else { return };
            shown.set_value(true);
            owner.with(|| {
                leptos::reactive::spawn_local_scoped(async move {
                    crate::late::mount_in_place(&slot, lazy::people_list(presence, more).await);
                })
            });
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = more;
    view! {
        <details class="members" class:hidden=move || presence.online.get() == 0>
            <summary>{summary}</summary>
            <div class="people-panel" node_ref=panel></div>
        </details>
    }
    .into_any()
}

#[cfg(feature = "hydrate")]
mod lazy {
    use leptos::prelude::*;

    use super::PresenceState;

    #[lazy]
    pub fn people_list(presence: PresenceState, more: Callback<Option<String>>) -> AnyView {
        view! {
            <ul>
                <For each=move || presence.people.get() key=|p| (p.username.clone(), p.away) let:person>
                    <li class:away=person.away data-username=person.username.clone()>
                        <span class="presence-dot" aria-hidden="true"></span>
                        <a href=format!("/chat/@{}/", person.username) title="Message privately">
                            {person.display_name}
                        </a>
                        {person.away.then_some(view! { <span class="hint">" (away)"</span> })}
                    </li>
                </For>
            </ul>
            <Show when=move || presence.next_page.read().is_some()>
                <button type="button" class="secondary" on:click=move |_| more.run(presence.next_page.get_untracked())>
                    {move || if presence.people.read().is_empty() { "Show people" } else { "Show more people" }}
                </button>
            </Show>
        }
        .into_any()
    }
}

/// "Ada is typing…" under the log, gone when the notices stop.
#[component]
pub fn TypingLine(presence: PresenceState) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    {
        let ticker = set_interval_with_handle(move || presence.expire(now_ms()), std::time::Duration::from_millis(500));
        match ticker {
            Ok(ticker) => on_cleanup(move || ticker.clear()),
            Err(error) => leptos::logging::error!("no timer for the typing line: {error:?}"),
        }
    }
    // Nothing (not an empty text) when nobody types: hydration needs the
    // server's markup to match, and an empty text renders no node.
    let line = move || Some(typing_line(&presence.typing.read())).filter(|line| !line.is_empty());
    view! { <p class="typing hint" aria-live="polite">{line}</p> }.into_any()
}

/// Watches this tab: away once it has been hidden, or without input, for
/// [`AWAY_AFTER_MS`]; back at the next input while visible. `report` hears
/// each change.
pub fn track_away(report: Callback<bool>) {
    #[cfg(feature = "hydrate")]
    {
        let last_active = StoredValue::new(now_ms());
        let away = StoredValue::new(false);
        let active = move || {
            if document().hidden() {
                return;
            }
            last_active.set_value(now_ms());
            if away.get_value() {
                away.set_value(false);
                report.run(false);
            }
        };
        let listeners = vec![
            window_event_listener(leptos::ev::keydown, move |_| active()),
            window_event_listener(leptos::ev::pointerdown, move |_| active()),
            window_event_listener(leptos::ev::wheel, move |_| active()),
            window_event_listener(leptos::ev::focus, move |_| active()),
            window_event_listener(leptos::ev::visibilitychange, move |_| active()),
        ];
        let check = set_interval_with_handle(
            move || {
                if !away.get_value() && now_ms() - last_active.get_value() >= AWAY_AFTER_MS {
                    away.set_value(true);
                    report.run(true);
                }
            },
            std::time::Duration::from_secs(15),
        );
        on_cleanup(move || {
            for listener in listeners {
                listener.remove();
            }
            if let Ok(check) = check {
                check.clear();
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = report;
}
