//! The reaction picker, from a chunk of its own (loaded on the first use):
//! a row of common emoji and a box for any other, opened in place under the
//! message. A choice gives the reaction (or takes it back, if it is the
//! reader's already) and closes the picker; Escape closes it too.

#[cfg(feature = "hydrate")]
pub use lazy::pick;

#[cfg(feature = "hydrate")]
mod lazy {
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;

    use crate::protocol::{validate_reaction, Seq};

    /// Offered first; any other can be typed or pasted.
    const COMMON: [&str; 8] = ["👍", "❤️", "😂", "🎉", "😮", "😢", "👀", "✅"];

    /// Opens the picker on message `seq`; `react` gives the chosen emoji.
    #[lazy]
    pub async fn pick(seq: Seq, react: Callback<(Seq, String)>) {
        let Some(item) = document().get_element_by_id(&format!("m{}", seq.0)) else { return };
        let Some(slot) = item.query_selector(".edit-slot").ok().flatten() else { return };
        let slot: web_sys::HtmlElement = slot.unchecked_into();
        if item.class_list().contains("editing") || slot.query_selector(".picker").ok().flatten().is_some() {
            return;
        }
        let typed = RwSignal::new(String::new());
        let problem = RwSignal::new(None::<String>);
        let close = {
            let (slot, item) = (slot.clone(), item.clone());
            move || {
                slot.set_inner_html("");
                if let Ok(el) = item.clone().dyn_into::<web_sys::HtmlElement>() {
                    if el.focus().is_err() {
                        leptos::logging::warn!("could not give the message the focus back");
                    }
                }
            }
        };
        let choose = {
            let close = close.clone();
            move |emoji: String| match validate_reaction(emoji.trim()) {
                Ok(emoji) => {
                    react.run((seq, emoji.to_owned()));
                    close();
                }
                Err(refusal) => problem.set(Some(refusal.to_string())),
            }
        };
        let on_pick = {
            let choose = choose.clone();
            move |ev: leptos::ev::MouseEvent| {
                let target = ev.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok());
                if let Some(emoji) = target.and_then(|t| t.get_attribute("data-emoji")) {
                    choose(emoji);
                }
            }
        };
        let on_keydown = {
            let close = close.clone();
            move |ev: leptos::ev::KeyboardEvent| {
                if ev.key() == "Escape" {
                    ev.prevent_default();
                    ev.stop_propagation();
                    close();
                }
            }
        };
        let buttons = COMMON
            .iter()
            .map(|emoji| {
                view! { <button type="button" class="pick" data-emoji=*emoji aria-label=format!("React with {emoji}")>{*emoji}</button> }
            })
            .collect_view();
        let first = NodeRef::<leptos::html::Div>::new();
        let view = view! {
            <div class="picker" role="dialog" aria-label="Add a reaction" node_ref=first on:keydown=on_keydown>
                <div class="picks" on:click=on_pick>{buttons}</div>
                <form on:submit=move |ev| { ev.prevent_default(); choose(typed.get_untracked()); }>
                    <input type="text" aria-label="Any emoji" placeholder="Any emoji" maxlength="16" bind:value=typed/>
                    <button type="submit">"Add"</button>
                    <button type="button" class="link" on:click=move |_| close()>"Cancel"</button>
                </form>
                {move || problem.get().map(|p| view! { <p class="error" role="alert">{p}</p> })}
            </div>
        }
        .into_any();
        crate::late::mount_in_place(&slot, view);
        let pick = first.get_untracked().and_then(|el| el.query_selector(".pick").ok().flatten());
        if let Some(pick) = pick.and_then(|p| p.dyn_into::<web_sys::HtmlElement>().ok()) {
            if pick.focus().is_err() {
                leptos::logging::warn!("could not focus the picker");
            }
        }
    }
}
