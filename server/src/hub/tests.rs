use std::sync::Arc;

use app::protocol::{ChatMessage, ClientMsgId, ServerMsg};
use app::room_name::RoomName;

use super::*;
use crate::store::SqliteStore;

fn room(name: &str) -> RoomName {
    RoomName::parse(name).unwrap()
}

/// A hub over a real SQLite file in a temporary directory.
async fn hub_with_buffer(buffer: usize) -> (Hub, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (store, writer) = SqliteStore::open(&dir.path().join("chat.db")).await.unwrap();
    (Hub::with_room_buffer(Arc::new(store), writer, buffer), dir)
}

async fn hub() -> (Hub, tempfile::TempDir) {
    hub_with_buffer(DEFAULT_ROOM_BUFFER).await
}

fn decode(event: Event) -> Vec<ServerMsg> {
    match event {
        Event::Room(event) => {
            event.frames().into_iter().map(|(_, f)| serde_json::from_str(f.as_str()).unwrap()).collect()
        }
        Event::Lagged { missed } => panic!("unexpected lag of {missed}"),
    }
}

/// Everything a member has been sent so far.
fn drain(member: &mut Membership) -> Vec<ServerMsg> {
    std::iter::from_fn(|| member.try_next_event()).flat_map(decode).collect()
}

fn messages(events: &[ServerMsg]) -> Vec<(u64, &str)> {
    events
        .iter()
        .filter_map(|e| match e {
            ServerMsg::Message(ChatMessage { seq, body, .. }) => Some((seq.0, body.as_str())),
            _ => None,
        })
        .collect()
}

async fn post(member: &Membership, author: &str, body: &str) -> u64 {
    let id = ClientMsgId(format!("{author}-{body}").replace(' ', "_"));
    member.post(&by(author), body, id).await.unwrap().message.seq.0
}

/// An author with an id of its own for each name.
fn by(name: &str) -> Author {
    let id = name.bytes().fold(0i64, |h, b| h.wrapping_mul(31).wrapping_add(i64::from(b)));
    Author { id: AccountId(id), username: name.to_lowercase(), display_name: name.to_owned() }
}

#[tokio::test]
async fn a_room_exists_while_it_has_members() {
    let (hub, _dir) = hub().await;
    assert_eq!(hub.room_count(), 0);
    let a = hub.join(&room("general"), Some(&by("Ada")));
    let b = hub.join(&room("general"), Some(&by("Bob")));
    assert_eq!(hub.room_count(), 1);
    assert_eq!(hub.room(&room("general")).unwrap().member_count(), 2);
    hub.check_invariants();

    drop(a);
    assert_eq!(hub.room(&room("general")).unwrap().member_count(), 1);
    drop(b);
    assert!(hub.room(&room("general")).is_none(), "the last one out removes the room");
    assert_eq!(hub.room_count(), 0);
    hub.check_invariants();
}

#[tokio::test]
async fn a_room_that_empties_and_refills_keeps_its_history_and_seqs() {
    let (hub, _dir) = hub().await;
    let first = hub.join(&room("r"), Some(&by("Ada")));
    assert_eq!(post(&first, "Ada", "one").await, 1);
    drop(first);
    assert_eq!(hub.room_count(), 0);
    let mut again = hub.join(&room("r"), Some(&by("Ada")));
    drain(&mut again);
    assert_eq!(post(&again, "Ada", "two").await, 2);
    assert_eq!(messages(&drain(&mut again)), [(2, "two")]);
}

/// The next event a member is sent, within a few seconds.
async fn next(member: &mut Membership) -> Vec<ServerMsg> {
    let event = tokio::time::timeout(std::time::Duration::from_secs(5), member.next_event()).await;
    decode(event.expect("an event within 5 s"))
}

fn usernames(people: &[app::protocol::Person]) -> Vec<&str> {
    people.iter().map(|p| p.username.as_str()).collect()
}

#[tokio::test]
async fn arrivals_are_told_in_one_notice_and_a_person_counts_once() {
    let (hub, _dir) = hub().await;
    let mut a = hub.join(&room("r"), Some(&by("Ada")));
    let mut b = hub.join(&room("r"), Some(&by("Bob")));
    // Bob's second tab: still one Bob.
    let b2 = hub.join(&room("r"), Some(&by("Bob")));
    let reader = hub.join(&room("r"), None);
    let (online, people) = b.take_welcome();
    assert_eq!((online, usernames(&people)), (2, vec!["ada", "bob"]));
    let [ServerMsg::Presence { online: 2, people, left, all: false }] = &next(&mut a).await[..] else {
        panic!("expected one presence notice")
    };
    assert_eq!(usernames(people), ["ada", "bob"]);
    assert!(left.is_empty());

    // One of Bob's tabs closing is not Bob leaving; away needs both his tabs.
    drop(b2);
    b.set_away(true);
    drop(reader);
    assert_eq!(
        next(&mut a).await,
        [ServerMsg::Presence {
            online: 2,
            people: vec![app::protocol::Person { username: "bob".into(), display_name: "Bob".into(), away: true }],
            left: vec![],
            all: false
        }]
    );
    drop(b);
    assert_eq!(
        next(&mut a).await,
        [ServerMsg::Presence { online: 1, people: vec![], left: vec!["bob".into()], all: false }]
    );
}

