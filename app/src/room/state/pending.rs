//! What this person sent that the server has not answered yet: messages
//! waiting to be stored (shown as pending, sent again on a fresh
//! connection), and reactions being added (see [`RoomState::apply`]'s ack).

use leptos::prelude::*;

use super::RoomState;
use crate::protocol::{ClientMsgId, Seq};

/// A message this person wrote that the server has not confirmed yet.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub id: ClientMsgId,
    pub body: String,
    /// The message it answers.
    pub reply_to: Option<Seq>,
    /// The file it posts (uploaded already).
    pub file: Option<crate::protocol::Attachment>,
    pub state: PendingState,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PendingState {
    /// Waiting to be sent or for its acknowledgement. `sent_at` is when it last
    /// went out on a live connection (milliseconds, the page's clock).
    Sending { sent_at: Option<f64> },
    /// Stored as `seq`; its broadcast has not arrived yet.
    Stored(Seq),
    /// Not confirmed: the reason, and a retry for the person.
    Failed(String),
}

impl RoomState {
    /// This person asked to add the reaction `emoji` to message `seq` as the request `id`.
    pub fn adding_reaction(&self, id: ClientMsgId, seq: Seq, emoji: String) {
        self.adding.update_value(|adding| adding.push((id, seq, emoji)));
    }

    /// The message and the reaction the request `id` was adding, if it was
    /// one (forgotten now).
    pub(super) fn added_reaction(&self, id: &ClientMsgId) -> Option<(Seq, String)> {
        let mut found = None;
        self.adding.update_value(|adding| {
            if let Some(at) = adding.iter().position(|(i, _, _)| i == id) {
                let (_, seq, emoji) = adding.swap_remove(at);
                found = Some((seq, emoji));
            }
        });
        found
    }

    /// A message the person just wrote (answering `reply_to`); returns it for sending.
    pub fn add_pending(&self, id: ClientMsgId, body: String, reply_to: Option<Seq>) -> Pending {
        self.add_pending_file(id, body, reply_to, None)
    }

    /// [`RoomState::add_pending`], posting `file`.
    pub fn add_pending_file(
        &self,
        id: ClientMsgId,
        body: String,
        reply_to: Option<Seq>,
        file: Option<crate::protocol::Attachment>,
    ) -> Pending {
        let pending = Pending { id, body, reply_to, file, state: PendingState::Sending { sent_at: None } };
        self.pending.update(|p| p.push(pending.clone()));
        pending
    }

    /// What still has to be sent (again) on a fresh connection.
    pub fn unconfirmed(&self) -> Vec<Pending> {
        self.pending.with_untracked(|pending| {
            pending.iter().filter(|p| matches!(p.state, PendingState::Sending { .. })).cloned().collect()
        })
    }

    pub fn mark_sent(&self, id: &ClientMsgId, now: f64) {
        self.set_pending_state(id, PendingState::Sending { sent_at: Some(now) });
    }

    /// Marks as failed what went out before `deadline` without an answer.
    pub fn fail_unanswered(&self, deadline: f64) {
        self.pending.update(|pending| {
            for p in pending.iter_mut() {
                if matches!(p.state, PendingState::Sending { sent_at: Some(t) } if t < deadline) {
                    p.state = PendingState::Failed("No answer from the server.".into());
                }
            }
        });
    }

    pub fn retry(&self, id: &ClientMsgId) {
        self.set_pending_state(id, PendingState::Sending { sent_at: None });
    }

    pub(super) fn set_pending_state(&self, id: &ClientMsgId, state: PendingState) {
        self.pending.update(|pending| {
            if let Some(p) = pending.iter_mut().find(|p| &p.id == id) {
                p.state = state;
            }
        });
    }

    /// Drops pending messages that have arrived as messages. Each pending one
    /// is looked for among the loaded (there are few pending, and usually none:
    /// a set of every loaded message's id cost more, and its hash table the WASM).
    pub(super) fn settle_pending(&self) {
        let arrived = |id: &ClientMsgId| self.messages.with_untracked(|m| m.iter().any(|m| &m.client_id == id));
        if self.pending.with_untracked(|pending| pending.iter().any(|p| arrived(&p.id))) {
            self.pending.update(|pending| pending.retain(|p| !arrived(&p.id)));
        }
    }
}
