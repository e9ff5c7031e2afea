//! Editing and deleting one's own message, from a chunk of its own (loaded on
//! the first use: most page views never edit). Editing happens in place: the
//! message's body gives way to a box holding its text; Enter saves, Shift+Enter
//! makes a new line, Escape (or Cancel) leaves it as it was. The saved message
//! comes back from the server as a change and replaces the whole item, box
//! and all; until then the box says it is saving. Deleting asks first.

#[cfg(feature = "hydrate")]
pub use lazy::act;

#[cfg(feature = "hydrate")]
mod lazy {
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;

    use crate::protocol::{validate_body, Seq};

    /// Opens the editor on message `seq` (showing `body`), or with `None`
    /// asks, then deletes it; `save` sends the change; `refused` is where the
    /// room says a change was refused (or not sent). (One entry to the chunk:
    /// each costs the first chunk a loader.)
    #[lazy]
    pub async fn act(
        seq: Seq,
        body: Option<String>,
        save: Callback<(Seq, Option<String>)>,
        refused: RwSignal<Option<String>>,
    ) {
        match body {
            Some(body) => edit(seq, body, save, refused),
            None => delete(seq, save),
        }
    }

    fn edit(seq: Seq, body: String, save: Callback<(Seq, Option<String>)>, refused: RwSignal<Option<String>>) {
        let Some(item) = document().get_element_by_id(&format!("m{}", seq.0)) else { return };
        let Some(slot) = item.query_selector(".edit-slot").ok().flatten() else { return };
        let slot: web_sys::HtmlElement = slot.unchecked_into();
        if item.class_list().contains("editing") {
            return;
        }
        if let Err(error) = item.class_list().add_1("editing") {
            leptos::logging::warn!("could not open the editor: {error:?}");
            return;
        }
        let draft = RwSignal::new(body.clone());
        let saving = RwSignal::new(false);
        let problem = RwSignal::new(None::<String>);
        // Refused (or not sent, offline) while saving: said here, and the
        // text stays to try again. (Saved, the message comes back as a change
        // and replaces the whole item, editor and all.)
        Effect::new(move |_| {
            if let Some(reason) = refused.get() {
                if saving.get_untracked() {
                    saving.set(false);
                    problem.set(Some(reason));
                }
            }
        });
        let close = {
            let (item, slot) = (item.clone(), slot.clone());
            move || {
                slot.set_inner_html("");
                if item.class_list().remove_1("editing").is_err() {
                    leptos::logging::warn!("could not close the editor");
                }
            }
        };
        let submit = {
            let close = close.clone();
            move || {
                let text = draft.get_untracked();
                if text == body {
                    close();
                    return;
                }
                match validate_body(&text) {
                    Ok(_) => {
                        problem.set(None);
                        refused.set(None);
                        saving.set(true);
                        save.run((seq, Some(text)));
                    }
                    Err(refusal) => problem.set(Some(refusal.to_string())),
                }
            }
        };
        let textarea = NodeRef::<leptos::html::Textarea>::new();
        let on_keydown = {
            let (close, submit) = (close.clone(), submit.clone());
            move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
                "Escape" => {
                    ev.prevent_default();
                    close();
                }
                "Enter" if !ev.shift_key() && !ev.is_composing() => {
                    ev.prevent_default();
                    submit();
                }
                _ => {}
            }
        };
        let on_cancel = {
            let close = close.clone();
            move |_| close()
        };
        let view = view! {
            <form class="editor" on:submit=move |ev| { ev.prevent_default(); submit(); }>
                <textarea node_ref=textarea aria-label="Edit message" rows="2" bind:value=draft on:keydown=on_keydown></textarea>
                {move || problem.get().map(|p| view! { <p class="error" role="alert">{p}</p> })}
                <div class="editor-actions">
                    <span class="hint">{move || if saving.get() { "Saving…" } else { "Enter to save, Esc to cancel" }}</span>
                    <button type="button" class="link" on:click=on_cancel>"Cancel"</button>
                    <button type="submit" disabled=move || saving.get()>"Save"</button>
                </div>
            </form>
        }
        .into_any();
        crate::late::mount_in_place(&slot, view);
        if let Some(el) = textarea.get_untracked() {
            let end = el.value().encode_utf16().count() as u32;
            if el.focus().is_err() || el.set_selection_range(end, end).is_err() {
                leptos::logging::warn!("could not put the caret in the editor");
            }
        }
    }

    /// Deletes message `seq` once the person confirms.
    fn delete(seq: Seq, save: Callback<(Seq, Option<String>)>) {
        match window().confirm_with_message("Delete this message? Everyone will see that it was deleted.") {
            Ok(true) => save.run((seq, None)),
            Ok(false) => {}
            Err(error) => leptos::logging::warn!("could not ask before deleting: {error:?}"),
        }
    }
}
