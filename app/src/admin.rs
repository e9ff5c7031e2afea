//! What a site administrator does here (the first account, or one named by
//! `--admin`): deactivate an account, whose sessions end at once (its open
//! pages sign out) and which cannot sign in again; optionally its messages are
//! deleted too. A server function, so the form works without JavaScript.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Why an administrator's request was refused: a code the page renders in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum AdminError {
    #[error("Sign in as a site administrator.")]
    SignInRequired,
    #[error("Only a site administrator can do that.")]
    NotAdmin,
    #[error("There is nobody with that username.")]
    NoSuchPerson,
    #[error("You cannot deactivate your own account here.")]
    NotYourself,
    #[error("That is unavailable right now. Try again in a moment.")]
    Unavailable,
    #[error("Could not reach the server. Check your connection and try again.")]
    Unreachable,
}

impl AdminError {
    pub fn code(self) -> &'static str {
        match self {
            AdminError::SignInRequired => "sign_in_required",
            AdminError::NotAdmin => "not_admin",
            AdminError::NoSuchPerson => "no_such_person",
            AdminError::NotYourself => "not_yourself",
            AdminError::Unavailable => "unavailable",
            AdminError::Unreachable => "unreachable",
        }
    }
}

crate::server_fns::server_fn_error!(AdminError);

/// What a deactivation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deactivated {
    pub username: String,
    /// Messages of theirs deleted.
    pub deleted: u32,
}

#[cfg(feature = "ssr")]
pub use service::{AdminService, SharedAdmin};

#[cfg(feature = "ssr")]
mod service {
    use http::request::Parts;

    use super::{AdminError, Deactivated};
    use crate::account::Answer;

    pub trait AdminService: Send + Sync + 'static {
        /// Deactivates `username`'s account (and with `erase`, deletes its messages).
        fn deactivate(&self, request: &Parts, username: String, erase: bool)
            -> Answer<Result<Deactivated, AdminError>>;
    }

    pub type SharedAdmin = std::sync::Arc<dyn AdminService>;
}

/// Deactivates `username`'s account; `erase` ("on", from a checkbox) deletes
/// its messages too.
#[server(endpoint = "deactivate-account")]
pub async fn deactivate_account(username: String, #[server(default)] erase: String) -> Result<Deactivated, AdminError> {
    let (service, parts) = crate::server_fns::context::<SharedAdmin, _>(AdminError::Unavailable)?;
    let done = service.deactivate(&parts, username, !erase.is_empty()).await;
    if let Err(error) = &done {
        crate::pages::set_status(match error {
            AdminError::SignInRequired => 401,
            AdminError::NotAdmin => 403,
            AdminError::NoSuchPerson => 404,
            AdminError::NotYourself => 400,
            _ => 503,
        });
    }
    done
}
