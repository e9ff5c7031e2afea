#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests (real server, real WebSocket
# clients), then the browser tests (Playwright driving Chromium against the built
# app). Installs what is missing first (see scripts/setup.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Each phase says when it starts, in seconds since this script did.
phase() { echo "== $* (at ${SECONDS} s)"; }

phase setup
. scripts/setup.sh all
# PostgreSQL and Redis, for the PostgreSQL store's tests and the multi-node
# ones: started when stopped, installed when missing; never skipped.
phase services
eval "$(./scripts/services.sh | sed 's/^/export /')"
# A test run builds everything once: incremental compilation's caches would only
# take disk (gigabytes) for nothing.
export CARGO_INCREMENTAL=0

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

phase cargo fmt --check
cargo fmt --check

phase cargo clippy
cargo clippy --locked --all-targets -- -D warnings
# The browser side (the app with its hydrate feature) as it is built: for wasm32.
cargo clippy --locked -p frontend --target wasm32-unknown-unknown -- -D warnings

phase cargo test
cargo test --locked 2>&1 | tee "$results/cargo.log"
# The server's integration tests again, each server on a fresh PostgreSQL
# database instead of an SQLite file: one behaviour, both stores.
phase cargo test, the server on PostgreSQL
CHAT_TEST_STORE=postgres cargo test --locked -p server --test '*' 2>&1 | tee -a "$results/cargo.log"
# The benchmarks are not run here, but they must keep compiling.
cargo test --locked --benches --no-run

# The site (WASM, JS, CSS) in release, as it ships: the browser tests run what
# users get, and ./scripts/start.sh finds it built. The server the browser tests
# run is the one `cargo test` built for the integration tests (a second build
# of it by cargo-leptos would not share their features).
phase cargo leptos build --release --frontend-only --split
cargo leptos build --release --frontend-only --split
# What a room page loads first (the main chunk) stays within its budget
# (issue 11: 500 KB gzip; lowered as it shrinks, to keep what was won); the
# split-off pages load when their route is.
wasm_budget=435000
wasm_gzip=$(gzip -9 -c target/site/pkg/chat.wasm | wc -c)
echo "release WASM: $(stat -c %s target/site/pkg/chat.wasm) B, $wasm_gzip B gzip -9 (budget $wasm_budget)"
if [ "$wasm_gzip" -gt "$wasm_budget" ]; then
  echo "the release WASM is over its budget: lazy-load what the room page does not need" >&2
  exit 1
fi
export CHAT_SERVER_BIN="$CARGO_TARGET_DIR/debug/server"
export LEPTOS_OUTPUT_NAME=chat
export LEPTOS_SITE_ROOT="$PWD/target/site"
export LEPTOS_SITE_PKG_DIR=pkg

phase playwright
(cd end2end && PLAYWRIGHT_JSON_OUTPUT_NAME="$results/playwright.json" \
  npx playwright test --reporter=list,json)

# One closing line over both runners.
node -e '
  const fs = require("fs");
  const [cargoLog, pwJson] = process.argv.slice(1);
  let passed = 0, failed = 0;
  for (const m of fs.readFileSync(cargoLog, "utf8").matchAll(/test result: \w+\. (\d+) passed; (\d+) failed/g)) {
    passed += +m[1]; failed += +m[2];
  }
  const s = JSON.parse(fs.readFileSync(pwJson, "utf8")).stats;
  passed += s.expected + s.flaky; failed += s.unexpected;
  console.log(`tests: ${passed} passed, ${failed} failed`);
' "$results/cargo.log" "$results/playwright.json"
echo "== done in ${SECONDS} s"
