//! Accounts as the pages see them: who is signed in ([`Viewer`]), the rules for
//! usernames and passwords, the errors a person can meet ([`AccountError`]), and the
//! server functions behind the sign-up, sign-in and sign-out forms.
//!
//! The forms are `ActionForm`s: with JavaScript they post in the background and show
//! errors in place; without it they are plain form posts, answered with a redirect
//! (to where the person was going, or back to the form with `?error=<code>`).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

pub use crate::display_name::MAX_DISPLAY_NAME_CHARS;

pub const MIN_USERNAME_CHARS: usize = 3;
pub const MAX_USERNAME_CHARS: usize = 32;
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longer passwords are refused before hashing, so nobody can make the server
/// hash megabytes.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// The signed-in person, as the pages show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub username: String,
    pub display_name: String,
}

/// What can go wrong with an account form: the error type of the account server
/// functions (it crosses the wire as JSON, [`FromServerFnError`]), and as `code`
/// in the address of a plain form's redirect. The message is what the person reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum AccountError {
    #[error("That username is taken. Pick another one.")]
    UsernameTaken,
    /// Unknown username or wrong password: deliberately the same answer.
    #[error("That username and password do not match an account.")]
    Mismatch,
    #[error("Choose a password of at least 10 characters that is not your username.")]
    WeakPassword,
    #[error("Usernames are 3 to 32 characters: lowercase letters, digits, '-' and '_'.")]
    InvalidUsername,
    #[error("Choose a display name of 1 to 32 characters, without control characters.")]
    InvalidDisplayName,
    #[error("Too many sign-in attempts. Wait a minute and try again.")]
    TooManyAttempts,
    #[error("Accounts are unavailable right now. Try again in a moment.")]
    Unavailable,
    /// The page could not reach the server (no network, or no answer).
    #[error("Could not reach the server. Check your connection and try again.")]
    Unreachable,
}

crate::server_fns::server_fn_error!(AccountError);

impl AccountError {
    const ALL: [AccountError; 8] = [
        AccountError::UsernameTaken,
        AccountError::Mismatch,
        AccountError::WeakPassword,
        AccountError::InvalidUsername,
        AccountError::InvalidDisplayName,
        AccountError::TooManyAttempts,
        AccountError::Unavailable,
        AccountError::Unreachable,
    ];

    pub fn code(self) -> &'static str {
        match self {
            AccountError::UsernameTaken => "username_taken",
            AccountError::Mismatch => "mismatch",
            AccountError::WeakPassword => "weak_password",
            AccountError::InvalidUsername => "invalid_username",
            AccountError::InvalidDisplayName => "invalid_display_name",
            AccountError::TooManyAttempts => "too_many_attempts",
            AccountError::Unavailable => "unavailable",
            AccountError::Unreachable => "unreachable",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.code() == code)
    }
}

/// Lowercases and trims `input`, then checks it against the username rule.
pub fn parse_username(input: &str) -> Result<String, AccountError> {
    let name = input.trim().to_lowercase();
    let len = name.chars().count();
    let allowed = name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if (MIN_USERNAME_CHARS..=MAX_USERNAME_CHARS).contains(&len) && allowed {
        Ok(name)
    } else {
        Err(AccountError::InvalidUsername)
    }
}

/// A password must be long enough and not the username itself.
pub fn check_password(username: &str, password: &str) -> Result<(), AccountError> {
    let len = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&len) || password.trim().to_lowercase() == username {
        return Err(AccountError::WeakPassword);
    }
    Ok(())
}

/// Where to go after a form: a path on this site, never another site.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control) =>
        {
            path.to_owned()
        }
        _ => "/chat/".to_owned(),
    }
}

/// What a sign-up form carries.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub username: String,
    pub display_name: String,
    pub password: String,
}

#[cfg(feature = "ssr")]
pub use service::*;

#[cfg(feature = "ssr")]
mod service {
    use std::future::Future;
    use std::pin::Pin;

    use http::request::Parts;

    use super::{AccountError, NewAccount, Viewer};

    pub type Answer<T> = Pin<Box<dyn Future<Output = T> + Send>>;

    /// The server's accounts, handed to Leptos as context. Each call gets the
    /// request (for its cookie and address); a successful sign-up or sign-in
    /// answers with the `Set-Cookie` value that signs the browser in.
    pub trait AccountService: Send + Sync + 'static {
        fn sign_up(&self, request: &Parts, form: NewAccount) -> Answer<Result<String, AccountError>>;
        fn sign_in(&self, request: &Parts, username: String, password: String) -> Answer<Result<String, AccountError>>;
        /// Ends the request's session (closing its sockets); answers the cookie
        /// that clears it.
        fn sign_out(&self, request: &Parts) -> Answer<Result<String, AccountError>>;
        /// Who the request's session belongs to; an error when sessions cannot
        /// be read (never "signed out" then).
        fn viewer(&self, request: &Parts) -> Answer<Result<Option<Viewer>, AccountError>>;
    }

    pub type SharedAccounts = std::sync::Arc<dyn AccountService>;
}

#[cfg(feature = "ssr")]
mod respond {
    use http::header::SET_COOKIE;
    use http::request::Parts;
    use http::HeaderValue;
    use leptos::prelude::*;

    use super::{AccountError, SharedAccounts};

    pub fn context() -> Result<(SharedAccounts, Parts), AccountError> {
        crate::server_fns::context(AccountError::Unavailable)
    }

