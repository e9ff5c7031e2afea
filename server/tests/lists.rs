//! The room list over the real server: joins and leaves, unread and mention
//! counts, read positions shared by every tab of an account, and a tab that
//! comes back after being away.

mod support;

use app::protocol::{ChatError, ClientMsg, Seq, ServerMsg};
use app::room_name::RoomName;
use app::rooms::{NotifyLevel, RoomEntry};
use support::{person, post_form, Client, Person, TestServer};

fn room(name: &str) -> RoomName {
    RoomName::parse(name).unwrap()
}

/// A tab of `who` with `open` open; returns it with the list it was sent.
async fn tab(server: &TestServer, who: &Person, open: &str) -> (Client, Vec<RoomEntry>) {
    let mut client = Client::open(server.addr, open, Some(&who.cookie), &who.username).await;
    client.join(None).await;
    match client.recv_list().await {
        ServerMsg::Rooms { rooms } => (client, rooms),
        other => panic!("expected the room list first, got {other:?}"),
    }
}

async fn join_list(server: &TestServer, who: &Person, name: &str) {
    let reply = post_form(server.addr, "/api/join-room", &[("room", name)], Some(&who.cookie)).await;
    assert!(matches!(reply.status, 302 | 303), "join: {reply:?}");
    assert_eq!(reply.header("location"), Some(room(name).path().as_str()));
}

fn find<'a>(rooms: &'a [RoomEntry], name: &str) -> &'a RoomEntry {
    rooms.iter().find(|e| e.room == room(name)).unwrap_or_else(|| panic!("{name} not in {rooms:?}"))
}

#[tokio::test]
async fn reading_a_room_in_one_tab_clears_its_counts_in_the_others() {
    let server = TestServer::start().await;
    let (ada, bob) = (person(&server, "Ada").await, person(&server, "Bob").await);
    let (mut laptop, rooms) = tab(&server, &ada, "office").await;
    assert!(rooms.is_empty());
    let (mut phone, _) = tab(&server, &ada, "office").await;

    join_list(&server, &ada, "lounge").await;
    for device in [&mut laptop, &mut phone] {
        match device.recv_list().await {
            ServerMsg::RoomJoined { entry } => assert_eq!((entry.room.clone(), entry.unread()), (room("lounge"), 0)),
            other => panic!("expected the joined room, got {other:?}"),
        }
    }

    let mut bobs = Client::open(server.addr, "lounge", Some(&bob.cookie), "Bob").await;
    bobs.join(None).await;
    bobs.say(&format!("hi @{}", ada.username.to_uppercase())).await;
    bobs.say("and a second one").await;
    for device in [&mut laptop, &mut phone] {
        let last = device.list_until(|m| matches!(m, ServerMsg::Activity { seq: Seq(2), .. })).await;
        let ServerMsg::Activity { room: r, .. } = last else { unreachable!() };
        assert_eq!(r, room("lounge"));
    }

    laptop.send(&ClientMsg::Read { room: room("lounge"), seq: Seq(1) }).await;
    for device in [&mut laptop, &mut phone] {
        match device.recv_list().await {
            ServerMsg::RoomRead { room: r, seq, mentions, .. } => {
                assert_eq!((r, seq, mentions), (room("lounge"), Seq(1), 0), "the mention at 1 is read")
            }
            other => panic!("expected the read position, got {other:?}"),
        }
    }
    // A position behind the stored one is no news.
    phone.send(&ClientMsg::Read { room: room("lounge"), seq: Seq(1) }).await;
    laptop.send(&ClientMsg::Read { room: room("lounge"), seq: Seq(2) }).await;
    match phone.recv_list().await {
        ServerMsg::RoomRead { seq, .. } => assert_eq!(seq, Seq(2)),
        other => panic!("expected the read position, got {other:?}"),
    }
    server.shut_down().await;
}

