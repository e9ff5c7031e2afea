//! The site administrators' server functions on the server: who is one (the
//! first account made, and any named by `--admin`), and deactivating an
//! account (its sessions ended, its sockets closed; optionally its messages
//! deleted, each a delete as its author's would be).

use std::sync::Arc;

use http::request::Parts;

use app::account::Answer;
use app::admin::{AdminError, AdminService, Deactivated};

use crate::accounts::Accounts;
use crate::hub::{Author, Hub};
use crate::store::Account;

#[derive(Clone)]
pub struct Admin {
    accounts: Accounts,
    hub: Hub,
    /// Usernames named administrators by configuration.
    named: Arc<[String]>,
}

impl Admin {
    pub fn new(accounts: Accounts, hub: Hub, named: Arc<[String]>) -> Self {
        Admin { accounts, hub, named }
    }

    /// Whether the account is a site administrator.
    pub async fn is_admin(&self, account: &Account) -> Result<bool, AdminError> {
        if self.named.iter().any(|name| name.eq_ignore_ascii_case(&account.username)) {
            return Ok(true);
        }
        let first = self.accounts.store().first_account().await.map_err(|error| {
            tracing::error!(%error, "reading the first account failed");
            AdminError::Unavailable
        })?;
        Ok(first == Some(account.id))
    }

    async fn run_deactivate(&self, request: &Parts, username: String, erase: bool) -> Result<Deactivated, AdminError> {
        let me = match self.accounts.session_of(&request.headers).await {
            Ok(Some(signed_in)) => signed_in.account,
            Ok(None) => return Err(AdminError::SignInRequired),
            Err(_) => return Err(AdminError::Unavailable),
        };
        if !self.is_admin(&me).await? {
            return Err(AdminError::NotAdmin);
        }
        let target = match self.accounts.find(&username).await {
            Ok(Some(target)) => target,
            Ok(None) => return Err(AdminError::NoSuchPerson),
            Err(_) => return Err(AdminError::Unavailable),
        };
        if target.id == me.id {
            return Err(AdminError::NotYourself);
        }
        self.accounts.deactivate(target.id).await.map_err(|_| AdminError::Unavailable)?;
        let mut deleted = 0;
        if erase {
            let messages = self.accounts.store().messages_by(target.id).await.map_err(|error| {
                tracing::error!(%error, "listing a deactivated account's messages failed");
                AdminError::Unavailable
            })?;
            let author = Author::of(&target);
            for (room, seq) in messages {
                match self.hub.erase(&author, &room, seq).await {
                    Ok(()) => deleted += 1,
                    Err(error) => {
                        tracing::warn!(?error, %room, seq = seq.0, "deleting a deactivated account's message failed")
                    }
                }
            }
        }
        tracing::info!(admin = me.id.0, account = target.id.0, deleted, "deactivated an account");
        Ok(Deactivated { username: target.username, deleted })
    }
}

impl AdminService for Admin {
    fn deactivate(&self, request: &Parts, username: String, erase: bool) -> Answer<Result<Deactivated, AdminError>> {
        let (this, request) = (self.clone(), request.clone());
        Box::pin(async move { this.run_deactivate(&request, username, erase).await })
    }
}
