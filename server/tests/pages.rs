//! The server-rendered pages, through the real router.

mod support;

use axum::body::{to_bytes, Body};
use axum::http::{header, Request, StatusCode};
use server::{router, AppState};
use tower::ServiceExt;

struct Page {
    status: StatusCode,
    location: Option<String>,
    headers: http::HeaderMap,
    html: String,
}

async fn get(state: &AppState, path: &str) -> Page {
    let response = router(state.clone())
        .oneshot(Request::get(path).header(header::ACCEPT, "text/html").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let location = response.headers().get(header::LOCATION).map(|v| v.to_str().unwrap().to_owned());
    let headers = response.headers().clone();
    let html = String::from_utf8(to_bytes(response.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
    Page { status, location, headers, html }
}

async fn state() -> (AppState, tempfile::TempDir) {
    state_with(Vec::new()).await
}

/// A server's state over a store that holds `messages` already.
async fn state_with(messages: Vec<server::store::NewMessage>) -> (AppState, tempfile::TempDir) {
    use server::store::MessageWriter;
    let ((store, mut writer), dir) = support::temp_store().await;
    if !messages.is_empty() {
        writer.append_batch(messages).await.unwrap();
    }
    (AppState::new(support::leptos_options(), (store, writer)), dir)
}

#[tokio::test]
async fn the_root_leads_to_the_lobby() {
    let page = get(&state().await.0, "/").await;
    assert!(page.status.is_redirection(), "{}", page.status);
    assert_eq!(page.location.as_deref(), Some("/chat/"));
}

#[tokio::test]
async fn the_lobby_has_a_room_form_that_works_without_javascript() {
    let page = get(&state().await.0, "/chat/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains(r#"<label for="room-name">Room name"#), "{}", page.html);
    assert!(page.html.contains(r#"method="GET""#) || page.html.contains(r#"method="get""#));
    assert!(page.html.contains(r#"name="room""#));
    assert!(page.html.contains("Nobody is chatting right now"));
}

#[tokio::test]
async fn the_lobby_form_redirects_to_the_normalised_room() {
    let page = get(&state().await.0, "/chat/?room=+Rust+Nation+").await;
    assert!(page.status.is_redirection(), "{}", page.status);
    assert_eq!(page.location.as_deref(), Some("/chat/rust-nation/"));
}

#[tokio::test]
async fn a_bad_name_in_the_lobby_form_shows_why() {
    let page = get(&state().await.0, "/chat/?room=no%2Fslashes").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains(r#"role="alert""#), "{}", page.html);
    assert!(page.html.contains("contains “/”"), "{}", page.html);
}

#[tokio::test]
async fn the_lobby_lists_active_rooms() {
    let (state, _dir) = state().await;
    let _ada = state.hub.join(
        &app::room_name::RoomName::parse("busy").unwrap(),
        Some(&server::hub::Author {
            id: server::store::AccountId(1),
            username: "ada".into(),
            display_name: "Ada".into(),
        }),
    );
    let page = get(&state, "/chat/").await;
    assert!(page.html.contains(r#"href="/chat/busy/""#), "{}", page.html);
    assert!(page.html.contains("1 person"));
}

#[tokio::test]
async fn a_room_page_is_server_rendered() {
    let page = get(&state().await.0, "/chat/general/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains(r#"role="log""#));
    assert!(page.html.contains(r#"aria-live="polite""#));
    assert!(page.html.contains("#general"));
    // Signed out: the history and a way in, no composer.
    assert!(!page.html.contains(r#"aria-label="Message""#));
    assert!(page.html.contains("Sign in to post in this room."));
    assert!(page.html.contains(r#"href="/account/sign-in?next=/chat/general/""#), "{}", page.html);
}

#[tokio::test]
async fn another_spelling_of_a_room_redirects_to_its_address() {
    let page = get(&state().await.0, "/chat/General/").await;
    assert!(page.status.is_redirection(), "{}", page.status);
    assert_eq!(page.location.as_deref(), Some("/chat/general/"));
}

#[tokio::test]
async fn addresses_without_the_trailing_slash_lead_to_the_page() {
    let (state, _dir) = state().await;
    let lobby = get(&state, "/chat").await;
    assert_eq!(lobby.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(lobby.location.as_deref(), Some("/chat/"));
    let room = get(&state, "/chat/general").await;
    assert_eq!(room.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(room.location.as_deref(), Some("/chat/general/"));
    // Whatever it was, it stays encoded; the room page then judges the name.
    let odd = get(&state, "/chat/a%2Fb%3Cx").await;
    assert_eq!(odd.location.as_deref(), Some("/chat/a%2Fb%3Cx/"));
}

#[tokio::test]
async fn a_bad_room_name_in_the_url_gets_a_clear_page() {
    let page = get(&state().await.0, "/chat/caf%C3%A9/").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains("That is not a room name"), "{}", page.html);
    assert!(page.html.contains("contains “é”"), "{}", page.html);
}

#[tokio::test]
async fn unknown_paths_are_not_found() {
    let page = get(&state().await.0, "/nope").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_room_page_carries_its_latest_messages_in_the_html() {
    let room = app::room_name::RoomName::parse("history").unwrap();
    let (state, _dir) = state_with((1..=60).map(|i| support::bulk_message(&room, i)).collect()).await;

    let page = get(&state, "/chat/history/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("message number 60<"), "the newest is there");
    assert!(page.html.contains("message number 11<"), "a page of 50 goes back to 11");
    assert!(!page.html.contains("message number 10<"), "older ones wait for scrolling");
    assert!(page.html.contains("Load older messages"));
    assert!(page.html.contains(r#"datetime="2026-11-18T11:06:40Z""#));
    let newest = page.html.find("message number 60<").unwrap();
    let older = page.html.find("message number 59<").unwrap();
    assert!(older < newest, "oldest first");

    let empty = get(&state, "/chat/quiet/").await;
    assert!(empty.html.contains("This is the beginning of #quiet"), "{}", empty.html);
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let (state, _dir) = state().await;
    for path in ["/chat/", "/chat/general/", "/chat/bad!name/", "/nope", "/favicon.svg"] {
        let page = get(&state, path).await;
        let header = |name: &str| page.headers.get(name).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"), "{path}");
        assert_eq!(header("referrer-policy").as_deref(), Some("same-origin"), "{path}");
        assert_eq!(header("x-frame-options").as_deref(), Some("DENY"), "{path}");
        let csp = header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
    }
}

#[tokio::test]
async fn pages_allow_only_their_own_nonced_scripts() {
    let (state, _dir) = state().await;
    let mut nonces = Vec::new();
    for path in ["/chat/", "/chat/general/", "/account/sign-in", "/account/sign-up"] {
        let page = get(&state, path).await;
        let csp = page.headers.get("content-security-policy").unwrap().to_str().unwrap().to_owned();
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .unwrap_or_else(|| panic!("{path}: no nonce in {csp}"))
            .to_owned();
        assert!(csp.contains("script-src 'self' 'nonce-"), "{path}: {csp}");
        assert!(csp.contains("'wasm-unsafe-eval'"), "{path}: {csp}");
        // Every script element in the page carries this response's nonce.
        let scripts = page.html.matches("<script").count();
        assert!(scripts > 0, "{path}: the hydration script");
        let nonced = page.html.matches(&format!(r#"nonce="{nonce}""#)).count();
        assert_eq!(nonced, scripts, "{path}: {scripts} scripts, {nonced} with the nonce\n{}", page.html);
        nonces.push(nonce);
    }
    nonces.sort();
    nonces.dedup();
    assert_eq!(nonces.len(), 4, "a fresh nonce per response");
}

/// Leptos discovers an app's routes by rendering it under a process-wide flag
/// that stalls any resource first polled meanwhile; the server discovers them
/// once per process, so a server built while another renders pages (as the
/// tests do, and as a process with several listeners would) stalls nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn building_a_server_while_another_renders_stalls_no_page() {
    let (state, _dir) = state().await;
    let builder = {
        let state = state.clone();
        tokio::spawn(async move {
            for _ in 0..200 {
                drop(router(state.clone()));
                tokio::task::yield_now().await;
            }
        })
    };
    for _ in 0..100 {
        let page = tokio::time::timeout(support::PATIENCE, get(&state, "/account/sign-in?next=%2Fchat%2Fa%2F"))
            .await
            .expect("the page is rendered in time");
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.html.contains("</html>"), "the page is whole");
    }
    builder.await.unwrap();
}

/// Many room pages at once, on several threads: every one is whole. (The
/// room's title once read the room list while the page's head was written,
/// outside the request's reactive arena, and about one page in a hundred
/// failed under concurrent requests.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn room_pages_rendered_at_once_are_all_whole() {
    let (state, _dir) = state().await;
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let state = state.clone();
            tokio::spawn(async move {
                for _ in 0..25 {
                    let page = get(&state, &format!("/chat/room-{}/", i % 4)).await;
                    assert_eq!(page.status, StatusCode::OK);
                    assert!(
                        page.html.contains(&format!("<title>#room-{} · Chat</title>", i % 4)),
                        "its title: {}",
                        &page.html[..200.min(page.html.len())]
                    );
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("no page failed");
    }
}
