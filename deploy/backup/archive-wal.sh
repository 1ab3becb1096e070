#!/usr/bin/env bash
# PostgreSQL's archive_command: copies one finished WAL segment (or a .history / .backup file) into the archive.
#   archive_command = '/opt/cryptoscalp/deploy/backup/archive-wal.sh "%p" "%f" /var/lib/postgresql/wal-archive'
# Follows the rules of the PostgreSQL manual (Continuous Archiving): a non-zero exit whenever the file is not safely
# archived, so the server keeps the segment and retries; never overwrite an archived file; if the same name is
# already there with identical contents (a retry after a crash between copy and the server noting it), succeed.
# The copy goes to a temporary name, is fsynced, then linked to its final name (atomic, and fails if the name
# exists), and the directory is fsynced: a crash never leaves a partial file under a WAL name.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$(readlink -f "$0")")/lib.sh"

usage() {
  cat <<'USAGE'
usage: archive-wal.sh WAL_PATH WAL_NAME ARCHIVE_DIR

  WAL_PATH     %p: the file to archive (relative to the data directory, the server's working directory)
  WAL_NAME     %f: its file name, also its name in the archive
  ARCHIVE_DIR  the archive directory (must exist: a missing mount must fail, not fill the root disk)

Exit codes: 0 archived (or already archived with identical contents), 1 not archived (the server retries), 2 usage.
USAGE
}

[[ "${1:-}" == "-h" || "${1:-}" == "--help" ]] && { usage; exit 0; }
[[ $# -eq 3 ]] || usage_error "expected 3 arguments, got $#"
src=$1 name=$2 archive=$3
# Only names PostgreSQL archives: this also keeps a crafted name from writing outside the archive.
[[ "$name" =~ ^([0-9A-F]{24}(\.partial|\.[0-9A-F]{8}\.backup)?|[0-9A-F]{8}\.history)$ ]] ||
  usage_error "WAL_NAME is not a WAL segment, .partial, .backup or .history file name: $name"
[[ -f "$src" ]] || die "WAL_PATH $src does not exist"
[[ -d "$archive" ]] || die "ARCHIVE_DIR $archive is not a directory"

target="$archive/$name"
already_archived() {
  if cmp -s -- "$src" "$target"; then
    fsync_paths "$target" "$archive"
    log "$name is already archived with identical contents"
    exit 0
  fi
  die "$target exists with different contents: refusing to overwrite it (two clusters archiving to one directory?)"
}
[[ ! -e "$target" ]] || already_archived

tmp="$archive/.$name.tmp.$$"
trap 'rm -f -- "$tmp"' EXIT
cp -- "$src" "$tmp"
fsync_paths "$tmp"
if ! ln -- "$tmp" "$target" 2>/dev/null; then
  [[ -e "$target" ]] || die "cannot link $tmp to $target"
  already_archived
fi
rm -f -- "$tmp"
fsync_paths "$archive"
