//! `/chat/<room>/moderation`: for a room's moderators, removing a person (for
//! a while or for good) and letting them back, and, for its owner, naming
//! moderators; below, the room's moderation log. Plain forms: without
//! JavaScript each posts and comes back here (a refusal in the address).

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::awaited::awaited;
use crate::moderation::{moderation_log, LogEntry, Moderate, ModerationError};
use crate::room::time::{rfc3339, utc_clock_time};
use crate::room_name::RoomName;
use crate::title::Title;

#[component]
pub fn ModerationPage() -> impl IntoView {
    let params = use_params_map();
    let room = params.with_untracked(|p| p.get("room").unwrap_or_default());
    let Ok(room) = RoomName::parse(&room) else {
        super::set_status(404);
        return view! { <main class="page narrow"><h1>"No such room"</h1></main> }.into_any();
    };
    let act = ServerAction::<Moderate>::new();
    let key = room.to_string();
    let log = crate::codec::load(move || (key.clone(), act.version().get()), |(room, _)| moderation_log(room));
    let returned = use_query_map().with_untracked(|q| q.get("error").and_then(|c| ModerationError::from_code(&c)));
    let refusal = move || {
        let failed = act.value().get().and_then(Result::err).or(returned);
        failed.map(|e| view! { <p class="error" role="alert" data-code=e.code()>{e.to_string()}</p> })
    };
    let name = room.to_string();
    let slow_room = name.clone();
    let form = move |action: &'static str, label: &'static str, with_time: bool| {
        let name = name.clone();
        view! {
            <ActionForm action=act attr:class="moderation-form">
                <input type="hidden" name="room" value=name/>
                <input type="hidden" name="action" value=action/>
                <label>{label}" " <input type="text" name="username" required placeholder="username"
                    autocapitalize="none" spellcheck="false"/></label>
                {with_time.then(|| view! {
                    <label>"for "
                        <select name="minutes">
                            <option value="10">"10 minutes"</option>
                            <option value="60">"an hour"</option>
                            <option value="1440">"a day"</option>
                            <option value="10080">"a week"</option>
                            <option value="" selected>"good"</option>
                        </select>
                    </label>
                })}
                <button type="submit" disabled=move || act.pending().get()>{label}</button>
            </ActionForm>
        }
    };
    view! {
        <Title text=format!("Moderation of #{room}")/>
        <main class="page moderation">
            <h1>"Moderation of " <a href=room.path()>{format!("#{room}")}</a></h1>
            {refusal}
            <section aria-labelledby="moderate-people">
                <h2 id="moderate-people">"People"</h2>
                <p class="hint">"A removed person's open pages of the room close; they cannot come back or post until the time is up or you let them back. Moderators delete anyone's message from its actions in the room."</p>
                {form("remove", "Remove", true)}
                {form("restore", "Let back", false)}
                <h3>"Slow mode"</h3>
                <ActionForm action=act attr:class="moderation-form">
                    <input type="hidden" name="room" value=slow_room/>
                    <input type="hidden" name="action" value="slow_mode"/>
                    <label>"One message per person every "
                        <select name="seconds">
                            <option value="0">"(off)"</option>
                            <option value="10">"10 seconds"</option>
                            <option value="30">"30 seconds"</option>
                            <option value="60">"minute"</option>
                            <option value="300">"5 minutes"</option>
                            <option value="900">"15 minutes"</option>
                        </select>
                    </label>
                    <button type="submit" disabled=move || act.pending().get()>"Set slow mode"</button>
                </ActionForm>
                <h3>"Moderators (the owner names them)"</h3>
                {form("moderator", "Make moderator", false)}
                {form("unmoderator", "Stop moderating", false)}
            </section>
            <section aria-labelledby="moderation-log">
                <h2 id="moderation-log">"Log"</h2>
                <Transition fallback=|| view! { <p class="hint">"Loading…"</p> }>
                    {awaited!(move || async move {
                        match log.await {
                            Ok(entries) if entries.is_empty() => view! { <p class="hint">"Nothing yet."</p> }.into_any(),
                            Ok(entries) => view! {
                                <ol class="moderation-log">
                                    {entries.into_iter().map(|entry| view! { <Entry entry/> }).collect_view()}
                                </ol>
                            }.into_any(),
                            Err(error) => view! { <p class="error" role="alert" data-code=error.code()>{error.to_string()}</p> }.into_any(),
                        }
                    })}
                </Transition>
            </section>
        </main>
    }
    .into_any()
}

#[component]
pub(super) fn Entry(entry: LogEntry) -> impl IntoView {
    let target = entry.target.clone().unwrap_or_default();
    let what = match entry.action.as_str() {
        "delete" => format!("deleted a message of {target} (#{})", entry.seq.unwrap_or_default()),
        "remove" => match entry.until {
            Some(until) => format!("removed {target} until {} UTC", utc_clock_time(until)),
            None => format!("removed {target} for good"),
        },
        "restore" => format!("let {target} back"),
        "moderator" => format!("made {target} a moderator"),
        "unmoderator" => format!("stopped {target} moderating"),
        "delete_room" => "deleted the room".to_owned(),
        "slow_mode" => match entry.seconds.unwrap_or(0) {
            0 => "turned slow mode off".to_owned(),
            seconds => format!("set slow mode to one message every {seconds} s"),
        },
        other => format!("{other} {target}"),
    };
    view! {
        <li>
            <time datetime=rfc3339(entry.at)>{utc_clock_time(entry.at)}</time>
            " "<strong>{entry.actor}</strong>" "{what}
        </li>
    }
}
