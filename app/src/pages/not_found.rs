use leptos::prelude::*;

use crate::title::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    super::set_status(404);
    view! {
        <Title text="Not found"/>
        <main class="page narrow">
            <h1>"Nothing here"</h1>
            <p>"This address is not a page of the chat. Rooms live at " <code>"/chat/<room>/"</code> "."</p>
            <p><a href="/chat/">"Go to the lobby"</a></p>
        </main>
    }
}
