//! `/admin`: a site administrator's page: the rooms (members, messages), the
//! accounts (when last seen), deactivating an account, deleting a room, and
//! every room's moderation log. Plain forms: they work without JavaScript.

use leptos::form::ActionForm;
use leptos::prelude::*;

use super::moderation::Entry;
use crate::admin::{admin_overview, AccountSummary, DeactivateAccount, DeleteRoom, Overview, RoomSummary};
use crate::awaited::awaited;
use crate::protocol::Timestamp;
use crate::room::time::utc_date_time;
use crate::title::Title;

/// When, or `none`.
fn when(at: Option<i64>, none: &'static str) -> String {
    at.map_or_else(|| none.to_owned(), |at| utc_date_time(Timestamp(at)))
}

#[component]
pub fn AdminPage() -> impl IntoView {
    let deactivate = ServerAction::<DeactivateAccount>::new();
    let delete = ServerAction::<DeleteRoom>::new();
    let overview =
        crate::codec::load(move || (deactivate.version().get(), delete.version().get()), |_| admin_overview());
    let deactivated = move || {
        deactivate.value().get().map(|done| match done {
            Ok(done) => view! {
                <p class="hint" role="status">
                    {format!("{} is deactivated; {} of their messages deleted.", done.username, done.deleted)}
                </p>
            }
            .into_any(),
            Err(error) => {
                view! { <p class="error" role="alert" data-code=error.code()>{error.to_string()}</p> }.into_any()
            }
        })
    };
    let deleted = move || {
        delete.value().get().map(|done| match done {
            Ok(done) => view! {
                <p class="hint" role="status">
                    {format!("#{} is deleted: {} messages, out of {} lists.", done.room, done.deleted, done.members)}
                </p>
            }
            .into_any(),
            Err(error) => {
                view! { <p class="error" role="alert" data-code=error.code()>{error.to_string()}</p> }.into_any()
            }
        })
    };
    view! {
        <Title text="Administration"/>
        <main class="page admin">
            <h1>"Administration"</h1>
            <Transition fallback=|| view! { <p class="hint">"Loading…"</p> }>
                {awaited!(move || async move {
                    match overview.await {
                        Ok(overview) => view! { <Tables overview/> }.into_any(),
                        Err(error) => view! {
                            <p class="error" role="alert" data-code=error.code()>{error.to_string()}</p>
                        }.into_any(),
                    }
                })}
            </Transition>
            <section aria-labelledby="deactivate">
                <h2 id="deactivate">"Deactivate an account"</h2>
                <p class="hint">"Its sessions end at once (its open pages sign out), and it cannot sign in again."</p>
                <ActionForm action=deactivate attr:class="moderation-form">
                    <label>"Username " <input type="text" name="username" required autocapitalize="none" spellcheck="false"/></label>
                    <label><input type="checkbox" name="erase" value="on"/>" Delete their messages too"</label>
                    <button type="submit" disabled=move || deactivate.pending().get()>"Deactivate"</button>
                </ActionForm>
                {deactivated}
            </section>
            <section aria-labelledby="delete-room">
                <h2 id="delete-room">"Delete a room"</h2>
                <p class="hint">"Every message in it is deleted (open pages see them go) and it leaves everyone's list. Type its name to be sure."</p>
                <ActionForm action=delete attr:class="moderation-form">
                    <label>"Room " <input type="text" name="room" required autocapitalize="none" spellcheck="false"/></label>
                    <button type="submit" disabled=move || delete.pending().get()>"Delete room"</button>
                </ActionForm>
                {deleted}
            </section>
        </main>
    }
}

#[component]
fn Tables(overview: Overview) -> impl IntoView {
    let Overview { rooms, direct_rooms, accounts, log } = overview;
    view! {
        <section aria-labelledby="rooms">
            <h2 id="rooms">"Rooms"</h2>
            <p class="hint">{format!("{} rooms shown, the most active first; {direct_rooms} direct conversations (not listed).", rooms.len())}</p>
            <table class="admin-table" aria-labelledby="rooms">
                <thead><tr><th>"Room"</th><th>"Owner"</th><th>"Members"</th><th>"Messages"</th><th>"Last message"</th></tr></thead>
                <tbody>{rooms.into_iter().map(room_row).collect_view()}</tbody>
            </table>
        </section>
        <section aria-labelledby="accounts">
            <h2 id="accounts">"Accounts"</h2>
            <table class="admin-table" aria-labelledby="accounts">
                <thead><tr><th>"Username"</th><th>"Name"</th><th>"Made"</th><th>"Last seen"</th><th>"State"</th></tr></thead>
                <tbody>{accounts.into_iter().map(account_row).collect_view()}</tbody>
            </table>
        </section>
        <section aria-labelledby="site-log">
            <h2 id="site-log">"Moderation log"</h2>
            {if log.is_empty() { Some(view! { <p class="hint">"Nothing yet."</p> }) } else { None }}
            <ol class="moderation-log">
                {log.into_iter().map(|line| view! {
                    <li class="site-log-room">
                        <a href=format!("/chat/{}/", line.room)>{format!("#{}", line.room)}</a>
                        <ol><Entry entry=line.entry/></ol>
                    </li>
                }).collect_view()}
            </ol>
        </section>
    }
}

fn room_row(room: RoomSummary) -> impl IntoView {
    let (key, path, label) = (room.name.clone(), format!("/chat/{}/", room.name), format!("#{}", room.name));
    view! {
        <tr data-room=key>
            <td><a href=path>{label}</a></td>
            <td>{room.owner.unwrap_or_default()}</td>
            <td class="number">{room.members}</td>
            <td class="number">{room.messages}</td>
            <td>{when(room.last_at, "none")}</td>
        </tr>
    }
}

fn account_row(account: AccountSummary) -> impl IntoView {
    let state = match (&account.bot_of, account.deactivated) {
        (_, true) => "deactivated".to_owned(),
        (Some(owner), false) => format!("bot of {owner}"),
        (None, false) => "active".to_owned(),
    };
    let key = account.username.clone();
    view! {
        <tr data-account=key>
            <td>{account.username}</td>
            <td>{account.display_name}</td>
            <td>{when(Some(account.created_at), "")}</td>
            <td>{when(account.last_seen_at, "never")}</td>
            <td>{state}</td>
        </tr>
    }
}
