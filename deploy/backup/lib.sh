# shellcheck shell=bash
# Shared helpers of the backup scripts (sourced, not run). Exit codes used by every script:
#   0 success, 1 the operation failed, 2 bad usage (unknown option, missing or malformed value).

# The calling script's name, for messages.
BACKUP_SCRIPT=$(basename "$0")

log() { printf '%s %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$BACKUP_SCRIPT" "$*" >&2; }

die() { log "error: $*"; exit 1; }

# usage_error MESSAGE: a bad command line; prints the script's usage (the `usage` function) and exits 2.
usage_error() {
  printf '%s: %s\n' "$BACKUP_SCRIPT" "$1" >&2
  usage >&2
  exit 2
}

# need_value FLAG VALUE: an option's value must be present and not look like another option.
need_value() {
  if [[ -z "${2:-}" || "$2" == --* ]]; then usage_error "$1 needs a value"; fi
}

# The directory of the PostgreSQL server programs: $PG_BINDIR, else the newest /usr/lib/postgresql/N/bin
# (Debian, Ubuntu), else the directory of pg_ctl on PATH.
pg_bindir() {
  if [[ -n "${PG_BINDIR:-}" ]]; then printf '%s\n' "$PG_BINDIR"; return; fi
  local newest
  newest=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
  if [[ -n "$newest" && -x "$newest/pg_ctl" ]]; then printf '%s\n' "$newest"; return; fi
  local ctl
  ctl=$(command -v pg_ctl || true)
  [[ -n "$ctl" ]] || die "no PostgreSQL server programs found: set PG_BINDIR"
  dirname "$ctl"
}

# PostgreSQL's programs refuse to run as root and the files they write must belong to the database's OS user:
# run as root, a script re-executes itself as $PG_OS_USER (default postgres) with the same arguments.
run_as_db_user() {
  if [[ $(id -u) -eq 0 ]]; then
    local user=${PG_OS_USER:-postgres}
    id -u "$user" >/dev/null 2>&1 || die "running as root and there is no OS user $user (set PG_OS_USER)"
    exec runuser -u "$user" -- env PG_BINDIR="${PG_BINDIR:-}" "$0" "$@"
  fi
}

# fsync_paths PATH...: flush files (and directories, for renames and new names) to stable storage.
fsync_paths() { sync -- "$@"; }

# read_info FILE KEY: a value of a key=value file (backup.info).
read_info() {
  local line
  line=$(grep -m 1 "^$2=" "$1" || true)
  [[ -n "$line" ]] || die "$1 has no $2"
  printf '%s\n' "${line#*=}"
}
