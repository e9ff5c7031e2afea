use leptos::prelude::*;

use super::mentions::{AssistEvent, MentionAssist, LIST_ID};
use super::state::{ConnectionStatus, RoomState};
use super::uploading::{PickedFile, Upload};
use crate::protocol::{validate_body, ChatError, ClientMsgId, Seq, MAX_BODY_CHARS};

/// Within this many characters of the limit, the composer shows how many are left.
const COUNTER_FROM: usize = MAX_BODY_CHARS - 500;

/// What a plain form post of the composer left for the page to show: the
/// refusal and the text that was refused.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FormReturn {
    pub refusal: Option<ChatError>,
    pub draft: String,
}

/// The clip button: picks a file (offered once the page is live: a form post
/// without scripts carries no file).
const ATTACH: &str = "<label class=\"attach\" title=\"Attach a file or an image\"><input type=\"file\" \
    class=\"visually-hidden\" aria-label=\"Attach a file\"><span aria-hidden=\"true\">📎</span></label>";

/// While someone types, the room is told at most this often.
pub const TYPING_EVERY_MS: f64 = 3_000.0;

/// The message box. A real form: without scripts it posts to the room's address
/// (`action`) under the page's id for it (`form_id`, so a second post of the same
/// form is not stored twice); hydrated, it sends over the WebSocket instead.
#[component]
pub fn Composer(
    state: RoomState,
    send: Callback<String>,
    /// Called while the person types, at most every [`TYPING_EVERY_MS`].
    typing: Callback<()>,
    action: String,
    form_id: ClientMsgId,
    returned: FormReturn,
    /// The `@` helper.
    mentions: MentionAssist,
    /// Text to add to the draft (from a message's actions); taken at once.
    insert: RwSignal<Option<String>>,
    /// Opens the editor on one's own message (Up in an empty box: the last).
    act: Callback<(Seq, &'static str)>,
    /// The room's key, where its files are uploaded.
    room_key: String,
) -> impl IntoView {
    let textarea = NodeRef::<leptos::html::Textarea>::new();
    let slot = NodeRef::<leptos::html::Div>::new();
    let draft = RwSignal::new(returned.draft.clone());
    let refusal = RwSignal::new(returned.refusal);
    // Hands an input or a key to the `@` helper, in its chunk, under the
    // composer's owner (its list lives as long as the composer).
    let owner = Owner::current();
    let assist = Callback::new(move |event: AssistEvent| {
        #[cfg(feature = "hydrate")]
        if let (Some(owner), Some(textarea), Some(slot)) = (&owner, textarea.get_untracked(), slot.get_untracked()) {
            owner.with(|| {
                leptos::reactive::spawn_local_scoped(super::mentions::assist(mentions, event, draft, textarea, slot))
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (&owner, event);
    });
    // The refused text, in the box before any script runs.
    let draft_html = escape_html(&returned.draft);
    // While (re)connecting, messages wait as pending and go out once live;
    // before hydration (and without scripts) the form posts itself.
    let can_send = move || {
        matches!(
            *state.status.read(),
            ConnectionStatus::Idle
                | ConnectionStatus::Connecting
                | ConnectionStatus::Live
                | ConnectionStatus::Reconnecting { .. }
                | ConnectionStatus::Offline
        )
    };
    Effect::new(move |_| {
        let Some(text) = insert.get() else { return };
        insert.set(None);
        draft.update(|draft| {
            if !draft.is_empty() && !draft.ends_with(char::is_whitespace) {
                draft.push(' ');
            }
            draft.push_str(&text);
        });
        if let Some(el) = textarea.get_untracked() {
            if let Err(error) = el.focus() {
                leptos::logging::warn!("focusing the composer failed: {error:?}");
            }
        }
    });
    // Replying: the box takes the focus.
    Effect::new(move |_| {
        if state.replying.get().is_some() {
            if let Some(el) = textarea.get_untracked() {
                if let Err(error) = el.focus() {
                    leptos::logging::warn!("focusing the composer failed: {error:?}");
                }
            }
        }
    });
    // A file picked, pasted or dropped: uploaded at once, posted with the
    // next message.
    let composer = Owner::current();
    let take_file = Callback::new(move |file: Option<PickedFile>| {
        #[cfg(feature = "hydrate")]
        if let (Some(file), Some(owner)) = (file, &composer) {
            let room = room_key.clone();
            owner.with(|| {
                leptos::reactive::spawn_local_scoped(super::uploading::send_file(file, room, state.upload, state.error))
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (file, &room_key, &composer);
    });
    // Dropped on the composer or pasted in it, a file is taken too.
    let form = NodeRef::<leptos::html::Form>::new();
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(form) = form.get() {
            super::uploading::listen(&form, take_file);
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = take_file;
    let length = move || draft.read().chars().count();
    // When the room was last told this person is typing.
    let told_typing = StoredValue::new(f64::NEG_INFINITY);
    let on_input = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(el) = textarea.get_untracked() {
            let text = el.value();
            if text.contains('@') || mentions.is_open() {
                let caret = el.selection_start().ok().flatten().unwrap_or(u32::MAX);
                assist.run(AssistEvent::Input { text, caret });
            }
        }
        let now = super::state::now_ms();
        if !draft.read_untracked().trim().is_empty() && now - told_typing.get_value() >= TYPING_EVERY_MS {
            told_typing.set_value(now);
            typing.run(());
        }
    };

    let submit = move || {
        if !can_send() {
            return;
        }
        let body = draft.get_untracked();
        let file = state.upload.get_untracked();
        if matches!(file, Some(Upload::Sending { .. })) {
            // Sent once it is uploaded: the button says so meanwhile.
            return;
        }
        if let Err(refused) = validate_body(&body) {
            if !body.trim().is_empty() {
                refusal.set(Some(refused));
            }
            if file.is_none() || !body.trim().is_empty() {
                return;
            }
        }
        send.run(body);
        told_typing.set_value(f64::NEG_INFINITY);
        draft.set(String::new());
        state.error.set(None);
        refusal.set(None);
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        submit();
    };
    // While people are offered: arrows move, Enter or Tab takes, Escape closes.
    // Otherwise Enter sends; Shift+Enter makes a new line; Enter that ends an
    // IME composition does neither.
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        let key = ev.key();
        if mentions.is_open()
            && !ev.is_composing()
            && !ev.shift_key()
            && matches!(key.as_str(), "ArrowDown" | "ArrowUp" | "Enter" | "Tab" | "Escape")
        {
            ev.prevent_default();
            ev.stop_propagation();
            assist.run(AssistEvent::Key(key));
            return;
        }
        if key == "ArrowUp" && draft.read_untracked().is_empty() && !ev.is_composing() {
            ev.prevent_default();
            let me = state.me.get_untracked();
            let last = state.messages.with_untracked(|m| {
                m.iter().rev().find(|m| !m.deleted && Some(&m.username) == me.as_ref()).map(|m| m.seq)
            });
            if let Some(seq) = last {
                act.run((seq, "edit"));
            }
            return;
        }
        if key == "Escape" && state.replying.get_untracked().is_some() {
            state.replying.set(None);
            return;
        }
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
            ev.prevent_default();
            submit();
        }
    };

    view! {
        <form class="composer" method="post" action=action on:submit=on_submit node_ref=form>
            <input type="hidden" name="id" value=form_id.0/>
            {move || match (state.error.get(), refusal.get()) {
                (Some(error), _) => Some(view! { <p class="error" role="alert">{error}</p> }.into_any()),
                (None, Some(refusal)) => Some(
                    view! { <p class="error" role="alert" data-code=refusal.code()>{refusal.to_string()}</p> }.into_any(),
                ),
                (None, None) => None,
            }}
            <div class="mention-slot" node_ref=slot></div>
            {move || state.replying.get().map(|seq| {
                // What the reply will quote, as the server will.
                let quote = state.messages.with_untracked(|m| {
                    m.get(&seq).map(|m| crate::protocol::Quote::of(seq, m.author.clone(), &m.text(), m.deleted))
                });
                let (author, line) = quote.map(|q| (q.author, q.excerpt)).unwrap_or_default();
                view! {
                    <div class="replying">
                        <span>"Replying to "<b>{author}</b>": "{line}</span>
                        <button type="button" class="link" on:click=move |_| state.replying.set(None)>"Cancel"</button>
                    </div>
                }
            })}
            <div class="upload-slot"></div>
            <div class="row">
                // Plain HTML: its change is heard by the form (`uploading::listen`).
                <span class="attach-slot needs-script" inner_html=ATTACH></span>
                <textarea
                    node_ref=textarea
                    aria-autocomplete="list"
                    aria-controls=move || (!mentions.candidates.read().is_empty()).then_some(LIST_ID)
                    aria-activedescendant=move || {
                        (!mentions.candidates.read().is_empty())
                            .then(|| format!("mention-option-{}", mentions.active.get()))
                    }
                    on:blur=move |_| mentions.close()
                    id="composer"
                    name="body"
                    rows="1"
                    required
                    aria-label="Message"
                    placeholder="Write a message…"
                    enterkeyhint="send"
                    inner_html=draft_html
                    bind:value=draft
                    on:keydown=on_keydown
                    on:input=on_input
                ></textarea>
                <button type="submit" disabled=move || !can_send() || matches!(*state.upload.read(), Some(Upload::Sending { .. }))>
                    {move || if matches!(*state.upload.read(), Some(Upload::Sending { .. })) { "Uploading…" } else { "Send" }}
                </button>
            </div>
            <p class="counter hint" aria-live="polite">
                {move || counter_text(length())}
            </p>
        </form>
    }
}

/// Text as HTML that shows it as it is.
pub(super) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
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
    fn a_returned_draft_is_shown_as_text() {
        assert_eq!(escape_html("</textarea><b>x</b> & 'y'"), "&lt;/textarea&gt;&lt;b&gt;x&lt;/b&gt; &amp; &#39;y&#39;");
    }

    #[test]
    fn counter_appears_near_the_limit() {
        assert_eq!(counter_text(10), None);
        assert_eq!(counter_text(MAX_BODY_CHARS - 2).as_deref(), Some("2 characters left"));
        assert_eq!(counter_text(MAX_BODY_CHARS - 1).as_deref(), Some("1 character left"));
        assert_eq!(counter_text(MAX_BODY_CHARS + 1).as_deref(), Some("1 character over the limit"));
    }
}