#[tokio::test]
async fn a_crowd_arriving_costs_each_member_a_page_and_a_few_counts() {
    let (hub, _dir) = hub().await;
    let crowd = app::protocol::LISTED_UP_TO * 3;
    let mut members: Vec<Membership> =
        (0..crowd).map(|i| hub.join(&room("big"), Some(&by(&format!("P{i:04}"))))).collect();
    let last = members.last_mut().unwrap();
    let (online, people) = last.take_welcome();
    assert_eq!(online as usize, crowd);
    assert!(people.is_empty(), "the welcome lists nobody in a crowd: pages are asked for");
    // The first member hears of the crowd as a count, not as 300 arrivals.
    let first = &mut members[0];
    let heard = next(first).await;
    assert_eq!(heard, [ServerMsg::Presence { online: crowd as u32, people: vec![], left: vec![], all: false }]);
    assert!(drain(first).is_empty());
    // Pages walk the rest.
    let (page, next_after) = hub.room(&room("big")).unwrap().people(Some("p0049"));
    assert_eq!(page.first().map(|p| p.username.as_str()), Some("p0050"));
    assert!(next_after.is_some());
}

#[tokio::test]
async fn a_message_is_stored_then_reaches_every_member_of_its_room_and_no_other() {
    let (hub, _dir) = hub().await;
    let mut a1 = hub.join(&room("a"), Some(&by("A1")));
    let mut a2 = hub.join(&room("a"), Some(&by("A2")));
    let mut b1 = hub.join(&room("b"), Some(&by("B1")));
    drain(&mut a1);
    drain(&mut a2);
    drain(&mut b1);

    assert_eq!(post(&a1, "A1", "hello a").await, 1);
    // The post returned after the broadcast: everyone has it now.
    assert_eq!(messages(&drain(&mut a1)), [(1, "hello a")], "the sender gets its own");
    assert_eq!(messages(&drain(&mut a2)), [(1, "hello a")]);
    assert!(drain(&mut b1).is_empty(), "room b heard room a");
    let stored = hub.store().page(&room("a"), None, 10).await.unwrap();
    assert_eq!(stored.len(), 1);

    assert_eq!(post(&b1, "B1", "hello b").await, 1, "rooms count seqs apart");
    assert_eq!(messages(&drain(&mut b1)), [(1, "hello b")]);
    assert!(drain(&mut a1).is_empty());
}

#[tokio::test]
async fn a_retried_post_is_acknowledged_again_but_broadcast_once() {
    let (hub, _dir) = hub().await;
    let mut a = hub.join(&room("r"), Some(&by("Ada")));
    drain(&mut a);
    let id = ClientMsgId("retry-me".into());
    let first = a.post(&by("Ada"), "once", id.clone()).await.unwrap();
    let again = a.post(&by("Ada"), "once", id).await.unwrap();
    assert!(!first.duplicate && again.duplicate);
    assert_eq!(first.message.seq, again.message.seq);
    assert_eq!(messages(&drain(&mut a)), [(1, "once")]);
}

