use app::protocol::{ChatMessage, ServerMsg};
use app::room_name::RoomName;

use super::*;

fn room(name: &str) -> RoomName {
    RoomName::parse(name).unwrap()
}

fn decode(event: Event) -> ServerMsg {
    match event {
        Event::Frame(frame) => serde_json::from_str(frame.as_str()).unwrap(),
        Event::Lagged { missed } => panic!("unexpected lag of {missed}"),
    }
}

/// Everything a member has been sent so far.
fn drain(member: &mut Membership) -> Vec<ServerMsg> {
    std::iter::from_fn(|| member.try_next_event()).map(decode).collect()
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

#[test]
fn a_room_exists_while_it_has_members() {
    let hub = Hub::new();
    assert_eq!(hub.room_count(), 0);
    let a = hub.join(&room("general"), "Ada".into());
    let b = hub.join(&room("general"), "Bob".into());
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

#[test]
fn joining_an_emptied_room_starts_it_afresh() {
    let hub = Hub::new();
    drop(hub.join(&room("r"), "Ada".into()));
    let mut again = hub.join(&room("r"), "Ada".into());
    again.post("Ada", "first");
    assert_eq!(messages(&drain(&mut again)), [(1, "first")]);
}

#[test]
fn join_and_leave_are_announced_and_members_listed() {
    let hub = Hub::new();
    let mut a = hub.join(&room("r"), "Ada".into());
    let b = hub.join(&room("r"), "Bob".into());
    let names: Vec<_> = b.members_at_join().iter().map(|m| m.display_name.as_str()).collect();
    assert_eq!(names, ["Ada", "Bob"]);
    let b_id = b.id();
    drop(b);
    let seen = drain(&mut a);
    assert!(matches!(&seen[0], ServerMsg::MemberJoined { member } if member.id == a.id()));
    assert!(matches!(&seen[1], ServerMsg::MemberJoined { member } if member.display_name == "Bob"));
    assert_eq!(seen[2], ServerMsg::MemberLeft { member: b_id });
}

#[test]
fn a_message_reaches_every_member_of_its_room_and_no_other() {
    let hub = Hub::new();
    let mut a1 = hub.join(&room("a"), "A1".into());
    let mut a2 = hub.join(&room("a"), "A2".into());
    let mut b1 = hub.join(&room("b"), "B1".into());
    drain(&mut a1);
    drain(&mut a2);
    drain(&mut b1);

    let seq = a1.post("A1", "hello a");
    assert_eq!(seq.0, 1);
    assert_eq!(messages(&drain(&mut a1)), [(1, "hello a")], "the sender gets its own");
    assert_eq!(messages(&drain(&mut a2)), [(1, "hello a")]);
    assert!(drain(&mut b1).is_empty(), "room b heard room a");

    b1.post("B1", "hello b");
    assert_eq!(messages(&drain(&mut b1)), [(1, "hello b")], "rooms count seqs apart");
    assert!(drain(&mut a1).is_empty());
}

#[test]
fn a_broadcast_is_serialised_once_and_shared() {
    let hub = Hub::new();
    let mut a = hub.join(&room("r"), "A".into());
    let mut b = hub.join(&room("r"), "B".into());
    drain(&mut a);
    drain(&mut b);
    a.post("A", "x");
    let (Some(Event::Frame(fa)), Some(Event::Frame(fb))) = (a.try_next_event(), b.try_next_event()) else {
        panic!("both should have the message");
    };
    let (pa, pb) = (fa.as_str().as_ptr(), fb.as_str().as_ptr());
    assert_eq!(pa, pb, "each member should share the same bytes");
}

#[test]
fn a_lagging_member_is_told_and_carries_on_without_slowing_the_room() {
    let hub = Hub::with_room_buffer(8);
    let mut fast = hub.join(&room("r"), "Fast".into());
    let mut slow = hub.join(&room("r"), "Slow".into());
    drain(&mut fast);
    for i in 1..=20 {
        fast.post("Fast", &format!("m{i}"));
        // The fast reader keeps up; posting never waits for the slow one.
        assert_eq!(messages(&drain(&mut fast)).len(), 1);
    }
    // The slow reader has 1 join event + 20 messages queued in a buffer of 8.
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
    slow.post("Slow", "still here");
    assert_eq!(messages(&drain(&mut fast)), [(21, "still here")]);
}

#[tokio::test]
async fn next_event_waits_for_the_room() {
    let hub = Hub::new();
    let mut a = hub.join(&room("r"), "A".into());
    drain(&mut a);
    let b = hub.join(&room("r"), "B".into());
    let event = tokio::time::timeout(std::time::Duration::from_secs(5), a.next_event())
        .await
        .expect("an event");
    assert!(matches!(decode(event), ServerMsg::MemberJoined { .. }));
    drop(b);
}

#[test]
fn the_directory_lists_active_rooms_busiest_first() {
    let hub = Hub::new();
    let _a = hub.join(&room("quiet"), "A".into());
    let _b = hub.join(&room("busy"), "B".into());
    let _c = hub.join(&room("busy"), "C".into());
    let rooms = hub.active_rooms();
    let listed: Vec<_> = rooms.iter().map(|r| (r.name.as_str(), r.members)).collect();
    assert_eq!(listed, [("busy", 2), ("quiet", 1)]);
}
