#!/usr/bin/env bash
# Makes sure PostgreSQL and Redis run on this machine, for the PostgreSQL store's
# and the multi-node tests (the embedded SQLite default never needs them).
# Idempotent: what runs is left alone; what is stopped is started; what is not
# installed is installed from Debian's packages (postgresql, redis-server) and
# then started. Prints the two addresses the tests take:
#
#   CHAT_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/postgres
#   CHAT_TEST_REDIS=redis://127.0.0.1:6379
#
# Source it to have them exported, or run it and read them. It never skips: a
# service it cannot start is an error.
set -euo pipefail

svc_log() { printf '\033[1;36m[services]\033[0m %s\n' "$*" >&2; }
svc_have() { command -v "$1" >/dev/null 2>&1; }
svc_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif svc_have sudo; then sudo "$@"; else
    svc_log "need root for: $*"; return 1
  fi
}

svc_apt_updated=0
svc_install() {
  svc_have apt-get || { svc_log "apt-get not found; please install: $*"; return 1; }
  if [ "$svc_apt_updated" = 0 ]; then
    svc_root apt-get update -qq
    svc_apt_updated=1
  fi
  svc_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Waits up to 30 s for a command to succeed.
svc_wait() {
  for _ in $(seq 300); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

postgres_up() { pg_isready -q -h 127.0.0.1 -p 5432; }

ensure_postgres() {
  if svc_have pg_isready && postgres_up; then return 0; fi
  if ! compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then
    svc_log "installing PostgreSQL (Debian's postgresql)"
    svc_install postgresql postgresql-contrib
  fi
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$version" ]; then
    version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
    svc_log "creating PostgreSQL $version's main cluster"
    svc_root pg_createcluster "$version" main >/dev/null
  fi
  # Local connections without a password (this is a test machine's database).
  local hba="/etc/postgresql/$version/main/pg_hba.conf"
  if ! grep -q '^host *all *all *127.0.0.1/32 *trust' "$hba"; then
    svc_log "letting local TCP connections in without a password ($hba)"
    svc_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$hba"
  fi
  svc_log "starting PostgreSQL $version"
  svc_root pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null \
    || svc_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  svc_wait postgres_up || { svc_log "PostgreSQL did not start"; return 1; }
}

redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

ensure_redis() {
  if svc_have redis-cli && redis_up; then return 0; fi
  if ! svc_have redis-server; then
    svc_log "installing Redis (Debian's redis-server)"
    svc_install redis-server
  fi
  svc_log "starting Redis"
  svc_root mkdir -p /var/lib/redis /var/log/redis
  svc_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  svc_wait redis_up || { svc_log "Redis did not start"; return 1; }
}

ensure_postgres
ensure_redis
export CHAT_TEST_POSTGRES="${CHAT_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres}"
export CHAT_TEST_REDIS="${CHAT_TEST_REDIS:-redis://127.0.0.1:6379}"
echo "CHAT_TEST_POSTGRES=$CHAT_TEST_POSTGRES"
echo "CHAT_TEST_REDIS=$CHAT_TEST_REDIS"