#[tokio::test]
async fn concurrent_posts_are_broadcast_in_seq_order() {
    let (hub, _dir) = hub().await;
    let mut watcher = hub.join(&room("r"), Some(&by("Watcher")));
    drain(&mut watcher);
    let senders: Vec<_> = (0..8).map(|i| hub.join(&room("r"), Some(&by(&format!("S{i}"))))).collect();
    let posts = senders.iter().enumerate().flat_map(|(i, s)| {
        (0..25).map(move |j| async move {
            s.post(&by(&format!("S{i}")), &format!("{i}-{j}"), ClientMsgId(format!("{i}-{j}"))).await.unwrap()
        })
    });
    futures::future::join_all(posts).await;
    let seqs: Vec<u64> = messages(&drain(&mut watcher)).iter().map(|(seq, _)| *seq).collect();
    assert_eq!(seqs, (1..=200).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_broadcast_is_serialised_once_and_shared() {
    let (hub, _dir) = hub().await;
    let mut a = hub.join(&room("r"), Some(&by("A")));
    let mut b = hub.join(&room("r"), Some(&by("B")));
    drain(&mut a);
    drain(&mut b);
    post(&a, "A", "x").await;
    let (Some(Event::Room(ea)), Some(Event::Room(eb))) = (a.try_next_event(), b.try_next_event()) else {
        panic!("both should have the message");
    };
    let (fa, fb) = (ea.frames(), eb.frames());
    assert_eq!(fa.len(), 1);
    assert_eq!(fa[0].0, fb[0].0);
    assert_eq!(fa[0].1.as_str().as_ptr(), fb[0].1.as_str().as_ptr(), "members share the same bytes");
}

#[tokio::test]
async fn a_lagging_member_is_told_and_carries_on_without_slowing_the_room() {
    let (hub, _dir) = hub_with_buffer(8).await;
    let mut fast = hub.join(&room("r"), Some(&by("Fast")));
    let mut slow = hub.join(&room("r"), Some(&by("Slow")));
    // The notice of their arrival goes out first.
    assert!(matches!(next(&mut fast).await[..], [ServerMsg::Presence { online: 2, .. }]));
    for i in 1..=20 {
        post(&fast, "Fast", &format!("m{i}")).await;
        // The fast reader keeps up; posting never waits for the slow one.
        assert_eq!(messages(&drain(&mut fast)).len(), 1);
    }
    // The slow reader has 1 presence notice + 20 messages queued in a buffer of 8.
    let Some(Event::Lagged { missed }) = slow.try_next_event() else {
        panic!("the slow member should learn it lagged");
    };
    assert_eq!(missed, 13);
    let rest = drain(&mut slow);
    assert_eq!(
        messages(&rest).iter().map(|(seq, _)| *seq).collect::<Vec<_>>(),
        (13..=20).collect::<Vec<_>>(),
        "after the lag it goes on with the newest buffered messages"
    );
    post(&slow, "Slow", "still here").await;
    assert_eq!(messages(&drain(&mut fast)), [(21, "still here")]);
}

#[tokio::test]
async fn next_event_waits_for_the_room() {
    let (hub, _dir) = hub().await;
    let mut a = hub.join(&room("r"), Some(&by("A")));
    drain(&mut a);
    let b = hub.join(&room("r"), Some(&by("B")));
    let event = tokio::time::timeout(std::time::Duration::from_secs(5), a.next_event()).await.expect("an event");
    assert!(matches!(decode(event).as_slice(), [ServerMsg::Presence { online: 2, .. }]));
    drop(b);
}

#[tokio::test]
async fn the_directory_lists_active_rooms_busiest_first() {
    let (hub, _dir) = hub().await;
    let _a = hub.join(&room("quiet"), Some(&by("A")));
    let _b = hub.join(&room("busy"), Some(&by("B")));
    let _c = hub.join(&room("busy"), Some(&by("C")));
    let rooms = hub.active_rooms();
    let listed: Vec<_> = rooms.iter().map(|r| (r.name.as_str(), r.members)).collect();
    assert_eq!(listed, [("busy", 2), ("quiet", 1)]);
}

/// A post whose sender was the room's last member, stored while the room is
/// removed and created anew by someone else's join, still reaches that someone:
/// the broadcast goes to the room as it is at commit time.
#[tokio::test]
async fn a_message_stored_while_its_room_is_recreated_reaches_the_new_room() {
    let dir = tempfile::tempdir().unwrap();
    let (store, writer) =
        crate::store::testing::TestStore::new(SqliteStore::open(&dir.path().join("chat.db")).await.unwrap());
    let hub = Hub::new(store.clone(), writer);
    store.hold_commits();

    let ada = hub.join(&room("r"), Some(&by("Ada")));
    let pending =
        ada.submit(Some(&by("Ada")), "still here?".into(), ClientMsgId("a1".into()), Default::default()).await.unwrap();
    store.commit_begun().await;
    // Ada leaves while her message is being stored: the room goes away…
    drop(ada);
    assert!(hub.room(&room("r")).is_none());
    // …and Bob's join creates it again before the commit ends.
    let mut bob = hub.join(&room("r"), Some(&by("Bob")));
    store.release_commit();
    let seq = pending.await.unwrap().message.seq;

    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let event = tokio::time::timeout_at(deadline, bob.next_event()).await.expect("Bob receives Ada's message");
        if messages(&decode(event)).contains(&(seq.0, "still here?")) {
            break;
        }
    }
    hub.check_invariants();
}
