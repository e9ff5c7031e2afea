//! The account page's tokens and webhooks on the server (`app::integrations`):
//! the request's session says whose; a webhook needs the room's owner.

use http::request::Parts;

use app::account::{parse_username, Answer};
use app::display_name::parse_display_name;
use app::integrations::{
    BotView, Created, IntegrationError, IntegrationService, Integrations, TokenView, WebhookView, MAX_TOKEN_NAME_CHARS,
};
use app::room_name::RoomName;

use super::secret::{Secret, TOKEN_PREFIX, WEBHOOK_PREFIX};
use super::store::{BotRefusal, Scopes};
use super::Api;
use crate::accounts::Accounts;
use crate::hub::Hub;
use crate::store::{Account, StoreError};

#[derive(Clone)]
pub struct Service {
    api: Api,
    accounts: Accounts,
    hub: Hub,
}

impl Service {
    pub fn new(api: Api, accounts: Accounts, hub: Hub) -> Self {
        Service { api, accounts, hub }
    }

    async fn me(&self, request: &Parts) -> Result<Account, IntegrationError> {
        match self.accounts.session_of(&request.headers).await {
            Ok(Some(signed_in)) => Ok(signed_in.account),
            Ok(None) => Err(IntegrationError::SignInRequired),
            Err(_) => Err(IntegrationError::Unavailable),
        }
    }

    async fn list(&self, request: &Parts) -> Result<Integrations, IntegrationError> {
        let me = self.me(request).await?;
        let store = self.api.store();
        let tokens = store.tokens(me.id).await.map_err(unavailable)?;
        let webhooks = store.webhooks(me.id).await.map_err(unavailable)?;
        let bots = store.bots(me.id).await.map_err(unavailable)?;
        Ok(Integrations {
            bots: bots
                .into_iter()
                .map(|b| BotView {
                    username: b.account.username,
                    name: b.account.display_name,
                    url: b.url,
                    signing_secret: b.secret,
                })
                .collect(),
            tokens: tokens
                .into_iter()
                .map(|t| TokenView {
                    id: t.id,
                    name: t.name,
                    prefix: t.prefix,
                    read: t.scopes.read,
                    post: t.scopes.post,
                    created_at: t.created_at,
                    last_used_at: t.last_used_at,
                })
                .collect(),
            webhooks: webhooks
                .into_iter()
                .map(|w| WebhookView {
                    id: w.id,
                    room: w.room,
                    bot_username: w.bot.username,
                    bot_name: w.bot.display_name,
                    prefix: w.prefix,
                    created_at: w.created_at,
                    last_used_at: w.last_used_at,
                })
                .collect(),
        })
    }

    async fn create_token(&self, request: &Parts, name: String, scopes: Scopes) -> Result<Created, IntegrationError> {
        let me = self.me(request).await?;
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() || name.chars().count() > MAX_TOKEN_NAME_CHARS {
            return Err(IntegrationError::BadName);
        }
        if !scopes.read && !scopes.post {
            return Err(IntegrationError::NoScope);
        }
        let secret = Secret::generate(TOKEN_PREFIX).map_err(|_| IntegrationError::Unavailable)?;
        let now = crate::clock::now().0;
        let made = self
            .api
            .store()
            .create_token(me.id, &name, (&secret.hash(), &secret.shown()), scopes, now)
            .await
            .map_err(unavailable)?;
        let made = made.ok_or(IntegrationError::TooMany)?;
        tracing::info!(account = me.id.0, token = made.id, read = scopes.read, post = scopes.post, "made an API token");
        Ok(Created { name, secret: secret.text })
    }

    async fn create_webhook(
        &self,
        request: &Parts,
        room: String,
        (bot, bot_name): (String, String),
    ) -> Result<Created, IntegrationError> {
        let me = self.me(request).await?;
        let room = RoomName::parse(&room).map_err(|_| IntegrationError::BadRoomName)?;
        let standing = self.hub.store().standing(&room, me.id, crate::clock::now()).await.map_err(unavailable)?;
        if !standing.owner {
            return Err(IntegrationError::NotOwner);
        }
        let store = self.api.store();
        // Refused for too many before a bot is made for it.
        let made = store.webhooks(me.id).await.map_err(unavailable)?;
        if made.len() as i64 >= super::store::MAX_WEBHOOKS_PER_ACCOUNT {
            return Err(IntegrationError::TooMany);
        }
        let bot = self.own_bot(&me, &bot, &bot_name).await?;
        let now = crate::clock::now().0;
        let secret = Secret::generate(WEBHOOK_PREFIX).map_err(|_| IntegrationError::Unavailable)?;
        let made = store
            .create_webhook(room.as_str(), &bot, me.id, (&secret.hash(), &secret.shown()), now)
            .await
            .map_err(unavailable)?
            .ok_or(IntegrationError::TooMany)?;
        tracing::info!(account = me.id.0, webhook = made.id, %room, bot = %bot.username, "made a webhook");
        Ok(Created { name: format!("#{room}"), secret: format!("{}/hooks/{}", site_origin(request), secret.text) })
    }
}

