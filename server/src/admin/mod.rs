//! The site administrators' server functions on the server: who is one (the
//! first account made, and any named by `--admin`); the rooms, accounts and
//! moderation log they see; deactivating an account (its sessions ended, its
//! sockets closed; optionally its messages deleted, each a delete as its
//! author's would be); deleting a room (each message deleted likewise, the
//! room taken out of every list, the deletion logged).

pub mod seen;
pub mod store;

use std::sync::Arc;

use http::request::Parts;

use app::account::Answer;
use app::admin::{AdminError, AdminService, Deactivated, Overview, RoomDeleted};
use app::room_name::RoomName;

use crate::accounts::Accounts;
use crate::hub::{Author, Hub};
use crate::store::Account;

#[derive(Clone)]
pub struct Admin {
    accounts: Accounts,
    hub: Hub,
    store: Arc<dyn store::AdminStore>,
    /// Usernames named administrators by configuration.
    named: Arc<[String]>,
}

impl Admin {
    pub fn new(accounts: Accounts, hub: Hub, store: Arc<dyn store::AdminStore>, named: Arc<[String]>) -> Self {
        Admin { accounts, hub, store, named }
    }

    /// The request's account, if it is a site administrator's.
    async fn administrator(&self, request: &Parts) -> Result<Account, AdminError> {
        let me = match self.accounts.session_of(&request.headers).await {
            Ok(Some(signed_in)) => signed_in.account,
            Ok(None) => return Err(AdminError::SignInRequired),
            Err(_) => return Err(AdminError::Unavailable),
        };
        if !self.is_admin(&me).await? {
            return Err(AdminError::NotAdmin);
        }
        Ok(me)
    }

    async fn run_overview(&self, request: &Parts) -> Result<Overview, AdminError> {
        self.administrator(request).await?;
        let rows = store::MAX_ROWS;
        Ok(Overview {
            rooms: self.store.rooms_summary(rows).await.map_err(unavailable)?,
            direct_rooms: self.store.direct_rooms().await.map_err(unavailable)?,
            accounts: self.store.accounts_summary(rows).await.map_err(unavailable)?,
            log: self.store.site_log(rows).await.map_err(unavailable)?,
        })
    }

    async fn run_delete_room(&self, request: &Parts, room: String) -> Result<RoomDeleted, AdminError> {
        let me = self.administrator(request).await?;
        let room = RoomName::parse(&room).map_err(|_| AdminError::BadRoomName)?;
        if !self.store.log_room_deleted(&room, me.id, crate::clock::now().0).await.map_err(unavailable)? {
            return Err(AdminError::NoSuchRoom);
        }
        let mut deleted = 0;
        for (seq, author) in self.store.live_messages(&room).await.map_err(unavailable)? {
            match self.hub.erase_as(author, &room, seq).await {
                Ok(()) => deleted += 1,
                Err(error) => tracing::warn!(?error, %room, seq = seq.0, "deleting a deleted room's message failed"),
            }
        }
        let mut members = 0;
        for account in self.store.members(&room).await.map_err(unavailable)? {
            match self.hub.leave_list(account, &room).await {
                Ok(true) => members += 1,
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, %room, "taking a deleted room out of a list failed"),
            }
        }
        tracing::info!(admin = me.id.0, %room, deleted, members, "deleted a room");
        Ok(RoomDeleted { room: room.to_string(), deleted, members })
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
        let me = self.administrator(request).await?;
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

fn unavailable(error: crate::store::StoreError) -> AdminError {
    tracing::error!(%error, "the administrators' page's store access failed");
    AdminError::Unavailable
}

impl AdminService for Admin {
    fn overview(&self, request: &Parts) -> Answer<Result<Overview, AdminError>> {
        let (this, request) = (self.clone(), request.clone());
        Box::pin(async move { this.run_overview(&request).await })
    }

    fn delete_room(&self, request: &Parts, room: String) -> Answer<Result<RoomDeleted, AdminError>> {
        let (this, request) = (self.clone(), request.clone());
        Box::pin(async move { this.run_delete_room(&request, room).await })
    }

    fn deactivate(&self, request: &Parts, username: String, erase: bool) -> Answer<Result<Deactivated, AdminError>> {
        let (this, request) = (self.clone(), request.clone());
        Box::pin(async move { this.run_deactivate(&request, username, erase).await })
    }
}
