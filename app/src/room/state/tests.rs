use super::*;
use crate::protocol::{ChatError, ChatMessage, Person, Timestamp};
use crate::room_name::RoomName;

fn in_owner(test: impl FnOnce()) {
    let owner = Owner::new();
    owner.set();
    test();
}

fn welcome(you: u64) -> ServerMsg {
    let ada = Person { username: format!("ada{you}"), display_name: "Ada".into(), away: false };
    ServerMsg::Welcome {
        version: crate::protocol::PROTOCOL_VERSION,
        room: RoomName::parse("r").unwrap(),
        you: Some(ada.clone()),
        online: 1,
        people: vec![ada],
        latest: Seq(0),
        moderator: false,
    }
}

/// A stored message of Ada's for tests: body `m<seq>`, client id `client_id`.
pub(crate) fn chat(seq: u64, client_id: &str) -> ChatMessage {
    ChatMessage {
        seq: Seq(seq),
        author: "Ada".into(),
        username: "ada".into(),
        body: format!("m{seq}"),
        sent_at: Timestamp(0),
        client_id: ClientMsgId(client_id.into()),
        mentions: Vec::new(),
        edited_at: None,
        deleted: false,
        reactions: Vec::new(),
        reply: None,
        file: None,
    }
}

fn seqs(room: &RoomState) -> Vec<u64> {
    room.messages.with_untracked(|m| m.iter().map(|m| m.seq.0).collect())
}

#[test]
fn welcome_makes_the_room_live() {
    in_owner(|| {
        let room = RoomState::new();
        assert_eq!(room.apply(welcome(1)), Applied::Continue);
        assert_eq!(room.status.get_untracked(), ConnectionStatus::Live);
        assert_eq!(room.me.get_untracked().as_deref(), Some("ada1"));
    });
}

#[test]
fn messages_are_kept_in_seq_order_once() {
    in_owner(|| {
        let room = RoomState::new();
        room.reset_to(HistoryPage { messages: vec![chat(1, "a"), chat(2, "b")], at_start: true });
        for seq in [3, 2, 4, 3] {
            assert_eq!(room.apply(ServerMsg::Message(chat(seq, &format!("c{seq}")))), Applied::Continue);
        }
        assert_eq!(seqs(&room), [1, 2, 3, 4]);
        assert_eq!(room.last_seq(), Some(Seq(4)));
    });
}

#[test]
fn a_message_past_a_hole_is_not_kept_and_the_page_resumes_from_before_the_hole() {
    in_owner(|| {
        let room = RoomState::new();
        room.reset_to(HistoryPage { messages: vec![chat(1, "a"), chat(2, "b")], at_start: true });
        assert_eq!(room.apply(ServerMsg::Message(chat(4, "d"))), Applied::Resync);
        assert_eq!(seqs(&room), [1, 2], "nothing past the hole");
        assert_eq!(room.last_seq(), Some(Seq(2)), "a rejoin asks for everything after 2");
        // The rejoin's replay fills it in order.
        for seq in [3, 4] {
            assert_eq!(room.apply(ServerMsg::Message(chat(seq, &format!("c{seq}")))), Applied::Continue);
        }
        assert_eq!(seqs(&room), [1, 2, 3, 4]);
    });
}

#[test]
fn an_empty_room_expects_seq_one_first() {
    in_owner(|| {
        let room = RoomState::new();
        room.reset_to(HistoryPage { messages: vec![], at_start: true });
        assert_eq!(room.apply(ServerMsg::Message(chat(2, "b"))), Applied::Resync);
        assert_eq!(room.apply(ServerMsg::Message(chat(1, "a"))), Applied::Continue);
    });
}

#[test]
fn without_history_a_live_message_is_kept_whatever_its_seq() {
    in_owner(|| {
        let room = RoomState::new();
        assert_eq!(room.apply(ServerMsg::Message(chat(7, "g"))), Applied::Continue);
        assert_eq!(seqs(&room), [7]);
    });
}

