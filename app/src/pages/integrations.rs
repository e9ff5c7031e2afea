//! `/account`: the signed-in person's personal API tokens and the incoming
//! webhooks of their rooms. A secret is shown once, right after it is made
//! (with scripts off, making one needs them: the secret cannot ride in an
//! address); revoking and deleting are plain forms.

use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::awaited::awaited;
use crate::integrations::{
    my_integrations, BotView, CreateToken, CreateWebhook, Created, DeleteWebhook, IntegrationError, RevokeToken,
    SaveBot, TokenView, WebhookView, MAX_TOKEN_NAME_CHARS,
};
use crate::integrations::{DeleteBot, NewBotSecret};
use crate::protocol::Timestamp;
use crate::room::time::utc_date_time;
use crate::title::Title;

fn refusal(error: IntegrationError) -> impl IntoView {
    view! { <p class="error" role="alert" data-code=error.code()>{error.to_string()}</p> }
}

/// When, or "never".
fn when(at: Option<i64>) -> String {
    at.map_or_else(|| "never".to_owned(), |at| utc_date_time(Timestamp(at)))
}

/// The secret just made, with the words that it is shown this once.
fn created_view(created: Created, what: &'static str) -> impl IntoView {
    view! {
        <div class="secret" role="status">
            <p>{format!("{what} “{}” is made. Copy it now: it is not shown again.", created.name)}</p>
            <code data-secret="">{created.secret}</code>
        </div>
    }
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let create_token = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let create_hook = ServerAction::<CreateWebhook>::new();
    let delete_hook = ServerAction::<DeleteWebhook>::new();
    let save_bot = ServerAction::<SaveBot>::new();
    let delete_bot = ServerAction::<DeleteBot>::new();
    let new_secret = ServerAction::<NewBotSecret>::new();
    let versions = move || {
        let made = (create_token.version().get(), create_hook.version().get(), save_bot.version().get());
        let bots = (delete_bot.version().get(), new_secret.version().get());
        (made, bots, revoke.version().get(), delete_hook.version().get())
    };
    let listed = crate::codec::load(versions, |_| my_integrations());
    let token_outcome = move || match create_token.value().get() {
        Some(Ok(created)) => Some(created_view(created, "The token").into_any()),
        Some(Err(error)) => Some(refusal(error).into_any()),
        None => None,
    };
    let hook_outcome = move || match create_hook.value().get() {
        Some(Ok(created)) => Some(created_view(created, "The webhook of").into_any()),
        Some(Err(error)) => Some(refusal(error).into_any()),
        None => None,
    };
    let other_refusal = move || {
        let failed = revoke.value().get().and_then(Result::err).or(delete_hook.value().get().and_then(Result::err));
        let bots = [save_bot.value().get(), delete_bot.value().get(), new_secret.value().get()];
        failed.or(bots.into_iter().flatten().find_map(Result::err)).map(refusal)
    };
    // This site's address, for the example: known once the page runs in a browser.
    let origin = RwSignal::new(String::from("https://chat.example"));
    Effect::new(move |_| {
        if let Ok(here) = window().location().origin() {
            origin.set(here);
        }
    });
    view! {
        <Title text="Your account"/>
        <main class="page narrow account">
            <h1>"Your account"</h1>
            {other_refusal}
            <section aria-labelledby="tokens">
                <h2 id="tokens">"API tokens"</h2>
                <p class="hint">
                    "A token lets a script read rooms or post as you through the HTTP API (described at "
                    <a href="/api/v1/openapi.json">"/api/v1/openapi.json"</a>"):"
                </p>
                <pre class="example">"curl -H 'Authorization: Bearer chat_pat_…' -H 'Content-Type: application/json' \\\n  -d '{\"text\": \"Deployed!\"}' "{origin}"/api/v1/rooms/general/messages"</pre>
                <ActionForm action=create_token attr:class="moderation-form">
                    <label>"Name " <input type="text" name="name" required maxlength=MAX_TOKEN_NAME_CHARS placeholder="CI"/></label>
                    <label><input type="checkbox" name="read" value="on" checked/>" Read"</label>
                    <label><input type="checkbox" name="post" value="on"/>" Post"</label>
                    <button type="submit" disabled=move || create_token.pending().get()>"Make token"</button>
                </ActionForm>
                {token_outcome}
                <Transition fallback=|| view! { <p class="hint">"Loading…"</p> }>
                    {awaited!(move || async move {
                        match listed.await {
                            Ok(list) if list.tokens.is_empty() => view! { <p class="hint">"No tokens yet."</p> }.into_any(),
                            Ok(list) => view! {
                                <ul class="integrations tokens">
                                    {list.tokens.into_iter().map(|token| view! { <Token token revoke/> }).collect_view()}
                                </ul>
                            }.into_any(),
                            Err(error) => refusal(error).into_any(),
                        }
                    })}
                </Transition>
            </section>
            <section aria-labelledby="webhooks">
                <h2 id="webhooks">"Incoming webhooks"</h2>
                <p class="hint">
                    "A webhook's address takes a POST of JSON, " <code>"{\"text\": \"…\"}"</code>
                    " or Slack's shape, and posts it in a room you own as a bot you name."
                </p>
                <ActionForm action=create_hook attr:class="moderation-form">
                    <label>"Room " <input type="text" name="room" required placeholder="general" autocapitalize="none" spellcheck="false"/></label>
                    <label>"Bot username " <input type="text" name="bot" required placeholder="ci-bot" autocapitalize="none" spellcheck="false"/></label>
                    <label>"Bot's name " <input type="text" name="bot_name" placeholder="CI"/></label>
                    <button type="submit" disabled=move || create_hook.pending().get()>"Make webhook"</button>
                </ActionForm>
                {hook_outcome}
                <Transition fallback=|| view! { <p class="hint">"Loading…"</p> }>
                    {awaited!(move || async move {
                        match listed.await {
                            Ok(list) if list.webhooks.is_empty() => view! { <p class="hint">"No webhooks yet."</p> }.into_any(),
                            Ok(list) => view! {
                                <ul class="integrations webhooks">
                                    {list.webhooks.into_iter().map(|hook| view! { <Webhook hook delete_hook/> }).collect_view()}
                                </ul>
                            }.into_any(),
                            Err(error) => refusal(error).into_any(),
                        }
                    })}
                </Transition>
            </section>
            <section aria-labelledby="bots">
                <h2 id="bots">"Bots"</h2>
                <p class="hint">
                    "A bot with an address is sent a POST of JSON there when a message mentions it or is sent to it; "
                    "if the answer is " <code>"{\"text\": \"…\"}"</code> ", that is posted in the room as the bot. "
                    "Each POST carries " <code>"X-Chat-Signature: sha256=…"</code> ", the HMAC-SHA256 under the bot's signing secret of "
                    <code>"X-Chat-Timestamp"</code> ", a dot and the body."
                </p>
                <ActionForm action=save_bot attr:class="moderation-form">
                    <label>"Bot username " <input type="text" name="bot" required placeholder="helper-bot" autocapitalize="none" spellcheck="false"/></label>
                    <label>"Bot's name " <input type="text" name="bot_name" placeholder="Helper"/></label>
                    <label>"Address " <input type="url" name="url" placeholder="https://bots.example/hook"/></label>
                    <button type="submit" disabled=move || save_bot.pending().get()>"Save bot"</button>
                </ActionForm>
                <Transition fallback=|| ()>
                    {awaited!(move || async move {
                        let bots = listed.await.map(|list| list.bots).unwrap_or_default();
                        view! {
                            <ul class="integrations bots">
                                {bots.into_iter().map(|bot| view! { <Bot bot delete_bot new_secret/> }).collect_view()}
                            </ul>
                        }
                    })}
                </Transition>
            </section>
        </main>
    }
}