    pub fn set_cookie(cookie: &str) {
        if let (Some(response), Ok(value)) =
            (use_context::<leptos_axum::ResponseOptions>(), HeaderValue::from_str(cookie))
        {
            response.append_header(SET_COOKIE, value);
        }
    }

    use crate::server_fns::is_plain_form;

    /// Sends a plain form back to its page with the error in the address; a
    /// script gets the error itself.
    pub fn fail(
        parts: &Parts,
        error: AccountError,
        form_page: &str,
        keep: &[(&str, &str)],
    ) -> Result<(), AccountError> {
        if is_plain_form(parts) {
            let mut location = format!("{form_page}?error={}", error.code());
            for (name, value) in keep {
                location.push_str(&format!("&{name}={}", crate::url::encode(value)));
            }
            leptos_axum::redirect(&location);
            Ok(())
        } else {
            Err(error)
        }
    }
}

pub const SIGN_UP_PAGE: &str = "/account/sign-up";
pub const SIGN_IN_PAGE: &str = "/account/sign-in";
/// The address parameter a page is sent back with when signing out failed.
pub const SIGN_OUT_ERROR: &str = "sign_out_error";

/// Creates an account and signs it in, then goes to `next`.
#[server(endpoint = "sign-up")]
pub async fn sign_up(
    username: String,
    display_name: String,
    password: String,
    next: Option<String>,
) -> Result<(), AccountError> {
    let (accounts, parts) = respond::context()?;
    let next = safe_next(next.as_deref());
    let form = NewAccount { username: username.clone(), display_name: display_name.clone(), password };
    match accounts.sign_up(&parts, form).await {
        Ok(cookie) => {
            respond::set_cookie(&cookie);
            leptos_axum::redirect(&next);
            Ok(())
        }
        Err(error) => respond::fail(
            &parts,
            error,
            SIGN_UP_PAGE,
            &[("username", &username), ("display_name", &display_name), ("next", &next)],
        ),
    }
}

/// Signs in, then goes to `next`.
#[server(endpoint = "sign-in")]
pub async fn sign_in(username: String, password: String, next: Option<String>) -> Result<(), AccountError> {
    let (accounts, parts) = respond::context()?;
    let next = safe_next(next.as_deref());
    match accounts.sign_in(&parts, username.clone(), password).await {
        Ok(cookie) => {
            respond::set_cookie(&cookie);
            leptos_axum::redirect(&next);
            Ok(())
        }
        Err(error) => respond::fail(&parts, error, SIGN_IN_PAGE, &[("username", &username), ("next", &next)]),
    }
}

/// Ends this browser's session (its open sockets close), then goes to `next`.
#[server(endpoint = "sign-out")]
pub async fn sign_out(next: Option<String>) -> Result<(), AccountError> {
    let (accounts, parts) = respond::context()?;
    let next = safe_next(next.as_deref());
    match accounts.sign_out(&parts).await {
        Ok(cookie) => {
            respond::set_cookie(&cookie);
            leptos_axum::redirect(&next);
            Ok(())
        }
        // Still signed in: say so rather than pretend. A plain form goes back
        // to its page, which shows the error from the address.
        Err(error) if crate::server_fns::is_plain_form(&parts) => {
            let glue = if next.contains('?') { '&' } else { '?' };
            leptos_axum::redirect(&format!("{next}{glue}{SIGN_OUT_ERROR}={}", error.code()));
            Ok(())
        }
        Err(error) => Err(error),
    }
}

/// Who is signed in on this browser, if anyone.
#[server(endpoint = "viewer")]
pub async fn current_viewer() -> Result<Option<Viewer>, AccountError> {
    let (accounts, parts) = respond::context()?;
    accounts.viewer(&parts).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(parse_username("  Ada_L-1 ").unwrap(), "ada_l-1");
        for bad in ["ab", "", "with space", "ünï", &"x".repeat(33), "semi;colon"] {
            assert_eq!(parse_username(bad), Err(AccountError::InvalidUsername), "{bad}");
        }
    }

    #[test]
    fn passwords() {
        assert!(check_password("ada", "correct horse battery").is_ok());
        assert_eq!(check_password("ada", "short"), Err(AccountError::WeakPassword));
        assert_eq!(check_password("adalovelace", "AdaLovelace"), Err(AccountError::WeakPassword));
        assert_eq!(check_password("ada", &"x".repeat(257)), Err(AccountError::WeakPassword));
    }

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/chat/tea/")), "/chat/tea/");
        for bad in [None, Some("https://evil.example/"), Some("//evil.example"), Some("/\\evil"), Some("chat")] {
            assert_eq!(safe_next(bad), "/chat/", "{bad:?}");
        }
    }

    #[test]
    fn errors_cross_the_wire_as_themselves() {
        use server_fn::codec::JsonEncoding;
        use server_fn::{Decodes, Encodes};
        for error in AccountError::ALL {
            let bytes = JsonEncoding::encode(&error).unwrap();
            assert_eq!(<JsonEncoding as Decodes<AccountError>>::decode(bytes).unwrap(), error);
        }
        let lost = AccountError::from_server_fn_error(ServerFnErrorErr::Request("offline".into()));
        assert_eq!(lost, AccountError::Unreachable);
    }

    #[test]
    fn error_codes_round_trip() {
        for error in AccountError::ALL {
            assert_eq!(AccountError::from_code(error.code()), Some(error));
        }
        assert_eq!(AccountError::from_code("<script>"), None);
    }
}