#[test]
fn without_history_there_is_nothing_to_resume_from() {
    in_owner(|| {
        let room = RoomState::new();
        assert_eq!(room.last_seq(), None);
        room.reset_to(HistoryPage { messages: vec![], at_start: true });
        assert_eq!(room.last_seq(), Some(Seq(0)));
    });
}

#[test]
fn older_pages_go_in_front() {
    in_owner(|| {
        let room = RoomState::new();
        room.reset_to(HistoryPage { messages: vec![chat(51, "x")], at_start: false });
        room.prepend(HistoryPage { messages: (1..=50).map(|s| chat(s, &s.to_string())).collect(), at_start: true });
        assert_eq!(seqs(&room), (1..=51).collect::<Vec<_>>());
        assert!(room.at_start.get_untracked());
        assert_eq!(room.first_seq(), Some(Seq(1)));
    });
}

#[test]
fn a_pending_message_is_settled_by_its_message_or_its_ack() {
    in_owner(|| {
        let room = RoomState::new();
        room.reset_to(HistoryPage { messages: vec![], at_start: true });
        let one = room.add_pending(ClientMsgId("one".into()), "hello".into(), None);
        let two = room.add_pending(ClientMsgId("two".into()), "again".into(), None);
        assert_eq!(room.unconfirmed().len(), 2);

        // Ack first, message later.
        room.apply(ServerMsg::Ack { id: one.id.clone(), seq: Seq(1) });
        assert_eq!(room.pending.get_untracked()[0].state, PendingState::Stored(Seq(1)));
        assert_eq!(room.unconfirmed().len(), 1, "a stored message is not sent again");
        room.apply(ServerMsg::Message(chat(1, "one")));
        assert_eq!(room.pending.get_untracked().len(), 1);

        // Message first, ack later.
        room.apply(ServerMsg::Message(chat(2, "two")));
        room.apply(ServerMsg::Ack { id: two.id, seq: Seq(2) });
        assert!(room.pending.get_untracked().is_empty());
        assert_eq!(seqs(&room), [1, 2]);
    });
}

#[test]
fn unanswered_and_refused_messages_fail_and_can_be_retried() {
    in_owner(|| {
        let room = RoomState::new();
        let slow = room.add_pending(ClientMsgId("slow".into()), "x".into(), None);
        let refused = room.add_pending(ClientMsgId("refused".into()), "y".into(), None);
        room.mark_sent(&slow.id, 1_000.0);
        room.fail_unanswered(500.0);
        assert!(matches!(room.pending.get_untracked()[0].state, PendingState::Sending { .. }));
        room.fail_unanswered(2_000.0);
        assert!(matches!(room.pending.get_untracked()[0].state, PendingState::Failed(_)));

        room.apply(ServerMsg::message_error(refused.id.clone(), ChatError::StoreUnavailable));
        assert_eq!(
            room.pending.get_untracked()[1].state,
            PendingState::Failed(ChatError::StoreUnavailable.to_string())
        );
        assert!(room.error.get_untracked().is_none(), "the error shows on the message");

        room.retry(&slow.id);
        assert_eq!(room.unconfirmed().len(), 1);
    });
}

#[test]
fn a_rate_limited_message_stays_pending_and_goes_again() {
    in_owner(|| {
        let room = RoomState::new();
        let fast = room.add_pending(ClientMsgId("fast".into()), "x".into(), None);
        room.mark_sent(&fast.id, 1_000.0);
        let refusal = ServerMsg::message_error(fast.id.clone(), ChatError::RateLimited { retry_after_ms: 340 });
        assert_eq!(room.apply(refusal), Applied::Throttled { retry_after_ms: 340 });
        assert_eq!(room.pending.get_untracked()[0].state, PendingState::Sending { sent_at: None });
        room.fail_unanswered(f64::MAX);
        assert_eq!(room.unconfirmed().len(), 1, "waiting to go again, not failed");
        assert!(room.error.get_untracked().is_none());
    });
}

