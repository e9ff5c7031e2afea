use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::*;
use crate::store::SqliteStore;

const HOME: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const PASSWORD: &str = "correct horse battery";

async fn accounts_with(policy: Policy) -> (Accounts, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = SqliteStore::open(&dir.path().join("chat.db")).await.unwrap();
    (Accounts::new(Arc::new(store), policy), dir)
}

fn form(username: &str, display_name: &str, password: &str) -> NewAccount {
    NewAccount { username: username.into(), display_name: display_name.into(), password: password.into() }
}

#[tokio::test]
async fn sign_up_then_sign_in_gives_sessions_of_that_account() {
    let (accounts, _dir) = accounts_with(Policy::default()).await;
    let (token, account) = accounts.sign_up(HOME, form("  Ada ", "Ada Lovelace", PASSWORD)).await.unwrap();
    assert_eq!(account.username, "ada");
    assert_eq!(account.display_name, "Ada Lovelace");
    assert_eq!(accounts.session(&token).await.unwrap().unwrap().account, account);

    let (again, same) = accounts.sign_in(HOME, "ADA", PASSWORD).await.unwrap();
    assert_eq!(same, account);
    assert_ne!(again, token, "each sign-in is a session of its own");
    assert!(accounts.session(&again).await.unwrap().is_some());
}

#[tokio::test]
async fn wrong_password_and_unknown_name_get_the_same_error() {
    let (accounts, _dir) = accounts_with(Policy::default()).await;
    accounts.sign_up(HOME, form("ada", "Ada", PASSWORD)).await.unwrap();
    assert_eq!(accounts.sign_in(HOME, "ada", "wrong password!").await.unwrap_err(), AccountError::Mismatch);
    assert_eq!(accounts.sign_in(HOME, "nobody", PASSWORD).await.unwrap_err(), AccountError::Mismatch);
    assert_eq!(accounts.sign_in(HOME, "not a name;", PASSWORD).await.unwrap_err(), AccountError::Mismatch);
}

#[tokio::test]
async fn a_taken_name_weak_password_or_bad_display_name_is_refused() {
    let (accounts, _dir) = accounts_with(Policy::default()).await;
    accounts.sign_up(HOME, form("ada", "Ada", PASSWORD)).await.unwrap();
    let taken = accounts.sign_up(HOME, form("ADA", "Other Ada", PASSWORD)).await.unwrap_err();
    assert_eq!(taken, AccountError::UsernameTaken);
    assert_eq!(accounts.sign_up(HOME, form("bob", "Bob", "short")).await.unwrap_err(), AccountError::WeakPassword);
    assert_eq!(
        accounts.sign_up(HOME, form("bob", "\u{202E}evil", PASSWORD)).await.unwrap_err(),
        AccountError::InvalidDisplayName
    );
    assert_eq!(accounts.sign_up(HOME, form("b", "Bob", PASSWORD)).await.unwrap_err(), AccountError::InvalidUsername);
}

#[tokio::test]
async fn sessions_expire() {
    let policy = Policy { session_ttl: Duration::ZERO, ..Policy::default() };
    let (accounts, _dir) = accounts_with(policy).await;
    let (token, _) = accounts.sign_up(HOME, form("ada", "Ada", PASSWORD)).await.unwrap();
    assert!(accounts.session(&token).await.unwrap().is_none(), "a session past its expiry signs nobody in");
}

#[tokio::test]
async fn sign_out_ends_the_session_and_its_sockets() {
    let (accounts, _dir) = accounts_with(Policy::default()).await;
    let (token, _) = accounts.sign_up(HOME, form("ada", "Ada", PASSWORD)).await.unwrap();
    let (other, _) = accounts.sign_in(HOME, "ada", PASSWORD).await.unwrap();
    let socket = accounts.sockets().register(token.key());
    let other_socket = accounts.sockets().register(other.key());
    accounts.sign_out(&token).await.unwrap();
    assert!(accounts.session(&token).await.unwrap().is_none());
    assert!(socket.ended.is_cancelled());
    assert!(accounts.session(&other).await.unwrap().is_some(), "another browser stays signed in");
    assert!(!other_socket.ended.is_cancelled());
}

