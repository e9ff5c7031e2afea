//! Fresh PostgreSQL databases for tests (this crate's and its integration
//! tests'), on the machine's real server.
//!
//! The server is found at `CHAT_TEST_POSTGRES` (an address whose database the
//! tests may create databases from); without it, `scripts/services.sh` makes
//! sure PostgreSQL runs (starting it, or installing it from Debian's packages)
//! and says where. Never skipped: a test that cannot have its database fails.

use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};
use tokio::sync::OnceCell;

/// Where the tests' PostgreSQL is (an administrative database on it).
async fn server() -> &'static str {
    static SERVER: OnceCell<String> = OnceCell::const_new();
    SERVER
        .get_or_init(|| async {
            let url = match std::env::var("CHAT_TEST_POSTGRES") {
                Ok(url) => url,
                Err(_) => from_services_script("CHAT_TEST_POSTGRES"),
            };
            forget_old_databases(&url).await;
            url
        })
        .await
}

/// Runs `scripts/services.sh` and reads `key` from what it prints.
pub fn from_services_script(key: &str) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/services.sh");
    let output = std::process::Command::new("bash")
        .arg(script)
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("scripts/services.sh runs");
    assert!(output.status.success(), "scripts/services.sh could not start PostgreSQL and Redis");
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .find_map(|line| line.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
        .unwrap_or_else(|| panic!("scripts/services.sh did not say {key}"))
        .to_owned()
}

/// Drops the databases earlier test runs left (those still in use, by another
/// test process now, stay).
async fn forget_old_databases(url: &str) {
    let mut admin = connect(url).await;
    let names: Vec<String> = sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'chat\\_test\\_%'")
        .fetch_all(&mut admin)
        .await
        .expect("pg_database is readable");
    for name in names {
        // In use: another test process's. Left for the next run.
        // The names are this module's own (`chat_test_<pid>_<n>`), read back from pg_database.
        let drop = sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\""));
        let _ = sqlx::query(drop).execute(&mut admin).await;
    }
}

async fn connect(url: &str) -> PgConnection {
    let options = PgConnectOptions::from_str(url).expect("a PostgreSQL address").disable_statement_logging();
    PgConnection::connect_with(&options).await.unwrap_or_else(|e| panic!("cannot connect to PostgreSQL at {url}: {e}"))
}

/// The address of a new, empty database of its own for one test.
pub async fn fresh_database() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let url = server().await;
    let name = format!("chat_test_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let mut admin = connect(url).await;
    // A name of digits made here: nothing from outside goes into the statement.
    let create = sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\""));
    sqlx::query(create).execute(&mut admin).await.expect("CREATE DATABASE");
    let options = PgConnectOptions::from_str(url).expect("a PostgreSQL address").database(&name);
    options.to_url_lossy().to_string()
}
