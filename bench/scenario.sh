#!/usr/bin/env bash
# One `loadgen room` scenario against a release build, with what the server
# says about it over 4 s in the middle of the run: its CPU; its metrics (the
# write connection's commits and index batches: how many, their median and
# p99 by bucket, and the share of the window they held the connection); per
# thread name, its time on a core and waiting for one (schedstat); and the
# load generator's CPU, on the same cores. For A/B comparisons while working
# on the server (alternate two builds); the table in BENCHMARKS.md comes from
# run.sh.
#
#   ROOMS=1000 MEMBERS=10 SENDERS=1 bench/scenario.sh 5 20
#
# Arguments: the rate per sender (messages/s) and the duration (s).
# Environment: SERVER (a release directory holding server and loadgen, and
# chat-bench-floor for STACK=bare; this tree's by default), STACK (chat or
# bare), ROOMS, MEMBERS, SENDERS, EXTRA (more server flags), TMPBASE (where
# the database goes; /dev/shm takes the disk out), RUST_LOG.
set -euo pipefail
RATE=${1:?rate per sender}
DURATION=${2:-20}
SERVER=${SERVER:-${CARGO_TARGET_DIR:-$HOME/.cache/rust-chat/target}/release}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d "${TMPBASE:-/tmp}/scenario.XXXXXX")
# SERVER_LOG=file keeps the server's log (with RUST_LOG=sqlx=debug, every statement).
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; [ -n "${SERVER_LOG:-}" ] && cp "$W/server.log" "$SERVER_LOG"; rm -rf "$W"' EXIT
ulimit -n 20000
STACK=${STACK:-chat}
if [ "$STACK" = bare ]; then
  # The bare floor (bench/floor, built with `cargo build --release` there).
  "$SERVER/chat-bench-floor" 3950 >"$W/server.log" 2>&1 &
else
  # shellcheck disable=SC2086
  LEPTOS_SITE_ROOT="$ROOT/target/site" LEPTOS_OUTPUT_NAME=chat RUST_LOG=${RUST_LOG:-warn} \
    "$SERVER/server" --addr 127.0.0.1:3950 --metrics-addr 127.0.0.1:3959 --db "$W/chat.db" \
    --send-rate 100000 --send-burst 100000 --connections-per-ip 1000000 --connections-per-account 100000 \
    --account-attempts 1000000 --tcp-connections-per-ip 0 ${EXTRA:-} >"$W/server.log" 2>&1 &
fi
PID=$!
for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/3950) 2>/dev/null && break; sleep 0.1; done
metrics() { curl -s http://127.0.0.1:3959/metrics || true; }
"$SERVER/loadgen" room --stack "$STACK" --addr 127.0.0.1:3950 --rooms "${ROOMS:-1}" --members "${MEMBERS:-200}" \
  --senders "${SENDERS:-10}" --rates "$RATE" --duration "$DURATION" --p99-limit-ms 100000 >"$W/loadgen.json" &
LOADGEN=$!
# The window starts 3 s after every member is connected (and, for the chat,
# a message is stored: the senders start once everyone has joined).
members=$((${ROOMS:-1} * ${MEMBERS:-200}))
until [ "$(ss -Htn state established '( sport = :3950 )' | wc -l)" -ge "$members" ]; do sleep 0.2; done
if [ "$STACK" != bare ]; then
  until metrics | grep -Eq '^chat_messages_stored_total [1-9]'; do sleep 0.2; done
fi
sleep 3
ticks() { awk '{print $14 + $15}' "/proc/${1:-$PID}/stat"; }
# Each thread's time on a core and waiting for one (ns), and its name.
sched() { for t in /proc/$PID/task/*; do echo "${t##*/} $(cat "$t/schedstat") $(cat "$t/comm")"; done; }
metrics >"$W/before"; sched >"$W/sched0"; t0=$(ticks); l0=$(ticks $LOADGEN); s0=$(date +%s.%N)
sleep 4
metrics >"$W/after"; sched >"$W/sched1"; t1=$(ticks); l1=$(ticks $LOADGEN); s1=$(date +%s.%N)
wait $LOADGEN
python3 - "$W/before" "$W/after" "$t0" "$t1" "$s0" "$s1" "$W/loadgen.json" "$W/sched0" "$W/sched1" "$l0" "$l1" <<'EOF'
import json, re, sys
before, after, t0, t1, s0, s1, report, sched0, sched1, l0, l1 = sys.argv[1:]
window = float(s1) - float(s0)
def read(path):
    out = {}
    for line in open(path):
        m = re.match(r'^(chat_\w+?)(\{[^}]*\})? ([0-9.e+-]+)$', line)
        if m:
            out[(m[1], m[2] or '')] = float(m[3])
    return out
a, b = read(before), read(after)
def delta(name, labels=''):
    return b.get((name, labels), 0) - a.get((name, labels), 0)
def hist(name):
    count = delta(name + '_count')
    if not count:
        return {'count': 0}
    buckets = sorted((float(re.search(r'le="([^"]+)"', l)[1]), delta(n, l)) for (n, l) in b if n == name + '_bucket')
    q = lambda f: next(le for le, c in buckets if c >= f * count)
    return {'count': int(count), 'mean_ms': round(delta(name + '_sum') / count * 1e3, 2),
            'p50_le_ms': q(0.5) * 1e3, 'p99_le_ms': q(0.99) * 1e3,
            'share': round(delta(name + '_sum') / window, 3)}
def sched(path):
    return {f[0]: (int(f[1]), int(f[2]), int(f[3]), f[4]) for f in (line.split() for line in open(path))}
# Per thread name: cores on a core, cores' worth of waiting for one, and
# times it was put on one (a wake-up, or a turn after a preemption).
threads = {}
old = sched(sched0)
for tid, (run, wait, turns, name) in sched(sched1).items():
    run0, wait0, turns0, _ = old.get(tid, (0, 0, 0, name))
    on, off, n = threads.get(name, (0, 0, 0))
    threads[name] = (on + (run - run0) / 1e9 / window, off + (wait - wait0) / 1e9 / window, n + turns - turns0)
threads = {
    name: {'cpu': round(r, 3), 'runq_wait': round(w, 3), 'turns_per_s': round(n / window),
           'wait_per_turn_us': round(w * window / max(n, 1) * 1e6, 1)}
    for name, (r, w, n) in threads.items() if r > 0.005
}
loadgen = json.loads(open(report).readline())
print(json.dumps({
    'cpu_cores': round((int(t1) - int(t0)) / 100 / window, 2),
    'loadgen_cores': round((int(l1) - int(l0)) / 100 / window, 2),
    'stored_per_s': round(delta('chat_messages_stored_total') / window),
    'posts_per_commit': round(delta('chat_commit_batch_size_sum') / max(delta('chat_commit_batch_size_count'), 1), 1),
    'commits': hist('chat_commit_seconds'),
    'index_batches': hist('chat_search_index_seconds'),
    'threads': threads,
    'loadgen': {k: loadgen.get(k) for k in ('p50_ms', 'p99_ms', 'max_ms', 'deliveries_per_sec',
                                           'offered_deliveries_per_sec', 'lost', 'duplicated', 'seq_gaps')},
}))
EOF
