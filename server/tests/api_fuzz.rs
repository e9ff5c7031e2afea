//! The HTTP API fuzzed against its own OpenAPI document by schemathesis
//! (from PyPI; `scripts/setup.sh` installs it in a virtualenv and sets
//! `CHAT_SCHEMATHESIS`): generated requests, valid and not, with and without
//! the token, to every operation, and every response checked: no 5xx, each
//! status documented, each body valid against its schema, the content type
//! the document names. A server of the test's own, on a fresh store.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use server::policy::Policy;
use support::{call, person, TestServer};

/// Where schemathesis is: `CHAT_SCHEMATHESIS`, else where the setup script puts it.
fn schemathesis() -> PathBuf {
    let path = std::env::var_os("CHAT_SCHEMATHESIS").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
        home.join(".cache/rust-chat/venv/bin/st")
    });
    assert!(
        path.exists(),
        "schemathesis is not at {} (set CHAT_SCHEMATHESIS, or run `. scripts/setup.sh all`, which installs it)",
        path.display()
    );
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_every_generated_request_as_its_document_says() {
    let st = schemathesis();
    // Generous limits, so that most requests are answered rather than refused
    // (429, documented too, would hide what the API answers otherwise; the
    // limits have tests of their own in api.rs).
    let policy = Policy {
        send_burst: 10_000,
        sends_per_second: 10_000.0,
        guess_burst: 10_000,
        guesses_per_second: 10_000.0,
        ..Policy::default()
    };
    let server = TestServer::start_with_policy(policy).await;
    let ada = person(&server, "Ada").await;
    let made =
        call(server.addr, "/api/create-token", &[("name", "fuzz"), ("read", "on"), ("post", "on")], Some(&ada.cookie))
            .await;
    let secret = serde_json::from_str::<serde_json::Value>(&made.body).unwrap()["secret"].as_str().unwrap().to_owned();
    // A webhook of a room Ada owns, so that its operation is fuzzed past the
    // look-up of its address (schemathesis takes the secret from its config).
    let joined = call(server.addr, "/api/join-room", &[("room", "fuzzed")], Some(&ada.cookie)).await;
    assert_eq!(joined.status, 200, "{joined:?}");
    let fields = [("room", "fuzzed"), ("bot", "fuzz-bot"), ("bot_name", "Fuzz")];
    let hook = call(server.addr, "/api/create-webhook", &fields, Some(&ada.cookie)).await;
    let hook = serde_json::from_str::<serde_json::Value>(&hook.body).unwrap()["secret"].as_str().unwrap().to_owned();
    let hook_secret = hook.rsplit('/').next().unwrap().to_owned();
    let reports = tempfile::tempdir().unwrap();
    let config = reports.path().join("schemathesis.toml");
    std::fs::write(
        &config,
        format!(
            "[[operations]]\ninclude-path = \"/hooks/{{secret}}\"\nparameters = {{ secret = \"{hook_secret}\" }}\n"
        ),
    )
    .unwrap();

    let mut command = tokio::process::Command::new(st);
    command
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(format!("http://{}/api/v1/openapi.json", server.addr))
        .args(["--header", &format!("Authorization: Bearer {secret}")])
        .args(["--checks", "all"])
        .args(["--max-examples", "100", "--seed", "20261204", "--workers", "2"])
        .args(["--request-timeout", "10", "--no-color"])
        .arg("--report-dir")
        .arg(reports.path())
        .env("SCHEMATHESIS_HOOKS", "")
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(600), command.output())
        .await
        .expect("schemathesis ends within 10 minutes")
        .expect("schemathesis runs");
    let report = String::from_utf8_lossy(&output.stdout);
    println!("{report}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "schemathesis found failures (above)");
    assert!(report.contains("Tested: 4"), "every operation was tested");
    server.shut_down().await;
}
