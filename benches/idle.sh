#!/usr/bin/env bash
# benches/idle.sh — airlock's memory per idle agent connection, then ACTIVE
# clients running pgbench -S at once through airlock, counting errors.
#
# Opens IDLE agent connections through airlock (pgbench clients that log in and
# then sleep; each makes airlock open its own upstream connection) and reports
# airlock's resident memory (VmRSS from /proc) before, with all of them open,
# and after they close: (with - before) / IDLE is the cost of one idle session.
#
# airlock keeps one upstream connection per agent session, so IDLE connections
# need IDLE PostgreSQL backends. By default the script starts a throwaway
# PostgreSQL cluster of its own (initdb + pg_ctl as the postgres user, on
# IDLE_PG_PORT) with max_connections = IDLE + 20, and removes it on exit.
# UPSTREAM=system uses the machine's PostgreSQL instead, capped at its
# max_connections - 10.
#
# Environment (defaults in brackets):
#   IDLE [1000] (IDLE=5000 for the issue's figure)  UPSTREAM [throwaway|system]
#   IDLE_PG_PORT [5440]  AIRLOCK_PORT [6442]  AIRLOCK_BIN (skip the build)
#   PG_BIN [the newest /usr/lib/postgresql/*/bin]  CONNECT_TIMEOUT [300] seconds
#   ACTIVE [1000] clients for the active run (0: none)  ACTIVE_SECONDS [10]
#   RESULTS [benches/results/idle.md]
set -euo pipefail

IDLE=${IDLE:-1000}
UPSTREAM=${UPSTREAM:-throwaway}
IDLE_PG_PORT=${IDLE_PG_PORT:-5440}
AIRLOCK_PORT=${AIRLOCK_PORT:-6442}
CONNECT_TIMEOUT=${CONNECT_TIMEOUT:-300}
ACTIVE=${ACTIVE:-1000}
ACTIVE_SECONDS=${ACTIVE_SECONDS:-10}
# Upstream sessions the cluster must allow.
MOST=$((IDLE > ACTIVE ? IDLE : ACTIVE))
AGENT=bench
AGENT_PASSWORD=bench-password
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RESULTS=${RESULTS:-$REPO/benches/results/idle.md}
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}

