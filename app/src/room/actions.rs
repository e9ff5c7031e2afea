//! What a reader can do with a message: copy a link to it, mention its author,
//! write to its author privately. The bar shows while the message is hovered or
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
) -> impl IntoView {
    let copied = RwSignal::new(false);
    let copy = move |ev: leptos::ev::MouseEvent| {
        #[cfg(feature = "hydrate")]
        {
            ev.prevent_default();
            leptos::task::spawn_local(lazy::copy_link(seq, copied));
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    // Someone else's message, to a signed-in reader (known before the list
    // renders; signing in or out loads the page again).
    let of_another = !username.is_empty() && me.with_untracked(|me| me.as_ref().is_some_and(|me| *me != username));
    let others = of_another.then(|| {
        let (mention_href, dm) = (format!("?draft=%40{username}%20#composer"), format!("/chat/@{username}/"));
        let on_mention = move |ev: leptos::ev::MouseEvent| {
            ev.prevent_default();
            mention.run(username.clone());
        };
        view! {
            <a class="action" href=mention_href on:click=on_mention>"Mention"</a>
            <a class="action" href=dm>"Message privately"</a>
        }
    });
    view! {
        <div class="message-actions" role="toolbar" aria-label="Message actions">
            <a class="action" href=format!("#m{}", seq.0) on:click=copy title="Copy a link to this message">
                {move || if copied.get() { "Link copied" } else { "Copy link" }}
            </a>
            {others}
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
    pub async fn copy_link(seq: Seq, copied: RwSignal<bool>) {
        match write(seq).await {
            Ok(()) => {
                copied.set(true);
                set_timeout(move || copied.set(false), std::time::Duration::from_secs(2));
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