#[test]
fn a_session_ending_stops_the_connection() {
    in_owner(|| {
        let room = RoomState::new();
        let ended = ServerMsg::error(ChatError::SignedOut);
        assert_eq!(room.apply(ended), Applied::SessionEnded);
        assert_eq!(room.status.get_untracked().key(), "closed");
    });
}

#[test]
fn a_history_gap_asks_for_a_reload_that_keeps_pending_messages() {
    in_owner(|| {
        let room = RoomState::new();
        room.reset_to(HistoryPage { messages: vec![chat(1, "a")], at_start: true });
        room.add_pending(ClientMsgId("mine".into()), "wait".into(), None);
        assert_eq!(room.apply(ServerMsg::HistoryGap { latest: Seq(5000) }), Applied::ReloadHistory);
        room.reset_to(HistoryPage { messages: vec![chat(4999, "z"), chat(5000, "mine")], at_start: false });
        assert_eq!(seqs(&room), [4999, 5000]);
        assert!(room.pending.get_untracked().is_empty(), "its own message arrived with the page");
    });
}

#[test]
fn errors_show_and_only_fatal_ones_stop() {
    in_owner(|| {
        let room = RoomState::new();
        let malformed = ChatError::Malformed { detail: "expected value".into() };
        assert_eq!(room.apply(ServerMsg::error(malformed.clone())), Applied::Continue);
        assert_eq!(room.error.get_untracked(), Some(malformed.to_string()));
        let old = ChatError::UnsupportedVersion { client: 3, server: 4 };
        assert_eq!(room.apply(ServerMsg::error(old)), Applied::Stop);
        assert_eq!(room.status.get_untracked().key(), "closed");
        assert_eq!(room.apply(ServerMsg::ShuttingDown), Applied::ServerLeaving);
    });
}

#[test]
fn people_come_and_go_and_typing_stops_with_the_message() {
    in_owner(|| {
        let room = RoomState::new();
        room.apply(welcome(1));
        let bob = Person { username: "bob".into(), display_name: "Bob".into(), away: false };
        room.apply(ServerMsg::Presence { online: 2, people: vec![bob.clone()], left: vec![], all: false });
        assert_eq!(room.presence.online.get_untracked(), 2);
        assert_eq!(room.presence.people.get_untracked().len(), 2);
        // My own typing is not shown to me; Bob's is, until his message comes.
        room.apply(ServerMsg::Typing { username: "ada1".into(), display_name: "Ada".into() });
        room.apply(ServerMsg::Typing { username: "bob".into(), display_name: "Bob".into() });
        assert_eq!(room.presence.typing.get_untracked().len(), 1);
        let mut message = chat(1, "b1");
        message.author = "Bob".into();
        room.apply(ServerMsg::Message(message));
        assert!(room.presence.typing.get_untracked().is_empty());
        room.apply(ServerMsg::Presence { online: 1, people: vec![], left: vec!["bob".into()], all: false });
        assert_eq!(room.presence.people.get_untracked().len(), 1);
    });
}

#[test]
fn a_change_replaces_its_message_once_and_counts_in_the_sequence() {
    in_owner(|| {
        let room = RoomState::new();
        room.reset_to(HistoryPage { messages: vec![chat(1, "a"), chat(2, "b")], at_start: true });
        let edited = ChatMessage { body: "m1, fixed".into(), edited_at: Some(Timestamp(9)), ..chat(1, "a") };
        let changed = ServerMsg::Changed { seq: Seq(3), message: edited.clone() };
        assert_eq!(room.apply(changed.clone()), Applied::Continue);
        assert_eq!(room.messages.with_untracked(|m| m.get(&Seq(1)).unwrap().clone()), edited);
        assert_eq!(room.last_seq(), Some(Seq(3)), "a reconnect resumes after the change");
        // Told twice (a replay after a reconnect): nothing more happens.
        let deleted = ChatMessage { body: String::new(), deleted: true, ..chat(1, "a") };
        assert_eq!(room.apply(ServerMsg::Changed { seq: Seq(3), message: deleted.clone() }), Applied::Continue);
        assert_eq!(room.messages.with_untracked(|m| m.get(&Seq(1)).unwrap().body.clone()), "m1, fixed");
        // The next message follows the change without a hole; one past it is a hole.
        assert_eq!(room.apply(ServerMsg::Message(chat(4, "d"))), Applied::Continue);
        assert_eq!(room.apply(ServerMsg::Changed { seq: Seq(6), message: deleted }), Applied::Resync);
        assert_eq!(seqs(&room), [1, 2, 4]);
    });
}

