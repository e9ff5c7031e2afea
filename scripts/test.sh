#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests (real server, real WebSocket
# clients), then the browser tests (Playwright driving Chromium against the built
# app). Installs what is missing first (see scripts/setup.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

. scripts/setup.sh all

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

echo "== cargo fmt --check"
cargo fmt --check

echo "== cargo clippy"
cargo clippy --locked --all-targets -- -D warnings
# The browser side (the app with its hydrate feature) as it is built: for wasm32.
cargo clippy --locked -p frontend --target wasm32-unknown-unknown -- -D warnings

echo "== cargo test"
cargo test --locked 2>&1 | tee "$results/cargo.log"
# The benchmarks are not run here, but they must keep compiling.
cargo test --locked --benches --no-run

echo "== cargo leptos build"
cargo leptos build

# The binary cargo-leptos just built, and the site (WASM, JS, CSS) it serves.
export CHAT_SERVER_BIN="$CARGO_TARGET_DIR/debug/server"
export LEPTOS_OUTPUT_NAME=chat
export LEPTOS_SITE_ROOT="$PWD/target/site"
export LEPTOS_SITE_PKG_DIR=pkg

echo "== playwright"
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
