#!/usr/bin/env bash
# benches/load.sh — airlock side by side with direct PostgreSQL, PgBouncer (session
# mode) and haproxy (TCP), under `pgbench -S`; optionally MariaDB under sysbench.
#
# Installs what it lacks (Debian packages), builds airlock in release, starts
# airlock, pgbouncer and haproxy from temporary configs, runs every target
# interleaved within each round, prints a Markdown table and writes it to
# benches/results/latest.md. Everything it started is stopped on exit; the
# machine's PostgreSQL and MariaDB are left running.
#
# Environment (defaults in brackets):
#   ROUNDS [3]  DURATION [10] seconds per run  CLIENTS ["16 64"]
#   MODES ["simple extended prepared"]  LATENCY [1]: also a 1-client run per mode
#   TARGETS ["direct pgbouncer haproxy airlock"]  SCALE [10]  REINIT [0]
#     (also: airlock1, the same build with one runtime worker thread,
#     AIRLOCK_WORKER_THREADS=1, on AIRLOCK1_PORT [6436]; and airlockb, on
#     AIRLOCKB_PORT [6437], running AIRLOCK_B_BIN [the same binary] with the
#     environment in AIRLOCK_B_ENV [none], e.g. AIRLOCK_SCHEDULER=shared: an
#     A/B of two builds or two settings interleaved in one run)
#   PGHOST_DIRECT [127.0.0.1] PGPORT_DIRECT [5432] PGUSER_DIRECT [postgres]
#   AIRLOCK_PORT [6432] PGBOUNCER_PORT [6433] HAPROXY_PORT [6434]
#   AIRLOCKB_MYSQL_PORT [6037]: airlockb's MySQL listener (with MYSQL=1, the
#   sysbench runs interleave airlockb too)
#   MYSQL [0]: also sysbench against MariaDB (127.0.0.1:3306 as root), through
#   haproxy TCP on HAPROXY_MYSQL_PORT [3307] and through airlock's MySQL
#   listener on AIRLOCK_MYSQL_PORT [6035] (agent bench, mysql_native_password;
#   database entry airlock_bench_mysql); SYSBENCH_THREADS [16]
#   SYSBENCH_TESTS ["oltp_point_select oltp_read_only oltp_point_select+text
#   oltp_read_only+text"]: a name ending in +text runs that test over the text
#   protocol (--db-ps-mode=disable: COM_QUERY with the values in the text, as
#   most MySQL drivers send by default) instead of prepared statements
#   AIRLOCK_RULES [everything]: "everything" (one allow-all rule) or "default"
#   (the shipped rules/default.toml); either way every statement is classified,
#   decided and audited
#   CONNECT [0]: also mode "connect", pgbench -S -C (a new connection for every
#   transaction, simple protocol) with CONNECT_CLIENTS [4] clients; PgBouncer's
#   agents log in with SCRAM as airlock's do (direct and haproxy: trust)
#   AIRLOCK_BIN: use this binary instead of building one
#   RESULTS [benches/results/latest.md]
#
# Example: ROUNDS=1 DURATION=5 CLIENTS=16 MODES=simple benches/load.sh
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-"16 64"}
MODES=${MODES:-"simple extended prepared"}
LATENCY=${LATENCY:-1}
TARGETS=${TARGETS:-"direct pgbouncer haproxy airlock"}
SCALE=${SCALE:-10}
REINIT=${REINIT:-0}
MYSQL=${MYSQL:-0}
CONNECT=${CONNECT:-0}
CONNECT_CLIENTS=${CONNECT_CLIENTS:-4}
AIRLOCK_RULES=${AIRLOCK_RULES:-everything}
SYSBENCH_THREADS=${SYSBENCH_THREADS:-16}
SYSBENCH_TESTS=${SYSBENCH_TESTS:-"oltp_point_select oltp_read_only oltp_point_select+text oltp_read_only+text"}
PG_HOST=${PGHOST_DIRECT:-127.0.0.1}
PG_PORT=${PGPORT_DIRECT:-5432}
PG_USER=${PGUSER_DIRECT:-postgres}
AIRLOCK_PORT=${AIRLOCK_PORT:-6432}
AIRLOCK1_PORT=${AIRLOCK1_PORT:-6436}
AIRLOCKB_PORT=${AIRLOCKB_PORT:-6437}
PGBOUNCER_PORT=${PGBOUNCER_PORT:-6433}
HAPROXY_PORT=${HAPROXY_PORT:-6434}
HAPROXY_MYSQL_PORT=${HAPROXY_MYSQL_PORT:-3307}
AIRLOCK_MYSQL_PORT=${AIRLOCK_MYSQL_PORT:-6035}
AIRLOCKB_MYSQL_PORT=${AIRLOCKB_MYSQL_PORT:-6037}
MYSQL_ENTRY=airlock_bench_mysql
MYSQL_HOST=127.0.0.1
MYSQL_PORT=3306
BENCH_DB=airlock_bench
AGENT=bench
AGENT_PASSWORD=bench-password

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RESULTS=${RESULTS:-$REPO/benches/results/latest.md}
COMMAND_LINE="$(for v in ROUNDS DURATION CLIENTS MODES LATENCY TARGETS SCALE MYSQL SYSBENCH_TESTS CONNECT AIRLOCK_RULES AIRLOCK_B_ENV; do
    [ "$v" = AIRLOCK_B_ENV ] && [ -z "${AIRLOCK_B_ENV:-}" ] && continue
    if [[ ${!v} == *" "* || ${!v} == *=* ]]; then printf "%s='%s' " "$v" "${!v}"; else printf '%s=%s ' "$v" "${!v}"; fi
