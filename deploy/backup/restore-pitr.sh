#!/usr/bin/env bash
# Point-in-time restore into a fresh data directory: unpacks a base backup (base-backup.sh), configures recovery
# from the WAL archive (archive-wal.sh) to a timestamp or to the end of the archive, starts the server and waits
# until recovery has finished and it has been promoted (accepts writes).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$(readlink -f "$0")")/lib.sh"
run_as_db_user "$@"

usage() {
  cat <<'USAGE'
usage: restore-pitr.sh --backup DIR --wal-archive DIR (--target-time TS | --latest) --pgdata NEWDIR
                       [--port PORT] [--listen ADDRESSES] [--set NAME=VALUE]... [--keep-archiving]
                       [--timeout SECONDS] [--log FILE]

  --backup DIR         one base backup written by base-backup.sh (DIR/base.tar.gz, pg_wal.tar.gz, backup.info)
  --wal-archive DIR    the WAL archive written by archive-wal.sh
  --target-time TS     recover the transactions committed at or before TS (a timestamp with time zone,
                       e.g. '2026-12-03 14:30:00+00'), then promote
  --latest             recover everything in the archive, then promote
  --pgdata NEWDIR      the new data directory (must not exist, or be empty)
  --port PORT          port of the restored server (default: the backed-up configuration's)
  --listen ADDRESSES   listen_addresses of the restored server (default: the backed-up configuration's)
  --set NAME=VALUE     another server setting for the restored server (repeatable)
  --keep-archiving     keep the backed-up archive_mode; by default the restored server does not archive, so a
                       drill or a copy restored beside production never writes a new timeline into its archive
  --timeout SECONDS    give up waiting for the end of recovery after this long (default 600)
  --log FILE           server log (default NEWDIR/restore-pitr.log)

Prints `restored pgdata=... port=... pid=... seconds=...` on stdout when the server accepts writes; the server keeps
running (stop it with: pg_ctl stop -D NEWDIR).
Runs as the database's OS user ($PG_OS_USER, default postgres) when started as root.
Exit codes: 0 restored and promoted, 1 restore or recovery failed (see the log; a server it started is stopped),
2 usage, 3 the server could not bind its port (in use: nothing was restored into a running server; remove NEWDIR
and run again with another port).
USAGE
}

backup='' archive='' target='' latest=false pgdata='' port='' listen='' keep_archiving=false timeout=600 logfile=''
settings=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --backup) need_value "$1" "${2:-}"; backup=$2; shift 2 ;;
    --wal-archive) need_value "$1" "${2:-}"; archive=$2; shift 2 ;;
    --target-time) need_value "$1" "${2:-}"; target=$2; shift 2 ;;
    --latest) latest=true; shift ;;
    --pgdata) need_value "$1" "${2:-}"; pgdata=$2; shift 2 ;;
    --port) need_value "$1" "${2:-}"; [[ "$2" =~ ^[0-9]+$ ]] || usage_error "--port must be a number, got $2"; port=$2; shift 2 ;;
    --listen) need_value "$1" "${2:-}"; listen=$2; shift 2 ;;
    --set)
      need_value "$1" "${2:-}"
      [[ "$2" =~ ^[a-z_][a-z0-9_.]*=.+$ ]] || usage_error "--set takes NAME=VALUE, got $2"
      settings+=("$2"); shift 2 ;;
    --keep-archiving) keep_archiving=true; shift ;;
    --timeout) need_value "$1" "${2:-}"; [[ "$2" =~ ^[0-9]+$ ]] || usage_error "--timeout must be a number of seconds, got $2"; timeout=$2; shift 2 ;;
    --log) need_value "$1" "${2:-}"; logfile=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown option $1" ;;
  esac
done
[[ -n "$backup" ]] || usage_error "--backup is required"
[[ -n "$archive" ]] || usage_error "--wal-archive is required"
[[ -n "$pgdata" ]] || usage_error "--pgdata is required"
if [[ -n "$target" && "$latest" == true ]]; then usage_error "--target-time and --latest exclude each other"; fi
if [[ -z "$target" && "$latest" == false ]]; then usage_error "one of --target-time or --latest is required"; fi

for f in base.tar.gz pg_wal.tar.gz backup.info; do
  [[ -f "$backup/$f" ]] || die "--backup $backup has no $f: not a backup written by base-backup.sh"
done
[[ -d "$archive" ]] || die "--wal-archive $archive is not a directory"
archive=$(readlink -f "$archive")
# The paths are quoted inside a postgresql.conf string: refuse the characters that would end it.
[[ "$archive" != *"'"* && "$archive" != *'"'* ]] || die "--wal-archive path must not contain quotes"
if [[ -n "$target" ]]; then
  target_epoch=$(date -d "$target" +%s 2>/dev/null) || usage_error "--target-time is not a timestamp: $target"
  end_time=$(read_info "$backup/backup.info" end_time)
  # Recovery cannot stop before the backup is consistent; say so here rather than in a FATAL in the server log.
  if ((target_epoch < $(date -d "$end_time" +%s))); then
    die "--target-time $target is before the end of this backup ($end_time): use an older base backup"
  fi
