#!/usr/bin/env bash
# Builds the chat in release mode and serves it on http://127.0.0.1:3000/chat/
# (set CHAT_ADDR=HOST:PORT to change). Installs what is missing first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

. scripts/setup.sh build

# --split: the pages other than the room's are WASM chunks of their own.
exec cargo leptos serve --release --split
