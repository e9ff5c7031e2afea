//! Browser notifications while the page is hidden: which frames are worth one
//! ([`due`], a pure rule on the room list, unit-tested) and, in the browser,
//! showing it ([`show`]) and asking for the permission ([`NotifyPermission`]).
//!
//! The rule follows each room's level ([`NotifyLevel`]): every message by
//! someone else, only those that mention me, or nothing. Who is mentioned is
//! the server's word (`mentions`, `mentioned`), never this page's reading of
//! the text. The code that talks to the Notification API is a chunk of its
//! own in the release build (`#[lazy]`): a page that never notifies never
//! loads it.

use crate::protocol::{Seq, ServerMsg};
use crate::room_name::RoomName;
use crate::rooms::RoomEntry;

/// A notification to show: of `room` at `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub room: RoomName,
    pub seq: Seq,
    /// It mentions me (else: a message of a room that notifies all).
    pub mention: bool,
    /// What the list calls the room (`#room`, or a person's name).
    pub label: String,
    /// The room's page.
    pub path: String,
    /// The message itself (author, body), when the frame carries it (the
    /// open room's messages do; another room's activity does not).
    pub message: Option<(String, String)>,
    /// Who is told: username and display name, to find the message in the
    /// room's history when the frame does not carry it.
    pub me: (String, String),
}

/// Whether `msg` is worth a notification to `me` (my username; `my_name`, my
/// display name, goes with the notice), given the list as it was before the frame. `open` is
/// the room this page shows.
pub fn due(entries: &[RoomEntry], me: &str, my_name: &str, open: &RoomName, msg: &ServerMsg) -> Option<Due> {
    let (room, seq, mention, message) = match msg {
        ServerMsg::Message(message) => {
            if message.username == me {
                return None;
            }
            let mention = message.mentions.iter().any(|m| m == me);
            (open, message.seq, mention, Some((message.author.clone(), message.text())))
        }
        // An edit or a delete is nothing new to be told of.
        ServerMsg::Activity { change: true, .. } => return None,
        ServerMsg::Activity { room, seq, mentioned, read, .. } => {
            // My own post is the newest: nothing new from anyone else.
            if read.get(me) == Some(seq) {
                return None;
            }
            (room, *seq, mentioned.get(me).is_some_and(|n| *n > 0), None)
        }
        _ => return None,
    };
    let entry = entries.iter().find(|e| &e.room == room)?;
    // Told already, or read on another device.
    if seq <= entry.last_seq || seq <= entry.read_seq {
        return None;
    }
    entry.notify.notifies(mention).then(|| Due {
        room: room.clone(),
        seq,
        mention,
        label: entry.label(),
        path: entry.path(),
        message,
        me: (me.to_owned(), my_name.to_owned()),
    })
}

/// The browser's notification permission, as the room list's button shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyPermission {
    /// Not asked yet: the button asks (a click is the gesture it needs).
    Ask,
    Granted,
    Denied,
    /// No Notification API (or not in the browser yet).
    Unsupported,
}

#[cfg(feature = "hydrate")]
pub use browser::{ask, keep_pushing, permission, show};

