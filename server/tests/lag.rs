//! A member too slow for the room's broadcast buffer is caught up from the store:
//! every message once, in order. Drives one session through channels.

use std::sync::Arc;
use std::time::Duration;

use app::protocol::{ClientMsg, ClientMsgId, ServerMsg, PROTOCOL_VERSION};
use app::room_name::RoomName;
use axum::extract::ws::Message;
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use server::hub::{Author, Hub};
use server::store::{AccountId, SqliteStore};
use server::ws::{run_session, SessionContext};
use tokio_util::sync::CancellationToken;

/// The next frame the session wrote to Ada.
async fn next(reads: &mut mpsc::Receiver<Message>) -> ServerMsg {
    let frame = tokio::time::timeout(Duration::from_secs(5), reads.next()).await;
    match frame.expect("a frame in time").expect("the session is alive") {
        Message::Text(text) => serde_json::from_str(text.as_str()).unwrap(),
        other => panic!("unexpected frame {other:?}"),
    }
}

#[tokio::test]
async fn a_member_that_lags_behind_the_broadcast_is_caught_up_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let (store, writer) = SqliteStore::open(&dir.path().join("chat.db")).await.unwrap();
    let hub = Hub::with_room_buffer(Arc::new(store), writer, 4);
    let room = RoomName::parse("slow").unwrap();

    // Ada's socket: what the server writes waits until the test reads it.
    let (to_ada, mut ada_reads) = mpsc::channel::<Message>(0);
    let (mut ada_writes, from_ada) = mpsc::unbounded::<Result<Message, String>>();
    let session = tokio::spawn(run_session(
        to_ada,
        from_ada,
        SessionContext::reader(room.clone(), hub.clone(), CancellationToken::new()),
    ));
    let join = ClientMsg::Join { version: PROTOCOL_VERSION, since: None };
    ada_writes.send(Ok(Message::text(join.to_json()))).await.unwrap();

    assert!(matches!(next(&mut ada_reads).await, ServerMsg::Welcome { .. }));

    // Bob talks far faster than Ada reads: 20 messages through a buffer of 4.
    let author = Author { id: AccountId(1), username: "bob".into(), display_name: "Bob".into() };
    let bob = hub.join(&room, Some(&author));
    for i in 1..=20 {
        bob.post(&author, &format!("m{i}"), ClientMsgId(format!("b{i}"))).await.unwrap();
    }

    let mut seqs = Vec::new();
    while seqs.len() < 20 {
        if let ServerMsg::Message(m) = next(&mut ada_reads).await {
            assert_eq!(m.body, format!("m{}", m.seq.0));
            seqs.push(m.seq.0);
        }
    }
    assert_eq!(seqs, (1..=20).collect::<Vec<_>>(), "every message once, in order");

    // And live again afterwards.
    bob.post(&author, "m21", ClientMsgId("b21".into())).await.unwrap();
    loop {
        match next(&mut ada_reads).await {
            ServerMsg::Message(m) => {
                assert_eq!(m.seq.0, 21, "nothing replayed twice");
                break;
            }
            ServerMsg::Presence { .. } => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
    drop(ada_writes);
    tokio::time::timeout(Duration::from_secs(5), session).await.unwrap().unwrap();
}

/// A removal is told live only: a member that lagged past it learns it from
/// the store when it catches up, and is closed.
#[tokio::test]
async fn a_member_that_lagged_past_its_removal_is_still_removed() {
    use server::store::{AccountStore, Store};

    let dir = tempfile::tempdir().unwrap();
    let (store, writer) = SqliteStore::open(&dir.path().join("chat.db")).await.unwrap();
    let ada = store.create_account("ada", "Ada", "x", 1).await.unwrap().unwrap();
    let bob = store.create_account("bob", "Bob", "x", 1).await.unwrap().unwrap();
    let store = Arc::new(store);
    let hub = Hub::with_room_buffer(store.clone(), writer, 4);
    let room = RoomName::parse("modded").unwrap();
    let ada_author = Author { id: ada.id, username: "ada".into(), display_name: "Ada".into() };
    let adas = hub.join(&room, Some(&ada_author));
    // Ada makes the room: she owns it.
    adas.post(&ada_author, "welcome", ClientMsgId("a0".into())).await.unwrap();

    // Bob's socket: what the server writes waits until the test reads it.
    let (to_bob, mut bob_reads) = mpsc::channel::<Message>(0);
    let (mut bob_writes, from_bob) = mpsc::unbounded::<Result<Message, String>>();
    let mut context = SessionContext::reader(room.clone(), hub.clone(), CancellationToken::new());
    context.author = Some(Author { id: bob.id, username: "bob".into(), display_name: "Bob".into() });
    let session = tokio::spawn(run_session(to_bob, from_bob, context));
    let join = ClientMsg::Join { version: PROTOCOL_VERSION, since: None };
    bob_writes.send(Ok(Message::text(join.to_json()))).await.unwrap();
    assert!(matches!(next(&mut bob_reads).await, ServerMsg::Welcome { .. }));

    // Far more than Bob's buffer, and his removal stored (its live notice is
    // what a lagging member misses).
    for i in 1..=20 {
        adas.post(&ada_author, &format!("m{i}"), ClientMsgId(format!("a{i}"))).await.unwrap();
    }
    let removal = (None, 0);
    let done = store.moderate(&room, ada.id, app::moderation::ModAction::Remove, "bob", removal).await.unwrap();
    assert_eq!(done, Ok(Some(bob.id)));

    let mut told = false;
    for _ in 0..60 {
        let frame = tokio::time::timeout(Duration::from_secs(5), bob_reads.next()).await.expect("a frame in time");
        match frame {
            Some(Message::Text(text)) => {
                if let ServerMsg::Error { error: app::error::ChatError::Removed, .. } =
                    serde_json::from_str(text.as_str()).unwrap()
                {
                    told = true;
                }
            }
            Some(Message::Close(_)) | None => break,
            Some(_) => {}
        }
    }
    assert!(told, "the lagging member is told it was removed, and closed");
    tokio::time::timeout(Duration::from_secs(5), session).await.unwrap().unwrap();
}
