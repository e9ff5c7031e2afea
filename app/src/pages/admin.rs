//! `/admin`: a site administrator's page. For now, deactivating an account.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::admin::DeactivateAccount;

#[component]
pub fn AdminPage() -> impl IntoView {
    let deactivate = ServerAction::<DeactivateAccount>::new();
    let outcome = move || {
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
    view! {
        <Title text="Administration"/>
        <main class="page narrow admin">
            <h1>"Administration"</h1>
            <section aria-labelledby="deactivate">
                <h2 id="deactivate">"Deactivate an account"</h2>
                <p class="hint">"Its sessions end at once (its open pages sign out), and it cannot sign in again."</p>
                <ActionForm action=deactivate attr:class="moderation-form">
                    <label>"Username " <input type="text" name="username" required autocapitalize="none" spellcheck="false"/></label>
                    <label><input type="checkbox" name="erase" value="on"/>" Delete their messages too"</label>
                    <button type="submit" disabled=move || deactivate.pending().get()>"Deactivate"</button>
                </ActionForm>
                {outcome}
            </section>
        </main>
    }
}