#[test]
fn a_change_of_a_message_shows_in_the_replies_quoting_it() {
    in_owner(|| {
        let room = RoomState::new();
        let quote = |body: &str, deleted| Some(Box::new(Quote::of(Seq(1), "Ada".into(), body, deleted)));
        let reply = ChatMessage { reply: quote("m1", false), ..chat(2, "b") };
        room.reset_to(HistoryPage { messages: vec![chat(1, "a"), reply], at_start: true });
        let edited = ChatMessage { body: "lunch?\nat noon".into(), edited_at: Some(Timestamp(9)), ..chat(1, "a") };
        room.apply(ServerMsg::Changed { seq: Seq(3), message: edited });
        let quoted = |room: &RoomState| room.messages.with_untracked(|m| m.get(&Seq(2)).unwrap().reply.clone());
        assert_eq!(quoted(&room), quote("lunch?", false));
        let deleted = ChatMessage { body: String::new(), deleted: true, ..chat(1, "a") };
        room.apply(ServerMsg::Changed { seq: Seq(4), message: deleted });
        assert_eq!(quoted(&room), quote("", true));
    });
}

#[test]
fn a_reaction_given_already_past_the_names_shows_as_mine() {
    in_owner(|| {
        let room = RoomState::new();
        room.apply(welcome(1));
        let users: Vec<String> = (0..crate::protocol::REACTION_NAMES).map(|i| format!("p{i}")).collect();
        let reaction = crate::protocol::Reaction { emoji: "👍".into(), count: 25, users };
        room.reset_to(HistoryPage {
            messages: vec![ChatMessage { reactions: vec![reaction], ..chat(1, "a") }],
            at_start: true,
        });
        let mine = |room: &RoomState| {
            room.messages.with_untracked(|m| m.get(&Seq(1)).unwrap().reactions[0].users.iter().any(|u| u == "ada1"))
        };
        assert!(!mine(&room));
        // The click adds it; the server says that changed nothing (the message's own seq).
        room.adding_reaction(ClientMsgId("r1".into()), Seq(1), "👍".into());
        assert_eq!(room.apply(ServerMsg::Ack { id: ClientMsgId("r1".into()), seq: Seq(1) }), Applied::Continue);
        assert!(mine(&room), "it was mine: it shows pressed, and a click takes it back");
        assert_eq!(
            room.messages.with_untracked(|m| m.get(&Seq(1)).unwrap().reactions[0].count),
            25,
            "the count is the server's"
        );
        // Added for real past the names (the change told everyone; its ack is a new seq): mine too.
        let users: Vec<String> = (0..crate::protocol::REACTION_NAMES).map(|i| format!("q{i}")).collect();
        let crowded = crate::protocol::Reaction { emoji: "🎉".into(), count: 30, users };
        room.messages.update(|m| m.get_mut(&Seq(1)).unwrap().reactions.push(crowded));
        room.adding_reaction(ClientMsgId("r2".into()), Seq(1), "🎉".into());
        assert_eq!(room.apply(ServerMsg::Ack { id: ClientMsgId("r2".into()), seq: Seq(2) }), Applied::Continue);
        assert!(room
            .messages
            .with_untracked(|m| m.get(&Seq(1)).unwrap().reactions[1].users.iter().any(|u| u == "ada1")));
    });
}
