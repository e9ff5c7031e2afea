//! One session driven through channels, over a store that can be made to fail.

use std::time::Duration;

use app::protocol::{ChatError, ClientMsg, ServerMsg, PROTOCOL_VERSION};
use app::room_name::RoomName;
use axum::extract::ws::Message;
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use tokio_util::sync::CancellationToken;

use super::{run_session, SessionContext};
use crate::hub::Hub;
use crate::store::testing::TestStore;
use crate::store::SqliteStore;

/// The next frame the session wrote, or `None` once it has closed the socket.
async fn next(reads: &mut mpsc::Receiver<Message>) -> Option<Message> {
    tokio::time::timeout(Duration::from_secs(5), reads.next()).await.expect("a frame in time")
}

#[tokio::test]
async fn a_join_the_store_cannot_answer_is_refused_not_welcomed_with_seq_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (store, writer) = TestStore::new(SqliteStore::open(&dir.path().join("chat.db")).await.unwrap());
    let hub = Hub::new(store.clone(), writer);
    store.fail_last_seq(true);
    let room = RoomName::parse("r").unwrap();

    let (to_client, mut reads) = mpsc::channel::<Message>(16);
    let (mut writes, from_client) = mpsc::unbounded::<Result<Message, String>>();
    let session = tokio::spawn(run_session(
        to_client,
        from_client,
        SessionContext::reader(room.clone(), hub.clone(), CancellationToken::new()),
    ));
    let join = ClientMsg::Join { version: PROTOCOL_VERSION, since: Some(app::protocol::Seq(7)) };
    writes.send(Ok(Message::text(join.to_json()))).await.unwrap();

    let Some(Message::Text(first)) = next(&mut reads).await else { panic!("a text frame first") };
    match serde_json::from_str::<ServerMsg>(first.as_str()).unwrap() {
        ServerMsg::Error { error, id } => assert_eq!((error, id), (ChatError::StoreUnavailable, None)),
        other => panic!("expected a store error, got {other:?}"),
    }
    match next(&mut reads).await {
        Some(Message::Close(Some(close))) => assert_eq!(close.code, axum::extract::ws::close_code::AGAIN),
        other => panic!("expected a close frame, got {other:?}"),
    }
    tokio::time::timeout(Duration::from_secs(5), session).await.unwrap().unwrap();
    assert_eq!(hub.room_count(), 0, "the refused join left the room");
}

/// Every open connection holds one of these futures for as long as it is open
/// (10,000 people in a room are 10,000 of them): a regression guard on what
/// its waiting state costs. Driven by channels here (1,648 bytes: 1,696 before
/// posts and their acks were boxed and an ack's wait kept only the seq, 1,480
/// after, and 168 more for shutdown and sign-out waited on once); over a
/// real WebSocket its task was 4,608 bytes before the welcome's state and the
/// rare branches were boxed, and 2,048 after.
#[test]
fn an_open_connection_holds_a_small_future() {
    let hub_dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let (store, writer) = TestStore::new(SqliteStore::open(&hub_dir.path().join("chat.db")).await.unwrap());
        let hub = Hub::new(store, writer);
        let (to_client, _reads) = mpsc::channel::<Message>(16);
        let (_writes, from_client) = mpsc::unbounded::<Result<Message, String>>();
        let context = SessionContext::reader(RoomName::parse("r").unwrap(), hub, CancellationToken::new());
        let session = run_session(to_client, from_client, context);
        let size = std::mem::size_of_val(&session);
        assert!(size <= 1_700, "an open connection's future is {size} bytes");
    });
}
