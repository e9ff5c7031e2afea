//! The composer's `@` helper: while the word before the caret is `@` and the
//! start of a name, it offers up to eight people (the room's members first,
//! from the server: a big room's people are not all on the page), moved through
//! with the arrow keys, taken with Enter or Tab (or a click), dismissed with
//! Escape. Who a message mentions is still the server's to find, from the text.
//!
//! The rules on the text ([`query`], [`complete`]) are pure and tested here;
//! the look-up and the list's view are a chunk of their own, fetched on the
//! first `@`.

#![cfg_attr(not(feature = "hydrate"), allow(dead_code))]

use leptos::prelude::*;

use crate::rooms::Correspondent;

/// The list's id, for the textarea's `aria-controls`.
pub const LIST_ID: &str = "mention-suggestions";
/// How long typing pauses before a look-up.
const LOOKUP_AFTER_MS: u32 = 120;

/// The `@` being completed before `caret` (a byte offset into `text`): where
/// its `@` is, and what follows it (lowercase). `None` when the word there is
/// no mention: no `@`, a character a username cannot have, an address like
/// `ada@example`, or longer than a username.
pub fn query(text: &str, caret: usize) -> Option<(usize, String)> {
    let before = text.get(..caret)?;
    let start = before
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .last()
        .map_or(caret, |(i, _)| i);
    let at = start.checked_sub(1)?;
    if before.as_bytes().get(at) != Some(&b'@') {
        return None;
    }
    // Not the middle of a word (an e-mail address, `a@b`).
    if before[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_') {
        return None;
    }
    let prefix = &before[start..];
    (prefix.len() <= crate::rooms::MAX_MENTION_PREFIX).then(|| (at, prefix.to_ascii_lowercase()))
}

/// `text` with the mention at `at` (up to `caret`) completed to `username`,
/// and where the caret goes: after it and one space.
pub fn complete(text: &str, at: usize, caret: usize, username: &str) -> (String, usize) {
    let after = text.get(caret..).unwrap_or_default();
    let inserted = format!("@{username} ");
    let mut out = String::with_capacity(text.len() + inserted.len());
    out.push_str(&text[..at]);
    out.push_str(&inserted);
    let new_caret = out.len();
    out.push_str(after.strip_prefix(' ').unwrap_or(after));
    (out, new_caret)
}

/// The byte offset of `units` UTF-16 code units into `text` (a textarea's
/// caret is counted in those).
pub fn byte_offset(text: &str, units: u32) -> usize {
    let mut counted = 0;
    for (i, c) in text.char_indices() {
        if counted >= units as usize {
            return i;
        }
        counted += c.len_utf16();
    }
    text.len()
}

/// The helper's state, shared by the composer and the list's view. `Copy`.
/// The composer only reads [`MentionAssist::is_open`]; the rest runs in the
/// helper's chunk ([`on_input`], [`on_key`]).
#[derive(Clone, Copy)]
pub struct MentionAssist {
    /// Who is offered; empty: the list is closed.
    pub candidates: RwSignal<Vec<Correspondent>>,
    /// The highlighted one.
    pub active: RwSignal<usize>,
    /// The mention being completed: its `@` and the caret, byte offsets.
    span: StoredValue<Option<(usize, usize)>>,
    room: StoredValue<String>,
    /// Counts look-ups: an answer to an older one is dropped.
    asked: StoredValue<u32>,
    /// The list's view is on the page.
    shown: StoredValue<bool>,
}

/// What the composer hands the helper.
pub enum AssistEvent {
    /// The text changed (it has an `@`, or people are offered); the caret in
    /// UTF-16 units, as a textarea counts.
    Input { text: String, caret: u32 },
    /// Arrow up or down, Enter, Tab or Escape, while people are offered.
    Key(String),
}

impl MentionAssist {
    pub fn new(room: String) -> Self {
        MentionAssist {
            candidates: RwSignal::new(Vec::new()),
            active: RwSignal::new(0),
            span: StoredValue::new(None),
            room: StoredValue::new(room),
            asked: StoredValue::new(0),
            shown: StoredValue::new(false),
        }
    }

    pub fn is_open(&self) -> bool {
        !self.candidates.read_untracked().is_empty()
    }

    pub fn close(&self) {
        self.span.set_value(None);
        self.asked.update_value(|n| *n += 1);
        if self.is_open() {
            self.candidates.set(Vec::new());
        }
    }

    /// After each change of the text or the caret (a byte offset): what to
    /// look up, and the look-up's number.
    fn input(&self, text: &str, caret: usize) -> Option<(String, u32)> {
        let Some((at, prefix)) = query(text, caret) else {
            self.close();
            return None;
        };
        self.span.set_value(Some((at, caret)));
        self.asked.update_value(|n| *n += 1);
        Some((prefix, self.asked.get_value()))
    }

    /// Moves the highlight by `by` (wrapping).
    pub fn step(&self, by: isize) {
        let count = self.candidates.read_untracked().len() as isize;
        if count > 0 {
            self.active.update(|i| *i = (*i as isize + by).rem_euclid(count) as usize);
        }
    }

    /// Takes the `index`th candidate into `draft`; returns the caret's new
    /// byte offset.
    pub fn accept(&self, index: usize, draft: RwSignal<String>) -> Option<usize> {
        let username = self.candidates.read_untracked().get(index)?.username.clone();
        let (at, caret) = self.span.get_value()?;
        let (text, caret) = complete(&draft.read_untracked(), at, caret, &username);
        draft.set(text);
        self.close();
        Some(caret)
    }

