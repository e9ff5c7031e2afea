//! Web Push: telling people of messages while no tab of theirs is open.
//!
//! After each commit the poster offers the room's new messages ([`PushOffer`],
//! a non-blocking hand-off that costs one atomic read while nobody has
//! subscribed). One task ([`Pusher`]) takes them: it reads which members of the
//! room have browsers subscribed and a level that wants the message (all
//! messages, or those that mention them), leaves out the authors and everyone
//! with a live connection (their open tab notifies them itself), and sends one
//! push per browser with the newest such message, a few at a time. A
//! subscription the push service calls gone (404, 410) is deleted.

pub mod deliver;
mod service;
pub mod vapid;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::BoxFuture;
use futures::StreamExt;
use sha2::Digest;
use tokio::sync::{mpsc, OnceCell};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use app::protocol::ChatMessage;
use app::room_name::RoomName;
use app::rooms::NotifyLevel;

use crate::config::PushSettings;
use crate::hub::Hub;
use crate::store::{AccountId, Result};
use deliver::{Outcome, Subscription};
pub use service::PushAccounts;
use vapid::Vapid;

/// Browsers one account may have subscribed; the oldest make way.
pub const MAX_SUBSCRIPTIONS_PER_ACCOUNT: usize = 10;
/// Commits waiting for the push task; past it, pushes are dropped (logged):
/// they are a courtesy, the messages are stored and counted unread anyway.
const QUEUE: usize = 1024;
/// Pushes in flight at once.
const CONCURRENT_SENDS: usize = 8;
/// Longest text of a message a push carries.
const EXCERPT_CHARS: usize = 200;
/// Where the VAPID key is kept.
const VAPID_KEY: &str = "vapid_private_key";

/// What Web Push keeps in the store.
pub trait PushStore: Send + Sync + 'static {
    /// Keeps a browser's subscription for `account` (replacing the same
    /// endpoint's); past the limit, the account's oldest go.
    fn save_subscription<'a>(
        &'a self,
        account: AccountId,
        endpoint: &'a str,
        p256dh: &'a str,
        auth: &'a str,
        at: i64,
    ) -> BoxFuture<'a, Result<()>>;
    /// Forgets the endpoint (only `account`'s, when given); says whether it was there.
    fn delete_subscription<'a>(&'a self, account: Option<AccountId>, endpoint: &'a str) -> BoxFuture<'a, Result<bool>>;
    fn count_subscriptions(&self) -> BoxFuture<'_, Result<u64>>;
    /// The room's members with subscribed browsers and a level other than nothing.
    fn recipients<'a>(&'a self, room: &'a RoomName) -> BoxFuture<'a, Result<Vec<Recipient>>>;
    /// The value kept under `name`, keeping `fresh` if there is none yet.
    fn server_key<'a>(&'a self, name: &'a str, fresh: String) -> BoxFuture<'a, Result<String>>;
}

/// A member of a room who could be pushed.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub account: AccountId,
    pub username: String,
    pub notify: NotifyLevel,
    pub subscriptions: Vec<Subscription>,
}

/// A commit's new messages in one room, each with its author's account.
struct Job {
    room: RoomName,
    messages: Vec<(AccountId, String, ChatMessage)>,
}

/// The poster's side: cheap to clone, never waits.
#[derive(Clone)]
pub struct PushOffer {
    jobs: mpsc::Sender<Job>,
    /// Some subscription exists: while none does, offers cost nothing.
    active: Arc<AtomicBool>,
}

impl PushOffer {
    /// After a commit: `messages` of `room`, with their authors' accounts and usernames.
    pub fn offer(&self, room: &RoomName, messages: impl FnOnce() -> Vec<(AccountId, String, ChatMessage)>) {
        if !self.active.load(Ordering::Relaxed) {
            return;
        }
        let job = Job { room: room.clone(), messages: messages() };
        if let Err(error) = self.jobs.try_send(job) {
            tracing::warn!(%error, "web push queue full: a commit's pushes are dropped");
        }
    }
}

/// The push task and what it shares with the server functions.
#[derive(Clone)]
pub struct Pusher {
    shared: Arc<Shared>,
}

