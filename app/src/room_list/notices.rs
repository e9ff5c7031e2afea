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

/// Whether `msg` is worth a notification to `me` (`my_name` is how my own
/// messages are signed), given the list as it was before the frame. `open` is
/// the room this page shows.
pub fn due(entries: &[RoomEntry], me: &str, my_name: &str, open: &RoomName, msg: &ServerMsg) -> Option<Due> {
    let (room, seq, mention, message) = match msg {
        ServerMsg::Message(message) => {
            if message.author == my_name {
                return None;
            }
            let mention = message.mentions.iter().any(|m| m == me);
            (open, message.seq, mention, Some((message.author.clone(), message.body.clone())))
        }
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
pub use browser::{ask, permission, show};

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
    pub async fn ask() -> NotifyPermission {
        lazy::ask().await
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

        #[lazy]
        pub async fn show(due: Due) {
            let (author, body) = match due.message.clone() {
                Some(message) => message,
                // Another room: its newest message for me, from its history.
                None => match history(due.room.to_string(), Some(due.seq.0 + 1)).await {
                    Ok(page) => page
                        .messages
                        .into_iter()
                        .rev()
                        .find(|m| {
                            let (me, my_name) = &due.me;
                            if due.mention {
                                m.mentions.contains(me)
                            } else {
                                &m.author != my_name
                            }
                        })
                        .map(|m| (m.author, m.body))
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
            options.set_icon("/favicon.ico");
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