fi
if [[ -e "$pgdata" && -n "$(ls -A "$pgdata")" ]]; then die "--pgdata $pgdata exists and is not empty"; fi

bin=$(pg_bindir)
started=$(date +%s.%N)
mkdir -p "$pgdata"
chmod 700 "$pgdata"
pgdata=$(readlink -f "$pgdata")
logfile=${logfile:-$pgdata/restore-pitr.log}
log "unpacking $backup into $pgdata"
tar -xzf "$backup/base.tar.gz" -C "$pgdata"
tar -xzf "$backup/pg_wal.tar.gz" -C "$pgdata/pg_wal"

# Recovery refuses to run with fewer of these than the primary ran with (pg_control records them): use those.
controldata=$("$bin/pg_controldata" "$pgdata")
floors=()
for name in max_connections max_worker_processes max_wal_senders max_prepared_xacts max_locks_per_xact; do
  value=$(sed -n "s/^${name} setting: *\([0-9]*\)$/\1/p" <<<"$controldata")
  setting=${name/max_prepared_xacts/max_prepared_transactions}
  setting=${setting/max_locks_per_xact/max_locks_per_transaction}
  [[ -z "$value" ]] || floors+=("$setting=$value")
done

# postgresql.auto.conf is read last: these override whatever the backed-up configuration says.
{
  echo "# written by restore-pitr.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ) from $backup"
  echo "restore_command = 'cp \"$archive/%f\" \"%p\"'"
  if [[ -n "$target" ]]; then
    echo "recovery_target_time = '$target'"
    echo "recovery_target_inclusive = on"
    echo "recovery_target_action = 'promote'"
  fi
  [[ -z "$port" ]] || echo "port = $port"
  [[ -z "$listen" ]] || echo "listen_addresses = '$listen'"
  [[ "$keep_archiving" == true ]] || echo "archive_mode = off"
  for s in "${floors[@]}" "${settings[@]}"; do echo "${s%%=*} = '${s#*=}'"; done
} >>"$pgdata/postgresql.auto.conf"
touch "$pgdata/recovery.signal"

log "starting recovery (${target:-to the end of the archive}), log $logfile"
# pg_ctl -w returns once the server accepts read-only connections (consistent) or fails if it exits; the loop
# below then waits for the end of recovery and the promotion.
# Why a server that stopped did so, in words, from its log.
explain_stop() {
  tail -n 20 "$logfile" >&2 || true
  if grep -q 'could not bind .*Address already in use\|could not create any TCP/IP sockets' "$logfile"; then
    log "error: port ${port:-of the configuration} is in use (see $logfile)"
    exit 3
  fi
  if grep -q 'recovery ended before configured recovery target was reached' "$logfile"; then
    die "the WAL archive ends before --target-time $target: no transaction after it was archived (see $logfile)"
  fi
  die "$1 (see $logfile)"
}
# A restore that fails once the server runs (recovery too slow, no promotion) stops it: exit 1 leaves nothing running.
stop_on_failure() {
  local code=$?
  if ((code != 0)) && "$bin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
    log "stopping the server of the failed restore"
    "$bin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null 2>&1 || "$bin/pg_ctl" -D "$pgdata" -m immediate stop >/dev/null 2>&1 || true
  fi
  exit "$code"
}
trap stop_on_failure EXIT
if ! "$bin/pg_ctl" -D "$pgdata" -l "$logfile" -w -t "$timeout" start >/dev/null; then
  explain_stop "the server did not start"
fi

# postmaster.pid: line 1 pid, 4 port, 5 first socket directory, 6 first listen address.
pidfile_line() { sed -n "$1p" "$pgdata/postmaster.pid" 2>/dev/null || true; }
deadline=$(($(date +%s) + timeout))
state=''
while :; do
  if ! "$bin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
    explain_stop "the server stopped during recovery"
  fi
  pid=$(pidfile_line 1) port=$(pidfile_line 4) socket=$(pidfile_line 5) address=$(pidfile_line 6)
  host=${socket:-$address}
  [[ "$host" != "*" && "$host" != "0.0.0.0" ]] || host=127.0.0.1
  if [[ -n "$port" && -n "$host" ]]; then
    state=$("$bin/psql" -h "$host" -p "$port" -U "${PGUSER:-postgres}" -d postgres -XAtq -w \
      -c 'select pg_is_in_recovery()' 2>/dev/null || true)
    [[ "$state" != f ]] || break
  fi
  if (($(date +%s) >= deadline)); then die "recovery did not finish in ${timeout}s (see $logfile)"; fi
  sleep 0.2
done
seconds=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
log "recovered and promoted in ${seconds}s: $(grep -E 'recovery stopping|redo done|last completed transaction' "$logfile" | tail -n 2 | tr '\n' ' ')"
printf 'restored pgdata=%s port=%s pid=%s seconds=%s\n' "$pgdata" "$port" "$pid" "$seconds"