impl Service {
    /// The bot `username` of `me`'s, made (named `name`, else after its
    /// username) when `me` has none of that username.
    async fn own_bot(&self, me: &Account, username: &str, name: &str) -> Result<Account, IntegrationError> {
        let username = parse_username(username).map_err(|_| IntegrationError::BadBotName)?;
        let display_name = match name.trim() {
            "" => username.clone(),
            name => parse_display_name(name).map_err(|_| IntegrationError::BadName)?,
        };
        let now = crate::clock::now().0;
        match self.api.store().bot(me.id, &username, &display_name, crate::accounts::DUMMY_HASH, now).await {
            Ok(Ok(bot)) => Ok(bot),
            Ok(Err(BotRefusal::Taken)) => Err(IntegrationError::BotTaken),
            Ok(Err(BotRefusal::TooMany)) => Err(IntegrationError::TooMany),
            Err(error) => Err(unavailable(error)),
        }
    }

    async fn save_bot(&self, request: &Parts, bot: String, name: String, url: String) -> Result<(), IntegrationError> {
        let me = self.me(request).await?;
        let url = match url.trim() {
            "" => None,
            url => {
                let parsed = url::Url::parse(url).map_err(|_| IntegrationError::BadUrl)?;
                let fits = url.len() <= super::outgoing::MAX_URL_LEN && parsed.host().is_some();
                if !fits || !matches!(parsed.scheme(), "http" | "https") {
                    return Err(IntegrationError::BadUrl);
                }
                Some(parsed.to_string())
            }
        };
        let bot = self.own_bot(&me, &bot, &name).await?;
        let secret = Secret::generate(super::outgoing::SIGNING_PREFIX).map_err(|_| IntegrationError::Unavailable)?;
        let told = (url.as_deref(), secret.text.as_str());
        self.api.store().set_bot_url(me.id, bot.id, told).await.map_err(unavailable)?;
        tracing::info!(account = me.id.0, bot = %bot.username, told = url.is_some(), "saved a bot");
        Ok(())
    }
}

/// The address the request reached this site at (what a webhook's address begins with).
fn site_origin(request: &Parts) -> String {
    let host = request.headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let scheme = if crate::accounts::is_https(&request.headers) { "https" } else { "http" };
    format!("{scheme}://{host}")
}

fn unavailable(error: StoreError) -> IntegrationError {
    tracing::warn!(%error, "the account page's store access failed");
    IntegrationError::Unavailable
}

impl IntegrationService for Service {
    fn list(&self, request: &Parts) -> Answer<Result<Integrations, IntegrationError>> {
        let (this, request) = (self.clone(), request.clone());
        Box::pin(async move { this.list(&request).await })
    }

    fn create_token(
        &self,
        request: &Parts,
        name: String,
        read: bool,
        post: bool,
    ) -> Answer<Result<Created, IntegrationError>> {
        let (this, request) = (self.clone(), request.clone());
        Box::pin(async move { this.create_token(&request, name, Scopes { read, post }).await })
    }

    fn revoke_token(&self, request: &Parts, id: i64) -> Answer<Result<(), IntegrationError>> {
        let (this, request) = (self.clone(), request.clone());
        Box::pin(async move {
            let me = this.me(&request).await?;
            match this.api.store().revoke_token(me.id, id).await.map_err(unavailable)? {
                true => Ok(()),
                false => Err(IntegrationError::NotFound),
            }
        })
    }

    fn create_webhook(
        &self,
        request: &Parts,
        room: String,
        bot: String,
        bot_name: String,
    ) -> Answer<Result<Created, IntegrationError>> {
        let (this, request) = (self.clone(), request.clone());
        Box::pin(async move { this.create_webhook(&request, room, (bot, bot_name)).await })
    }

    fn save_bot(
        &self,
        request: &Parts,
        bot: String,
        bot_name: String,
        url: String,
    ) -> Answer<Result<(), IntegrationError>> {
        let (this, request) = (self.clone(), request.clone());
        Box::pin(async move { this.save_bot(&request, bot, bot_name, url).await })
    }

    fn delete_bot(&self, request: &Parts, bot: String) -> Answer<Result<(), IntegrationError>> {
        let (this, request) = (self.clone(), request.clone());
        Box::pin(async move {
            let me = this.me(&request).await?;
            let now = crate::clock::now().0;
            match this.api.store().delete_bot(me.id, bot.trim(), now).await.map_err(unavailable)? {
                true => Ok(()),
                false => Err(IntegrationError::NotFound),
            }
        })
    }

    fn new_bot_secret(&self, request: &Parts, bot: String) -> Answer<Result<(), IntegrationError>> {
        let (this, request) = (self.clone(), request.clone());
        Box::pin(async move {
            let me = this.me(&request).await?;
            let secret =
                Secret::generate(super::outgoing::SIGNING_PREFIX).map_err(|_| IntegrationError::Unavailable)?;
            match this.api.store().rotate_bot_secret(me.id, bot.trim(), &secret.text).await.map_err(unavailable)? {
                true => Ok(()),
                false => Err(IntegrationError::NotFound),
            }
        })
    }

    fn delete_webhook(&self, request: &Parts, id: i64) -> Answer<Result<(), IntegrationError>> {
        let (this, request) = (self.clone(), request.clone());
        Box::pin(async move {
            let me = this.me(&request).await?;
            match this.api.store().delete_webhook(me.id, id).await.map_err(unavailable)? {
                true => Ok(()),
                false => Err(IntegrationError::NotFound),
            }
        })
    }
}
