#!/usr/bin/env bash
# Retakes the README's pictures (docs/*.png) from a real run: the room list, a
# direct conversation (headless), and a browser notification, which needs a
# screen: a virtual one (Xvfb), a D-Bus session and a notification daemon
# (dunst) that draws what Chromium asks it to show.
#
#   ./scripts/screenshots.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. scripts/setup.sh e2e
missing=()
for tool in Xvfb:xvfb dbus-launch:dbus-x11 dunst:dunst xwd:x11-apps convert-im6:imagemagick; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt_install "${missing[@]}"
fi
cargo leptos build --release --frontend-only --split
cargo build -p server
export CHAT_SERVER_BIN="$CARGO_TARGET_DIR/debug/server" LEPTOS_SITE_ROOT="$ROOT/target/site" LEPTOS_SITE_PKG_DIR=pkg

display=:97
Xvfb "$display" -screen 0 1400x800x24 >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb ${dunst:-} ${DBUS_SESSION_BUS_PID:-} 2>/dev/null || true' EXIT
export DISPLAY="$display"
for _ in $(seq 100); do xwd -root -silent >/dev/null 2>&1 && break; sleep 0.1; done
eval "$(dbus-launch --sh-syntax)"
dunst -config "$ROOT/end2end/screenshots/dunstrc" >/dev/null 2>&1 &
dunst=$!
cd end2end
SCREENSHOT_DIR="$ROOT/docs" npx playwright test screenshots
echo "pictures written to $ROOT/docs"
