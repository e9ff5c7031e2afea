//! A message body as the reader sees it: the Markdown subset of [`crate::markdown`]
//! turned into elements. Every piece of the sender's text becomes a text node, never
//! markup, so nothing a sender types can add an element or an attribute. The
//! `@names` the server found to be mentions (`mentions`) are links to a direct
//! conversation with that person; any other `@word` stays text.

use leptos::prelude::*;

use crate::markdown::mentions::{split, Piece};
use crate::markdown::{parse, Block, Inline, LINK_REL};

#[component]
pub fn MessageBody(
    body: String,
    /// The usernames the server found mentioned (lowercase).
    #[prop(optional)]
    mentions: Vec<String>,
) -> impl IntoView {
    let blocks: Vec<AnyView> = parse(&body).into_iter().map(|b| block(b, &mentions)).collect();
    view! { <div class="body">{blocks}</div> }
}

fn block(block: Block, mentions: &[String]) -> AnyView {
    match block {
        Block::Paragraph(inlines) => view! { <p>{inlines_view(inlines, mentions)}</p> }.into_any(),
        Block::Code { text } => view! { <pre><code>{text}</code></pre> }.into_any(),
    }
}

fn inlines_view(inlines: Vec<Inline>, mentions: &[String]) -> Vec<AnyView> {
    inlines.into_iter().map(|i| inline(i, mentions)).collect()
}

fn inline(inline: Inline, mentions: &[String]) -> AnyView {
    match inline {
        Inline::Text(text) if !mentions.is_empty() => text_with_mentions(&text, mentions),
        Inline::Text(text) => text.into_any(),
        Inline::Emphasis(children) => view! { <em>{inlines_view(children, mentions)}</em> }.into_any(),
        Inline::Strong(children) => view! { <strong>{inlines_view(children, mentions)}</strong> }.into_any(),
        Inline::Code(text) => view! { <code>{text}</code> }.into_any(),
        // `href` is an http(s) or mailto URL: `parse` makes links of nothing else.
        // A mention inside a link's text stays text: links do not nest.
        Inline::Link { href, children } => {
            view! { <a href=href rel=LINK_REL target="_blank">{inlines_view(children, &[])}</a> }.into_any()
        }
        Inline::LineBreak => view! { <br/> }.into_any(),
    }
}

/// Text with its mentions as links; the runs between them stay one text each.
fn text_with_mentions(text: &str, mentions: &[String]) -> AnyView {
    let mut views: Vec<AnyView> = Vec::new();
    let mut plain = String::new();
    for piece in split(text) {
        match piece {
            Piece::Mention(name) if mentions.iter().any(|m| m.eq_ignore_ascii_case(name)) => {
                if !plain.is_empty() {
                    views.push(std::mem::take(&mut plain).into_any());
                }
                let username = name.to_ascii_lowercase();
                let href = format!("/chat/@{username}/");
                views.push(
                    view! { <a class="mention" href=href data-username=username>"@" {name.to_owned()}</a> }.into_any(),
                );
            }
            Piece::Mention(name) => {
                plain.push('@');
                plain.push_str(name);
            }
            Piece::Text(run) => plain.push_str(run),
        }
    }
    if !plain.is_empty() {
        views.push(plain.into_any());
    }
    views.into_any()
}
