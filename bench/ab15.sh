#!/usr/bin/env bash
# A/B: the build before this session's work (b194a84) and after, release,
# SQLite: a crowd of signed-in members in one room (its memory per member and
# a message's latency to all of them), and one room of 200 (10 senders).
set -uo pipefail
# OLD: the release directory of the build before (e.g. a worktree of b194a84
# built with its own CARGO_TARGET_DIR); NEW: this tree's.
OLD=${OLD:?set OLD to the release directory of the build to compare with}
NEW=${NEW:-${CARGO_TARGET_DIR:-$HOME/.cache/rust-chat/target}/release}
OUT=$(cd "$(dirname "$0")" && pwd)/results/$(date -u +%Y%m%dT%H%M%SZ)-ab15.jsonl
MEMBERS=${MEMBERS:-3000}
W=/tmp/ab/work; rm -rf $W; mkdir -p $W
PORT=3950
start() { # bin db
  PORT=$((PORT+1))
  LEPTOS_SITE_ROOT="$(cd "$(dirname "$0")/.." && pwd)/target/site" LEPTOS_OUTPUT_NAME=chat RUST_LOG=warn \
    "$1/server" --addr "127.0.0.1:$PORT" --db "$2" \
    --send-rate 100000 --send-burst 100000 --connections-per-ip 1000000 \
    --connections-per-account 100000 --account-attempts 1000000 --tcp-connections-per-ip 0 >"$W/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0; sleep 0.1; done
  echo "server did not start"; cat $W/server.log; exit 1
}
stop() { kill $PID; wait $PID 2>/dev/null; }
lg() { "$NEW/loadgen" "$@" --addr "127.0.0.1:$PORT" | sed "s/^{/{\"build\":\"$B\",/" | tee -a "$OUT"; }
# The crowd signs up once, on the old build's database; each run gets a copy.
B=signup; start $OLD $W/seed.db
"$NEW/loadgen" crowd --members $MEMBERS --messages 1 --cookies $W/cookies.txt --server-pid $PID --addr 127.0.0.1:$PORT >/dev/null
stop
for round in 1 2; do
  for B in old new; do
    bin=$OLD; [ $B = new ] && bin=$NEW
    cp $W/seed.db $W/run.db; rm -f $W/run.db-wal $W/run.db-shm
    start $bin $W/run.db
    lg crowd --members $MEMBERS --messages 20 --cookies $W/cookies.txt --server-pid $PID --settle 5
    stop
    start $bin $W/room-$B-$round.db
    lg room --stack chat --rates 150,300,450 --duration 5
    stop
  done
done
echo "results in $OUT"