#[component]
fn Bot(bot: BotView, delete_bot: ServerAction<DeleteBot>, new_secret: ServerAction<NewBotSecret>) -> impl IntoView {
    let where_told = bot.url.unwrap_or_else(|| "no address: posts through webhooks only".to_owned());
    let key = bot.username.clone();
    let (for_secret, for_delete) = (bot.username.clone(), bot.username.clone());
    let signing = bot.signing_secret.map(|secret| {
        view! { <span class="hint">" · signs with "</span><code data-signing-secret="">{secret}</code> }
    });
    view! {
        <li data-bot=key>
            <strong>{bot.name}</strong>{format!(" (@{}) ", bot.username)}<span class="hint">{where_told}</span>{signing}
            <ActionForm action=new_secret attr:class="inline">
                <input type="hidden" name="bot" value=for_secret/>
                <button type="submit" class="link">"New secret"</button>
            </ActionForm>
            <ActionForm action=delete_bot attr:class="inline">
                <input type="hidden" name="bot" value=for_delete/>
                <button type="submit" class="link">"Delete"</button>
            </ActionForm>
        </li>
    }
}

#[component]
fn Token(token: TokenView, revoke: ServerAction<RevokeToken>) -> impl IntoView {
    let scopes = match (token.read, token.post) {
        (true, true) => "read, post",
        (true, false) => "read",
        _ => "post",
    };
    let name = token.name.clone();
    view! {
        <li data-token=name>
            <strong>{token.name}</strong>" " <code>{token.prefix}</code>
            <span class="hint">{format!(" {scopes} · made {} · last used {}", when(Some(token.created_at)), when(token.last_used_at))}</span>
            <ActionForm action=revoke attr:class="inline">
                <input type="hidden" name="id" value=token.id/>
                <button type="submit" class="link">"Revoke"</button>
            </ActionForm>
        </li>
    }
}

#[component]
fn Webhook(hook: WebhookView, delete_hook: ServerAction<DeleteWebhook>) -> impl IntoView {
    let (room, path) = (hook.room.clone(), format!("/chat/{}/", hook.room));
    view! {
        <li data-webhook=room>
            <a href=path>{format!("#{}", hook.room)}</a>
            " as " <strong>{hook.bot_name}</strong>{format!(" (@{}) ", hook.bot_username)}<code>{hook.prefix}</code>
            <span class="hint">{format!(" · made {} · last used {}", when(Some(hook.created_at)), when(hook.last_used_at))}</span>
            <ActionForm action=delete_hook attr:class="inline">
                <input type="hidden" name="id" value=hook.id/>
                <button type="submit" class="link">"Delete"</button>
            </ActionForm>
        </li>
    }
}