#[cfg(not(feature = "hydrate"))]
pub fn permission() -> NotifyPermission {
    NotifyPermission::Unsupported
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::{Due, NotifyPermission};
    use wasm_bindgen::JsValue;

    /// The Notification API's own object, when the browser has one.
    fn api() -> Option<JsValue> {
        js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("Notification")).ok().filter(|n| n.is_function())
    }

    pub fn permission() -> NotifyPermission {
        let Some(api) = api() else { return NotifyPermission::Unsupported };
        match js_sys::Reflect::get(&api, &JsValue::from_str("permission")).ok().and_then(|p| p.as_string()).as_deref() {
            Some("granted") => NotifyPermission::Granted,
            Some("denied") => NotifyPermission::Denied,
            _ => NotifyPermission::Ask,
        }
    }

    /// Asks for the permission (call from a click); says what was answered.
    /// Granted, this browser is subscribed to Web Push for `me` too.
    pub async fn ask(me: String) -> NotifyPermission {
        let answer = lazy::ask().await;
        if answer == NotifyPermission::Granted {
            keep_pushing(me);
        }
        answer
    }

    /// With the permission granted: makes sure this browser is subscribed to
    /// Web Push and the server has its subscription for `me` (a page checks
    /// as it opens; the service worker shows what is pushed while no tab is
    /// open).
    pub fn keep_pushing(me: String) {
        leptos::task::spawn_local(async {
            match lazy::subscribe(me).await {
                Ok(()) => {
                    // For people's tools and the browser tests.
                    let marked =
                        leptos::prelude::document().body().map(|body| body.dataset().set("push", "subscribed"));
                    if !matches!(marked, Some(Ok(()))) {
                        leptos::logging::warn!("could not mark the page as subscribed to pushes");
                    }
                }
                Err(error) => leptos::logging::warn!("web push is not available here: {error}"),
            }
        });
    }

    /// Shows `due`, if the page is hidden and notifications are allowed.
    pub fn show(due: Due) {
        if !leptos::prelude::document().hidden() || permission() != NotifyPermission::Granted {
            return;
        }
        leptos::task::spawn_local(lazy::show(due));
    }

    mod lazy {
        use leptos::prelude::*;
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::JsCast;

        use super::super::{Due, NotifyPermission};
        use crate::history::history;
        use crate::protocol::Seq;

        /// Longest text a notification shows of a message.
        const EXCERPT_CHARS: usize = 160;

        #[lazy]
        pub async fn ask() -> NotifyPermission {
            let Some(asked) = web_sys::Notification::request_permission().ok() else {
                return NotifyPermission::Unsupported;
            };
            match wasm_bindgen_futures::JsFuture::from(asked).await.ok().and_then(|p| p.as_string()).as_deref() {
                Some("granted") => NotifyPermission::Granted,
                Some("denied") => NotifyPermission::Denied,
                _ => NotifyPermission::Ask,
            }
        }

        /// Where this browser notes which subscription it handed the server,
        /// for whom: a page that finds the same one says nothing (a write and
        /// a turn of the account's allowance per page opened, otherwise).
        const SENT_KEY: &str = "chat-push-sent";

        /// Registers the service worker, subscribes with the server's key (or
        /// keeps the subscription there is) and hands it to the server, unless
        /// it was handed over for `me` already.
        #[lazy]
        pub async fn subscribe(me: String) -> Result<(), String> {
            use wasm_bindgen_futures::JsFuture;
            let navigator = window().navigator();
            if !js_sys::Reflect::has(&navigator, &"serviceWorker".into()).unwrap_or(false) {
                return Err("no service workers in this browser".into());
            }
            let registered = JsFuture::from(navigator.service_worker().register("/sw.js"))
                .await
                .map_err(fail("registering the service worker"))?;
            let registration: web_sys::ServiceWorkerRegistration = registered.unchecked_into();
            let manager = registration.push_manager().map_err(fail("no push manager"))?;
            let existing = JsFuture::from(manager.get_subscription().map_err(fail("reading the subscription"))?).await;
            let subscription = match existing.ok().filter(|s| !s.is_null() && !s.is_undefined()) {
                Some(subscription) => subscription,
                None => {
                    let key = crate::push::push_key().await.map_err(|e| e.to_string())?;
                    let options = web_sys::PushSubscriptionOptionsInit::new();
                    options.set_user_visible_only(true);
                    options.set_application_server_key(&base64url_bytes(&key)?.into());
                    let subscribing = manager.subscribe_with_options(&options).map_err(fail("subscribing"))?;
                    JsFuture::from(subscribing).await.map_err(fail("subscribing"))?
                }
            };
            // `toJSON()`: {endpoint, keys: {p256dh, auth}}.
            let json = js_sys::Reflect::get(&subscription, &"toJSON".into())
                .ok()
                .and_then(|to_json| to_json.dyn_into::<js_sys::Function>().ok())
                .and_then(|to_json| to_json.call0(&subscription).ok())
                .ok_or("the subscription has no JSON form")?;
            let field = |object: &wasm_bindgen::JsValue, name: &str| {
                js_sys::Reflect::get(object, &name.into()).ok().and_then(|v| v.as_string())
            };
            let keys = js_sys::Reflect::get(&json, &"keys".into()).map_err(fail("no keys"))?;
            let (Some(endpoint), Some(p256dh), Some(auth)) =
                (field(&json, "endpoint"), field(&keys, "p256dh"), field(&keys, "auth"))
            else {
                return Err("the subscription lacks its endpoint or keys".into());
            };
            let sent = format!("{me} {endpoint}");
            let storage = window().local_storage().ok().flatten();
            if storage.as_ref().and_then(|s| s.get_item(SENT_KEY).ok().flatten()).as_deref() == Some(sent.as_str()) {
                return Ok(());
            }
            crate::push::push_subscribe(endpoint, p256dh, auth).await.map_err(|e| e.to_string())?;
            if storage.is_none_or(|storage| storage.set_item(SENT_KEY, &sent).is_err()) {
                leptos::logging::warn!("could not note the subscription: the next page hands it over again");
            }
            Ok(())
        }

        /// Words for a failed browser call.
        fn fail(what: &'static str) -> impl Fn(wasm_bindgen::JsValue) -> String {
            move |error| format!("{what}: {error:?}")
        }

        /// Base64url (as the server writes keys) to bytes, by the browser's `atob`.
        fn base64url_bytes(text: &str) -> Result<js_sys::Uint8Array, String> {
            let mut standard: String = text
                .chars()
                .map(|c| match c {
                    '-' => '+',
                    '_' => '/',
                    c => c,
                })
                .collect();
            while !standard.len().is_multiple_of(4) {
                standard.push('=');
            }
            let binary = window().atob(&standard).map_err(|_| "the server's key is not base64".to_owned())?;
            let bytes: Vec<u8> = binary.chars().map(|c| c as u32 as u8).collect();
            Ok(js_sys::Uint8Array::from(bytes.as_slice()))
        }

        #[lazy]
        pub async fn show(due: Due) {
            let (author, body) = match due.message.clone() {
                Some(message) => message,
                // Another room: its newest message for me, from its history.
                None => match history(due.room.to_string(), Some(due.seq.0 + 1), None).await {
                    Ok(page) => page
                        .messages
                        .into_iter()
                        .rev()
                        .find(|m| {
                            let (me, _) = &due.me;
                            if due.mention {
                                m.mentions.contains(me)
                            } else {
                                &m.username != me
                            }
                        })
                        .map(|m| (m.author.clone(), m.text()))
                        .unwrap_or_default(),
                    Err(error) => {
                        leptos::logging::warn!("could not read the message to notify: {error}");
                        (String::new(), String::new())
                    }
                },
            };
            let title = match (due.path.starts_with("/chat/@"), due.mention) {
                (true, _) => due.label.clone(),
                (false, true) => format!("{author} mentioned you in {}", due.label),
                (false, false) => format!("{author} in {}", due.label),
            };
            let excerpt: String = body.chars().take(EXCERPT_CHARS).collect();
            let options = web_sys::NotificationOptions::new();
            options.set_body(&excerpt);
            // One per room: a newer one takes the place of the last.
            options.set_tag(&format!("room:{}", due.room));
            options.set_icon("/favicon.svg");
            let notification = match web_sys::Notification::new_with_options(&title, &options) {
                Ok(notification) => notification,
                Err(error) => {
                    leptos::logging::warn!("could not show a notification: {error:?}");
                    return;
                }
            };
            let target = format!("{}#m{}", due.path, due.seq.0);
            let seq = due.seq;
            let on_click = Closure::<dyn FnMut()>::new(move || open_at(&target, seq));
            notification.set_onclick(Some(on_click.as_ref().unchecked_ref()));
            // Lives as long as the page: a notification may be clicked any time.
            on_click.forget();
        }

        /// Brings the page forward at the message: scrolled to, on this page;
        /// else the room's page opens there.
        fn open_at(target: &str, seq: Seq) {
            let window = window();
            if window.focus().is_err() {
                leptos::logging::warn!("could not focus the page");
            }
            let here = window.location().pathname().unwrap_or_default();
            let element = document().get_element_by_id(&format!("m{}", seq.0));
            match element {
                Some(element) if target.starts_with(&format!("{here}#")) => {
                    element.scroll_into_view();
                    if window.location().set_hash(&format!("m{}", seq.0)).is_err() {
                        leptos::logging::warn!("could not mark the message");
                    }
                }
                _ => {
                    if let Err(error) = window.location().assign(target) {
                        leptos::logging::warn!("could not open the room: {error:?}");
                    }
                }
            }
        }
    }
}
