use std::process::ExitCode;

use leptos::prelude::get_configuration;
use tracing_subscriber::EnvFilter;

use server::config::{Config, ConfigError};
use server::{serve, shutdown, AppState};

#[tokio::main]
async fn main() -> ExitCode {
    server::memory::return_large_blocks_to_the_system();
    match std::env::args().nth(1).as_deref() {
        Some("copy-to-postgres") => return copy_to_postgres(std::env::args().skip(2).collect()).await,
        Some(command @ ("backup" | "restore")) => {
            return backup_or_restore(command, std::env::args().skip(2).collect()).await
        }
        _ => {}
    }
    let config = match Config::load(std::env::args().skip(1), |key| std::env::var(key).ok()) {
        Ok(config) => config,
        Err(ConfigError::Help(usage)) => {
            println!("{usage}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,server=info")))
        .init();
    tracing::info!("configuration: {}", config.summary());

    let leptos_options = match get_configuration(None) {
        Ok(conf) => conf.leptos_options,
        Err(error) => {
            eprintln!("error: Leptos configuration: {error}");
            return ExitCode::FAILURE;
        }
    };
    let opened = match config.database.open().await {
        Ok(opened) => opened,
        Err(error) => {
            eprintln!("error: cannot open the message store ({}): {error}", config.database.describe());
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(store = %config.database.describe(), "message store open");
    let listener = match server::bind(config.addr) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: cannot listen on {}: {error}", config.addr);
            return ExitCode::FAILURE;
        }
    };
    let addr = listener.local_addr().unwrap_or(config.addr);
    tracing::info!("chat listening on http://{addr}/chat/");

    let bus = match &config.bus {
        Some(url) => match connect_bus(url, opened.push.as_ref()).await {
            Ok(bus) => {
                tracing::info!(bus = %url, "on the bus to the other processes");
                Some(bus)
            }
            Err(error) => {
                eprintln!("error: cannot reach the bus at {url}: {error}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    if bus.is_none() && matches!(config.database, server::store::Database::Postgres { .. }) {
        tracing::warn!(
            "PostgreSQL without --bus: right for one process; with several, each delivers only its own \
             members' messages live (the others' come with a reload)"
        );
    }
    let state = AppState::build_on_bus(leptos_options, opened, &config.settings, bus);
    let metrics = match config.metrics_addr {
        Some(addr) => match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => {
                tracing::info!("metrics on http://{addr}/metrics");
                let router = server::http::health::metrics_router(state.clone());
                let stop = state.shutdown.clone().cancelled_owned();
                Some(tokio::spawn(async move { axum::serve(listener, router).with_graceful_shutdown(stop).await }))
            }
            Err(error) => {
                eprintln!("error: cannot serve the metrics on {addr}: {error}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    let served = serve(listener, state, shutdown::signal()).await;
    if let Some(metrics) = metrics {
        match metrics.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(%error, "the metrics listener failed"),
            Err(error) => tracing::error!(%error, "the metrics task failed"),
        }
    }
    match served {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

const COPY_USAGE: &str = "\
Usage: server copy-to-postgres --db FILE --database postgres://… [--files DIR]

Copies everything in the SQLite database FILE (messages, accounts, sessions,
room lists, reactions, moderation, uploads) and its files into the PostgreSQL
database, which must be empty (its schema is made first), and the files into
DIR (default data/files). Stop the server first. In one transaction: a copy
that fails leaves the PostgreSQL database as it was.";

/// `server copy-to-postgres`: moves an SQLite deployment's data to PostgreSQL.
async fn copy_to_postgres(args: Vec<String>) -> ExitCode {
    let (mut db, mut database, mut files) = (None, None, "data/files".to_owned());
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let slot = match arg.as_str() {
            "--db" => &mut db,
            "--database" => &mut database,
            "--files" => {
                match args.next() {
                    Some(value) => files = value,
                    None => return usage_error("--files needs a value"),
                }
                continue;
            }
            "-h" | "--help" => {
                println!("{COPY_USAGE}");
                return ExitCode::SUCCESS;
            }
            other => return usage_error(&format!("unknown argument `{other}`")),
        };
        match args.next() {
            Some(value) => *slot = Some(value),
            None => return usage_error(&format!("{arg} needs a value")),
        }
    }
    let (Some(db), Some(database)) = (db, database) else {
        return usage_error("--db and --database are both needed");
    };
    match server::store::copy::sqlite_to_postgres(db.as_ref(), &database, files.as_ref()).await {
        Ok(copied) => {
            for (table, rows) in &copied.rows {
                println!("{table}: {rows} rows");
            }
            println!("files: {}", copied.files);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

const BACKUP_USAGE: &str = "\
Usage: server backup [--db FILE] COPY
       server restore COPY [--db FILE]

backup copies the SQLite database FILE (default data/chat.db, or CHAT_DB) into
the new file COPY while the server runs (one consistent instant, not a copy of
the file), and its uploads into COPY's files directory beside it. restore puts
COPY in FILE's place once it checks whole, keeping what was there as
FILE.before-restore-<time>; stop the server first.";

/// `server backup` and `server restore` (see `server::store::backup`).
async fn backup_or_restore(command: &str, args: Vec<String>) -> ExitCode {
    let (mut db, mut copy) = (std::env::var("CHAT_DB").unwrap_or_else(|_| "data/chat.db".to_owned()), None);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--db" => match args.next() {
                Some(value) => db = value,
                None => return bad_usage("--db needs a value", BACKUP_USAGE),
            },
            "-h" | "--help" => {
                println!("{BACKUP_USAGE}");
                return ExitCode::SUCCESS;
            }
            other if other.starts_with('-') => return bad_usage(&format!("unknown argument `{other}`"), BACKUP_USAGE),
            _ if copy.is_some() => return bad_usage("one COPY only", BACKUP_USAGE),
            _ => copy = Some(arg),
        }
    }
    let Some(copy) = copy else { return bad_usage("COPY is needed", BACKUP_USAGE) };
    let (db, copy) = (std::path::Path::new(&db), std::path::Path::new(&copy));
    let done = match command {
        "backup" => server::store::backup::backup(db, copy).await,
        _ => server::store::backup::restore(copy, db).await,
    };
    match done {
        Ok(copied) => {
            println!("{command}: {} messages, {} files", copied.messages, copied.files);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {command}: {error}");
            ExitCode::FAILURE
        }
    }
}

fn bad_usage(what: &str, usage: &str) -> ExitCode {
    eprintln!("error: {what}\n\n{usage}");
    ExitCode::from(2)
}

fn usage_error(what: &str) -> ExitCode {
    eprintln!("error: {what}\n\n{COPY_USAGE}");
    ExitCode::from(2)
}

/// The bus, within the deployment's namespace (kept in its database).
async fn connect_bus(
    url: &str,
    store: &dyn server::push::PushStore,
) -> Result<(server::bus::Bus, tokio::sync::mpsc::Receiver<server::bus::BusEvent>), String> {
    let namespace = server::bus::namespace(store).await.map_err(|e| e.to_string())?;
    server::bus::Bus::connect(url, &namespace).await.map_err(|e| e.to_string())
}
