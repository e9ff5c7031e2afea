//! Reactions and replies over the WebSocket: a reaction is an event of the
//! room's sequence (told live, replayed once, one per person per emoji,
//! refused where it makes no sense); a reply carries the quote of the message
//! it answers, refused when there is no such message.

mod support;

use app::protocol::{ChatMessage, ClientMsg, ClientMsgId, Reaction, Seq, ServerMsg};
use support::{answer, next_change, TestServer};

fn id(s: &str) -> ClientMsgId {
    ClientMsgId(s.into())
}

fn react(request: &str, seq: u64, emoji: &str, on: bool) -> ClientMsg {
    ClientMsg::React { id: id(request), seq: Seq(seq), emoji: emoji.into(), on }
}

async fn next_message(client: &mut support::Client) -> ChatMessage {
    match client.recv_chat().await {
        ServerMsg::Message(message) => message,
        other => panic!("{} expected a message, got {other:?}", client.name),
    }
}

fn summary(message: &ChatMessage) -> Vec<(&str, u32, Vec<&str>)> {
    message
        .reactions
        .iter()
        .map(|Reaction { emoji, count, users }| (emoji.as_str(), *count, users.iter().map(String::as_str).collect()))
        .collect()
}

#[tokio::test]
async fn reactions_are_counted_once_per_person_told_live_and_replayed_once() {
    let server = TestServer::start().await;
    let mut ada = server.join("cheers", "Ada").await;
    let mut bob = server.join("cheers", "Bob").await;
    let mut cy = server.join("cheers", "Cy").await;
    ada.say("we shipped").await;
    let shipped = next_message(&mut bob).await;
    let ada_name = shipped.username.clone();
    next_message(&mut cy).await;
    next_message(&mut ada).await;
    drop(cy);

    bob.send(&react("b1", 1, "🎉", true)).await;
    assert_eq!(answer(&mut bob, "b1").await, Ok(Seq(2)));
    let (seq, cheered) = next_change(&mut ada).await;
    assert_eq!(seq, Seq(2));
    let bob_name = cheered.reactions[0].users[0].clone();
    assert_eq!(summary(&cheered), [("🎉", 1, vec![bob_name.as_str()])]);
    assert_eq!(cheered.body, "we shipped", "a reaction leaves the message as it was");

    // The same person, the same emoji: nothing changes, nothing is told.
    bob.send(&react("b2", 1, "🎉", true)).await;
    assert_eq!(answer(&mut bob, "b2").await, Ok(Seq(1)), "acknowledged with the message's own seq");
    ada.send(&react("a1", 1, "🎉", true)).await;
    assert_eq!(answer(&mut ada, "a1").await, Ok(Seq(3)));
    let (_, both) = next_change(&mut bob).await;
    assert_eq!(summary(&both), [("🎉", 2, vec![bob_name.as_str(), ada_name.as_str()])]);
    ada.send(&react("a2", 1, "👀", true)).await;
    assert_eq!(answer(&mut ada, "a2").await, Ok(Seq(4)));
    // Taking one back; taking back one not given changes nothing.
    bob.send(&react("b3", 1, "🎉", false)).await;
    assert_eq!(answer(&mut bob, "b3").await, Ok(Seq(5)));
    bob.send(&react("b4", 1, "👀", false)).await;
    assert_eq!(answer(&mut bob, "b4").await, Ok(Seq(1)));
    // (Ada's own changes went by while she waited for her answers.)
    let (seq, now) = next_change(&mut ada).await;
    assert_eq!(seq, Seq(5));
    assert_eq!(summary(&now), [("🎉", 1, vec![ada_name.as_str()]), ("👀", 1, vec![ada_name.as_str()])]);

    // Cy, back after seq 1, is told each reaction once, in order, ending where the others are.
    let mut cy = server.join_since("cheers", "Cy", Some(Seq(1))).await;
    let mut seqs = Vec::new();
    let mut latest = None;
    for _ in 0..4 {
        let (seq, message) = next_change(&mut cy).await;
        seqs.push(seq.0);
        latest = Some(message);
    }
    assert_eq!(seqs, [2, 3, 4, 5]);
    assert_eq!(summary(&latest.unwrap()), summary(&now));
    bob.say("next").await;
    assert_eq!(next_message(&mut cy).await.seq, Seq(6), "nothing twice, no hole");

    // A page of history shows the reactions as they are.
    let page =
        server.state.hub.store().page(&app::room_name::RoomName::parse("cheers").unwrap(), None, 10).await.unwrap();
    assert_eq!(summary(&page[0]), summary(&now));
    server.shut_down().await;
}

