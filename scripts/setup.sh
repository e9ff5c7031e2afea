#!/usr/bin/env bash
# Installs what building, running and testing the chat needs; skips what is there.
#
# Source it (`. scripts/setup.sh [toolchain|build|e2e|all]`) so that the toolchain
# choice (RUSTUP_TOOLCHAIN), CARGO_TARGET_DIR and PATH carry over to the caller.
#
# The normal path is tried first (what a user with internet does):
#   rustup target add wasm32-unknown-unknown; cargo install cargo-leptos; ...
# Where rustup cannot download, it falls back to the offline path described in
# ../shared/TOOLCHAIN.md: Debian's Rust with its std source, std built for wasm32 once.

set -euo pipefail

CHAT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHAT_CACHE="${CHAT_CACHE:-$HOME/.cache/rust-chat}"
WASM_TARGET=wasm32-unknown-unknown
SYS_TOOLCHAIN=sys

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif have sudo; then sudo "$@"; else
    log "need root for: $*"; return 1
  fi
}

apt_updated=0
apt_install() {
  have apt-get || { log "apt-get not found; please install: $*"; return 1; }
  if [ "$apt_updated" = 0 ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# A target dir outside the clone, so that repeated runs on one machine are incremental.
setup_target_dir() {
  if [ -z "${CARGO_TARGET_DIR:-}" ]; then
    export CARGO_TARGET_DIR="$CHAT_CACHE/target"
  fi
  mkdir -p "$CARGO_TARGET_DIR"
  # Leptos reads this when it is compiled (it names the WASM file the page
  # loads); cargo-leptos sets it for its own builds. Set for every build, a
  # `cargo test` and a `cargo leptos build` compile Leptos the same way and the
  # server the tests built serves the site cargo-leptos built.
  export LEPTOS_OUTPUT_NAME=chat
}

toolchain_has_wasm() {
  # $1: toolchain name, or empty for the default one
  local tc=${1:-}
  if [ -n "$tc" ]; then
    rustup +"$tc" target list --installed 2>/dev/null | grep -qx "$WASM_TARGET" && return 0
    local sysroot
    sysroot=$(rustc +"$tc" --print sysroot 2>/dev/null) || return 1
    compgen -G "$sysroot/lib/rustlib/$WASM_TARGET/lib/libstd-*.rlib" >/dev/null
  else
    rustup target list --installed 2>/dev/null | grep -qx "$WASM_TARGET"
  fi
}

# Rust >= 1.96 is what cargo-leptos 0.3 and the workspace want.
default_rust_new_enough() {
  local v
  v=$(rustc --version | awk '{print $2}')
  [ "$(printf '%s\n1.96.0\n' "${v%%-*}" | sort -V | head -n1)" = "1.96.0" ]
}

# Offline path: Debian's rustc-web 1.96 plus std built for wasm32 from its source.
build_sys_toolchain() {
  log "building the offline '$SYS_TOOLCHAIN' toolchain (Debian rustc-web + std for wasm32)"
  [ -x /usr/bin/rustc ] && [ -d /usr/lib/rustlib/src/rust ] || apt_install rustc-web cargo-web rust-web-src
  local host_bin=/usr/lib/rustlib/x86_64-unknown-linux-gnu/bin
  if [ ! -e "$host_bin/rust-lld" ]; then
    local lld
    lld=$(ls "$HOME"/.rustup/toolchains/*/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld 2>/dev/null | head -n1)
    [ -n "$lld" ] || { log "no rust-lld found in any rustup toolchain"; return 1; }
    as_root mkdir -p "$host_bin"
    as_root ln -sf "$lld" "$host_bin/rust-lld"
  fi
  local vehicle
  vehicle=$(mktemp -d)
  mkdir -p "$vehicle/src"
  cat >"$vehicle/Cargo.toml" <<'EOF'
[package]
name = "std-vehicle"
version = "0.0.0"
edition = "2021"
[lib]
crate-type = ["cdylib"]
[profile.release]
panic = "abort"
EOF
  echo '#[no_mangle] pub extern "C" fn vehicle() -> u32 { 7 }' >"$vehicle/src/lib.rs"
  (cd "$vehicle" && RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$vehicle/target" /usr/bin/cargo build --release -q \
    -Zbuild-std=std,panic_abort --target "$WASM_TARGET")
  as_root mkdir -p "/usr/lib/rustlib/$WASM_TARGET/lib"
  find "$vehicle/target/$WASM_TARGET/release/deps" -name '*.rlib' ! -name 'libstd_vehicle*' \
    -exec cp {} "/usr/lib/rustlib/$WASM_TARGET/lib/" \;
  rm -rf "$vehicle"
  rustup toolchain link "$SYS_TOOLCHAIN" /usr
}

setup_toolchain() {
  have rustup || { log "rustup is required: https://rustup.rs"; return 1; }
  if [ "${RUSTUP_TOOLCHAIN:-}" = "$SYS_TOOLCHAIN" ] && toolchain_has_wasm "$SYS_TOOLCHAIN"; then
    return 0
  fi
  if default_rust_new_enough; then
    if toolchain_has_wasm ""; then return 0; fi
    log "rustup target add $WASM_TARGET"
    if timeout 60 rustup target add "$WASM_TARGET" >/dev/null 2>&1 && toolchain_has_wasm ""; then
      return 0
    fi
  else
    log "default Rust is older than 1.96; trying 'rustup update stable'"
    if timeout 90 rustup update stable >/dev/null 2>&1 && default_rust_new_enough; then
      if toolchain_has_wasm "" || { timeout 60 rustup target add "$WASM_TARGET" >/dev/null 2>&1 && toolchain_has_wasm ""; }; then
        return 0
      fi
    fi
  fi
  log "rustup could not download; using the offline toolchain"
  toolchain_has_wasm "$SYS_TOOLCHAIN" || build_sys_toolchain
  export RUSTUP_TOOLCHAIN="$SYS_TOOLCHAIN"
}

lock_version() {
  # version of crate $1 in Cargo.lock
  awk -v name="$1" '$0 == "name = \"" name "\"" { getline; gsub(/version = |"/, ""); print; exit }' \
    "$CHAT_ROOT/Cargo.lock"
}

setup_build_tools() {
  export PATH="$HOME/.cargo/bin:$PATH"
  # Prebuilt cargo-leptos and wasm-bindgen (checksummed) where the machine has them:
  # seconds instead of half an hour of `cargo install`. It never fails the caller.
  local toolcache="$CHAT_ROOT/../shared/toolcache/install.sh"
  if [ -x "$toolcache" ] || [ -f "$toolcache" ]; then
    bash "$toolcache" "$HOME/.cargo/bin" || true
  fi
  if ! have cargo-leptos; then
    log "cargo install cargo-leptos (takes a while, once)"
    cargo install cargo-leptos --locked --version '^0.3'
  fi
  local want
  want=$(lock_version wasm-bindgen)
  if [ -n "$want" ] && ! { have wasm-bindgen && wasm-bindgen --version | grep -q " $want\$"; }; then
    log "cargo install wasm-bindgen-cli $want"
    # --locked fails offline: one of its locked dependencies is not in the registry.
    cargo install wasm-bindgen-cli --version "=$want" --force ||
      cargo install wasm-bindgen-cli --version "=$want" --force --locked
  fi
  # wasm-opt for release builds: the npm package `binaryen` ships a current one.
  local tools="$CHAT_CACHE/node-tools"
  if ! [ -x "$tools/node_modules/.bin/wasm-opt" ]; then
    have npm || apt_install nodejs npm
    log "npm install binaryen (wasm-opt)"
    mkdir -p "$tools"
    npm install --prefix "$tools" --no-audit --no-fund --silent binaryen@^132 >/dev/null
  fi
  export PATH="$tools/node_modules/.bin:$PATH"
  # cargo-leptos would otherwise try to download its own copies.
  export LEPTOS_WASM_BINDGEN_VERSION="${LEPTOS_WASM_BINDGEN_VERSION:-$want}"
}

chromium_path() {
  for c in /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome; do
    [ -x "$c" ] && { echo "$c"; return 0; }
  done
  return 1
}

setup_e2e() {
  if ! chromium_path >/dev/null; then
    log "installing Chromium"
    apt_install chromium || (cd "$CHAT_ROOT/end2end" && npx playwright install chromium)
  fi
  if chromium_path >/dev/null; then export CHROMIUM_PATH="${CHROMIUM_PATH:-$(chromium_path)}"; fi
  local e2e="$CHAT_ROOT/end2end"
  if ! [ -d "$e2e/node_modules/@playwright/test" ] || [ "$e2e/package-lock.json" -nt "$e2e/node_modules/.package-lock.json" ]; then
    log "npm ci in end2end/"
    (cd "$e2e" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent)
  fi
}

# schemathesis (PyPI), which fuzzes the HTTP API against its OpenAPI document
# in the test command (server/tests/api_fuzz.rs), in a virtualenv of its own.
setup_fuzz() {
  local venv="$CHAT_CACHE/venv" want
  want=$(sed -n 's/^schemathesis==//p' "$CHAT_ROOT/scripts/fuzz-requirements.txt")
  if ! "$venv/bin/st" --version 2>/dev/null | grep -q " $want\$"; then
    have python3 || apt_install python3 python3-venv
    if ! [ -x "$venv/bin/pip" ]; then
      python3 -m venv "$venv" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$venv"; }
    fi
    log "pip install schemathesis $want"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$CHAT_ROOT/scripts/fuzz-requirements.txt"
  fi
  export CHAT_SCHEMATHESIS="$venv/bin/st"
}

main() {
  local what=${1:-all}
  setup_target_dir
  setup_toolchain
  case "$what" in
    toolchain) ;;
    build) setup_build_tools ;;
    e2e) setup_build_tools; setup_e2e ;;
    all) setup_build_tools; setup_e2e; setup_fuzz ;;
    *) log "unknown part: $what"; return 2 ;;
  esac
}

main "$@"