#[tokio::test]
async fn a_tab_away_while_three_rooms_got_messages_comes_back_with_exact_counts() {
    let server = TestServer::start().await;
    let (ada, bob) = (person(&server, "Ada").await, person(&server, "Bob").await);
    for name in ["one", "two", "three"] {
        join_list(&server, &ada, name).await;
    }
    {
        let (mut before, _) = tab(&server, &ada, "office").await;
        before.send(&ClientMsg::Read { room: room("two"), seq: Seq(0) }).await;
    }
    for (name, count) in [("one", 1), ("two", 2), ("three", 3)] {
        let mut bobs = Client::open(server.addr, name, Some(&bob.cookie), "Bob").await;
        bobs.join(None).await;
        for i in 0..count {
            let body = if name == "three" && i == 1 { format!("ping @{}", ada.username) } else { format!("{i}") };
            bobs.say(&body).await;
            assert!(matches!(bobs.recv_chat().await, ServerMsg::Message(_)));
        }
    }
    let (_back, rooms) = tab(&server, &ada, "office").await;
    let counts: Vec<(u64, u32)> =
        ["one", "two", "three"].iter().map(|n| (find(&rooms, n).unread(), find(&rooms, n).mentions)).collect();
    assert_eq!(counts, [(1, 0), (2, 0), (3, 1)]);
    let order: Vec<&str> = rooms.iter().map(|e| e.room.as_str()).collect();
    assert_eq!(order[0], "three", "newest activity first: {order:?}");
    server.shut_down().await;
}

#[tokio::test]
async fn posting_puts_the_room_in_the_list_on_every_tab_and_leaving_takes_it_off() {
    let server = TestServer::start().await;
    let ada = person(&server, "Ada").await;
    let (mut elsewhere, _) = tab(&server, &ada, "office").await;
    let (mut here, _) = tab(&server, &ada, "lounge").await;
    here.say("hello").await;
    match elsewhere.recv_list().await {
        ServerMsg::RoomJoined { entry } => {
            assert_eq!((entry.room.clone(), entry.last_seq, entry.unread()), (room("lounge"), Seq(1), 0))
        }
        other => panic!("expected the joined room, got {other:?}"),
    }
    let reply = post_form(server.addr, "/api/leave-room", &[("room", "lounge")], Some(&ada.cookie)).await;
    assert!(matches!(reply.status, 302 | 303), "leave: {reply:?}");
    assert_eq!(elsewhere.recv_list().await, ServerMsg::RoomLeft { room: room("lounge") });
    let (_, rooms) = tab(&server, &ada, "office").await;
    assert!(rooms.is_empty(), "{rooms:?}");
    server.shut_down().await;
}