    /// [`MentionAssist::accept`], and the textarea shows it with the caret
    /// after the mention.
    #[cfg(feature = "hydrate")]
    fn take(&self, index: usize, draft: RwSignal<String>, textarea: &web_sys::HtmlTextAreaElement) {
        let Some(caret) = self.accept(index, draft) else { return };
        let text = draft.get_untracked();
        textarea.set_value(&text);
        let units = text[..caret].encode_utf16().count() as u32;
        if textarea.set_selection_range(units, units).is_err() {
            leptos::logging::warn!("could not put the caret after the mention");
        }
    }
}

#[cfg(feature = "hydrate")]
pub use lazy::assist;

#[cfg(feature = "hydrate")]
mod lazy {
    use leptos::prelude::*;

    use super::{AssistEvent, MentionAssist, LIST_ID, LOOKUP_AFTER_MS};
    use crate::rooms::{mention_candidates, Correspondent};

    /// Handles what the composer handed over: looks people up after a pause
    /// in typing (the list's view is put in `slot` the first time), moves
    /// through them, takes one, closes.
    #[lazy]
    pub async fn assist(
        assist: MentionAssist,
        event: AssistEvent,
        draft: RwSignal<String>,
        textarea: web_sys::HtmlTextAreaElement,
        slot: web_sys::HtmlDivElement,
    ) {
        let (prefix, asked) = match event {
            AssistEvent::Key(key) => {
                match key.as_str() {
                    "ArrowDown" => assist.step(1),
                    "ArrowUp" => assist.step(-1),
                    "Enter" | "Tab" => assist.take(assist.active.get_untracked(), draft, &textarea),
                    _ => assist.close(),
                }
                return;
            }
            AssistEvent::Input { text, caret } => match assist.input(&text, super::byte_offset(&text, caret)) {
                Some(lookup) => lookup,
                None => return,
            },
        };
        gloo_timers::future::TimeoutFuture::new(LOOKUP_AFTER_MS).await;
        if assist.asked.get_value() != asked {
            return;
        }
        let found = look_up(assist.room.get_value(), prefix).await;
        if assist.asked.get_value() != asked {
            return;
        }
        if !assist.shown.get_value() {
            assist.shown.set_value(true);
            crate::late::mount_in_place(&slot, list_view(assist, draft, textarea));
        }
        assist.active.set(0);
        assist.candidates.set(found);
    }

    async fn look_up(room: String, prefix: String) -> Vec<Correspondent> {
        match mention_candidates(room, prefix).await {
            Ok(people) => people,
            Err(error) => {
                leptos::logging::warn!("no one to offer: {error}");
                Vec::new()
            }
        }
    }

    /// The list above the composer; a click takes one into `draft`.
    fn list_view(assist: MentionAssist, draft: RwSignal<String>, textarea: web_sys::HtmlTextAreaElement) -> AnyView {
        let textarea = StoredValue::new_local(textarea);
        let items = move || {
            assist
                .candidates
                .get()
                .into_iter()
                .enumerate()
                .map(|(i, person)| {
                    view! {
                        <li
                            role="option"
                            id=format!("mention-option-{i}")
                            aria-selected=move || if assist.active.get() == i { "true" } else { "false" }
                            on:mousedown=move |ev| {
                                // Keeps the focus in the composer.
                                ev.prevent_default();
                                textarea.with_value(|textarea| assist.take(i, draft, textarea));
                            }
                        >
                            <span class="name">{person.display_name}</span>
                            <span class="username">"@" {person.username}</span>
                        </li>
                    }
                })
                .collect_view()
        };
        view! {
            <ul
                class="mention-suggestions"
                id=LIST_ID
                role="listbox"
                aria-label="People to mention"
                hidden=move || assist.candidates.read().is_empty()
            >
                {items}
            </ul>
        }
        .into_any()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_before_the_caret_is_a_mention_being_typed() {
        let at_end = |text: &str| query(text, text.len());
        assert_eq!(at_end("hi @Bo"), Some((3, "bo".into())));
        assert_eq!(at_end("@"), Some((0, String::new())), "a lone @ offers the room's people");
        assert_eq!(at_end("(@ada_l"), Some((1, "ada_l".into())));
        assert_eq!(at_end("mail ada@example"), None, "an address is no mention");
        assert_eq!(at_end("hi @bo b"), None, "the caret is past it");
        assert_eq!(at_end("hi bob"), None);
        assert_eq!(at_end("@bo!"), None);
        assert_eq!(at_end(&format!("@{}", "a".repeat(33))), None, "longer than a username");
        assert_eq!(query("é @ad and more", "é @ad".len()), Some(("é ".len(), "ad".into())), "the caret mid-text");
        assert_eq!(query("é", 1), None, "not a character boundary");
    }

    #[test]
    fn a_caret_in_utf16_units_becomes_a_byte_offset() {
        assert_eq!(byte_offset("abc", 2), 2);
        assert_eq!(byte_offset("é@a", 1), "é".len());
        assert_eq!(byte_offset("😀@a", 2), "😀".len(), "a character beyond the BMP is two units");
        assert_eq!(byte_offset("ab", 9), 2);
    }

    #[test]
    fn completing_puts_the_username_and_one_space() {
        assert_eq!(complete("hi @bo", 3, 6, "bob"), ("hi @bob ".into(), 8));
        assert_eq!(complete("@a and", 0, 2, "ada"), ("@ada and".into(), 5), "no second space before the rest");
        assert_eq!(complete("x @", 2, 3, "cy"), ("x @cy ".into(), 6));
    }
}
