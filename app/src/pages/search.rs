//! `/search`: find messages in the rooms one can read. The form is a plain
//! GET (`/search?q=…&room=…&author=…`), so a search is a link, and works
//! without JavaScript: the server renders the results in the page. Each
//! result opens its room at the message.

use leptos::prelude::*;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

use crate::awaited::awaited;
use crate::room::time::{day_label, day_of, rfc3339, today, utc_clock_time};
use crate::search::{search, SearchHit, SearchQuery, MAX_QUERY_CHARS};
use crate::title::Title;

#[component]
pub fn SearchPage() -> impl IntoView {
    let query = use_query_map();
    let asked = move || {
        query.with(|q| SearchQuery {
            q: q.get("q").unwrap_or_default(),
            room: q.get("room").unwrap_or_default(),
            author: q.get("author").unwrap_or_default(),
        })
    };
    let results = crate::codec::load(asked, |asked: SearchQuery| async move {
        if asked.q.trim().is_empty() {
            return Ok(None);
        }
        search(asked.q.clone(), asked.room, asked.author).await.map(|hits| Some((asked.q, hits)))
    });
    let field = move |name: &'static str| move || query.with(|q| q.get(name).unwrap_or_default());
    view! {
        <Title text="Search"/>
        <main class="page search">
            <h1>"Search"</h1>
            <Form method="GET" action="/search" attr:class="search-form" attr:role="search">
                <div class="row">
                    <input type="search" name="q" aria-label="Search messages" placeholder="Words to find"
                        maxlength=MAX_QUERY_CHARS.to_string() value=field("q") autofocus/>
                    <button type="submit">"Search"</button>
                </div>
                <div class="row filters">
                    <label>"In room " <input type="text" name="room" placeholder="any" value=field("room")
                        autocapitalize="none" spellcheck="false"/></label>
                    <label>"From " <input type="text" name="author" placeholder="anyone" value=field("author")
                        autocapitalize="none" spellcheck="false"/></label>
                </div>
            </Form>
            <Transition fallback=|| view! { <p class="hint">"Searching…"</p> }>
                {awaited!(move || async move {
                    match results.await {
                        Ok(None) => view! {
                            <p class="hint">"Every word must be in a message; words in Chinese or Japanese are found inside sentences too."</p>
                        }.into_any(),
                        Ok(Some((q, hits))) if hits.is_empty() => view! {
                            <p class="hint" role="status">{format!("No messages match “{q}”.")}</p>
                        }.into_any(),
                        Ok(Some((_, hits))) => view! {
                            <p class="hint" role="status">{format!("{} found", hits.len())}</p>
                            <ol class="results">
                                {hits.into_iter().map(|hit| view! { <Hit hit/> }).collect_view()}
                            </ol>
                        }.into_any(),
                        Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
fn Hit(hit: SearchHit) -> impl IntoView {
    let when = format!("{} {}", day_label(day_of(hit.sent_at, false), today(false)), utc_clock_time(hit.sent_at));
    let snippet = hit
        .snippet
        .into_iter()
        .map(|(text, found)| if found { view! { <mark>{text}</mark> }.into_any() } else { text.into_any() })
        .collect_view();
    view! {
        <li class="hit">
            <a href=hit.link>
                <span class="meta">
                    <span class="place">{hit.place}</span>
                    <span class="author">{hit.author}</span>
                    <time datetime=rfc3339(hit.sent_at)>{when}</time>
                </span>
                <span class="snippet">{snippet}</span>
            </a>
        </li>
    }
}