#[tokio::test]
async fn a_rooms_notification_level_is_kept_and_told_to_every_tab() {
    let server = TestServer::start().await;
    let (ada, bob) = (person(&server, "Ada").await, person(&server, "Bob").await);
    join_list(&server, &ada, "lounge").await;
    let (mut phone, rooms) = tab(&server, &ada, "office").await;
    assert_eq!(find(&rooms, "lounge").notify, NotifyLevel::Mentions, "a room's default");

    let set = |level: &'static str, cookie: Option<String>, name: &'static str| {
        let addr = server.addr;
        async move { post_form(addr, "/api/set-notify", &[("room", name), ("level", level)], cookie.as_deref()).await }
    };
    let reply = set("nothing", Some(ada.cookie.clone()), "lounge").await;
    assert!(matches!(reply.status, 302 | 303), "set: {reply:?}");
    assert_eq!(reply.header("location"), Some("/chat/lounge/"), "back to the room without a script");
    assert_eq!(phone.recv_list().await, ServerMsg::RoomNotify { room: room("lounge"), notify: NotifyLevel::Nothing });
    let (_, rooms) = tab(&server, &ada, "office").await;
    assert_eq!(find(&rooms, "lounge").notify, NotifyLevel::Nothing, "kept, for a tab that comes later");

    // A direct conversation notifies of everything by default; the form comes
    // back to its page (the other person's address).
    let reply = post_form(server.addr, "/api/open-direct", &[("username", &bob.username)], Some(&ada.cookie)).await;
    assert!(reply.status < 400, "{reply:?}");
    let (_, rooms) = tab(&server, &ada, "office").await;
    let direct = rooms.iter().find(|e| e.room.is_direct()).expect("the conversation is listed");
    assert_eq!(direct.notify, NotifyLevel::All);
    let key = direct.room.to_string();
    let reply =
        post_form(server.addr, "/api/set-notify", &[("room", &key), ("level", "mentions")], Some(&ada.cookie)).await;
    let page = format!("/chat/@{}/", bob.username);
    assert_eq!(reply.header("location"), Some(page.as_str()), "{reply:?}");

    // Over a tab's socket: for its open room, told to the other tabs.
    let (mut lounge, _) = tab(&server, &ada, "lounge").await;
    lounge.send(&ClientMsg::Notify { level: NotifyLevel::All }).await;
    let lounge_told = |msg: &ServerMsg| matches!(msg, ServerMsg::RoomNotify { room: r, .. } if *r == room("lounge"));
    let told = phone.list_until(lounge_told).await;
    assert_eq!(told, ServerMsg::RoomNotify { room: room("lounge"), notify: NotifyLevel::All });
    let (mut garden, _) = tab(&server, &ada, "garden").await;
    garden.send(&ClientMsg::Notify { level: NotifyLevel::All }).await;
    match garden.recv().await {
        ServerMsg::Error { error, .. } => assert_eq!(error, ChatError::NotInList),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let mut reader = server.reader("lounge").await;
    reader.send(&ClientMsg::Notify { level: NotifyLevel::All }).await;
    match reader.recv().await {
        ServerMsg::Error { error, .. } => assert_eq!(error, ChatError::SignInRequired),
        other => panic!("expected a refusal, got {other:?}"),
    }

    // Refusals: signed out, a room not in the list, a level that is none.
    assert!(set("all", None, "lounge").await.body.contains("sign_in_required"));
    assert!(set("all", Some(ada.cookie.clone()), "garden").await.body.contains("not_in_list"));
    assert!(set("loud", Some(ada.cookie.clone()), "lounge").await.body.contains("bad_notify_level"));
    server.shut_down().await;
}

#[tokio::test]
async fn lists_need_an_account_and_reads_have_a_limit() {
    let server = TestServer::start().await;
    let reply = post_form(server.addr, "/api/join-room", &[("room", "lounge")], None).await;
    assert!(reply.body.contains("sign_in_required"), "{reply:?}");
    let reply = post_form(server.addr, "/api/join-room", &[("room", "no/such room")], None).await;
    assert!(reply.body.contains("bad_room_name") || reply.body.contains("sign_in_required"), "{reply:?}");

    let mut reader = server.reader("lounge").await;
    reader.send(&ClientMsg::Read { room: room("lounge"), seq: Seq(1) }).await;
    match reader.recv().await {
        ServerMsg::Error { error, .. } => assert_eq!(error, ChatError::SignInRequired),
        other => panic!("expected a refusal, got {other:?}"),
    }

    let ada = person(&server, "Ada").await;
    let (mut flood, _) = tab(&server, &ada, "lounge").await;
    for seq in 0..40 {
        flood.send(&ClientMsg::Read { room: room("lounge"), seq: Seq(seq) }).await;
    }
    loop {
        match flood.recv().await {
            ServerMsg::Error { error: ChatError::RateLimited { .. }, id: None } => break,
            ServerMsg::Error { error, .. } => panic!("unexpected refusal {error:?}"),
            _ => continue,
        }
    }
    // The connection still works (past the other refusals of the flood).
    flood.say("still here").await;
    loop {
        match flood.recv_chat().await {
            ServerMsg::Message(message) => break assert_eq!(message.body, "still here"),
            ServerMsg::Error { error: ChatError::RateLimited { .. }, id: None } => continue,
            other => panic!("expected the message, got {other:?}"),
        }
    }
    server.shut_down().await;
}

#[tokio::test]
async fn the_composer_is_offered_people_by_the_start_of_their_name_members_first() {
    let server = TestServer::start().await;
    let (ada, member) = (person(&server, "Ada").await, person(&server, "Bob Member").await);
    let stranger = person(&server, "Bob Stranger").await;
    join_list(&server, &member, "lounge").await;
    let offered = |room: String, prefix: &'static str, cookie: Option<String>| {
        let addr = server.addr;
        async move {
            let fields = [("room", room.as_str()), ("prefix", prefix)];
            let reply = support::post_form(addr, "/api/mention-candidates", &fields, cookie.as_deref()).await;
            reply.body
        }
    };
    let names = |body: String| -> Vec<String> {
        let people: Vec<app::rooms::Correspondent> =
            serde_json::from_str(&body).unwrap_or_else(|_| panic!("a list of people: {body}"));
        people.into_iter().map(|p| p.username).collect()
    };
    // Usernames start "bob-…": both, the room's member first; by display name too.
    let found = names(offered("lounge".into(), "BOB", Some(ada.cookie.clone())).await);
    assert_eq!(found, [member.username.clone(), stranger.username.clone()]);
    let found = names(offered("lounge".into(), "bob s", Some(ada.cookie.clone())).await);
    assert_eq!(found, std::slice::from_ref(&stranger.username), "a display name's start");
    // LIKE's wildcards are text here.
    assert!(names(offered("lounge".into(), "%", Some(ada.cookie.clone())).await).is_empty());
    assert!(names(offered("lounge".into(), "b_b", Some(ada.cookie.clone())).await).is_empty());
    // Signed out, or in a conversation of others: refused.
    assert!(offered("lounge".into(), "bob", None).await.contains("sign_in_required"));
    assert!(offered("@1.2".into(), "bob", Some(stranger.cookie.clone())).await.contains("private"));
    server.shut_down().await;
}

