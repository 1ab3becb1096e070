#!/usr/bin/env bash
# A verified base backup of a PostgreSQL cluster: pg_basebackup in compressed tar format with the WAL needed to make
# it consistent (-X stream), checked against its manifest with pg_verifybackup, written under a partial name and
# renamed to its timestamp only once verified (so retention and restores never see a half-written backup).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$(readlink -f "$0")")/lib.sh"
run_as_db_user "$@"

usage() {
  cat <<'USAGE'
usage: base-backup.sh --dest DIR [--host HOST] [--port PORT] [--user USER] [--label LABEL]

Writes DIR/<UTC timestamp>/ holding base.tar.gz, pg_wal.tar.gz, backup_manifest and backup.info
(start_wal, start_time, end_time, label); prints that directory on stdout.

  --dest DIR     root directory of the base backups (created if missing)
  --host HOST    server to back up (default: $PGHOST or the local socket)
  --port PORT    its port (default: $PGPORT or 5432)
  --user USER    a role with the REPLICATION attribute (default: $PGUSER or the OS user)
  --label LABEL  backup label (default: cryptoscalp-<timestamp>)

Runs as the database's OS user ($PG_OS_USER, default postgres) when started as root.
Exit codes: 0 backup written and verified, 1 failed (nothing is left under DIR but a .partial-* directory), 2 usage.
USAGE
}

dest='' label=''
conn=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dest) need_value "$1" "${2:-}"; dest=$2; shift 2 ;;
    --host) need_value "$1" "${2:-}"; conn+=(-h "$2"); shift 2 ;;
    --port) need_value "$1" "${2:-}"; [[ "$2" =~ ^[0-9]+$ ]] || usage_error "--port must be a number, got $2"; conn+=(-p "$2"); shift 2 ;;
    --user) need_value "$1" "${2:-}"; conn+=(-U "$2"); shift 2 ;;
    --label) need_value "$1" "${2:-}"; label=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown option $1" ;;
  esac
done
[[ -n "$dest" ]] || usage_error "--dest is required"

bin=$(pg_bindir)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
label=${label:-cryptoscalp-$stamp}
mkdir -p "$dest"
final="$dest/$stamp"
work="$dest/.partial-$stamp"
[[ ! -e "$final" && ! -e "$work" ]] || die "$final already exists (two backups in the same second?)"

check=''
cleanup() { [[ -z "$check" ]] || rm -rf "$check"; }
trap cleanup EXIT

start_time=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
log "backing up to $work (label $label)"
"$bin/pg_basebackup" "${conn[@]}" -D "$work" --format=tar --gzip --wal-method=stream --checkpoint=fast \
  --label="$label" --no-password
end_time=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)

# pg_verifybackup (before PostgreSQL 18) reads only plain-format backups: check an unpacked copy, WAL included,
# so the check covers every file's checksum in the manifest and that the WAL range it names can be parsed.
check=$(mktemp -d "${TMPDIR:-/tmp}/base-backup-verify.XXXXXX")
tar -xzf "$work/base.tar.gz" -C "$check"
mkdir -p "$check/pg_wal"
tar -xzf "$work/pg_wal.tar.gz" -C "$check/pg_wal"
cp "$work/backup_manifest" "$check/"
"$bin/pg_verifybackup" --quiet "$check" || die "pg_verifybackup rejected $work; it is kept for inspection"

# backup_label names the first WAL segment the backup needs: retention keeps the archive from there on.
start_wal=$(tar -xzOf "$work/base.tar.gz" backup_label | sed -n 's/^START WAL LOCATION: .* (file \([0-9A-F]\{24\}\))$/\1/p')
[[ -n "$start_wal" ]] || die "no START WAL LOCATION in the backup_label of $work"
{
  echo "label=$label"
  echo "start_wal=$start_wal"
  echo "start_time=$start_time"
  echo "end_time=$end_time"
} >"$work/backup.info"

fsync_paths "$work"/* "$work"
mv "$work" "$final"
fsync_paths "$dest"
log "verified base backup $final (start WAL $start_wal, $(du -sh "$final" | cut -f1))"
printf '%s\n' "$final"