struct Shared {
    offer: PushOffer,
    /// Loaded (or made) by the task as it starts.
    vapid: OnceCell<Vapid>,
    store: Arc<dyn PushStore>,
    settings: PushSettings,
    stop: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Pusher {
    /// Starts the task and hands the hub its offer.
    pub fn start(hub: &Hub, store: Arc<dyn PushStore>, settings: PushSettings) -> Self {
        let (jobs, incoming) = mpsc::channel(QUEUE);
        let offer = PushOffer { jobs, active: Arc::new(AtomicBool::new(false)) };
        hub.attach_push(offer.clone());
        let shared = Arc::new(Shared {
            offer,
            vapid: OnceCell::new(),
            store,
            settings,
            stop: CancellationToken::new(),
            task: Mutex::new(None),
        });
        let task = tokio::spawn(run(shared.clone(), hub.clone(), incoming));
        *shared.task.lock().unwrap_or_else(PoisonError::into_inner) = Some(task);
        Pusher { shared }
    }

    /// The server's VAPID key pair, loaded (or made and kept) on first use.
    async fn vapid(&self) -> Result<&Vapid> {
        let shared = &self.shared;
        shared
            .vapid
            .get_or_try_init(|| async {
                let fresh = Vapid::generate(shared.settings.contact.clone());
                let kept = shared.store.server_key(VAPID_KEY, fresh.private_key()).await?;
                Ok(Vapid::from_private_key(&kept, shared.settings.contact.clone()).unwrap_or_else(|error| {
                    tracing::error!(%error, "the kept VAPID key is unreadable; pushes use a fresh one");
                    fresh
                }))
            })
            .await
    }

    /// The public key browsers subscribe with.
    pub async fn public_key(&self) -> Result<String> {
        Ok(self.vapid().await?.public_key())
    }

    /// A browser subscribed: offers are read from now on.
    fn subscribed(&self) {
        self.shared.offer.active.store(true, Ordering::Relaxed);
    }

    /// Ends the task (pushes in flight are dropped).
    pub async fn close(&self) {
        self.shared.stop.cancel();
        let task = self.shared.task.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(task) = task {
            if let Err(error) = task.await {
                tracing::error!(%error, "the web push task failed");
            }
        }
    }
}

async fn run(shared: Arc<Shared>, hub: Hub, mut incoming: mpsc::Receiver<Job>) {
    let pusher = Pusher { shared: shared.clone() };
    match shared.store.count_subscriptions().await {
        Ok(count) => shared.offer.active.store(count > 0, Ordering::Relaxed),
        Err(error) => {
            tracing::warn!(%error, "counting push subscriptions failed; pushing to all rooms");
            shared.offer.active.store(true, Ordering::Relaxed);
        }
    }
    let client = deliver::http_client();
    let mut waiting = Vec::new();
    loop {
        let received = tokio::select! {
            received = incoming.recv_many(&mut waiting, QUEUE) => received,
            () = shared.stop.cancelled() => 0,
        };
        if received == 0 {
            break;
        }
        // The commits that queued up meanwhile, one job per room: a busy room's
        // members are read once for all of them.
        for job in by_room(waiting.drain(..)) {
            if !push(&shared, &pusher, &hub, &client, job).await {
                return;
            }
        }
    }
}

/// Jobs of the same room folded into one, messages in commit order.
fn by_room(jobs: impl Iterator<Item = Job>) -> Vec<Job> {
    let mut merged: Vec<Job> = Vec::new();
    let mut at: std::collections::HashMap<RoomName, usize> = std::collections::HashMap::new();
    for job in jobs {
        match at.get(&job.room) {
            Some(&i) => merged[i].messages.extend(job.messages),
            None => {
                at.insert(job.room.clone(), merged.len());
                merged.push(job);
            }
        }
    }
    merged
}

/// Pushes one room's messages to whoever they are for; `false` once the
/// server is stopping.
async fn push(shared: &Shared, pusher: &Pusher, hub: &Hub, client: &deliver::HttpClient, job: Job) -> bool {
    let sends = match plan(shared, hub, &job).await {
        Ok(sends) => sends,
        Err(error) => {
            tracing::warn!(%error, room = %job.room, "reading whom to push failed");
            return true;
        }
    };
    if sends.is_empty() {
        return true;
    }
    let vapid = match pusher.vapid().await {
        Ok(vapid) => vapid.clone(),
        Err(error) => {
            tracing::warn!(%error, "the VAPID key is unavailable; pushes dropped");
            return true;
        }
    };
    let topic = topic(&job.room);
    let results = futures::stream::iter(sends)
        .map(|(subscription, payload)| {
            let (vapid, topic) = (&vapid, &topic);
            async move {
                let outcome = deliver::send(client, vapid, &subscription, topic, payload).await;
                (subscription, outcome)
            }
        })
        .buffer_unordered(CONCURRENT_SENDS);
    let results = tokio::select! {
        results = results.collect::<Vec<_>>() => results,
        () = shared.stop.cancelled() => return false,
    };
    for (subscription, outcome) in results {
        let counted = match &outcome {
            Outcome::Delivered => "sent",
            Outcome::Gone => "gone",
            Outcome::Failed(_) => "failed",
        };
        crate::metrics::METRICS.push_sends.with_label_values(&[counted]).inc();
        match outcome {
            Outcome::Delivered => tracing::debug!(endpoint = %subscription.endpoint, "pushed"),
            Outcome::Gone => {
                tracing::info!(endpoint = %subscription.endpoint, "push subscription gone; forgotten");
                if let Err(error) = shared.store.delete_subscription(None, &subscription.endpoint).await {
                    tracing::warn!(%error, "forgetting a push subscription failed");
                }
            }
            Outcome::Failed(reason) => {
                tracing::warn!(endpoint = %subscription.endpoint, %reason, "a push was not delivered")
            }
        }
    }
    true
}

/// Each browser to push for `job`, with its payload.
async fn plan(shared: &Shared, hub: &Hub, job: &Job) -> Result<Vec<(Subscription, Vec<u8>)>> {
    let recipients = shared.store.recipients(&job.room).await?;
    let mut sends = Vec::new();
    for recipient in recipients {
        if hub.is_online(recipient.account) {
            continue;
        }
        // The newest message for them: by someone else, and wanted at their level.
        let wanted = job.messages.iter().rev().find_map(|(author, author_username, message)| {
            let mention = message.mentions.contains(&recipient.username);
            (*author != recipient.account && recipient.notify.notifies(mention)).then_some((
                author_username,
                message,
                mention,
            ))
        });
        let Some((author_username, message, mention)) = wanted else { continue };
        let payload = payload(&job.room, author_username, message, mention);
        sends.extend(recipient.subscriptions.into_iter().map(|s| (s, payload.clone())));
    }
    Ok(sends)
}

/// What the service worker shows: the same words a hidden tab's notification has.
fn payload(room: &RoomName, author_username: &str, message: &ChatMessage, mention: bool) -> Vec<u8> {
    let (title, page) = match room.is_direct() {
        // The other person of a conversation is its author.
        true => (message.author.clone(), format!("/chat/@{author_username}/")),
        false if mention => (format!("{} mentioned you in #{room}", message.author), room.path()),
        false => (format!("{} in #{room}", message.author), room.path()),
    };
    let body: String = message.text().chars().take(EXCERPT_CHARS).collect();
    let payload = serde_json::json!({
        "title": title,
        "body": body,
        "url": format!("{page}#m{}", message.seq.0),
        "tag": format!("room:{room}"),
    });
    payload.to_string().into_bytes()
}

/// The push `Topic` of a room (at most 32 URL-safe characters): a newer push
/// for the room replaces one not yet delivered.
fn topic(room: &RoomName) -> String {
    let digest = sha2::Sha256::digest(room.as_str().as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::protocol::{ClientMsgId, Seq, Timestamp};

    fn job(room: &str, seqs: &[u64]) -> Job {
        let message = |seq: u64| ChatMessage {
            seq: Seq(seq),
            author: "Bob".into(),
            username: "bob".into(),
            body: "hi".into(),
            sent_at: Timestamp(0),
            client_id: ClientMsgId(format!("c{seq}")),
            mentions: Vec::new(),
            edited_at: None,
            deleted: false,
            reactions: Vec::new(),
            reply: None,
            file: None,
        };
        Job {
            room: RoomName::parse(room).unwrap(),
            messages: seqs.iter().map(|s| (AccountId(2), "bob".to_owned(), message(*s))).collect(),
        }
    }

    #[test]
    fn queued_commits_fold_into_one_job_per_room_in_order() {
        let merged = by_room([job("a", &[1, 2]), job("b", &[7]), job("a", &[3])].into_iter());
        let seqs: Vec<(String, Vec<u64>)> =
            merged.iter().map(|j| (j.room.to_string(), j.messages.iter().map(|(_, _, m)| m.seq.0).collect())).collect();
        assert_eq!(seqs, [("a".to_owned(), vec![1, 2, 3]), ("b".to_owned(), vec![7])]);
    }
}
