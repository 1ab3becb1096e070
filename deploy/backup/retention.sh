#!/usr/bin/env bash
# Retention of base backups and of the WAL archive: keeps the newest N base backups (and, with a recovery window,
# every backup needed to restore to any moment of the last D days), deletes the others, then deletes the archived
# WAL older than the first segment the oldest kept backup needs (pg_archivecleanup).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$(readlink -f "$0")")/lib.sh"
run_as_db_user "$@"

usage() {
  cat <<'USAGE'
usage: retention.sh --backups DIR --wal-archive DIR --keep N [--recovery-window-days D] [--dry-run]

  --backups DIR              root directory of the base backups (base-backup.sh --dest)
  --wal-archive DIR          the WAL archive (archive-wal.sh)
  --keep N                   keep the newest N base backups (N >= 1)
  --recovery-window-days D   also keep every backup younger than D days and the newest one older than that, so
                             any moment of the last D days can be restored
  --dry-run                  print what would be deleted, delete nothing

Timeline history files (.history) are never deleted. Directories .partial-* left by a failed base backup are
deleted once older than a day.
Exit codes: 0 done, 1 failed, 2 usage.
USAGE
}

backups='' archive='' keep='' window='' dry_run=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --backups) need_value "$1" "${2:-}"; backups=$2; shift 2 ;;
    --wal-archive) need_value "$1" "${2:-}"; archive=$2; shift 2 ;;
    --keep) need_value "$1" "${2:-}"; [[ "$2" =~ ^[1-9][0-9]*$ ]] || usage_error "--keep must be a number >= 1, got $2"; keep=$2; shift 2 ;;
    --recovery-window-days) need_value "$1" "${2:-}"; [[ "$2" =~ ^[0-9]+$ ]] || usage_error "--recovery-window-days must be a number, got $2"; window=$2; shift 2 ;;
    --dry-run) dry_run=true; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown option $1" ;;
  esac
done
[[ -n "$backups" ]] || usage_error "--backups is required"
[[ -n "$archive" ]] || usage_error "--wal-archive is required"
[[ -n "$keep" ]] || usage_error "--keep is required"
[[ -d "$backups" ]] || die "--backups $backups is not a directory"
[[ -d "$archive" ]] || die "--wal-archive $archive is not a directory"

# Backup directories are named by their UTC start time: name order is time order.
mapfile -t all < <(find "$backups" -mindepth 1 -maxdepth 1 -type d -regextype posix-extended \
  -regex '.*/[0-9]{8}T[0-9]{6}Z' -printf '%f\n' | sort)
count=${#all[@]}
if ((count == 0)); then log "no base backups in $backups: nothing deleted (the WAL archive is kept whole)"; exit 0; fi

stamp_epoch() { date -d "$(sed -E 's/^(....)(..)(..)T(..)(..)(..)Z$/\1-\2-\3 \4:\5:\6 UTC/' <<<"$1")" +%s; }
now=$(date +%s)
oldest_kept=$((count - keep < 0 ? 0 : count - keep))
if [[ -n "$window" ]]; then
  window_start=$((now - window * 86400))
  # The newest backup that started at or before the window's start, and everything after it.
  for ((i = count - 1; i >= 0; i--)); do
    if ((i < oldest_kept)); then oldest_kept=$i; fi
    if (($(stamp_epoch "${all[i]}") <= window_start)); then break; fi
  done
fi

oldest="${all[oldest_kept]}"
start_wal=$(read_info "$backups/$oldest/backup.info" start_wal)
[[ "$start_wal" =~ ^[0-9A-F]{24}$ ]] || die "$backups/$oldest/backup.info: start_wal is not a WAL file name: $start_wal"

act() { if [[ "$dry_run" == true ]]; then log "would delete $1"; else log "deleting $1"; rm -rf -- "$1"; fi; }
for ((i = 0; i < oldest_kept; i++)); do act "$backups/${all[i]}"; done
while IFS= read -r partial; do act "$partial"; done < <(find "$backups" -mindepth 1 -maxdepth 1 -type d \
  -name '.partial-*' -mtime +0)

bin=$(pg_bindir)
log "keeping $((count - oldest_kept)) base backup(s) from $oldest; WAL archive from $start_wal"
if [[ "$dry_run" == true ]]; then
  "$bin/pg_archivecleanup" -n "$archive" "$start_wal" | sed 's/^/would delete /' >&2
else
  "$bin/pg_archivecleanup" "$archive" "$start_wal"
fi
# pg_archivecleanup (before PostgreSQL 17's -b) keeps backup history files: delete those of deleted backups, by the
# same rule (the segment part of the name, without the timeline, sorts before the oldest kept backup's).
while IFS= read -r name; do
  if [[ "${name:8:16}" < "${start_wal:8:16}" ]]; then act "$archive/$name"; fi
done < <(find "$archive" -maxdepth 1 -type f -regextype posix-extended -regex '.*/[0-9A-F]{24}\.[0-9A-F]{8}\.backup' \
  -printf '%f\n')
[[ "$dry_run" == true ]] || fsync_paths "$archive"
