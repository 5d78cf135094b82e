# bench/lib.sh: helpers sourced by bench/run, bench/crash and bench/soak (not executable).
# Everything listens on 127.0.0.1 only, on ports derived from BENCH_PORT (default: a random
# free base between 20000 and 31900).

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
# ports_free BASE: nothing listens on any port the bench derives from BASE.
ports_free() {
  local o
  for o in 25 26 27 53 80 90 125 432; do
    (exec 3<>"/dev/tcp/127.0.0.1/$(($1 + o))") 2>/dev/null && return 1
  done
  return 0
}
# Without BENCH_PORT, a random free base below the ephemeral range, so two benches (or a
# bench and .ci/run's crash run) on one machine do not talk to each other's servers.
if [ -z "${BENCH_PORT:-}" ]; then
  for _ in $(seq 50); do
    BENCH_PORT=$((20000 + (RANDOM % 120) * 100))
    ports_free "$BENCH_PORT" && break
  done
fi
P_SINK=$((BENCH_PORT + 25))   # smtp-sink: the ceiling, and the relay for acknowledgements
P_PFX=$((BENCH_PORT + 26))    # throwaway Postfix
P_MX=$((BENCH_PORT + 27))     # mxdesk serve, SMTP
P_WEB=$((BENCH_PORT + 80))    # mxdesk serve, portal
P_DNS=$((BENCH_PORT + 53))    # loopback DNS for DKIM keys
P_PG=$((BENCH_PORT + 432))    # throwaway PostgreSQL
P_ACK=$((BENCH_PORT + 125))   # loadgen sink (crash, soak): records acks by Message-ID
P_METRICS=$((BENCH_PORT + 90)) # mxdesk serve, /metrics (binaries that have it)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
export PATH=$PATH:/usr/local/go/bin:/usr/sbin:/usr/bin

# mxdesk reads MXDESK_* variables as configuration and refuses unknown ones: the bench's
# configuration is its file only.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^MXDESK_' || true)

