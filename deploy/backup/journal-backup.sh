#!/usr/bin/env bash
# A consistent copy of the trader's journal while the trader runs. The trader appends whole lines (one write per
# entry), so a copy of the file's first SIZE bytes is a valid journal except perhaps for a last line still being
# written: that torn tail is cut, and the copy is checked with the trader's own `journal verify` before it is kept.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$(readlink -f "$0")")/lib.sh"

usage() {
  cat <<'USAGE'
usage: journal-backup.sh (--journal FILE | --data-dir DIR) --dest DIR [--trader MAIN_JS] [--keep N] [--gzip]

  --journal FILE    the journal (TRADER_JOURNAL_PATH)
  --data-dir DIR    the trader's data dir: its journal is DIR/journal.jsonl
  --dest DIR        where the copies go: DIR/journal-<UTC timestamp>.jsonl[.gz] (created if missing)
  --trader MAIN_JS  the built trader used to verify the copy (default: $TRADER_MAIN, else
                    apps/trader/dist/main.js of this checkout)
  --keep N          then delete all but the newest N copies
  --gzip            compress the verified copy

Prints the copy's path and `entries=N last_seq=S bytes=B` on stdout.
Exit codes: 0 copied and verified, 1 failed (nothing is kept), 2 usage.
USAGE
}

journal='' dest='' keep='' gzip=false
trader=${TRADER_MAIN:-$(dirname "$(readlink -f "$0")")/../../apps/trader/dist/main.js}
while [[ $# -gt 0 ]]; do
  case "$1" in
    --journal) need_value "$1" "${2:-}"; journal=$2; shift 2 ;;
    --data-dir) need_value "$1" "${2:-}"; journal=$2/journal.jsonl; shift 2 ;;
    --dest) need_value "$1" "${2:-}"; dest=$2; shift 2 ;;
    --trader) need_value "$1" "${2:-}"; trader=$2; shift 2 ;;
    --keep) need_value "$1" "${2:-}"; [[ "$2" =~ ^[1-9][0-9]*$ ]] || usage_error "--keep must be a number >= 1, got $2"; keep=$2; shift 2 ;;
    --gzip) gzip=true; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown option $1" ;;
  esac
done
[[ -n "$journal" ]] || usage_error "--journal or --data-dir is required"
[[ -n "$dest" ]] || usage_error "--dest is required"
[[ -f "$journal" ]] || die "journal $journal does not exist"
[[ -f "$trader" ]] || die "trader $trader not found: build it (npm run build -w @cryptoscalp/trader) or pass --trader"

mkdir -p "$dest"
stamp=$(date -u +%Y%m%dT%H%M%S.%NZ)
final="$dest/journal-$stamp.jsonl"
tmp="$dest/.journal-$stamp.jsonl.partial"
trap 'rm -f -- "$tmp"' EXIT

size=$(stat -c %s -- "$journal")
head -c "$size" -- "$journal" >"$tmp"
if ((size > 0)) && [[ $(tail -c 1 -- "$tmp" | od -An -tx1 | tr -d ' ') != 0a ]]; then
  # The last line was being written: `tail -n 1` of a file without a final newline is exactly that fragment.
  torn=$(tail -n 1 -- "$tmp" | wc -c)
  truncate -s $((size - torn)) -- "$tmp"
  log "cut a line still being written ($torn bytes)"
fi

report=$(node "$trader" journal verify --journal "$tmp" --json) || die "journal verify rejected the copy: $report"
entries=$(sed -E 's/.*"entries":([0-9]+).*/\1/' <<<"$report")
last_seq=$(sed -E 's/.*"lastSeq":([0-9]+).*/\1/' <<<"$report")
bytes=$(stat -c %s -- "$tmp")

if [[ "$gzip" == true ]]; then
  gzip -c -- "$tmp" >"$tmp.gz"
  rm -f -- "$tmp"
  tmp="$tmp.gz" final="$final.gz"
fi
fsync_paths "$tmp"
mv -- "$tmp" "$final"
fsync_paths "$dest"
log "copied $journal: $entries entries (last seq $last_seq, $bytes bytes) to $final"

if [[ -n "$keep" ]]; then
  find "$dest" -maxdepth 1 -type f -name 'journal-*.jsonl*' -printf '%f\n' | sort | head -n "-$keep" |
    while IFS= read -r old; do log "deleting $dest/$old"; rm -f -- "$dest/$old"; done
fi
printf '%s\nentries=%s last_seq=%s bytes=%s\n' "$final" "$entries" "$last_seq" "$bytes"
