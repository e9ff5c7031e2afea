#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests (real server, real WebSocket
# clients), then the browser tests (Playwright driving Chromium against the built
# app). Installs what is missing first (see scripts/setup.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

. scripts/setup.sh all

echo "== cargo test"
cargo test --locked

echo "== cargo leptos build"
cargo leptos build

# The binary cargo-leptos just built, and the site (WASM, JS, CSS) it serves.
export CHAT_SERVER_BIN="$CARGO_TARGET_DIR/debug/server"
export LEPTOS_OUTPUT_NAME=chat
export LEPTOS_SITE_ROOT="$PWD/target/site"
export LEPTOS_SITE_PKG_DIR=pkg

echo "== playwright"
cd end2end
npx playwright test
