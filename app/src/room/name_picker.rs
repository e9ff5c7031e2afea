use leptos::prelude::*;

use crate::display_name::{parse_display_name, MAX_DISPLAY_NAME_CHARS};

#[component]
pub fn NamePicker(previous: Option<String>, on_choose: Callback<String>) -> impl IntoView {
    let value = RwSignal::new(previous.unwrap_or_default());
    let error = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match parse_display_name(&value.get_untracked()) {
            Ok(name) => on_choose.run(name),
            Err(e) => error.set(Some(e.to_string())),
        }
    };
    view! {
        <form class="name-picker" on:submit=submit>
            <label for="display-name">"Display name"</label>
            <p class="hint" id="display-name-hint">"How others in the room will see you. Kept in this browser."</p>
            <div class="row">
                <input
                    id="display-name"
                    type="text"
                    autocomplete="nickname"
                    maxlength=MAX_DISPLAY_NAME_CHARS
                    aria-describedby="display-name-hint"
                    aria-invalid=move || error.read().as_ref().map(|_| "true")
                    bind:value=value
                />
                <button type="submit">"Join room"</button>
            </div>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </form>
    }
}
