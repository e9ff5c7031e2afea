//! What a message shows besides its body: the quote of the message it
//! answers, and its reactions.

use leptos::prelude::*;

use crate::protocol::{Quote, Reaction, Seq};

/// What a reply shows of the message it answers; a link to it (the log
/// loads older pages until it is there).
#[component]
pub fn QuoteLink(quote: Quote) -> impl IntoView {
    let Quote { seq, author, excerpt, deleted } = quote;
    let text = if deleted { "Message deleted".to_owned() } else { excerpt };
    view! {
        <a class="quote" href=format!("#m{}", seq.0) class:deleted=deleted>
            <span class="quote-author">{author}</span>
            " "
            <span class="quote-text">{text}</span>
        </a>
    }
    .into_any()
}

/// A message's reactions: each emoji with its count, pressed when one of
/// them is the reader's; a click gives or takes back the reader's. Who gave
/// one shows on hover and focus (from `data-who`, by the stylesheet).
#[component]
pub fn Reactions(
    seq: Seq,
    reactions: Vec<Reaction>,
    me: Signal<Option<String>>,
    react: Callback<(Seq, String)>,
) -> impl IntoView {
    let me = me.get_untracked();
    let chips = reactions
        .into_iter()
        .map(|Reaction { emoji, count, users }| {
            let mine = me.as_ref().is_some_and(|me| users.contains(me));
            let mut who = users.join(", ");
            if count as usize > users.len() {
                who.push_str(&format!(" and {} more", count as usize - users.len()));
            }
            let label = format!("{emoji} {count}: {who}");
            let key = emoji.clone();
            view! {
                <button type="button" class="reaction" aria-pressed=mine.to_string() aria-label=label
                    data-who=who data-emoji=key disabled=me.is_none()>
                    {emoji}" "{count}
                </button>
            }
        })
        .collect_view();
    let on_click = move |ev: leptos::ev::MouseEvent| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let chip = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .and_then(|t| t.closest(".reaction").ok().flatten());
            if let Some(emoji) = chip.and_then(|c| c.get_attribute("data-emoji")) {
                react.run((seq, emoji));
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, react, seq);
    };
    view! { <div class="reactions" on:click=on_click>{chips}</div> }.into_any()
}