now() { date +%s.%N; }
log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", b-a}'; }
rate() { awk -v n="$1" -v t="$2" 'BEGIN{ if (t > 0) printf "%.0f", n/t; else print 0 }'; }
# per_msg MS N: milliseconds per message, two decimals; empty when MS is.
per_msg() { [ -n "$1" ] || return 0; awk -v a="$1" -v n="$2" 'BEGIN{ if (n > 0) printf "%.2f", a/n; else print "-" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "-" }'; }
median() {
  [ $# -gt 0 ] || { echo "-"; return; }
  printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2 }'
}
# jget JSON KEY: a number or string field of a flat JSON object (no jq on a fresh box).
jget() { sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$1"; }

wait_port() { # wait_port PORT [SECONDS]
  local i
  for i in $(seq $(( ${2:-20} * 10 ))); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# install_peers: Postfix (smtp-source, smtp-sink, the MTA) and dkimpy from Debian, only
# what is missing. The postfix package must not leave a system MTA running.
install_peers() {
  local need=() sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  command -v smtp-source >/dev/null && command -v smtp-sink >/dev/null && command -v postfix >/dev/null || need+=(postfix)
  [ "${1:-}" = dkim ] && { /usr/bin/python3 -c 'import dkim' 2>/dev/null || need+=(python3-dkim); }
  [ -x "$PGBIN/initdb" ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
  command -v runuser >/dev/null || need+=(util-linux)
  command -v ss >/dev/null || need+=(iproute2)
  [ ${#need[@]} -eq 0 ] && return 0
  log "installing from Debian: ${need[*]}"
  echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
  echo "postfix postfix/mailname string localhost" | $sudo debconf-set-selections
  DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  $sudo postfix stop >/dev/null 2>&1 || true
  [ -x "$PGBIN/initdb" ] || PGBIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | tail -1)")
}

# build BINDIR: mxdesk (unless MXDESK_BIN names one) and the bench tools.
build() {
  local bin=$1
  mkdir -p "$bin"
  if [ -n "${BENCH_MXDESK:-}" ]; then
    cp "$BENCH_MXDESK" "$bin/mxdesk"
  else
    (cd "$ROOT" && go build -o "$bin/mxdesk" ./cmd/mxdesk) || die "go build ./cmd/mxdesk failed (the tree may be mid-change; BENCH_MXDESK=path uses a built binary)"
  fi
  (cd "$ROOT" && go build -o "$bin/" ./bench/loadgen ./bench/verify ./bench/dnsd ./bench/seed) || die "building bench tools failed"
}

# has_section MXDESK NAME: the binary's example configuration has a [NAME] section.
has_section() { "$1" check-config --example 2>/dev/null | grep -q "^\[$2\]"; }
# dkim_available MXDESK: the binary has the [dns] section DKIM verification needs.
dkim_available() { has_section "$1" dns; }

# dkim_setup DIR TEMPLATES...: make a key and a zone for example.org under DIR and sign
# every template directory in place (dkimpy; Message-ID stays unsigned: loadgen adds a
# unique one to each message). Starts dnsd on P_DNS; its pid goes to DIR/dnsd.pid.
dkim_setup() {
  local dir=$1; shift
  mkdir -p "$dir"
  (cd "$dir" && dknewkey sel >/dev/null 2>&1) || die "dknewkey failed (python3-dkim)"
  { printf 'sel._domainkey.example.org %s\n' "$(tr -d '\n' <"$dir/sel.dns")"
    printf 'example.org v=spf1 ip4:127.0.0.1 -all\n'
    printf '_dmarc.example.org v=DMARC1; p=reject\n'; } >"$dir/zone.txt"
  /usr/bin/python3 - "$dir/sel.key" "$@" <<'PY' || die "signing templates failed"
import sys, glob, dkim
key = open(sys.argv[1], "rb").read()
for d in sys.argv[2:]:
    for p in sorted(glob.glob(d + "/*.eml")):
        msg = open(p, "rb").read()
        sig = dkim.sign(msg, b"sel", b"example.org", key,
                        include_headers=[b"from", b"to", b"subject", b"date", b"mime-version", b"content-type"])
        open(p, "wb").write(sig + msg)
PY
  "$BIN/dnsd" -listen "127.0.0.1:$P_DNS" -zone "$dir/zone.txt" 2>"$dir/dnsd.log" &
  echo $! >"$dir/dnsd.pid"
}

# mx_config FILE DBURL DATADIR [EXTRA]: a serve configuration for the bench.
mx_config() {
  local dns="" metrics=""
  [ "${DKIM_ON:-0}" = 1 ] && dns=$'[dns]\nserver = "127.0.0.1:'$P_DNS'"'
  # Binaries with a [metrics] section listen on a fixed default port: give it ours.
  has_section "$BIN/mxdesk" metrics && metrics=$'[metrics]\nlisten = "127.0.0.1:'$P_METRICS'"'
  # and the profiler, where it has one (bench/README.md: profiling a cell).
  "$BIN/mxdesk" check-config --example 2>/dev/null | grep -q '^pprof' && metrics+=$'\npprof = true'
  cat >"$1" <<EOF
domain = "example.com"
database_url = "$2"
data_dir = "$3"
log_level = "info"
[smtp]
listen = "127.0.0.1:$P_MX"
hostname = "mx.example.com"
[[mailboxes]]
address = "support@example.com"
team = "Support"
[outbound]
relay = "127.0.0.1:${ACK_PORT:-$P_SINK}"
from = "Example Support <support@example.com>"
# Every ticket is acknowledged (the loop guard would stop after 10 per sender and hour,
# and smtp-source sends everything from one address).
max_auto_per_hour = ${MAX_AUTO:-100}
[portal]
listen = "127.0.0.1:$P_WEB"
${4:-}
$dns
$metrics
EOF
}

# mx_start CONFIG LOG: start serve, wait for its SMTP port; sets MX_PID.
mx_start() {
  "$BIN/mxdesk" --config "$1" serve >>"$2" 2>&1 &
  MX_PID=$!
  wait_port "$P_MX" 30 || { tail -20 "$2" >&2; die "serve did not listen on $P_MX"; }
  # Whoever answers must be this serve, not another bench's.
  local i
  for i in $(seq 50); do
    ss -Hltnp "sport = :$P_MX" 2>/dev/null | grep -q "pid=$MX_PID," && return 0
    kill -0 "$MX_PID" 2>/dev/null || break
    sleep 0.1
  done
  tail -5 "$2" >&2
  die "127.0.0.1:$P_MX is not served by our serve (pid $MX_PID): another process holds the port (set BENCH_PORT)"
}

# mx_stop [SIGNAL]: stop serve and wait for it.
mx_stop() {
  [ -n "${MX_PID:-}" ] || return 0
  kill "-${1:-TERM}" "$MX_PID" 2>/dev/null || true
  wait "$MX_PID" 2>/dev/null || true
  MX_PID=""
}

# metric NAME: an unlabelled sample from serve's /metrics (empty when there is none).
metric() {
  { exec 3<>"/dev/tcp/127.0.0.1/$P_METRICS"; } 2>/dev/null || return 0
  printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  awk -v n="$1" '$1 == n {print $2; exit}' <&3
  exec 3<&-
}

# cpu_ms PID: the CPU time a process has used so far (user and system), in ms.
CLK_TCK=$(getconf CLK_TCK)
cpu_ms() { awk -v c="$CLK_TCK" '{sub(/^.*\) /, ""); print int(($12 + $13) * 1000 / c)}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# tree_cpu_ms PID: the CPU time a server has used so far: its master process's own,
# its children's that have exited (reaped by the master: cutime, cstime) and its live
# children's. pg_cpu_ms DIR and pfx_cpu_ms DIR: the PostgreSQL cluster's and Postfix's.
tree_cpu_ms() {
  [ -n "$1" ] || { echo 0; return; }
  # Processes come and go while the files are read: cat's complaints are not failures.
  # The fields are counted from the end of the name, which may hold spaces.
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v pm="$1" -v c="$CLK_TCK" '
    {pid = $1; sub(/^.*\) /, "")}
    pid == pm {t += $12 + $13 + $14 + $15}
    pid != pm && $2 == pm {t += $12 + $13}
    END {print int(t * 1000 / c)}'
}
pg_cpu_ms() { tree_cpu_ms "$(head -1 "$1/data/postmaster.pid" 2>/dev/null)"; }
pfx_cpu_ms() { tree_cpu_ms "$(tr -d ' ' 2>/dev/null <"$1/spool/pid/master.pid")"; }
rss_kb() { awk '/^VmRSS/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm_kb() { awk '/^VmHWM/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# PostgreSQL: one throwaway cluster per bench run, a fresh database per measurement.
# PG_URL_PARAMS is appended to serve's database URL (e.g. binary_parameters=yes).
# Serve reaches it over its Unix socket, as a local database is normally set up (every
# statement is a round trip, and the socket's are ~20 % cheaper here); PG_SOCKET=0 uses
# TCP on 127.0.0.1 instead.
# PG_SERVER_OPTS adds server options (e.g. "-c log_autovacuum_min_duration=0"); PG_STATS=1
# loads pg_stat_statements into the cluster: bench/run then writes what the
# server spent its time on during each smtp-source run and its catch-up to
# mx-postgres-REP/pg_stat_statements.txt.
pg_start() { # pg_start DIR -> prints the URL of database "bench"
  local opts=""
  [ "${PG_STATS:-0}" = 1 ] && opts="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all -c pg_stat_statements.track_planning=on -c track_io_timing=on"
  PG_SERVER_OPTS="${PG_SERVER_OPTS:-} $opts" "$ROOT/.ci/postgres" start "$1" "$P_PG" >/dev/null || die "PostgreSQL did not start"
  [ "${PG_STATS:-0}" = 1 ] && pg_psql -d postgres -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
  pg_recreate bench
  if [ "${PG_SOCKET:-1}" = 1 ]; then
    echo "postgres://postgres@/bench?host=$(cd "$1" && pwd)&port=$P_PG&sslmode=disable${PG_URL_PARAMS:+&$PG_URL_PARAMS}"
  else
    echo "postgres://postgres@127.0.0.1:$P_PG/bench?sslmode=disable${PG_URL_PARAMS:+&$PG_URL_PARAMS}"
  fi
}
# pg_stats_reset / pg_stats_dump FILE: with PG_STATS=1, start counting afresh / write
# the statements that took the server's time since, the costliest first.
pg_stats_reset() { [ "${PG_STATS:-0}" = 1 ] && pg_psql -d postgres -c "SELECT pg_stat_statements_reset()" >/dev/null || true; }
pg_stats_dump() {
  [ "${PG_STATS:-0}" = 1 ] || return 0
  pg_psql -d postgres -P pager=off -c "SELECT count(*) AS statements, sum(calls) AS calls,
      round(sum(total_exec_time)::numeric) AS exec_ms, round(sum(total_plan_time)::numeric) AS plan_ms,
      sum(wal_bytes) AS wal_bytes FROM pg_stat_statements WHERE toplevel" \
    -c "SELECT calls, round(total_exec_time::numeric, 1) AS total_ms,
      round((total_exec_time / calls)::numeric, 3) AS mean_ms, rows,
      shared_blks_hit + shared_blks_read AS blks, wal_bytes, toplevel AS top,
      regexp_replace(left(query, 150), '\s+', ' ', 'g') AS query
    FROM pg_stat_statements WHERE calls > 0 ORDER BY total_exec_time DESC LIMIT 60" >"$1" 2>&1 || true
}
pg_stop() { "$ROOT/.ci/postgres" stop "$1" || true; }
pg_psql() { PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$P_PG" -U postgres "$@"; }
pg_recreate() { # pg_recreate DB [TEMPLATE]
  pg_psql -d postgres -c "DROP DATABASE IF EXISTS $1" >/dev/null
  if [ -n "${2:-}" ]; then
    # A copy of the grown template (gigabytes), copied as files: PostgreSQL 15's default
    # writes it all to the WAL, and the checkpoints that forces ran on into the
    # measurement (bench/run's quiesce checkpoints before each run).
    pg_psql -d postgres -c "CREATE DATABASE $1 TEMPLATE $2 STRATEGY = FILE_COPY" >/dev/null 2>&1 \
      || pg_psql -d postgres -c "CREATE DATABASE $1 TEMPLATE $2" >/dev/null
  else
    pg_psql -d postgres -c "CREATE DATABASE $1" >/dev/null
  fi
}

# Throwaway Postfix on 127.0.0.1:P_PFX delivering every example.com address to one
# Maildir (the same setup as ../shared/peers/postfix_peer.sh: no chroot, no DNS, its own
# queue directory, logs to a file).
pfx_start() { # pfx_start DIR
  local P=$1 E=$1/etc
  mkdir -p "$E" "$P/spool" "$P/data" "$P/mail/support"/{new,cur,tmp}
  chown -R nobody:nogroup "$P/mail"
  chown postfix "$P/data"
  cat >"$E/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $P/spool
data_directory = $P/data
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
command_directory = /usr/sbin
mail_owner = postfix
setgid_group = postdrop
maillog_file_prefixes = $P
maillog_file = $P/maillog
myhostname = mx.example.com
mydomain = example.com
myorigin = example.com
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
smtpd_client_connection_count_limit = 0
smtpd_client_event_limit_exceptions = 127.0.0.0/8
message_size_limit = 52428800
mailbox_size_limit = 0
biff = no
mydestination = example.com
luser_relay = support
local_recipient_maps =
alias_maps = texthash:$E/aliases
alias_database =
EOF
  echo "support $P/mail/support/" >"$E/aliases"
  awk -v port="$P_PFX" '
    /^#/ || /^[ \t]*$/ || /^[ \t]/ { next }
    $1 ~ /^(maildrop|uucp|ifmail|bsmtp|scalemail-backend|mailman)$/ { next }
    $1 == "smtp" && $2 == "inet" { $1 = "127.0.0.1:" port; $7 = 200 }
    { $5 = "n"; print }' /etc/postfix/master.cf >"$E/master.cf"
  postfix -c "$E" check || die "postfix check failed"
  postfix -c "$E" start >/dev/null 2>&1 || die "postfix did not start (see $P/maillog)"
  wait_port "$P_PFX" 20 || die "postfix does not listen on $P_PFX"
}
pfx_stop() { [ -f "$1/etc/main.cf" ] && postfix -c "$1/etc" stop >/dev/null 2>&1 || true; }
pfx_count() { find "$1/mail/support/new" -maxdepth 1 -type f | wc -l; }