done)benches/load.sh"
CLK_TCK=$(getconf CLK_TCK)

log() { printf '[load.sh %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---- prerequisites --------------------------------------------------------------

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_missing() {
    local want=()
    command -v pgbench >/dev/null || want+=(postgresql-contrib postgresql-client)
    command -v psql >/dev/null || want+=(postgresql-client)
    [[ " $TARGETS " == *" pgbouncer "* ]] && ! command -v pgbouncer >/dev/null && want+=(pgbouncer)
    { [[ " $TARGETS " == *" haproxy "* ]] || [ "$MYSQL" = 1 ]; } &&
        ! command -v haproxy >/dev/null && want+=(haproxy)
    [ "$MYSQL" = 1 ] && ! command -v sysbench >/dev/null && want+=(sysbench)
    [ "$MYSQL" = 1 ] && ! command -v mysql >/dev/null && want+=(mariadb-client)
    if [ ${#want[@]} -gt 0 ]; then
        log "installing ${want[*]}"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}" >/dev/null
    fi
    # Debian's packages may start their own daemons; ours use other ports, so
    # those are left alone.
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # port seconds
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        port_free "$1" || return 0
        sleep 0.1
    done
    return 1
}

# ---- processes we start ---------------------------------------------------------

WORK=$(mktemp -d /tmp/airlock-load.XXXXXX)
chmod 755 "$WORK"
declare -A PID=()

cleanup() {
    local rc=$?
    local name
    for name in "${!PID[@]}"; do
        kill "${PID[$name]}" 2>/dev/null || true
    done
    for name in "${!PID[@]}"; do
        wait "${PID[$name]}" 2>/dev/null || true
    done
    if [ "${KEEP_WORK:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cpu_ticks() { # pid -> utime+stime in clock ticks (whole process, all threads)
    local stat
    stat=$(<"/proc/$1/stat")
    stat=${stat##*) } # fields after "pid (comm) "; field 3 (state) is now $1
    set -- $stat
    echo $((${12} + ${13}))
}

ctx_switches() { # pid -> voluntary + involuntary context switches of all its threads
    local task total=0 key value _
    for task in /proc/"$1"/task/*; do
        while read -r key value _; do
            case $key in
            voluntary_ctxt_switches: | nonvoluntary_ctxt_switches:) total=$((total + value)) ;;
            esac
        done <"$task/status" 2>/dev/null || true
    done
    echo "$total"
}

thread_ticks() { # pid thread-name -> utime+stime of that process's threads of that name
    local task total=0 stat
    for task in /proc/"$1"/task/*; do
        [ "$(cat "$task/comm" 2>/dev/null)" = "$2" ] || continue
        stat=$(<"$task/stat") || continue
        stat=${stat##*) }
        set -- $stat
        total=$((total + ${12} + ${13}))
    done
    echo "$total"
}

build_airlock() {
    if [ -n "${AIRLOCK_BIN:-}" ]; then
        AIRLOCK=$AIRLOCK_BIN
        return
    fi
    log "building airlock (release)"
    (cd "$REPO" && cargo build --release --quiet --bin airlock)
    AIRLOCK=$REPO/target/release/airlock
}

start_airlock() { # name port with-mysql(0/1) [VAR=value for its environment...]
    local name=$1 port=$2 with_mysql=$3 dir=$WORK/$1 bin=$AIRLOCK mysql_port=$AIRLOCK_MYSQL_PORT
    shift 3
    if [ "$name" = airlockb ]; then
        bin=${AIRLOCK_B_BIN:-$AIRLOCK}
        mysql_port=$AIRLOCKB_MYSQL_PORT
    fi
    mkdir -p "$dir/rules"
    case $AIRLOCK_RULES in
    everything)
        cat >"$dir/rules/00-everything.toml" <<'EOF'
# Load benchmark: every statement is still classified, decided and audited,
# and then allowed.
[[rule]]
name = "everything"
action = "allow"
EOF
        ;;
    default) cp "$REPO/rules/default.toml" "$dir/rules/" ;;
    *) die "AIRLOCK_RULES must be everything or default" ;;
    esac
    local verifier native mysql_listener="" mysql_database=""
    verifier=$("$bin" passwd --password "$AGENT_PASSWORD" | tail -n 1)
    native=$(printf '%s' "$AGENT_PASSWORD" | "$bin" passwd --mysql | tail -n 1)
    if [ "$with_mysql" = 1 ]; then
        mysql_listener="[mysql]
listen = \"127.0.0.1:$mysql_port\""
        mysql_database="[databases.$MYSQL_ENTRY]
kind = \"mysql\"
host = \"$MYSQL_HOST\"
port = $MYSQL_PORT
dbname = \"$BENCH_DB\"
user = \"root\""
    fi
    cat >"$dir/airlock.toml" <<EOF
rules = "rules"

[server]
listen = "127.0.0.1:$port"
tls = "off"
public_url = "http://127.0.0.1:1$port"
# Idle reader connections close after 1 s, as PgBouncer's server_idle_timeout
# below, so the next target finds PostgreSQL's slots free.
pool_idle_timeout = "1s"

[web]
listen = "127.0.0.1:1$port"

[log]
format = "human"
level = "warn"

[store]
url = "sqlite:$dir/airlock.sqlite"

[databases.$BENCH_DB]
host = "$PG_HOST"
port = $PG_PORT
dbname = "$BENCH_DB"
user = "$PG_USER"
tls = "disable"

$mysql_database

$mysql_listener

[agents.$AGENT]
scram = "$verifier"
mysql_native = "$native"
groups = ["bench"]
EOF
    env "$@" "$bin" serve --config "$dir/airlock.toml" >"$dir/log" 2>&1 &
    PID[$name]=$!
    wait_port "$port" 30 || { cat "$dir/log" >&2; die "$name did not start"; }
}

start_pgbouncer() {
    mkdir -p "$WORK/pgbouncer"
    # Agents log in as airlock's do: user bench, SCRAM-SHA-256 against a stored
    # verifier (airlock's own, when built), so a connection costs both proxies
    # the same client-side key derivation; the server side is trust.
    local secret=$AGENT_PASSWORD
    [ -n "${AIRLOCK:-}" ] && secret=$("$AIRLOCK" passwd --password "$AGENT_PASSWORD" | tail -n 1)
    printf '"%s" "%s"\n' "$AGENT" "$secret" >"$WORK/pgbouncer/userlist.txt"
    cat >"$WORK/pgbouncer/pgbouncer.ini" <<EOF
[databases]
$BENCH_DB = host=$PG_HOST port=$PG_PORT dbname=$BENCH_DB user=$PG_USER

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGBOUNCER_PORT
unix_socket_dir =
; Agents authenticate with SCRAM (see above); upstream is trust auth, as $PG_USER.
auth_type = scram-sha-256
auth_file = $WORK/pgbouncer/userlist.txt
pool_mode = session
max_client_conn = 2000
default_pool_size = 90
max_db_connections = 90
ignore_startup_parameters = extra_float_digits,options
; Close pooled server connections soon after a run, so the next target finds
; PostgreSQL's connection slots free (see wait_upstream_free).
server_idle_timeout = 1
logfile = $WORK/pgbouncer/pgbouncer.log
log_connections = 0
log_disconnections = 0
EOF
    local as=()
    if [ "$(id -u)" = 0 ]; then # pgbouncer refuses to run as root
        chown -R postgres "$WORK/pgbouncer"
        as=(-u postgres)
    fi
    pgbouncer "${as[@]}" "$WORK/pgbouncer/pgbouncer.ini" >"$WORK/pgbouncer/stdout" 2>&1 &
    PID[pgbouncer]=$!
    wait_port "$PGBOUNCER_PORT" 15 || { cat "$WORK/pgbouncer/"* >&2; die "pgbouncer did not start"; }
}

start_haproxy() {
    mkdir -p "$WORK/haproxy"
    cat >"$WORK/haproxy/haproxy.cfg" <<EOF
global
    maxconn 8000

defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h

listen postgres
    bind 127.0.0.1:$HAPROXY_PORT
    server postgres $PG_HOST:$PG_PORT

listen mariadb
    bind 127.0.0.1:$HAPROXY_MYSQL_PORT
    server mariadb $MYSQL_HOST:$MYSQL_PORT
EOF
    haproxy -db -f "$WORK/haproxy/haproxy.cfg" >"$WORK/haproxy/log" 2>&1 &
    PID[haproxy]=$!
    wait_port "$HAPROXY_PORT" 15 || { cat "$WORK/haproxy/log" >&2; die "haproxy did not start"; }
}

# ---- pgbench --------------------------------------------------------------------

direct_psql() { psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -X -q -v ON_ERROR_STOP=1 "$@"; }

init_pgbench() {
    if ! direct_psql -d postgres -Atc "select 1 from pg_database where datname = '$BENCH_DB'" | grep -q 1; then
        direct_psql -d postgres -c "create database $BENCH_DB"
        REINIT=1
    fi
    local branches
    branches=$(direct_psql -d "$BENCH_DB" -Atc "select count(*) from pgbench_branches" 2>/dev/null || echo 0)
    if [ "$REINIT" = 1 ] || [ "$branches" != "$SCALE" ]; then
        log "pgbench -i -s $SCALE $BENCH_DB"
        pgbench -i -q -s "$SCALE" -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$BENCH_DB" >"$WORK/pgbench-init.log" 2>&1 ||
            { cat "$WORK/pgbench-init.log" >&2; die "pgbench -i failed"; }
    fi
}

# Connection options and proxy pid for a target.
target_conn() {
    case $1 in
    direct) echo "$PG_PORT $PG_USER" ;;
    pgbouncer) echo "$PGBOUNCER_PORT $AGENT" ;;
    haproxy) echo "$HAPROXY_PORT $PG_USER" ;;
    airlock) echo "$AIRLOCK_PORT $AGENT" ;;
    airlock1) echo "$AIRLOCK1_PORT $AGENT" ;;
    airlockb) echo "$AIRLOCKB_PORT $AGENT" ;;
    *) die "unknown target $1" ;;
    esac
}

# Waits until no session is left on the bench database (PgBouncer closes its
# pooled server connections a second after they go idle): with
# max_connections = 100, 64 clients of one target must not meet the last one's.
wait_upstream_free() {
    local i n
    for ((i = 0; i < 100; i++)); do
        n=$(direct_psql -d postgres -Atc "select count(*) from pg_stat_activity where datname = '$BENCH_DB'")
        [ "$n" = 0 ] && return
        sleep 0.2
    done
    log "warning: $n sessions still open on $BENCH_DB after 20 s"
}

RAW=$WORK/raw.tsv # target mode clients round tps latency_ms transactions cpu_ticks audit_thread_ticks context_switches
: >"$RAW"

run_pgbench() { # target mode clients round
    local target=$1 mode=$2 clients=$3 round=$4 port user pid="" before=0 after=0 out
    local audit_before=0 audit_after=0 cs_before=0 cs_after=0
    read -r port user <<<"$(target_conn "$target")"
    [ "$target" != direct ] && pid=${PID[$target]}
    local jobs=2 flags=(-M "$mode")
    [ "$clients" -lt 2 ] && jobs=1
    # "connect": simple protocol with a new connection for every transaction.
    [ "$mode" = connect ] && flags=(-M simple -C)
    out=$WORK/pgbench-$target-$mode-$clients-$round.log
    wait_upstream_free
    [ -n "$pid" ] && before=$(cpu_ticks "$pid") && cs_before=$(ctx_switches "$pid")
    [[ $target == airlock* ]] && audit_before=$(thread_ticks "$pid" airlock-audit)
    if ! PGPASSWORD=$AGENT_PASSWORD pgbench -S -n -T "$DURATION" -c "$clients" -j "$jobs" "${flags[@]}" \
        -h 127.0.0.1 -p "$port" -U "$user" "$BENCH_DB" >"$out" 2>&1; then
        log "pgbench failed: $target $mode c=$clients round $round (see below)"
        tail -n 5 "$out" >&2
        printf '%s\t%s\t%s\t%s\tERR\tERR\t0\t0\n' "$target" "$mode" "$clients" "$round" >>"$RAW"
        return
    fi
    [ -n "$pid" ] && after=$(cpu_ticks "$pid") && cs_after=$(ctx_switches "$pid")
    [[ $target == airlock* ]] && audit_after=$(thread_ticks "$pid" airlock-audit)
    local tps lat tx
    tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$out" | tail -n 1)
    lat=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$out")
    tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$mode" "$clients" "$round" \
        "${tps:-ERR}" "${lat:-ERR}" "${tx:-0}" $((after - before)) $((audit_after - audit_before)) \
        $((cs_after - cs_before)) >>"$RAW"
    log "$(printf '%-9s %-8s c=%-3s round %s: %10s tps  %8s ms' "$target" "$mode" "$clients" "$round" "${tps:-?}" "${lat:-?}")"
}

# ---- sysbench (MariaDB) ---------------------------------------------------------

MYRAW=$WORK/mysql.tsv # target test threads round tps latency_ms transactions cpu_ticks (none) context_switches
: >"$MYRAW"

# airlock's (or airlockb's) MySQL listener, when it is among the targets.
airlock_mysql_port() { [[ " $TARGETS " == *" $1 "* ]] && echo "$2"; }

mysql_target_port() {
    case $1 in
    direct) echo "$MYSQL_PORT" ;;
    haproxy) echo "$HAPROXY_MYSQL_PORT" ;;
    airlock) airlock_mysql_port airlock "$AIRLOCK_MYSQL_PORT" ;;
    airlockb) airlock_mysql_port airlockb "$AIRLOCKB_MYSQL_PORT" ;;
    esac
}

sysbench_common() { # port [user password database]
    echo --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$1" --mysql-user="${2:-root}" \
        ${3:+--mysql-password="$3"} --mysql-db="${4:-$BENCH_DB}" --tables=4 --table-size=100000
}

init_sysbench() {
    mysql -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u root -e "create database if not exists $BENCH_DB"
    if [ "$REINIT" = 1 ] || ! mysql -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u root -N \
        -e "select count(*) from $BENCH_DB.sbtest4" 2>/dev/null | grep -qx 100000; then
        log "sysbench prepare ($BENCH_DB, 4 tables of 100000 rows)"
        sysbench oltp_read_only $(sysbench_common "$MYSQL_PORT") cleanup >/dev/null 2>&1 || true
        sysbench oltp_read_only $(sysbench_common "$MYSQL_PORT") prepare >"$WORK/sysbench-prepare.log" 2>&1 ||
            { cat "$WORK/sysbench-prepare.log" >&2; die "sysbench prepare failed"; }
    fi
}

run_sysbench() { # target test round
    local target=$1 test=$2 round=$3 port pid="" before=0 after=0 cs_before=0 cs_after=0 out
    port=$(mysql_target_port "$target")
    if [ -z "$port" ]; then
        printf '%s\t%s\t%s\t%s\tn/a\tn/a\t0\t0\n' "$target" "$test" "$SYSBENCH_THREADS" "$round" >>"$MYRAW"
        return
    fi
    [ "$target" != direct ] && pid=${PID[$target]:-}
    out=$WORK/sysbench-$target-$test-$round.log
    local login=() protocol=()
    [[ $target == airlock* ]] && login=("$AGENT" "$AGENT_PASSWORD" "$MYSQL_ENTRY")
    [[ $test == *+text ]] && protocol=(--db-ps-mode=disable)
    [ -n "$pid" ] && before=$(cpu_ticks "$pid") && cs_before=$(ctx_switches "$pid")
    if ! sysbench "${test%+text}" $(sysbench_common "$port" "${login[@]}") "${protocol[@]}" --threads="$SYSBENCH_THREADS" \
        --time="$DURATION" --report-interval=0 run >"$out" 2>&1; then
        log "sysbench failed: $target $test round $round"
        tail -n 5 "$out" >&2
        printf '%s\t%s\t%s\t%s\tERR\tERR\t0\t0\n' "$target" "$test" "$SYSBENCH_THREADS" "$round" >>"$MYRAW"
        return
    fi
    [ -n "$pid" ] && after=$(cpu_ticks "$pid") && cs_after=$(ctx_switches "$pid")
    local tx tps lat
    tx=$(sed -n 's/^ *transactions: *\([0-9]*\) *(\([0-9.]*\) per sec.*/\1/p' "$out")
    tps=$(sed -n 's/^ *transactions: *\([0-9]*\) *(\([0-9.]*\) per sec.*/\2/p' "$out")
    lat=$(sed -n 's/^ *avg: *\([0-9.]*\)$/\1/p' "$out" | head -n 1)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\t%s\n' "$target" "$test" "$SYSBENCH_THREADS" "$round" \
        "${tps:-ERR}" "${lat:-ERR}" "${tx:-0}" $((after - before)) $((cs_after - cs_before)) >>"$MYRAW"
    log "$(printf '%-9s %-18s t=%-3s round %s: %10s tps  %8s ms' "$target" "$test" "$SYSBENCH_THREADS" "$round" "${tps:-?}" "${lat:-?}")"
}

# ---- the table ------------------------------------------------------------------

# Reads a raw TSV and prints the Markdown table. Ratios are per round (each target
# against the reference measured in the same round), then min/median/max over rounds.
table() { # raw-file reference-target second-reference first-column-title
    awk -F'\t' -v ref="$2" -v ref2="$3" -v title="$4" -v clk="$CLK_TCK" '
    function median(s,   a, n, i, j, t) {
        n = split(s, a, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        if (n == 0) return ""
        return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function minof(s,   a, n, i, m) { n = split(s, a, " "); m = a[1]; for (i = 2; i <= n; i++) if (a[i] + 0 < m + 0) m = a[i]; return m }
    function maxof(s,   a, n, i, m) { n = split(s, a, " "); m = a[1]; for (i = 2; i <= n; i++) if (a[i] + 0 > m + 0) m = a[i]; return m }
    function ratio(t, r, key,   s, i, k, n) {
        s = ""
        for (i = 1; i <= rounds; i++) {
            k = key SUBSEP i
            if ((t SUBSEP k) in tps && (r SUBSEP k) in tps && tps[r SUBSEP k] > 0) s = s " " tps[t SUBSEP k] / tps[r SUBSEP k]
        }
        if (s == "") return "–"
        n = split(s, _, " ")
        if (n == 1) return sprintf("%.2f", s)
        return sprintf("%.2f (%.2f–%.2f)", median(s), minof(s), maxof(s))
    }
    {
        t = $1; key = $2 SUBSEP $3; k = key SUBSEP $4
        if ($4 > rounds) rounds = $4
        if (!((t SUBSEP key) in seen)) { seen[t SUBSEP key] = 1; order[++norder] = t SUBSEP key; if (!(key in kseen)) { kseen[key] = 1; keys[++nkeys] = key } }
        if (!(t in tseen)) { tseen[t] = 1; targets[++ntargets] = t }
        if ($5 == "n/a") { na[t SUBSEP key] = 1; next }
        if ($5 == "ERR") { err[t SUBSEP key]++; next }
        tps[t SUBSEP k] = $5; lat[t SUBSEP k] = $6
        tpsl[t SUBSEP key] = tpsl[t SUBSEP key] " " $5
        latl[t SUBSEP key] = latl[t SUBSEP key] " " $6
        if ($7 > 0 && t != "direct") cpul[t SUBSEP key] = cpul[t SUBSEP key] " " ($8 * 1000000 / clk) / $7
        if ($7 > 0 && t != "direct" && $10 != "") csl[t SUBSEP key] = csl[t SUBSEP key] " " $10 / $7
        if ($7 > 0 && t ~ /^airlock/ && $9 != "") auditl[t SUBSEP key] = auditl[t SUBSEP key] " " ($9 * 1000000 / clk) / $7
    }
    END {
        print "| target | " title " | clients | TPS min | TPS median | TPS max | × direct | × " ref2 " | proxy CPU µs/tx | proxy switches/tx | latency ms | + latency µs vs direct |"
        print "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        for (ki = 1; ki <= nkeys; ki++) for (ti = 1; ti <= ntargets; ti++) {
            key = keys[ki]; t = targets[ti]; tk = t SUBSEP key
            if (!(tk in seen)) continue
            split(key, kk, SUBSEP)
            if (tk in na) { printf "| %s | %s | %s | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a |\n", t, kk[1], kk[2]; continue }
            if (!(tk in tpsl)) { printf "| %s | %s | %s | error | error | error | – | – | – | – | – | – |\n", t, kk[1], kk[2]; continue }
            cpu = (tk in cpul) ? sprintf("%.1f", median(cpul[tk])) : "–"
            if (tk in auditl) cpu = cpu sprintf(" (audit thread %.1f)", median(auditl[tk]))
            cs = (tk in csl) ? sprintf("%.2f", median(csl[tk])) : "–"
            l = median(latl[tk]); rl = ((ref SUBSEP key) in latl) ? median(latl[ref SUBSEP key]) : ""
            added = (rl != "" && t != ref) ? sprintf("%+.0f", (l - rl) * 1000) : "–"
            note = (tk in err) ? sprintf(" (%d failed)", err[tk]) : ""
            printf "| %s%s | %s | %s | %.0f | %.0f | %.0f | %s | %s | %s | %s | %.3f | %s |\n", t, note, kk[1], kk[2], \
                minof(tpsl[tk]), median(tpsl[tk]), maxof(tpsl[tk]), \
                (t == ref) ? "1.00" : ratio(t, ref, key), (t == ref2) ? "1.00" : ratio(t, ref2, key), cpu, cs, l, added
        }
    }' "$1"
}

# What the airlock under test makes of pgbench -S's statement: a build whose
# classifier is still the stub calls it `unknown`.
classifier_label() {
    [ -n "${AIRLOCK:-}" ] || { echo "airlock not run"; return; }
    local out
    mkdir -p "$WORK/check-rules"
    printf '[[rule]]\nname = "x"\naction = "allow"\n' >"$WORK/check-rules/x.toml"
    out=$("$AIRLOCK" --config /nonexistent check --rules "$WORK/check-rules" --format json \
        -e 'SELECT abalance FROM pgbench_accounts WHERE aid = 1' 2>&1) || true
    case $out in
    *'"class":"read"'*) echo "real classifier (pgbench -S's SELECT classified read)" ;;
    *'"class":"unknown"'*) echo "STUB classifier (pgbench -S's SELECT classified unknown)" ;;
    *) echo "classifier: not determined (airlock check said: ${out:0:80})" ;;
    esac
}

# ---- main -----------------------------------------------------------------------

main() {
    install_missing
    for p in $AIRLOCK_PORT $AIRLOCK1_PORT $AIRLOCKB_PORT $PGBOUNCER_PORT $HAPROXY_PORT; do
        port_free "$p" || die "port $p is in use (set AIRLOCK_PORT / AIRLOCK1_PORT / AIRLOCKB_PORT / PGBOUNCER_PORT / HAPROXY_PORT)"
    done
    [ "$MYSQL" = 1 ] && for p in $HAPROXY_MYSQL_PORT $AIRLOCK_MYSQL_PORT $AIRLOCKB_MYSQL_PORT; do
        port_free "$p" || die "port $p is in use (set HAPROXY_MYSQL_PORT / AIRLOCK_MYSQL_PORT / AIRLOCKB_MYSQL_PORT)"
    done
    local t
    for t in $TARGETS; do target_conn "$t" >/dev/null; done
    [[ " $TARGETS " == *" airlock"[\ 1b]* ]] && build_airlock
    init_pgbench
    [ "$MYSQL" = 1 ] && init_sysbench
    [[ " $TARGETS " == *" airlock "* ]] && start_airlock airlock "$AIRLOCK_PORT" "$MYSQL"
    [[ " $TARGETS " == *" airlock1 "* ]] && start_airlock airlock1 "$AIRLOCK1_PORT" 0 AIRLOCK_WORKER_THREADS=1
    [[ " $TARGETS " == *" airlockb "* ]] && start_airlock airlockb "$AIRLOCKB_PORT" "$MYSQL" ${AIRLOCK_B_ENV:-}
    [[ " $TARGETS " == *" pgbouncer "* ]] && start_pgbouncer
    { [[ " $TARGETS " == *" haproxy "* ]] || [ "$MYSQL" = 1 ]; } && start_haproxy

    local started load
    started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    local all_clients=$CLIENTS
    [ "$LATENCY" = 1 ] && [[ " $CLIENTS " != *" 1 "* ]] && all_clients="$CLIENTS 1"
    log "pgbench -S: rounds=$ROUNDS duration=${DURATION}s modes=($MODES) clients=($all_clients) targets=($TARGETS)"
    local round mode clients
    for ((round = 1; round <= ROUNDS; round++)); do
        for mode in $MODES; do
            for clients in $all_clients; do
                for t in $TARGETS; do run_pgbench "$t" "$mode" "$clients" "$round"; done
            done
        done
        if [ "$CONNECT" = 1 ]; then
            for t in $TARGETS; do run_pgbench "$t" connect "$CONNECT_CLIENTS" "$round"; done
        fi
    done
    if [ "$MYSQL" = 1 ]; then
        local test mysql_targets="direct haproxy airlock"
        [[ " $TARGETS " == *" airlockb "* ]] && mysql_targets+=" airlockb"
        for ((round = 1; round <= ROUNDS; round++)); do
            for test in $SYSBENCH_TESTS; do
                for t in $mysql_targets; do run_sysbench "$t" "$test" "$round"; done
            done
        done
    fi

    local airlock_rev classifier
    airlock_rev=$(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
    classifier="$(classifier_label)"
    local rules_label="allow-everything rules"
    [ "$AIRLOCK_RULES" = default ] && rules_label="the shipped default rules"
    {
        echo "# Load benchmark: pgbench -S (scale $SCALE)"
        echo
        echo "- date: $started; nproc: $(nproc); load average before: $load"
        echo "- command: \`$COMMAND_LINE\`"
        echo "- airlock: $airlock_rev, $classifier, $rules_label, auditing on (SQLite store)"
        echo "- versions: $(pgbench --version | head -n 1); $(pgbouncer --version 2>/dev/null | head -n 1 || true); $(haproxy -v 2>/dev/null | head -n 1 | cut -d' ' -f1-3 || true)"
        echo "- pgbench -S -n -T $DURATION -j 2 (-j 1 at 1 client); rounds: $ROUNDS, targets interleaved within each round"
        [ "$CONNECT" = 1 ] && echo "- mode connect: pgbench -S -C -M simple, a new connection per transaction ($CONNECT_CLIENTS clients); PgBouncer's and airlock's agents log in with SCRAM-SHA-256, direct and haproxy with trust"
        echo
        echo "× columns: per-round TPS ratio against the target measured in the same round, median (min–max) over rounds."
        echo "proxy CPU: utime+stime of the proxy process over the run / transactions, median over rounds;"
        echo "for airlock, the part spent by its audit writer thread (airlock-audit) in brackets."
        echo
        table "$RAW" direct pgbouncer mode
        if [ "$MYSQL" = 1 ]; then
            echo
            echo "# Load benchmark: sysbench against MariaDB ($SYSBENCH_THREADS threads, 4 tables × 100000 rows)"
            echo
            echo "airlock: its MySQL listener, agent \`$AGENT\` (mysql_native_password), same rules and audit as above."
            echo "Tests ending in +text ran over the text protocol (\`--db-ps-mode=disable\`: COM_QUERY, values in the text); the others with server-side prepared statements."
            echo
            table "$MYRAW" direct haproxy test
        fi
    } >"$WORK/latest.md"
    mkdir -p "$(dirname "$RESULTS")"
    cp "$WORK/latest.md" "$RESULTS"
    cat "$WORK/latest.md"
    log "written to $RESULTS"
}

main "$@"