#[tokio::test]
async fn an_edit_or_a_delete_is_never_counted_unread() {
    let server = TestServer::start().await;
    let (ada, bob) = (person(&server, "Ada").await, person(&server, "Bob").await);
    join_list(&server, &ada, "lounge").await;
    let (mut elsewhere, _) = tab(&server, &ada, "office").await;
    let mut bobs = Client::open(server.addr, "lounge", Some(&bob.cookie), "Bob").await;
    bobs.join(None).await;
    bobs.say("helo").await;
    bobs.say("second").await;
    // Stored first (a change and a post travel by different queues: an edit
    // sent before its message is stored finds no message).
    assert_eq!(bobs.recv_body().await, "helo");
    assert_eq!(bobs.recv_body().await, "second");
    // Bob fixes his first message, then writes a third: three messages' worth
    // of seqs and a change among them.
    bobs.send(&ClientMsg::Edit { id: app::protocol::ClientMsgId("e1".into()), seq: Seq(1), body: "hello".into() })
        .await;
    assert!(matches!(bobs.recv_chat().await, ServerMsg::Changed { seq: Seq(3), .. }));
    bobs.say("third").await;

    // Live: the change moves the room's end without counting.
    let last = elsewhere.list_until(|m| matches!(m, ServerMsg::Activity { seq: Seq(4), .. })).await;
    assert!(matches!(last, ServerMsg::Activity { change: false, .. }));
    // And a tab that opens now is sent the same count.
    let (_, rooms) = tab(&server, &ada, "office").await;
    let lounge = find(&rooms, "lounge");
    assert_eq!((lounge.last_seq, lounge.unread(), lounge.changes), (Seq(4), 3, 1));

    // Reading up to the second message leaves the third unread, and no change.
    elsewhere.send(&ClientMsg::Read { room: room("lounge"), seq: Seq(2) }).await;
    match elsewhere.list_until(|m| matches!(m, ServerMsg::RoomRead { .. })).await {
        ServerMsg::RoomRead { seq, changes, .. } => assert_eq!((seq, changes), (Seq(2), 1)),
        _ => unreachable!(),
    }
    let (_, rooms) = tab(&server, &ada, "office").await;
    assert_eq!(find(&rooms, "lounge").unread(), 1);
    // A delete after everything she read counts for nothing either.
    bobs.send(&ClientMsg::Delete { id: app::protocol::ClientMsgId("d1".into()), seq: Seq(4) }).await;
    elsewhere.list_until(|m| matches!(m, ServerMsg::Activity { seq: Seq(5), change: true, .. })).await;
    let (_, rooms) = tab(&server, &ada, "office").await;
    assert_eq!(find(&rooms, "lounge").unread(), 1);
    server.shut_down().await;
}

#[tokio::test]
async fn an_edit_that_mentions_someone_counts_in_their_list_and_one_that_stops_does_not() {
    let server = TestServer::start().await;
    let (ada, bob) = (person(&server, "Ada").await, person(&server, "Bob").await);
    join_list(&server, &ada, "lounge").await;
    let mut bobs = Client::open(server.addr, "lounge", Some(&bob.cookie), "Bob").await;
    bobs.join(None).await;
    bobs.say("the build is green").await;
    assert_eq!(bobs.recv_body().await, "the build is green");
    let mentions = |rooms: Vec<RoomEntry>| find(&rooms, "lounge").mentions;

    let edit =
        |id: &str, body: String| ClientMsg::Edit { id: app::protocol::ClientMsgId(id.into()), seq: Seq(1), body };
    bobs.send(&edit("e1", format!("the build is green, @{}", ada.username))).await;
    assert!(matches!(bobs.recv_chat().await, ServerMsg::Changed { seq: Seq(2), .. }));
    assert_eq!(mentions(tab(&server, &ada, "office").await.1), 1);

    bobs.send(&edit("e2", "the build is green".into())).await;
    assert!(matches!(bobs.recv_chat().await, ServerMsg::Changed { seq: Seq(3), .. }));
    assert_eq!(mentions(tab(&server, &ada, "office").await.1), 0);
    server.shut_down().await;
}
