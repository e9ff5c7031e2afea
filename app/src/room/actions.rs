//! What a reader can do with a message: copy a link to it, mention its author,
//! write to its author privately; signed in, react to it or reply to it; and,
//! on one's own, edit or delete it (with scripts: the editor is in
//! `super::editing`, the reaction picker in `super::reacting`). The bar shows while the message is hovered or
//! anything in it has focus (a tap focuses the message, for touch screens);
//! every action is a link, so Tab reaches them in reading order and each works
//! without scripts: the link points at the message, "Mention" reloads the room
//! with the mention in the composer, "Message privately" opens the
//! conversation. With scripts, the first two stay on the page (copying is in a
//! chunk of its own, loaded on the first use).

use leptos::prelude::*;

use crate::protocol::Seq;

#[component]
pub fn MessageActions(
    seq: Seq,
    /// The author's username; empty for a message from before accounts.
    username: String,
    /// The reader's username (signed out: `None`).
    me: Signal<Option<String>>,
    /// Puts `@username ` in the composer.
    mention: Callback<String>,
    /// The message is a tombstone: nothing left to edit, delete or react to.
    deleted: bool,
    /// What a button asks for (its `data-act`: `edit`, `delete`, `react`,
    /// `reply`), for the message `seq`.
    act: Callback<(Seq, &'static str)>,
    /// The reader moderates the room.
    moderator: RwSignal<bool>,
) -> impl IntoView {
    let (of_another, mine) = me.with_untracked(|me| match me {
        Some(me) if !username.is_empty() => (*me != username, *me == username && !deleted),
        _ => (false, false),
    });
    // A moderator deletes anyone's message (not edits it); known once the
    // room's socket is welcomed, after the message may be on the page.
    let moderated = move || of_another && !deleted && moderator.get();
    let signed_in = me.with_untracked(Option::is_some) && !deleted;
    // One handler for the bar, by the `data-act` of what was clicked (one
    // closure instead of one per action: each costs the page's WASM).
    let on_click = {
        let username = username.clone();
        move |ev: leptos::ev::MouseEvent| {
            #[cfg(feature = "hydrate")]
            {
                use wasm_bindgen::JsCast;
                let target = ev.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok());
                let what = target.as_ref().and_then(|t| t.get_attribute("data-act"));
                match what.as_deref() {
                    Some("copy") => {
                        ev.prevent_default();
                        if let Some(link) = target {
                            leptos::task::spawn_local(lazy::copy_link(seq, link));
                        }
                    }
                    Some("mention") => {
                        ev.prevent_default();
                        mention.run(username.clone());
                    }
                    Some("edit") => act.run((seq, "edit")),
                    Some("delete") => act.run((seq, "delete")),
                    Some("react") => act.run((seq, "react")),
                    Some("reply") => act.run((seq, "reply")),
                    _ => {}
                }
            }
            #[cfg(not(feature = "hydrate"))]
            let _ = (ev, &username, mention, act);
        }
    };
    let others = of_another.then(|| {
        view! {
            <a class="action" data-act="mention" href=format!("?draft=%40{username}%20#composer")>"Mention"</a>
            <a class="action" href=format!("/chat/@{username}/")>"Message privately"</a>
        }
    });
    // Signed in: react and reply (with scripts; hidden without).
    let any = signed_in.then(|| {
        view! {
            <button type="button" class="action needs-script" data-act="react" aria-label="Add a reaction">"React"</button>
            <button type="button" class="action needs-script" data-act="reply">"Reply"</button>
        }
    });
    // One's own message: edit and delete (with scripts; hidden without).
    let own = mine.then(|| {
        view! {
            <button type="button" class="action needs-script" data-act="edit">"Edit"</button>
            <button type="button" class="action needs-script" data-act="delete">"Delete"</button>
        }
    });
    let moderate = move || {
        moderated().then(|| {
            view! { <button type="button" class="action needs-script" data-act="delete">"Delete"</button> }
        })
    };
    view! {
        <div class="message-actions" role="toolbar" aria-label="Message actions" on:click=on_click>
            <a class="action" data-act="copy" href=format!("#m{}", seq.0) title="Copy a link to this message">
                "Copy link"
            </a>
            {any}
            {others}
            {own}
            {moderate}
        </div>
    }
    .into_any()
}

#[cfg(feature = "hydrate")]
mod lazy {
    use leptos::prelude::*;
    use wasm_bindgen::JsValue;

    use crate::protocol::Seq;

    /// Puts the message's address on the clipboard and says so for a moment;
    /// where there is no clipboard (or no permission), puts it in the address
    /// bar instead.
    #[lazy]
    pub async fn copy_link(seq: Seq, link: web_sys::Element) {
        match write(seq).await {
            Ok(()) => {
                // Said on the link itself for a moment (a signal per message
                // for it would cost every message and the first chunk).
                link.set_text_content(Some("Link copied"));
                set_timeout(move || link.set_text_content(Some("Copy link")), std::time::Duration::from_secs(2));
            }
            Err(error) => {
                leptos::logging::warn!("copying a message's link failed: {error:?}");
                if let Err(error) = window().location().set_hash(&format!("m{}", seq.0)) {
                    leptos::logging::warn!("showing a message's link failed: {error:?}");
                }
            }
        }
    }

    async fn write(seq: Seq) -> Result<(), JsValue> {
        let window = window();
        let page = window.location().href()?;
        let page = page.split('#').next().unwrap_or_default();
        let written = window.navigator().clipboard().write_text(&format!("{page}#m{}", seq.0));
        wasm_bindgen_futures::JsFuture::from(written).await.map(|_| ())
    }
}
