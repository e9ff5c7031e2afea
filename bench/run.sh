#!/usr/bin/env bash
# Runs the chat's benchmarks and its peers', back to back on this machine, and
# writes the table (with ratios) into BENCHMARKS.md. One command, from a fresh
# machine too: installs what it needs (Rust toolchain via scripts/setup.sh, a
# throwaway virtualenv for Django Channels, socket.io from npm).
#
#   ./bench/run.sh            # everything (about 30 minutes on 2 cores, 5 of them signing up the crowd)
#   ROUNDS=1 RATES=10,100 DURATION=3 ./bench/run.sh   # a quicker pass
#
# The peers under bench/ (channels/, socketio/, floor/) are comparison code.
# Every scenario runs the load generator (loadgen/src/main.rs) against one
# server at a time; generator and server share the machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

. scripts/setup.sh build
set +u

RATES=${RATES:-5,10,25,50,100,150,200,250,300,350,400,450,500,600,700,800,1000,1250,1500}
# The one-room ramp runs this many times, the stacks taking turns, so that the
# table can quote medians from one sitting on a noisy shared machine.
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
IDLE=${IDLE:-10000}
STORM=${STORM:-1000}
OUT_DIR="$ROOT/bench/results"
mkdir -p "$OUT_DIR"
RESULTS="$OUT_DIR/$(date -u +%Y%m%dT%H%M%SZ).jsonl"
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { printf '\033[1;35m[bench]\033[0m %s\n' "$*" >&2; }

log "building the server, the load generator and the floor (release)"
cargo build --release --locked -p server -p loadgen --bins
(cd bench/floor && cargo build --release)
BIN="$CARGO_TARGET_DIR/release"

log "installing the peers: socket.io (npm), Django Channels (pip, throwaway virtualenv)"
(cd bench/socketio && npm ci --no-audit --no-fund >/dev/null)
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install --quiet -r bench/channels/requirements.txt

PORT=3900
wait_for_port() {
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  log "nothing listens on $PORT; the server said:"; cat "$WORK/server.log" >&2; return 1
}

start() {
  local stack=$1
  PORT=$((PORT + 1))
  case "$stack" in
    chat)
      LEPTOS_SITE_ROOT="$ROOT/target/site" LEPTOS_OUTPUT_NAME=chat RUST_LOG=warn \
        "$BIN/server" --addr "127.0.0.1:$PORT" --db "$WORK/chat-$PORT.db" \
        --send-rate 100000 --send-burst 100000 --connections-per-ip 1000000 \
        --connections-per-account 100000 --account-attempts 1000000 --tcp-connections-per-ip 0 \
        >"$WORK/server.log" 2>&1 &
      ;;
    socketio) node bench/socketio/server.js "$PORT" >"$WORK/server.log" 2>&1 & ;;
    channels)
      (cd bench/channels && exec "$WORK/venv/bin/daphne" -b 127.0.0.1 -p "$PORT" chatbench.asgi:application) \
        >"$WORK/server.log" 2>&1 &
      ;;
    bare) "$BIN/chat-bench-floor" "$PORT" >"$WORK/server.log" 2>&1 & ;;
  esac
  SERVER_PID=$!
  wait_for_port
}

stop() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

loadgen() { "$BIN/loadgen" "$@" --addr "127.0.0.1:$PORT" | tee -a "$RESULTS"; }

for round in $(seq "$ROUNDS"); do
  for stack in chat socketio channels bare; do
    log "round $round/$ROUNDS, $stack: one room, 200 clients, 10 senders, rates $RATES per sender"
    start "$stack"; loadgen room --stack "$stack" --rates "$RATES" --duration "$DURATION"; stop
  done
done
for stack in chat socketio channels bare; do
  log "$stack: $IDLE idle connections"
  start "$stack"; loadgen idle --stack "$stack" --connections "$IDLE" --rooms 100 --server-pid "$SERVER_PID"; stop
done

# Many small rooms: 1,000 of 10 (one sender each, up to 20/s per room: the issue's
# 20,000 stored/s), and the most rooms of 3 that fit. 10,000 x 3 would be 30,000
# sockets on each side; a process here may hold at most $(ulimit -Hn) files.
SMALL_ROOMS=${SMALL_ROOMS:-$(( ($(ulimit -Hn) - 1000) / 3 / 1000 * 1000 ))}
for stack in chat socketio bare; do
  log "$stack: 1,000 rooms x 10 members, 1 sender each, ${MANY_RATES:-1,2,5,20}/s per room"
  start "$stack"; loadgen room --stack "$stack" --rooms 1000 --members 10 --senders 1 --rates "${MANY_RATES:-1,2,5,20}" --duration "$DURATION"; stop
  log "$stack: $SMALL_ROOMS rooms x 3 members, 1 sender each, 1/s per room"
  start "$stack"; loadgen room --stack "$stack" --rooms "$SMALL_ROOMS" --members 3 --senders 1 --rates 1 --duration "$DURATION"; stop
done
log "chat: reconnect storm, $STORM clients"
start chat; loadgen storm --clients "$STORM" --missed 100; stop
log "chat: one room of ${CROWD:-10000} signed-in members (crowd), ${CROWD_MESSAGES:-20} messages"
start chat; loadgen crowd --members "${CROWD:-10000}" --messages "${CROWD_MESSAGES:-20}" --server-pid "$SERVER_PID" --settle 5; stop
log "chat: room page with 50 messages, signed out, then signed in with 20 other rooms listed"
start chat; loadgen pages --messages 50 --concurrency 16 --duration "$DURATION"; stop
start chat; loadgen pages --messages 50 --concurrency 16 --duration "$DURATION" --listed 20; stop

# The room page in Chromium, throttled (bench/tti/tti.mjs), and the WASM it loads.
log "chat: the room page's release WASM and time to interactive (Fast 3G, CPU 4x slower)"
cargo leptos build --release --frontend-only --split
wasm=target/site/pkg/chat.wasm
printf '{"scenario":"wasm","raw_bytes":%d,"gzip_bytes":%d,"brotli_bytes":%d}\n' \
  "$(stat -c %s "$wasm")" "$(gzip -9 -c "$wasm" | wc -c)" \
  "$(node -e 'const z=require("zlib");const b=require("fs").readFileSync(process.argv[1]);process.stdout.write(String(z.brotliCompressSync(b,{params:{[z.constants.BROTLI_PARAM_QUALITY]:9}}).length))' "$wasm")" \
  | tee -a "$RESULTS"
start chat; node bench/tti/tti.mjs "http://127.0.0.1:$PORT/chat/lounge/" "${TTI_RUNS:-5}" | tail -n 1 | tee -a "$RESULTS"; stop

log "writing BENCHMARKS.md from $RESULTS"
python3 bench/table.py "$RESULTS" BENCHMARKS.md
log "done: $RESULTS"
