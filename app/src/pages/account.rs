//! `/account/sign-up` and `/account/sign-in`, and the account links every page
//! carries. The forms work without JavaScript: a plain post answered by a redirect,
//! errors coming back in the address (`?error=<code>`, only known codes shown).

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_query_map};

use crate::account::{
    safe_next, AccountError, SignIn, SignOut, SignUp, MAX_DISPLAY_NAME_CHARS, MAX_USERNAME_CHARS, SIGN_IN_PAGE,
    SIGN_OUT_ERROR, SIGN_UP_PAGE,
};
use crate::awaited::awaited;
use crate::title::Title;
use crate::viewer::{form_link, ViewerResource};

/// The error to show: the one the script got back, else the one in the address.
fn form_error(value: impl Fn() -> Option<Result<(), AccountError>> + Copy) -> impl Fn() -> Option<AccountError> + Copy {
    let query = use_query_map();
    move || match value() {
        Some(Err(error)) => Some(error),
        Some(Ok(_)) => None,
        None => query.read().get("error").and_then(|code| AccountError::from_code(&code)),
    }
}

/// An account error as the page shows it: words for people, the code for tools.
fn error_view(error: AccountError) -> impl IntoView {
    view! { <p class="error" role="alert" data-code=error.code()>{error.to_string()}</p> }
}

/// An account form's outcome: the error to show (its page then answers 400), and
/// on success, with JavaScript on, the next page loaded afresh.
fn form_outcome(
    value: impl Fn() -> Option<Result<(), AccountError>> + Copy + Send + Sync + 'static,
    next: impl Fn() -> String + Send + Sync + 'static,
) -> impl Fn() -> Option<AccountError> + Copy {
    let error = form_error(value);
    if untrack(error).is_some() {
        super::set_status(400);
    }
    reload_on_success(value, move || safe_next(Some(&next())));
    error
}

/// After a form succeeds with JavaScript on, load `target` afresh, as the plain
/// form post would: every part of the page (and the room's socket) then knows who
/// is signed in now.
fn reload_on_success(
    value: impl Fn() -> Option<Result<(), AccountError>> + Send + Sync + 'static,
    target: impl Fn() -> String + Send + Sync + 'static,
) {
    Effect::new(move |_| {
        if let Some(Ok(())) = value() {
            if let Err(error) = window().location().assign(&target()) {
                leptos::logging::error!("could not load the next page: {error:?}");
            }
        }
    });
}

#[component]
pub fn SignUpPage() -> impl IntoView {
    let action = ServerAction::<SignUp>::new();
    let query = use_query_map();
    let field = move |name: &'static str| move || query.read().get(name).unwrap_or_default();
    let next = field("next");
    let error = form_outcome(move || action.value().get(), next);
    view! {
        <Title text="Create an account"/>
        <main class="page narrow account-page">
            <h1>"Create an account"</h1>
            <p class="lede">"Anyone can read a room; to post, you need an account."</p>
            <ActionForm action attr:class="account-form">
                <input type="hidden" name="next" value=next/>
                <label for="username">"Username"</label>
                <input
                    id="username"
                    name="username"
                    required
                    maxlength=MAX_USERNAME_CHARS
                    autocomplete="username"
                    autocapitalize="none"
                    spellcheck="false"
                    value=field("username")
                    aria-describedby="username-rule"
                />
                <p id="username-rule" class="hint">"3 to 32 characters: lowercase letters, digits, '-' and '_'. Used to sign in."</p>
                <label for="display-name">"Display name"</label>
                <input
                    id="display-name"
                    name="display_name"
                    required
                    maxlength=MAX_DISPLAY_NAME_CHARS
                    autocomplete="nickname"
                    value=field("display_name")
                    aria-describedby="display-name-rule"
                />
                <p id="display-name-rule" class="hint">"What others see next to your messages."</p>
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" required autocomplete="new-password" aria-describedby="password-rule"/>
                <p id="password-rule" class="hint">"At least 10 characters."</p>
                {move || error().map(error_view)}
                <button type="submit" disabled=move || action.pending().get()>"Create account"</button>
            </ActionForm>
            <p class="hint">
                "Have an account already? "
                <a href=move || form_link(SIGN_IN_PAGE, &next())>"Sign in"</a>
            </p>
        </main>
    }
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    let query = use_query_map();
    let field = move |name: &'static str| move || query.read().get(name).unwrap_or_default();
    let next = field("next");
    let error = form_outcome(move || action.value().get(), next);
    view! {
        <Title text="Sign in"/>
        <main class="page narrow account-page">
            <h1>"Sign in"</h1>
            <ActionForm action attr:class="account-form">
                <input type="hidden" name="next" value=next/>
                <label for="username">"Username"</label>
                <input
                    id="username"
                    name="username"
                    required
                    autocomplete="username"
                    autocapitalize="none"
                    spellcheck="false"
                    value=field("username")
                />
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" required autocomplete="current-password"/>
                {move || error().map(error_view)}
                <button type="submit" disabled=move || action.pending().get()>"Sign in"</button>
            </ActionForm>
            <p class="hint">
                "New here? "
                <a href=move || form_link(SIGN_UP_PAGE, &next())>"Create account"</a>
            </p>
        </main>
    }
}

/// "Signed in as …" and a sign-out button, or the links to sign in and up.
///
/// Signing out is a plain form post, scripts or not: the server ends the
/// session and sends the browser to the page again (a script would have loaded
/// it afresh too), or back with `?sign_out_error=<code>` when it could not. As
/// an `ActionForm` it brought the form decoder and the error-in-address reader
/// of server actions into every page's WASM.
#[component]
pub fn AccountNav() -> impl IntoView {
    const SIGN_OUT_PATH: &str = <SignOut as leptos::server_fn::ServerFn>::PATH;
    let viewer = ViewerResource::expect();
    let location = use_location();
    let here = move || location.pathname.get();
    let query = use_query_map();
    let sign_out_error = move || {
        let error = query.read().get(SIGN_OUT_ERROR).and_then(|code| AccountError::from_code(&code))?;
        Some(
            view! { <p class="error" role="alert" data-code=error.code()>"Could not sign out: " {error.to_string()}</p> },
        )
    };
    view! {
        <nav class="account-nav" aria-label="Account">
            <a href="/search">"Search"</a>
            <Transition fallback=|| ()>
                {awaited!(move || async move {
                    match viewer.await {
                        Ok(Some(viewer)) => view! {
                            <span class="signed-in">"Signed in as " <a href="/account" title="Your account: API tokens and webhooks"><strong>{viewer.display_name}</strong></a></span>
                            <form method="post" action=SIGN_OUT_PATH class="sign-out">
                                <input type="hidden" name="next" value=here/>
                                <button type="submit" class="link">"Sign out"</button>
                            </form>
                            {sign_out_error}
                        }
                        .into_any(),
                        _ => view! {
                            <a href=move || form_link(SIGN_IN_PAGE, &here())>"Sign in"</a>
                            <a href=move || form_link(SIGN_UP_PAGE, &here())>"Create account"</a>
                        }
                        .into_any(),
                    }
                })}
            </Transition>
        </nav>
    }
}
