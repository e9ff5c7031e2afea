//! The push server functions' side on the server: whose browser a request
//! hands in (its session), the checks on what it hands in, and how often.

use std::time::Instant;

use http::request::Parts;

use app::account::Answer;
use app::push::{PushError, PushService};

use super::{deliver, Pusher};
use crate::accounts::Accounts;
use crate::limits::KeyedBuckets;
use crate::store::AccountId;

/// Subscription changes one account may make: a burst, then one a minute.
const CHANGE_BURST: u32 = 10;
const CHANGES_PER_SECOND: f64 = 1.0 / 60.0;

#[derive(Clone)]
pub struct PushAccounts {
    accounts: Accounts,
    pusher: Pusher,
    changes: std::sync::Arc<KeyedBuckets<AccountId>>,
}

impl PushAccounts {
    pub fn new(accounts: Accounts, pusher: Pusher) -> Self {
        PushAccounts {
            accounts,
            pusher,
            changes: std::sync::Arc::new(KeyedBuckets::new(CHANGE_BURST, CHANGES_PER_SECOND)),
        }
    }

    async fn changer(&self, request: &Parts) -> Result<AccountId, PushError> {
        let signed_in = self.accounts.session_of(&request.headers).await.map_err(|error| {
            tracing::warn!(%error, "push: sessions unreadable");
            PushError::Unavailable
        })?;
        let account = signed_in.ok_or(PushError::SignInRequired)?.account.id;
        self.changes.take(&account, Instant::now()).map_err(|_| PushError::RateLimited)?;
        Ok(account)
    }
}

fn unavailable(error: crate::store::StoreError) -> PushError {
    tracing::error!(%error, "push: the store failed");
    PushError::Unavailable
}

impl PushService for PushAccounts {
    fn public_key(&self) -> Answer<Result<String, PushError>> {
        let this = self.clone();
        Box::pin(async move { this.pusher.public_key().await.map_err(unavailable) })
    }

    fn subscribe(
        &self,
        request: &Parts,
        endpoint: String,
        p256dh: String,
        auth: String,
    ) -> Answer<Result<(), PushError>> {
        let (this, request) = (self.clone(), request.clone());
        Box::pin(async move {
            let account = this.changer(&request).await?;
            let allow_http = this.pusher.shared.settings.allow_http;
            if let Err(refusal) = deliver::check(&endpoint, &p256dh, &auth, allow_http) {
                tracing::info!(%refusal, account = account.0, "push subscription refused");
                return Err(PushError::BadSubscription);
            }
            let store = &this.pusher.shared.store;
            store
                .save_subscription(account, &endpoint, &p256dh, &auth, crate::clock::now().0)
                .await
                .map_err(unavailable)?;
            this.pusher.subscribed();
            Ok(())
        })
    }

    fn unsubscribe(&self, request: &Parts, endpoint: String) -> Answer<Result<(), PushError>> {
        let (this, request) = (self.clone(), request.clone());
        Box::pin(async move {
            let account = this.changer(&request).await?;
            this.pusher.shared.store.delete_subscription(Some(account), &endpoint).await.map_err(unavailable)?;
            Ok(())
        })
    }
}
