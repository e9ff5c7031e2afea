//! What a message shows besides its body: the quote of the message it
//! answers, its file, and its reactions.

use leptos::prelude::*;

use crate::protocol::{Attachment, Quote, Reaction, Seq};

/// A message's file: an image as its thumbnail (its size known before it
/// loads, so the log does not jump), opening the image; anything else as a
/// card to download it. Written as HTML (every piece of it escaped, see
/// [`file_html`]): as typed views, these few elements cost the page's WASM
/// more than all the rest of a message.
#[component]
pub fn FileView(file: Attachment) -> impl IntoView {
    view! { <div class="file" inner_html=file_html(&file)></div> }
}

/// The HTML of a file's view; the name is the sender's text, so it is
/// escaped wherever it goes, and the addresses are the server's (an id of
/// base64url, the name percent-encoded).
pub fn file_html(file: &Attachment) -> String {
    use super::composer::escape_html as esc;
    let (url, name, size) = (esc(&file.url()), esc(&file.name), super::uploading::human_size(file.size));
    match file.thumb {
        Some((width, height)) => format!(
            "<a class=\"file-image\" href=\"{url}\" target=\"_blank\" rel=\"noopener\" title=\"{name} ({size})\">\
             <img src=\"{}\" width=\"{width}\" height=\"{height}\" alt=\"{name}\" loading=\"lazy\"></a>",
            esc(&file.thumb_url())
        ),
        None => format!(
            "<a class=\"file-card\" href=\"{url}\" download=\"{name}\"><span class=\"file-icon\" aria-hidden=\"true\">📄</span>\
             <span class=\"file-name\">{name}</span><span class=\"file-size hint\">{size}</span></a>"
        ),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_view_carries_its_name_only_as_text() {
        let file = Attachment {
            id: "AbC-_9".into(),
            name: "\"><script>alert(1)</script>.png".into(),
            size: 2048,
            mime: "image/png".into(),
            thumb: Some((480, 240)),
        };
        let html = file_html(&file);
        assert!(!html.contains("<script") && html.matches('"').count().is_multiple_of(2), "{html}");
        assert!(html.contains("width=\"480\" height=\"240\""), "{html}");
        assert!(html.contains("src=\"/files/AbC-_9/thumb\""), "{html}");
        let card = file_html(&Attachment { thumb: None, name: "notes & plans.txt".into(), ..file });
        assert!(card.contains("<span class=\"file-name\">notes &amp; plans.txt</span>"), "{card}");
        assert!(card.contains("2 KB") && card.contains("download=\"notes &amp; plans.txt\""), "{card}");
    }
}
