#!/usr/bin/env bash
# Issue 14's measurements in one sitting: one room of 200 members and 1,000
# rooms of 10, each against one server process on SQLite, one on PostgreSQL,
# and three on PostgreSQL with Redis between them (the load generator spreads
# the members over the three, so most deliveries cross the bus), the set-ups
# taking turns. For every step it also records PostgreSQL's transactions
# committed per second (pg_stat_database, reads included). One command from a
# fresh machine: installs the Rust toolchain and starts (or installs)
# PostgreSQL and Redis with scripts/services.sh.
#
#   ./bench/nodes.sh                                  # about 15 minutes on 2 cores
#   ONE_RATES=50 MANY_RATES=1 ROUNDS=1 ./bench/nodes.sh   # a quick pass
#   SERVER_BIN=/tmp/server-old SETUPS=pg3 ./bench/nodes.sh   # another build, side by side
#
# Results: bench/results/<time>-nodes.jsonl (loadgen's lines, each followed by
# one with the set-up and the commits/s), and a table on stdout.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

. scripts/setup.sh build
set +u
eval "$(./scripts/services.sh | grep '^CHAT_TEST_')"

# Per sender: one room has 10 senders and 200 members (x 2,000 deliveries/s);
# the many rooms have one sender and 10 members each (x 10,000).
ONE_RATES=${ONE_RATES:-50,100,200,300,450}
MANY_RATES=${MANY_RATES:-1,2,5}
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-5}
SETUPS=${SETUPS:-sqlite pg1 pg3}
OUT_DIR="$ROOT/bench/results"
mkdir -p "$OUT_DIR"
RESULTS="$OUT_DIR/$(date -u +%Y%m%dT%H%M%SZ)-nodes.jsonl"
WORK=$(mktemp -d)
PIDS=()
stop() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
cleanup() { stop; rm -rf "$WORK"; }
trap cleanup EXIT
log() { printf '\033[1;35m[bench]\033[0m %s\n' "$*" >&2; }

BIN="$CARGO_TARGET_DIR/release"
# SERVER_BIN runs another build of the server (an A/B of two commits, the
# load generator the same); otherwise this checkout's, built now.
if [ -z "${SERVER_BIN:-}" ]; then
  log "building the server and the load generator (release)"
  cargo build --release --locked -p server -p loadgen --bins
fi
SERVER_BIN=${SERVER_BIN:-$BIN/server}
LOADGEN_BIN=${LOADGEN_BIN:-$BIN/loadgen}

PORT=3950
RUN=0
wait_for() {
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  log "nothing listens on $1:"; cat "$WORK"/server-*.log >&2; return 1
}

# Starts a set-up on fresh data; sets ADDRS (first, then the others) and DB_URL.
start() {
  local setup=$1 n=1 store
  RUN=$((RUN + 1))
  DB_URL=
  case "$setup" in
    sqlite) store=(--db "$WORK/bench-$RUN.db") ;;
    pg1 | pg3)
      psql -q "$CHAT_TEST_POSTGRES" -c "DROP DATABASE IF EXISTS chat_bench_$RUN" -c "CREATE DATABASE chat_bench_$RUN"
      DB_URL="${CHAT_TEST_POSTGRES%/*}/chat_bench_$RUN"
      store=(--database "$DB_URL" --files "$WORK/files-$RUN")
      [ "$setup" = pg3 ] && { n=3; store+=(--bus "$CHAT_TEST_REDIS"); }
      ;;
  esac
  ADDRS=()
  for i in $(seq "$n"); do
    PORT=$((PORT + 1))
    LEPTOS_SITE_ROOT="$ROOT/target/site" LEPTOS_OUTPUT_NAME=chat RUST_LOG=warn \
      "$SERVER_BIN" --addr "127.0.0.1:$PORT" "${store[@]}" \
      --send-rate 100000 --send-burst 100000 --connections-per-ip 1000000 \
      --connections-per-account 100000 --account-attempts 1000000 --tcp-connections-per-ip 0 \
      >"$WORK/server-$PORT.log" 2>&1 &
    PIDS+=($!)
    wait_for "$PORT"
    ADDRS+=("127.0.0.1:$PORT")
    # The first makes the schema; the others start on it.
  done
}

commits() { [ -n "$DB_URL" ] && psql -At "$DB_URL" -c "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()" || echo 0; }

# One step: loadgen at one rate, then the commits/s it cost.
step() {
  local setup=$1 scenario=$2 rate=$3 also before after started took
  shift 3
  also=$(IFS=,; echo "${ADDRS[*]:1}")
  before=$(commits)
  started=$(date +%s%N)
  "$LOADGEN_BIN" room --addr "${ADDRS[0]}" ${also:+--also "$also"} "$@" --rates "$rate" --duration "$DURATION" \
    | tee -a "$RESULTS"
  took=$(( $(date +%s%N) - started ))
  # PostgreSQL publishes a backend's counts at most once a second.
  sleep 1.2
  after=$(commits)
  echo "{\"scenario\":\"setup\",\"setup\":\"$setup\",\"load\":\"$scenario\",\"rate_per_sender\":$rate,\"pg_commits_per_sec\":$(( (after - before) * 1000000000 / took ))}" \
    | tee -a "$RESULTS"
}

for round in $(seq "$ROUNDS"); do
  for setup in $SETUPS; do
    log "round $round: $setup, one room of 200"
    start "$setup"
    for rate in ${ONE_RATES//,/ }; do step "$setup" one "$rate" --rooms 1 --members 200 --senders 10; done
    stop
    log "round $round: $setup, 1,000 rooms of 10"
    start "$setup"
    for rate in ${MANY_RATES//,/ }; do step "$setup" many "$rate" --rooms 1000 --members 10 --senders 1; done
    stop
  done
done

python3 - "$RESULTS" <<'PY'
import json, sys
rows, last = [], None
for line in open(sys.argv[1]):
    record = json.loads(line)
    if record.get("scenario") == "room":
        last = record
    elif record.get("scenario") == "setup" and last:
        rows.append((record, last))
        last = None
print("| set-up | load | offered deliveries/s | delivered/s | p50 ms | p99 ms | lost/dup/gaps | PG commits/s |")
print("|---|---|---|---|---|---|---|---|")
for setup, room in rows:
    load = "1 x 200" if setup["load"] == "one" else "1,000 x 10"
    print(f"| {setup['setup']} | {load} | {room['offered_deliveries_per_sec']:,.0f} | {room['deliveries_per_sec']:,.0f} "
          f"| {room['p50_ms']:.1f} | {room['p99_ms']:.1f} | {room['lost']}/{room['duplicated']}/{room['seq_gaps']} "
          f"| {setup['pg_commits_per_sec'] if setup['setup'] != 'sqlite' else '—'} |")
PY
log "results in $RESULTS"