#[tokio::test]
async fn guessing_is_rate_limited_per_address() {
    let policy = Policy { attempts_burst: 3, attempts_per_minute: 0.001, ..Policy::default() };
    let (accounts, _dir) = accounts_with(policy).await;
    for _ in 0..3 {
        assert_eq!(accounts.sign_in(HOME, "ada", "guess guess guess").await.unwrap_err(), AccountError::Mismatch);
    }
    assert_eq!(accounts.sign_in(HOME, "bob", PASSWORD).await.unwrap_err(), AccountError::TooManyAttempts);
    let elsewhere = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));
    assert_eq!(accounts.sign_in(elsewhere, "ada", "guess").await.unwrap_err(), AccountError::Mismatch);
}

#[tokio::test]
async fn guessing_one_username_is_limited_without_locking_its_owner_out() {
    let policy = Policy {
        attempts_burst: 1000,
        attempts_per_username_burst: 3,
        attempts_per_username_per_minute: 0.001,
        ..Policy::default()
    };
    let (accounts, _dir) = accounts_with(policy).await;
    accounts.sign_up(HOME, form("ada", "Ada", PASSWORD)).await.unwrap();
    let attacker = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9));
    for _ in 0..3 {
        assert_eq!(accounts.sign_in(attacker, "ada", "guess guess guess").await.unwrap_err(), AccountError::Mismatch);
    }
    assert_eq!(accounts.sign_in(attacker, "ada", PASSWORD).await.unwrap_err(), AccountError::TooManyAttempts);
    // The attacker's neighbours in the same IPv6 /64 count as the attacker.
    let v6 = |last: u16| IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, last));
    for _ in 0..3 {
        accounts.sign_in(v6(1), "ada", "guess guess guess").await.unwrap_err();
    }
    assert_eq!(accounts.sign_in(v6(2), "ada", PASSWORD).await.unwrap_err(), AccountError::TooManyAttempts);
    // Ada, from her own address, is not locked out.
    assert!(accounts.sign_in(HOME, "ada", PASSWORD).await.is_ok());
}

#[tokio::test]
async fn names_that_break_the_rule_and_huge_passwords_cost_no_hashing() {
    let (accounts, _dir) = accounts_with(Policy::default()).await;
    let huge = "x".repeat(1 << 20);
    assert_eq!(accounts.sign_in(HOME, &huge, PASSWORD).await.unwrap_err(), AccountError::Mismatch);
    assert_eq!(accounts.sign_in(HOME, "ada", &huge).await.unwrap_err(), AccountError::Mismatch);
}

#[tokio::test]
async fn signing_in_again_ends_the_browsers_previous_session() {
    let (accounts, _dir) = accounts_with(Policy::default()).await;
    let (first, _) = accounts.sign_up(HOME, form("ada", "Ada", PASSWORD)).await.unwrap();
    let mut headers = HeaderMap::new();
    let pair = first.cookie(60, false).split(';').next().unwrap().to_owned();
    headers.insert(http::header::COOKIE, pair.parse().unwrap());
    accounts.replace_session_of(&headers).await;
    assert!(accounts.session(&first).await.unwrap().is_none());
}

#[tokio::test]
async fn a_session_the_store_cannot_read_is_an_error_not_signed_out() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut writer) = SqliteStore::open(&dir.path().join("chat.db")).await.unwrap();
    let accounts = Accounts::new(Arc::new(store.clone()), Policy::default());
    // Another process on the same database: it has not seen the session.
    let elsewhere = Accounts::new(Arc::new(store), Policy::default());
    let (token, _) = accounts.sign_up(HOME, form("ada", "Ada", PASSWORD)).await.unwrap();
    // The database goes away: its connections are closed.
    crate::store::MessageWriter::close(&mut writer).await;
    assert_eq!(elsewhere.session(&token).await.err(), Some(AccountError::Unavailable));
    // The process that made the session keeps it in memory.
    let kept = accounts.session(&token).await.unwrap().expect("a live session");
    assert_eq!(kept.account.username, "ada");
}