#[tokio::test]
async fn a_reaction_that_makes_no_sense_is_refused_and_takes_no_seq() {
    // Reactions count against the sending allowance: room for the test's.
    let policy = server::policy::Policy { send_burst: 100, ..Default::default() };
    let server = TestServer::start_with_policy(policy).await;
    let mut ada = server.join("odd", "Ada").await;
    let mut reader = server.reader("odd").await;
    ada.say("one").await;
    ada.say("two").await;
    next_message(&mut reader).await;

    reader.send(&react("r1", 1, "👍", true)).await;
    assert_eq!(answer(&mut reader, "r1").await, Err("sign_in_required".into()));
    for (n, emoji) in ["+1", "", "<b>", "👍 👍", "\u{202e}👍", "日本"].into_iter().enumerate() {
        let request = format!("x{n}");
        ada.send(&react(&request, 1, emoji, true)).await;
        assert_eq!(answer(&mut ada, &request).await, Err("bad_reaction".into()), "{emoji:?}");
    }
    ada.send(&react("a1", 9, "👍", true)).await;
    assert_eq!(answer(&mut ada, "a1").await, Err("no_such_message".into()));
    // Twenty different reactions fit; a twenty-first is refused.
    let emoji: Vec<String> = (0..21).map(|i| char::from_u32(0x1F600 + i).unwrap().to_string()).collect();
    for (i, e) in emoji.iter().enumerate().take(20) {
        let request = format!("k{i}");
        ada.send(&react(&request, 1, e, true)).await;
        assert!(answer(&mut ada, &request).await.is_ok());
    }
    ada.send(&react("k20", 1, &emoji[20], true)).await;
    assert_eq!(answer(&mut ada, "k20").await, Err("too_many_reactions".into()));
    // A deleted message takes no reaction, and loses those it had.
    ada.send(&ClientMsg::Delete { id: id("d1"), seq: Seq(2) }).await;
    assert_eq!(answer(&mut ada, "d1").await, Ok(Seq(23)), "the refusals took no seq");
    ada.send(&ClientMsg::Delete { id: id("d2"), seq: Seq(1) }).await;
    assert_eq!(answer(&mut ada, "d2").await, Ok(Seq(24)));
    ada.send(&react("a2", 1, "👍", true)).await;
    assert_eq!(answer(&mut ada, "a2").await, Err("message_deleted".into()));
    let page = server.state.hub.store().page(&app::room_name::RoomName::parse("odd").unwrap(), None, 10).await.unwrap();
    assert!(page[0].deleted && page[0].reactions.is_empty(), "{:?}", page[0]);
    server.shut_down().await;
}

#[tokio::test]
async fn a_reply_quotes_what_it_answers_as_that_message_is_now() {
    let server = TestServer::start().await;
    let mut ada = server.join("threads", "Ada").await;
    let mut bob = server.join("threads", "Bob").await;
    ada.say("lunch at noon?\nsecond line").await;
    next_message(&mut bob).await;
    next_message(&mut ada).await;

    bob.send(&ClientMsg::Send { id: id("r1"), body: "yes!".into(), reply_to: Some(Seq(1)), file: None }).await;
    let reply = next_message(&mut ada).await;
    let quote = reply.reply.as_deref().expect("the reply quotes");
    assert_eq!(
        (quote.seq, quote.author.as_str(), quote.excerpt.as_str(), quote.deleted),
        (Seq(1), "Ada", "lunch at noon?", false)
    );
    assert_eq!(answer(&mut bob, "r1").await, Ok(Seq(2)));

    // Replying to what is not a message of the room is refused, and takes no seq.
    ada.send(&ClientMsg::Edit { id: id("e1"), seq: Seq(1), body: "lunch at one?".into() }).await;
    assert_eq!(answer(&mut ada, "e1").await, Ok(Seq(3)));
    for (request, parent) in [("r2", 3), ("r3", 99)] {
        bob.send(&ClientMsg::Send { id: id(request), body: "hm".into(), reply_to: Some(Seq(parent)), file: None })
            .await;
        assert_eq!(answer(&mut bob, request).await, Err("no_such_message".into()), "reply to {parent}");
    }
    // Once the parent is deleted, the reply says so wherever it is read.
    ada.send(&ClientMsg::Delete { id: id("d1"), seq: Seq(1) }).await;
    assert_eq!(answer(&mut ada, "d1").await, Ok(Seq(4)));
    let room = app::room_name::RoomName::parse("threads").unwrap();
    let page = server.state.hub.store().page(&room, None, 10).await.unwrap();
    let quote = page[1].reply.as_deref().unwrap();
    assert!(quote.deleted && quote.excerpt.is_empty(), "{quote:?}");
    let mut cy = server.join_since("threads", "Cy", Some(Seq(0))).await;
    let replayed = next_message(&mut cy).await;
    assert_eq!(replayed.seq, Seq(1));
    let replayed = next_message(&mut cy).await;
    assert!(replayed.reply.unwrap().deleted);
    bob.send(&ClientMsg::Send { id: id("r4"), body: "too late".into(), reply_to: Some(Seq(1)), file: None }).await;
    assert_eq!(answer(&mut bob, "r4").await, Ok(Seq(5)), "a reply to a tombstone is allowed");
    server.shut_down().await;
}
