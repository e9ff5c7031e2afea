//! Where the server listens, from (in order) the `--addr` flag, the `CHAT_ADDR`
//! environment variable, Leptos' `LEPTOS_SITE_ADDR` (set by cargo-leptos), or
//! 127.0.0.1:3000; and where it keeps messages: a PostgreSQL server from
//! `--database` or `CHAT_DATABASE`, else the SQLite file from `--db` or
//! `CHAT_DB`, or `data/chat.db`.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::policy::Policy;
use crate::store::Database;

pub const DEFAULT_ADDR: &str = "127.0.0.1:3000";
pub const DEFAULT_DB: &str = "data/chat.db";
/// Where files are kept with a PostgreSQL database (with SQLite: beside its file).
pub const DEFAULT_FILES: &str = "data/files";

const USAGE: &str = "\
Usage: server [--config FILE] [--addr HOST:PORT] [--db FILE | --database postgres://…] [--allow-origin URL]... [--trust-proxy]

Serves the chat on HOST:PORT (default 127.0.0.1:3000), keeping messages and
accounts in the SQLite database FILE (default data/chat.db; created on first
start), or with --database postgres://USER@HOST/DB in that PostgreSQL database
(its schema made or brought up to date at start; several server processes may
share it), files then in --files DIR (default data/files; a directory every
process shares). With --bus redis://HOST:PORT several such processes serve the
same rooms behind one load balancer: each tells the others of what it stores
through that Redis. Pages from the site itself may open its WebSocket; --allow-origin adds
another origin (repeatable). --account-attempts sets how many sign-in and sign-up
attempts one address may make per minute (default 6, after a burst of 10).
--send-rate R, --send-burst N, --connections-per-ip N and
--connections-per-account N change those limits (defaults 3/s, 20, 64, 16), for
bots, benchmarks or a trusted network. Below HTTP, an address may hold
--tcp-connections-per-ip N open connections (default 256; 0 for no cap, the
default with --trust-proxy), a request head must arrive within
--header-timeout-s N seconds (default 15) and a connection where nothing moves
for --http-idle-timeout-s N seconds (default 60) is closed. --commit-pace-ms N: while a room of 100
members or more is busy, its messages are stored (and broadcast) at most once per
N ms, so its members get them in fewer, larger writes (default 5); while posts
queue up in any room, commits start at most every 2 ms (or N, if less), each
storing more. 0 stores each batch at once. With --bus, a process's people stay shown by the others for
--presence-ttl-s N seconds after it stops refreshing them (default 30: a
process killed takes its people out of every room within 40 s).
--retention-days N deletes messages older than N days (as their authors would:
each leaves a tombstone, its files and search words gone); kept by default.
--max-upload-mb N is the largest file one may post (default 10) and
--upload-quota-mb N what one account's files may add up to (default 1024);
files are kept beside the database (data/chat-files/).
--push-contact URI is the mailto: or https: contact push services may use
about this server's Web Push (default mailto:postmaster@localhost; set a real
one: some services refuse pushes without); --push-allow-http lets browsers
subscribe with plain http:// push endpoints (a local push service in tests only).
--config FILE (or CHAT_CONFIG) reads settings from a TOML file first: its keys
are these flags' names without the dashes (addr = \"0.0.0.0:3000\", send-burst =
50, trust-proxy = true, admin = [\"ada\"]); the environment wins over the file,
and flags over both. The server prints what it runs with when it starts.
--metrics-addr HOST:PORT serves /metrics (Prometheus's text format) there, on
a listener of its own (not public unless you make it so); /healthz and
/readyz (store and bus answering) are on the main address.
--admin USERNAME makes that account a site administrator (repeatable; the first
account made is one too): /admin deactivates accounts.
--trust-proxy takes each client's address from the last X-Forwarded-For entry:
use it only behind a reverse proxy that sets that header, or clients could pick
their own address for the per-address limits.

Environment:
  CHAT_ADDR          same as --addr
  CHAT_DB            same as --db
  CHAT_DATABASE      same as --database
  CHAT_FILES         same as --files
  CHAT_BUS           same as --bus
  CHAT_METRICS_ADDR  same as --metrics-addr
  CHAT_ALLOWED_ORIGINS  comma-separated, same as --allow-origin
  CHAT_ACCOUNT_ATTEMPTS same as --account-attempts
  CHAT_TRUST_PROXY   1 or true: same as --trust-proxy
  CHAT_PUSH_CONTACT  same as --push-contact
  CHAT_PUSH_ALLOW_HTTP 1 or true: same as --push-allow-http
  CHAT_ADMINS        comma-separated usernames, same as --admin
  LEPTOS_SITE_ROOT   where the built site (pkg/, assets) is (default target/site)
  RUST_LOG           log filter (default: info for the chat, warn for the rest)";

#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub database: Database,
    /// Redis between several processes on one PostgreSQL database.
    pub bus: Option<String>,
    /// Where `/metrics` is served (nowhere by default: it is not public).
    pub metrics_addr: Option<SocketAddr>,
    pub settings: Settings,
}

/// What the server holds everyone to, and whom it trusts: read once from the
/// command line and the environment, checked there, and handed whole to
/// [`crate::AppState::build`].
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub policy: Policy,
    /// Origins besides the site's own whose pages may open the WebSocket and post forms.
    pub allowed_origins: Vec<String>,
    /// Behind a reverse proxy: the client's address is the last `X-Forwarded-For` entry.
    pub trust_proxy: bool,
    pub push: PushSettings,
    /// Usernames that are site administrators besides the first account.
    pub admins: Vec<String>,
}

