//! The configuration file: TOML, named by `--config FILE` or `CHAT_CONFIG`,
//! the lowest of three layers (the file, then the environment, then flags:
//! each wins over the one before). Its keys are the flags' names without the
//! dashes, with their values: `addr = "0.0.0.0:3000"`, `send-burst = 50`,
//! `trust-proxy = true`, `admin = ["ada", "bob"]`.
//!
//! Read into the two lower layers the rest of the configuration already
//! understands: a key with an environment variable becomes that variable's
//! value when the environment does not set it, any other becomes a flag put
//! before the command line's (whose own flags come later and win). A key that
//! is not a flag, or a value of the wrong kind, is refused with its line.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::ConfigError;

/// Keys whose flag has an environment variable, with it.
const WITH_ENV: [(&str, &str); 12] = [
    ("addr", "CHAT_ADDR"),
    ("db", "CHAT_DB"),
    ("database", "CHAT_DATABASE"),
    ("files", "CHAT_FILES"),
    ("bus", "CHAT_BUS"),
    ("metrics-addr", "CHAT_METRICS_ADDR"),
    ("allow-origin", "CHAT_ALLOWED_ORIGINS"),
    ("account-attempts", "CHAT_ACCOUNT_ATTEMPTS"),
    ("trust-proxy", "CHAT_TRUST_PROXY"),
    ("push-contact", "CHAT_PUSH_CONTACT"),
    ("push-allow-http", "CHAT_PUSH_ALLOW_HTTP"),
    ("admin", "CHAT_ADMINS"),
];

/// What a configuration file adds.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FileLayer {
    /// Values for environment variables the environment does not set.
    pub env: BTreeMap<&'static str, String>,
    /// Flags, before the command line's.
    pub args: Vec<String>,
}

/// Reads the file at `path`.
pub fn read(path: &Path) -> Result<FileLayer, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::File {
        path: path.display().to_string(),
        line: 0,
        reason: error.to_string(),
    })?;
    parse(&text).map_err(|(line, reason)| ConfigError::File { path: path.display().to_string(), line, reason })
}

/// The layer `text` makes; or the line (from 1) and the reason it is refused.
pub fn parse(text: &str) -> Result<FileLayer, (usize, String)> {
    let table: toml::Table = text.parse().map_err(|error: toml::de::Error| {
        let line = error.span().map_or(0, |span| line_of(text, span.start));
        (line, error.message().to_owned())
    })?;
    let mut layer = FileLayer::default();
    for (key, value) in table {
        let line = line_of_key(text, &key);
        let flags = crate::policy::Policy::FLAGS;
        if let Some((_, variable)) = WITH_ENV.iter().find(|(name, _)| *name == key) {
            let value = match (key.as_str(), value) {
                ("trust-proxy" | "push-allow-http", toml::Value::Boolean(on)) => on.to_string(),
                ("allow-origin" | "admin", toml::Value::Array(items)) => {
                    let items: Option<Vec<&str>> = items.iter().map(toml::Value::as_str).collect();
                    items.ok_or((line, format!("`{key}` takes a list of strings")))?.join(",")
                }
                ("trust-proxy" | "push-allow-http", _) => return Err((line, format!("`{key}` takes true or false"))),
                (_, value) => scalar(&key, value).map_err(|reason| (line, reason))?,
            };
            layer.env.insert(variable, value);
        } else if flags.iter().any(|flag| flag.strip_prefix("--") == Some(key.as_str())) {
            let value = scalar(&key, value).map_err(|reason| (line, reason))?;
            layer.args.extend([format!("--{key}"), value]);
        } else {
            return Err((line, format!("`{key}` is not a setting (the flags' names, without the dashes)")));
        }
    }
    Ok(layer)
}

/// A string, number or boolean as the flag's text.
fn scalar(key: &str, value: toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(text) => Ok(text),
        toml::Value::Integer(n) => Ok(n.to_string()),
        toml::Value::Float(x) => Ok(x.to_string()),
        other => Err(format!("`{key}` takes a string or a number, not {}", other.type_str())),
    }
}

/// The line (from 1) of byte `at`.
fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].matches('\n').count() + 1
}

/// The line where `key` is set.
fn line_of_key(text: &str, key: &str) -> usize {
    text.lines()
        .position(|line| {
            let line = line.trim_start();
            line.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with('='))
                || line.strip_prefix(&format!("\"{key}\"")).is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map_or(0, |index| index + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_environment_or_flags() {
        let layer = parse(
            "addr = \"0.0.0.0:8080\"\nsend-burst = 50\ntrust-proxy = true\nadmin = [\"ada\", \"bob\"]\nsend-rate = 2.5\n",
        )
        .unwrap();
        assert_eq!(layer.env.get("CHAT_ADDR").map(String::as_str), Some("0.0.0.0:8080"));
        assert_eq!(layer.env.get("CHAT_TRUST_PROXY").map(String::as_str), Some("true"));
        assert_eq!(layer.env.get("CHAT_ADMINS").map(String::as_str), Some("ada,bob"));
        assert_eq!(layer.args, ["--send-burst", "50", "--send-rate", "2.5"]);
    }

    #[test]
    fn a_bad_file_is_refused_with_its_line() {
        let (line, reason) = parse("addr = \"0.0.0.0:8080\"\n\nsend-brust = 50\n").unwrap_err();
        assert_eq!(line, 3);
        assert!(reason.contains("send-brust"), "{reason}");
        let (line, _) = parse("addr = \"0.0.0.0:8080\"\ndb = \n").unwrap_err();
        assert_eq!(line, 2, "a syntax error's line");
        let (line, reason) = parse("# limits\ntrust-proxy = \"yes\"\n").unwrap_err();
        assert_eq!((line, reason.contains("true or false")), (2, true));
        let (line, _) = parse("send-burst = [1]\n").unwrap_err();
        assert_eq!(line, 1);
    }
}
