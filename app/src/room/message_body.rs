//! A message body as the reader sees it: the Markdown subset of [`crate::markdown`]
//! turned into elements. Every piece of the sender's text becomes a text node, never
//! markup, so nothing a sender types can add an element or an attribute.

use leptos::prelude::*;

use crate::markdown::{parse, Block, Inline, LINK_REL};

#[component]
pub fn MessageBody(body: String) -> impl IntoView {
    let blocks: Vec<AnyView> = parse(&body).into_iter().map(block).collect();
    view! { <div class="body">{blocks}</div> }
}

fn block(block: Block) -> AnyView {
    match block {
        Block::Paragraph(inlines) => view! { <p>{inlines_view(inlines)}</p> }.into_any(),
        Block::Code { text } => view! { <pre><code>{text}</code></pre> }.into_any(),
    }
}

fn inlines_view(inlines: Vec<Inline>) -> Vec<AnyView> {
    inlines.into_iter().map(inline).collect()
}

fn inline(inline: Inline) -> AnyView {
    match inline {
        Inline::Text(text) => text.into_any(),
        Inline::Emphasis(children) => view! { <em>{inlines_view(children)}</em> }.into_any(),
        Inline::Strong(children) => view! { <strong>{inlines_view(children)}</strong> }.into_any(),
        Inline::Code(text) => view! { <code>{text}</code> }.into_any(),
        // `href` is an http(s) or mailto URL: `parse` makes links of nothing else.
        Inline::Link { href, children } => {
            view! { <a href=href rel=LINK_REL target="_blank">{inlines_view(children)}</a> }.into_any()
        }
        Inline::LineBreak => view! { <br/> }.into_any(),
    }
}