log() { printf '[idle.sh %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

WORK=$(mktemp -d /tmp/airlock-idle.XXXXXX)
chmod 755 "$WORK"
declare -A PID=()
CLUSTER=""

as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

cleanup() {
    local rc=$? name
    for name in "${!PID[@]}"; do kill "${PID[$name]}" 2>/dev/null || true; done
    for name in "${!PID[@]}"; do wait "${PID[$name]}" 2>/dev/null || true; done
    if [ -n "$CLUSTER" ]; then
        as_postgres "$PG_BIN/pg_ctl" -D "$CLUSTER" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
status() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; } # pid field
rss_kib() { status "$1" VmRSS; }
hwm_kib() { status "$1" VmHWM; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# Connections need file descriptors: airlock two per session, pgbench one.
ulimit -n $((MOST * 2 + 1024)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -gt $((MOST * 2 + 100)) ] ||
    die "open-file limit $(ulimit -n) is too low for $MOST connections"
command -v pgbench >/dev/null || die "pgbench is missing (apt-get install postgresql-contrib)"
port_free "$AIRLOCK_PORT" || die "port $AIRLOCK_PORT is in use (set AIRLOCK_PORT)"

# ---- upstream -------------------------------------------------------------------

if [ "$UPSTREAM" = throwaway ]; then
    [ -x "$PG_BIN/initdb" ] || die "no initdb in $PG_BIN (set PG_BIN)"
    port_free "$IDLE_PG_PORT" || die "port $IDLE_PG_PORT is in use (set IDLE_PG_PORT)"
    # Data, log and socket in one directory the postgres user owns.
    PGDIR=$WORK/pg
    CLUSTER=$PGDIR/data
    mkdir -p "$PGDIR"
    if [ "$(id -u)" = 0 ]; then chown postgres "$PGDIR"; fi
    log "initdb a throwaway cluster on port $IDLE_PG_PORT, max_connections=$((MOST + 20))"
    as_postgres "$PG_BIN/initdb" -D "$CLUSTER" -A trust -U postgres >"$WORK/initdb.log" 2>&1 ||
        { cat "$WORK/initdb.log" >&2; die "initdb failed"; }
    as_postgres "$PG_BIN/pg_ctl" -D "$CLUSTER" -l "$PGDIR/postgres.log" -w -t 120 start -o \
        "-p $IDLE_PG_PORT -k $PGDIR -c listen_addresses=127.0.0.1 -c max_connections=$((MOST + 20)) -c shared_buffers=128MB -c fsync=off" \
        >/dev/null || { cat "$PGDIR/postgres.log" >&2; die "the throwaway cluster did not start"; }
    PG_PORT=$IDLE_PG_PORT
    limit_note="throwaway cluster (initdb) on port $IDLE_PG_PORT with max_connections=$((MOST + 20)): no upstream limit hit"
else
    PG_PORT=5432
    max=$(psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -XAtc "show max_connections")
    if [ "$IDLE" -gt $((max - 10)) ]; then
        log "PostgreSQL max_connections is $max: measuring $((max - 10)) connections instead of $IDLE"
        limit_note="machine's PostgreSQL, max_connections=$max: IDLE capped from $IDLE to $((max - 10))"
        IDLE=$((max - 10))
    else
        limit_note="machine's PostgreSQL, max_connections=$max"
    fi
    [ "$ACTIVE" -gt $((max - 10)) ] && ACTIVE=$((max - 10))
fi
if [ "$ACTIVE" -gt 0 ]; then
    log "pgbench -i -s 1 (tables for the active run) on the upstream's postgres database"
    pgbench -i -q -s 1 -h 127.0.0.1 -p "$PG_PORT" -U postgres postgres >"$WORK/pgbench-init.log" 2>&1 ||
        { cat "$WORK/pgbench-init.log" >&2; die "pgbench -i failed"; }
fi

# ---- airlock --------------------------------------------------------------------

if [ -n "${AIRLOCK_BIN:-}" ]; then
    AIRLOCK=$AIRLOCK_BIN
else
    log "building airlock (release)"
    (cd "$REPO" && cargo build --release --quiet --bin airlock)
    AIRLOCK=$REPO/target/release/airlock
fi
mkdir -p "$WORK/airlock/rules"
cp "$REPO/rules/default.toml" "$WORK/airlock/rules/"
cat >"$WORK/airlock/airlock.toml" <<EOF
rules = "rules"

[server]
listen = "127.0.0.1:$AIRLOCK_PORT"
tls = "off"
public_url = "http://127.0.0.1:8080"
connect_timeout = "60s"

[log]
level = "warn"

[store]
url = "sqlite:$WORK/airlock/airlock.sqlite"

[databases.idle]
host = "127.0.0.1"
port = $PG_PORT
dbname = "postgres"
user = "postgres"
tls = "disable"

[agents.$AGENT]
scram = "$("$AIRLOCK" passwd --password "$AGENT_PASSWORD" | tail -n 1)"
EOF
"$AIRLOCK" serve --config "$WORK/airlock/airlock.toml" >"$WORK/airlock/log" 2>&1 &
PID[airlock]=$!
for _ in $(seq 300); do port_free "$AIRLOCK_PORT" || break; sleep 0.1; done
port_free "$AIRLOCK_PORT" && { cat "$WORK/airlock/log" >&2; die "airlock did not start"; }
airlock_pid=${PID[airlock]}

upstream_sessions() {
    psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -XAtc \
        "select count(*) from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()"
}
baseline_upstream=$(upstream_sessions)

# One session in and out first, so the runtime's one-time allocations are in the baseline.
PGPASSWORD=$AGENT_PASSWORD psql -h 127.0.0.1 -p "$AIRLOCK_PORT" -U "$AGENT" -d idle -XAtc "select 1" >/dev/null
sleep 1
rss_before=$(rss_kib "$airlock_pid")

# ---- the idle clients -----------------------------------------------------------

printf '\\sleep 3600 s\n' >"$WORK/sleep.sql"
log "opening $IDLE idle connections through airlock"
started=$(date +%s)
PGPASSWORD=$AGENT_PASSWORD pgbench -n -c "$IDLE" -j 4 -T 3600 -f "$WORK/sleep.sql" \
    -h 127.0.0.1 -p "$AIRLOCK_PORT" -U "$AGENT" idle >"$WORK/pgbench.log" 2>&1 &
PID[pgbench]=$!
open=0
while :; do
    open=$(($(upstream_sessions) - baseline_upstream))
    [ "$open" -ge "$IDLE" ] && break
    kill -0 "${PID[pgbench]}" 2>/dev/null || { cat "$WORK/pgbench.log" >&2; die "pgbench ended with $open sessions open"; }
    [ $(($(date +%s) - started)) -lt "$CONNECT_TIMEOUT" ] || die "only $open of $IDLE sessions opened in ${CONNECT_TIMEOUT}s"
    sleep 1
done
log "$open sessions open after $(($(date +%s) - started)) s; letting them settle"
sleep 3
rss_with=$(rss_kib "$airlock_pid")
hwm=$(hwm_kib "$airlock_pid")
threads=$(status "$airlock_pid" Threads)
fds=$(ls "/proc/$airlock_pid/fd" | wc -l)

kill "${PID[pgbench]}" 2>/dev/null || true
wait "${PID[pgbench]}" 2>/dev/null || true
unset 'PID[pgbench]'
for _ in $(seq 60); do [ "$(upstream_sessions)" -le "$baseline_upstream" ] && break; sleep 1; done
sleep 2
rss_after=$(rss_kib "$airlock_pid")

# ---- the active clients ---------------------------------------------------------

active_row=""
if [ "$ACTIVE" -gt 0 ]; then
    log "$ACTIVE clients running pgbench -S for ${ACTIVE_SECONDS}s through airlock"
    errors_before=$(grep -c -E ' (WARN|ERROR) ' "$WORK/airlock/log" || true)
    active_rc=0
    PGPASSWORD=$AGENT_PASSWORD pgbench -S -n -c "$ACTIVE" -j 4 -T "$ACTIVE_SECONDS" \
        -h 127.0.0.1 -p "$AIRLOCK_PORT" -U "$AGENT" idle >"$WORK/active.log" 2>&1 || active_rc=$?
    errors_after=$(grep -c -E ' (WARN|ERROR) ' "$WORK/airlock/log" || true)
    tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/active.log")
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$WORK/active.log")
    tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$WORK/active.log" | tail -n 1)
    aborted=$(grep -c -i 'aborted\|error' "$WORK/active.log" || true)
    log "active: exit $active_rc, ${tx:-?} transactions, ${failed:-?} failed, ${tps:-?} tps"
    [ "$active_rc" = 0 ] || tail -n 5 "$WORK/active.log" >&2
    active_row="| $ACTIVE | $ACTIVE_SECONDS s | ${tps:-–} | ${tx:-0} | ${failed:-–} | $aborted | $active_rc | $((errors_after - errors_before)) |"
fi

per_conn=$(awk -v a="$rss_with" -v b="$rss_before" -v n="$IDLE" 'BEGIN { printf "%.1f", (a - b) / n }')
at5000=$(awk -v b="$rss_before" -v p="$per_conn" 'BEGIN { printf "%.0f", (b + p * 5000) / 1024 }')
{
    echo "# Idle connections: airlock memory"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); nproc: $(nproc); airlock $(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "- command: \`IDLE=$IDLE UPSTREAM=$UPSTREAM benches/idle.sh\`"
    echo "- upstream: $limit_note"
    echo "- clients: pgbench -c $IDLE -j 4 with a script of \`\\sleep\` (log in through airlock with SCRAM, then idle)"
    echo
    echo "| idle sessions | RSS before | RSS with all open | RSS after close | peak (VmHWM) | per session | at 5,000 (extrapolated) | threads | fds |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    echo "| $IDLE | $(mib "$rss_before") MiB | $(mib "$rss_with") MiB | $(mib "$rss_after") MiB | $(mib "$hwm") MiB | $per_conn KiB | $at5000 MiB | $threads | $fds |"
    if [ -n "$active_row" ]; then
        echo
        echo "## Active clients"
        echo
        echo "\`pgbench -S -n -c $ACTIVE -j 4 -T $ACTIVE_SECONDS\` through airlock (default rules, auditing on), each client its own agent session and upstream connection."
        echo "pgbench lines with 'error' or 'aborted', its exit status, and WARN/ERROR lines airlock logged during the run are counted."
        echo
        echo "| clients | duration | TPS | transactions | failed | pgbench error lines | pgbench exit | airlock WARN/ERROR lines |"
        echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
        echo "$active_row"
    fi
} >"$WORK/idle.md"
mkdir -p "$(dirname "$RESULTS")"
cp "$WORK/idle.md" "$RESULTS"
cat "$WORK/idle.md"
log "written to $RESULTS"