/// Web Push: whom push services may contact, and whether plain `http://`
/// endpoints are allowed (tests).
#[derive(Debug, Clone)]
pub struct PushSettings {
    pub contact: String,
    pub allow_http: bool,
}

pub const DEFAULT_PUSH_CONTACT: &str = "mailto:postmaster@localhost";

impl Default for PushSettings {
    fn default() -> Self {
        PushSettings { contact: DEFAULT_PUSH_CONTACT.to_owned(), allow_http: false }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0}")]
    Help(&'static str),
    #[error("`{value}` is not an address like 127.0.0.1:3000 (from {source_name})")]
    BadAddr { value: String, source_name: &'static str },
    #[error("unknown argument `{0}`\n\n{USAGE}")]
    UnknownArg(String),
    #[error("{0} needs a value")]
    MissingValue(&'static str),
    #[error("{0}")]
    BadLimit(String),
    #[error("`{value}` is not a whole number (from {source_name})")]
    BadNumber { value: String, source_name: &'static str },
    #[error("the configuration file {path}, line {line}: {reason}")]
    File { path: String, line: usize, reason: String },
}

impl Config {
    /// Reads the configuration file (`--config FILE`, or `CHAT_CONFIG`), the
    /// environment and the command line (without the program name), each
    /// winning over the one before (see `config_file`).
    pub fn load<I>(args: I, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = String>,
    {
        let (mut rest, mut file) = (Vec::new(), None);
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if arg == "--config" {
                file = Some(args.next().ok_or(ConfigError::MissingValue("--config"))?);
            } else if let Some(path) = arg.strip_prefix("--config=") {
                file = Some(path.to_owned());
            } else {
                rest.push(arg);
            }
        }
        let Some(file) = file.or_else(|| env("CHAT_CONFIG")) else { return Self::from_args(rest, env) };
        let layer = crate::config_file::read(std::path::Path::new(&file))?;
        let args = layer.args.iter().cloned().chain(rest);
        Self::from_args(args, |key| env(key).or_else(|| layer.env.get(key).cloned()))
    }

    /// What the server runs with, in one line, its secrets hidden.
    pub fn summary(&self) -> String {
        let bus = self.bus.as_deref().map(crate::store::redacted);
        let Settings { policy, allowed_origins, trust_proxy, push, admins } = &self.settings;
        format!(
            "addr {}; store: {}; bus: {}; metrics: {}; trust proxy: {trust_proxy}; allowed origins: {allowed_origins:?}; \
             admins: {admins:?}; push contact: {}; {policy:?}",
            self.addr,
            self.database.describe(),
            bus.as_deref().unwrap_or("none"),
            self.metrics_addr.map_or_else(|| "not served".to_owned(), |addr| format!("http://{addr}/metrics")),
            push.contact,
        )
    }

    /// Reads the command line (without the program name) and the environment.
    pub fn from_args<I>(args: I, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = String>,
    {
        let mut flag_addr = None;
        let mut flag_db = None;
        let mut flag_database = None;
        let mut flag_files = None;
        let mut flag_bus = None;
        let mut flag_metrics = None;
        let mut flag_origins = Vec::new();
        let mut admins: Vec<String> = env("CHAT_ADMINS")
            .map(|list| list.split(',').map(str::trim).filter(|a| !a.is_empty()).map(str::to_lowercase).collect())
            .unwrap_or_default();
        let mut flag_attempts = None;
        let mut limits: Vec<(&'static str, String)> = Vec::new();
        let mut trust_proxy = matches!(env("CHAT_TRUST_PROXY").as_deref().map(str::trim), Some("1" | "true"));
        let mut push = PushSettings {
            contact: env("CHAT_PUSH_CONTACT").unwrap_or_else(|| DEFAULT_PUSH_CONTACT.to_owned()),
            allow_http: matches!(env("CHAT_PUSH_ALLOW_HTTP").as_deref().map(str::trim), Some("1" | "true")),
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
                None => (arg.clone(), None),
            };
            let flag: &'static str = match name.as_str() {
                "-h" | "--help" => return Err(ConfigError::Help(USAGE)),
                "--trust-proxy" => {
                    trust_proxy = true;
                    continue;
                }
                "--push-allow-http" => {
                    push.allow_http = true;
                    continue;
                }
                "--push-contact" => "--push-contact",
                "--admin" => "--admin",
                "--addr" => "--addr",
                "--db" => "--db",
                "--database" => "--database",
                "--files" => "--files",
                "--bus" => "--bus",
                "--metrics-addr" => "--metrics-addr",
                "--allow-origin" => "--allow-origin",
                "--account-attempts" => "--account-attempts",
                other => match Policy::FLAGS.iter().find(|f| **f == other) {
                    Some(flag) => flag,
                    None => return Err(ConfigError::UnknownArg(arg)),
                },
            };
            let value = match inline {
                Some(value) => value,
                None => args.next().ok_or(ConfigError::MissingValue(flag))?,
            };
            match flag {
                "--addr" => flag_addr = Some(value),
                "--db" => flag_db = Some(value),
                "--database" => flag_database = Some(value),
                "--files" => flag_files = Some(value),
                "--bus" => flag_bus = Some(value),
                "--metrics-addr" => flag_metrics = Some(value),
                "--account-attempts" => flag_attempts = Some(value),
                "--allow-origin" => flag_origins.push(value),
                "--push-contact" => push.contact = value,
                "--admin" => admins.push(value.trim().to_lowercase()),
                limit => limits.push((limit, value)),
            }
        }
        let (value, source_name) = if let Some(v) = flag_addr {
            (v, "--addr")
        } else if let Some(v) = env("CHAT_ADDR") {
            (v, "CHAT_ADDR")
        } else if let Some(v) = env("LEPTOS_SITE_ADDR") {
            (v, "LEPTOS_SITE_ADDR")
        } else {
            (DEFAULT_ADDR.to_owned(), "the default")
        };
        let addr = value.parse().map_err(|_| ConfigError::BadAddr { value, source_name })?;
        let database = match (flag_database.or_else(|| env("CHAT_DATABASE")), flag_db) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::BadLimit("--db (an SQLite file) and --database: one or the other".into()))
            }
            (Some(url), None) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let files = flag_files.or_else(|| env("CHAT_FILES")).unwrap_or_else(|| DEFAULT_FILES.to_owned());
                Database::Postgres { url, files: PathBuf::from(files) }
            }
            (Some(url), None) => {
                return Err(ConfigError::BadLimit(format!(
                    "`{url}` is not a postgres:// address for --database (an SQLite file is --db FILE)"
                )))
            }
            (None, db) => {
                Database::Sqlite(PathBuf::from(db.or_else(|| env("CHAT_DB")).unwrap_or_else(|| DEFAULT_DB.to_owned())))
            }
        };
        let bus = flag_bus.or_else(|| env("CHAT_BUS"));
        let metrics_addr = match flag_metrics
            .map(|v| (v, "--metrics-addr"))
            .or_else(|| env("CHAT_METRICS_ADDR").map(|v| (v, "CHAT_METRICS_ADDR")))
        {
            Some((value, source_name)) => {
                Some(value.trim().parse::<SocketAddr>().map_err(|_| ConfigError::BadAddr { value, source_name })?)
            }
            None => None,
        };
        if let Some(url) = &bus {
            if !url.starts_with("redis://") {
                return Err(ConfigError::BadLimit(format!("`{url}` is not a redis:// address for --bus")));
            }
            if !matches!(database, Database::Postgres { .. }) {
                return Err(ConfigError::BadLimit(
                    "--bus joins processes that share a PostgreSQL database: give --database too".into(),
                ));
            }
        }
        let mut allowed_origins = flag_origins;
        if let Some(list) = env("CHAT_ALLOWED_ORIGINS") {
            allowed_origins.extend(list.split(',').map(str::trim).filter(|o| !o.is_empty()).map(str::to_owned));
        }
        let account_attempts: Option<u32> = match flag_attempts
            .map(|v| (v, "--account-attempts"))
            .or_else(|| env("CHAT_ACCOUNT_ATTEMPTS").map(|v| (v, "CHAT_ACCOUNT_ATTEMPTS")))
        {
            Some((value, source_name)) => {
                Some(value.trim().parse().map_err(|_| ConfigError::BadNumber { value, source_name })?)
            }
            None => None,
        };
        let mut policy = Policy::default();
        if let Some(attempts) = account_attempts {
            policy.attempts_burst = attempts;
            policy.attempts_per_minute = f64::from(attempts);
        }
        if trust_proxy {
            // Every peer is the proxy: its connections are not one client's.
            policy.tcp_connections_per_ip = 0;
        }
        for (flag, value) in &limits {
            policy.set(flag, value).map_err(ConfigError::BadLimit)?;
        }
        if !(push.contact.starts_with("mailto:") || push.contact.starts_with("https://")) {
            return Err(ConfigError::BadLimit(format!(
                "`{}` is not a mailto: or https: contact for --push-contact",
                push.contact
            )));
        }
        let settings = Settings { policy, allowed_origins, trust_proxy, push, admins };
        Ok(Config { addr, database, bus, metrics_addr, settings })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_to_localhost_3000() {
        assert_eq!(Config::from_args(args(&[]), no_env).unwrap().addr.to_string(), DEFAULT_ADDR);
    }

    #[test]
    fn flag_beats_env_beats_leptos() {
        let env = |k: &str| match k {
            "CHAT_ADDR" => Some("127.0.0.1:4000".to_string()),
            "LEPTOS_SITE_ADDR" => Some("127.0.0.1:5000".to_string()),
            _ => None,
        };
        let from = |a: &[&str]| Config::from_args(args(a), env).unwrap().addr.port();
        assert_eq!(from(&["--addr", "0.0.0.0:4100"]), 4100);
        assert_eq!(from(&["--addr=[::1]:4200"]), 4200);
        assert_eq!(from(&[]), 4000);
        let leptos_only = |k: &str| (k == "LEPTOS_SITE_ADDR").then(|| "127.0.0.1:5000".to_string());
        assert_eq!(Config::from_args(args(&[]), leptos_only).unwrap().addr.port(), 5000);
    }

    #[test]
    fn the_database_file_defaults_under_data() {
        let config = Config::from_args(args(&[]), no_env).unwrap();
        assert_eq!(config.database, Database::Sqlite(PathBuf::from("data/chat.db")));
        let env = |k: &str| (k == "CHAT_DB").then(|| "/srv/chat.db".to_string());
        assert_eq!(Config::from_args(args(&[]), env).unwrap().database, Database::Sqlite("/srv/chat.db".into()));
        let flag = Config::from_args(args(&["--db", "x.db"]), env).unwrap();
        assert_eq!(flag.database, Database::Sqlite("x.db".into()));
    }

    #[test]
    fn a_postgres_database_is_asked_for_by_address() {
        let url = "postgres://chat@db.internal/chat";
        let config = Config::from_args(args(&["--database", url, "--files", "/srv/files"]), no_env).unwrap();
        assert_eq!(config.database, Database::Postgres { url: url.into(), files: "/srv/files".into() });
        let env = |k: &str| (k == "CHAT_DATABASE").then(|| url.to_string());
        let from_env = Config::from_args(args(&[]), env).unwrap();
        assert_eq!(from_env.database, Database::Postgres { url: url.into(), files: DEFAULT_FILES.into() });
        let both = Config::from_args(args(&["--db", "x.db"]), env).unwrap_err();
        assert!(both.to_string().contains("one or the other"), "{both}");
        let file = Config::from_args(args(&["--database", "x.db"]), no_env).unwrap_err();
        assert!(file.to_string().contains("not a postgres:// address"), "{file}");
        let bus = Config::from_args(args(&["--database", url, "--bus", "redis://127.0.0.1:6379"]), no_env).unwrap();
        assert_eq!(bus.bus.as_deref(), Some("redis://127.0.0.1:6379"));
        let alone = Config::from_args(args(&["--bus", "redis://127.0.0.1:6379"]), no_env).unwrap_err();
        assert!(alone.to_string().contains("give --database too"), "{alone}");
        let secret = Database::Postgres { url: "postgres://chat:hunter2@db/chat".into(), files: "f".into() };
        assert!(!secret.describe().contains("hunter2"), "{}", secret.describe());
    }

    #[test]
    fn extra_origins_come_from_flags_and_env() {
        let env = |k: &str| (k == "CHAT_ALLOWED_ORIGINS").then(|| "https://a.example, https://b.example".to_string());
        let config = Config::from_args(args(&["--allow-origin", "https://c.example"]), env).unwrap();
        assert_eq!(config.settings.allowed_origins, ["https://c.example", "https://a.example", "https://b.example"]);
        assert!(Config::from_args(args(&[]), no_env).unwrap().settings.allowed_origins.is_empty());
    }

    #[test]
    fn account_attempts_can_be_raised() {
        let default = Config::from_args(args(&[]), no_env).unwrap();
        assert_eq!(default.settings.policy.attempts_burst, Policy::default().attempts_burst);
        let config = Config::from_args(args(&["--account-attempts", "500"]), no_env).unwrap();
        assert_eq!(config.settings.policy.attempts_burst, 500);
        assert_eq!(config.settings.policy.attempts_per_minute, 500.0);
        let err = Config::from_args(args(&["--account-attempts=many"]), no_env).unwrap_err();
        assert!(err.to_string().contains("not a whole number"), "{err}");
    }

    #[test]
    fn trusting_a_proxy_is_asked_for() {
        let direct = Config::from_args(args(&[]), no_env).unwrap().settings;
        assert!(!direct.trust_proxy);
        assert!(direct.policy.tcp_connections_per_ip > 0, "peers are capped when they are the clients");
        let proxied = Config::from_args(args(&["--trust-proxy", "--db", "x.db"]), no_env).unwrap().settings;
        assert!(proxied.trust_proxy);
        assert_eq!(proxied.policy.tcp_connections_per_ip, 0, "behind a proxy every peer is the proxy");
        let capped = Config::from_args(args(&["--trust-proxy", "--tcp-connections-per-ip", "5000"]), no_env).unwrap();
        assert_eq!(capped.settings.policy.tcp_connections_per_ip, 5000);
        let env = |k: &str| (k == "CHAT_TRUST_PROXY").then(|| "1".to_string());
        assert!(Config::from_args(args(&[]), env).unwrap().settings.trust_proxy);
    }

    #[test]
    fn push_settings() {
        let default = Config::from_args(args(&[]), no_env).unwrap().settings.push;
        assert_eq!((default.contact.as_str(), default.allow_http), (DEFAULT_PUSH_CONTACT, false));
        let set = Config::from_args(args(&["--push-contact", "mailto:ops@example.com", "--push-allow-http"]), no_env);
        let set = set.unwrap().settings.push;
        assert_eq!((set.contact.as_str(), set.allow_http), ("mailto:ops@example.com", true));
        let err = Config::from_args(args(&["--push-contact", "ops@example.com"]), no_env).unwrap_err();
        assert!(err.to_string().contains("mailto:"), "{err}");
    }

    #[test]
    fn bad_input_says_what_is_wrong() {
        let err = Config::from_args(args(&["--addr", "localhost"]), no_env).unwrap_err();
        assert!(err.to_string().contains("`localhost` is not an address"), "{err}");
        assert_eq!(Config::from_args(args(&["--addr"]), no_env).unwrap_err(), ConfigError::MissingValue("--addr"));
        assert!(matches!(Config::from_args(args(&["--port", "1"]), no_env).unwrap_err(), ConfigError::UnknownArg(_)));
    }

    #[test]
    fn a_file_is_beaten_by_the_environment_and_flags_beat_both() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chat.toml");
        let settings = "addr = \"127.0.0.1:4001\"\ndb = \"/srv/file.db\"\nsend-burst = 7\nconnections-per-ip = 9\n";
        std::fs::write(&path, settings).unwrap();
        let file = path.to_str().unwrap().to_owned();
        let env = |k: &str| (k == "CHAT_DB").then(|| "/srv/env.db".to_owned());
        let config = Config::load(args(&["--config", &file, "--connections-per-ip", "11"]), env).unwrap();
        assert_eq!(config.addr.port(), 4001, "from the file");
        assert_eq!(config.database, Database::Sqlite("/srv/env.db".into()), "the environment beats the file");
        assert_eq!(config.settings.policy.send_burst, 7, "from the file");
        assert_eq!(config.settings.policy.connections_per_ip, 11, "a flag beats the file");

        std::fs::write(&path, "addr = \"127.0.0.1:4001\"\n\nsend-brust = 7\n").unwrap();
        let error = Config::load(args(&["--config", &file]), no_env).unwrap_err().to_string();
        assert!(error.contains("line 3") && error.contains("send-brust"), "{error}");
        let missing = Config::load(args(&["--config", "/nonexistent/chat.toml"]), no_env).unwrap_err();
        assert!(matches!(missing, ConfigError::File { .. }), "{missing:?}");

        let flags = ["--database", "postgres://chat:secret@db/chat", "--bus", "redis://:hush@r:6379"];
        let summary = Config::load(args(&flags), no_env).unwrap().summary();
        assert!(!summary.contains("secret") && !summary.contains("hush"), "{summary}");
        assert!(summary.contains("PostgreSQL") && summary.contains("r:6379"), "{summary}");
    }
}
