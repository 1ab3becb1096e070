#!/usr/bin/env bash
# A consistent copy of the trader's journal while the trader runs: its current segment and the archived segments
# beside it (journal.segmentBytes rotates `journal.jsonl` to `journal.jsonl.<first seq>-<last seq>` and begins the new
# segment with a snapshot). The trader appends whole lines (one write per entry), so a copy of the current segment's
# first SIZE bytes is a valid journal except perhaps for a last line still being written: that torn tail is cut.
# Archived segments never change once renamed: each is copied and checked once, then hard-linked into later copies.
# Before a copy is kept, the files must follow each other (each segment begins right after the one before) and the
# trader's own `journal verify` must accept the new ones (consecutive files in one run, so that order and fill ids
# are checked across them).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$(readlink -f "$0")")/lib.sh"

usage() {
  cat <<'USAGE'
usage: journal-backup.sh (--journal FILE | --data-dir DIR) --dest DIR [--trader MAIN_JS] [--keep N] [--gzip]

  --journal FILE    the journal (TRADER_JOURNAL_PATH)
  --data-dir DIR    the trader's data dir: its journal is DIR/journal.jsonl
  --dest DIR        where the copies go: DIR/journal-<UTC timestamp>/ (created if missing), holding the current
                    segment under the journal's file name and the archived segments under theirs
  --trader MAIN_JS  the built trader used to verify the copy (default: $TRADER_MAIN, else
                    apps/trader/dist/main.js of this checkout)
  --keep N          then delete all but the newest N copies
  --gzip            compress the verified files (FILE.gz)

To restore, copy the files of one copy into the new data dir (gunzip them first with --gzip): the trader reads
them as the journal they were.
Prints the copy's directory and `entries=N first_seq=F last_seq=S segments=K bytes=B` on stdout (entries F..S,
K archived segments, B bytes uncompressed).
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

src_dir=$(dirname -- "$journal")
name=$(basename -- "$journal")
suffix=''
[[ "$gzip" == false ]] || suffix=.gz
mkdir -p "$dest"
# The newest earlier copy: its segments are hard-linked instead of copied again.
previous=$(find "$dest" -mindepth 1 -maxdepth 1 -type d -name 'journal-*' -printf '%f\n' | sort | tail -n 1)
stamp=$(date -u +%Y%m%dT%H%M%S.%NZ)
final="$dest/journal-$stamp"
work="$dest/.journal-$stamp.partial"
trap 'rm -rf -- "$work"' EXIT

# copy_current: the current segment's first SIZE bytes into $work/$name, its torn last line cut. Read through a
# descriptor opened first, so a rotation during the copy leaves this copy a prefix of the segment it renamed (the
# sequence check then sees the overlap and the copy is taken again).
copy_current() {
  exec 3<"$journal"
  local size torn
  size=$(stat -L -c %s /dev/fd/3)
  head -c "$size" <&3 >"$work/$name"
  exec 3<&-
  if ((size > 0)) && [[ $(tail -c 1 -- "$work/$name" | od -An -tx1 | tr -d ' ') != 0a ]]; then
    # The last line was being written: `tail -n 1` of a file without a final newline is exactly that fragment.
    torn=$(tail -n 1 -- "$work/$name" | wc -c)
    truncate -s $((size - torn)) -- "$work/$name"
    log "cut a line still being written ($torn bytes)"
  fi
}

# copy_segments: every archived segment beside the journal into $work: hard-linked from the previous copy when it
# has it (checked when that copy was made), else copied. Prints `first last new|linked` per segment, oldest first.
# Returns 3 when a segment disappears meanwhile (the trader deletes old ones after a rotation).
copy_segments() {
  local seg first last pattern
  pattern=$(sed 's/[][\.*^$+?(){}|]/\\&/g' <<<"$name")
  while IFS= read -r seg; do
    first=$((10#${seg: -25:12})) last=$((10#${seg: -12}))
    if [[ -n "$previous" && -f "$dest/$previous/$seg$suffix" ]] &&
      ln -- "$dest/$previous/$seg$suffix" "$work/$seg$suffix" 2>/dev/null; then
      printf '%s %s linked\n' "$first" "$last"
    else
      cp -- "$src_dir/$seg" "$work/$seg" 2>/dev/null || return 3
      printf '%s %s new\n' "$first" "$last"
    fi
  done < <(find "$src_dir" -maxdepth 1 -type f -regextype posix-extended -regex ".*/$pattern\\.[0-9]{12}-[0-9]{12}" \
    -printf '%f\n' | sort)
}

# verify_run FIRST LAST FILE...: the trader's `journal verify` on the files' concatenation, which must hold exactly
# the entries FIRST..LAST (LAST empty: up to wherever the last file ends). One run of the trader for consecutive
# files also checks the sequence and the order and fill ids across them.
verify_run() {
  local first=$1 last=$2 report entries last_seq
  shift 2
  report=$(cat -- "$@" | node "$trader" journal verify --journal /dev/stdin --json) ||
    die "journal verify rejected the copy of entries $first..${last:-the end} ($*): $report"
  entries=$(json_number entries "$report") last_seq=$(json_number lastSeq "$report")
  if ((entries == 0)) && [[ -z "$last" ]]; then return; fi
  [[ $((last_seq - entries + 1)) -eq $first && (-z "$last" || $last_seq -eq $last) ]] ||
    die "the copy of $* holds entries $((last_seq - entries + 1))..$last_seq, not $first..${last:-the end}: $report"
}
json_number() { sed -E "s/.*\"$1\":([0-9]+).*/\\1/" <<<"$2"; }

gap='not copied yet'
for attempt in 1 2 3; do
  rm -rf -- "$work"
  mkdir -p "$work"
  copy_current
  rc=0
  ranges=$(copy_segments) || rc=$?
  if ((rc == 3)); then
    gap="an archived segment was deleted during the copy"
    log "$gap (attempt $attempt): again"
    continue
  fi
  ((rc == 0)) || exit 1
  gap=''
  # The current segment's first entry, as the trader writes it ({"seq":N,...}); verify_run checks it below.
  cur_first=$(head -n 1 -- "$work/$name" | sed -nE 's/^\{"seq":([0-9]+),.*/\1/p')
  last_seq=$(tail -n 1 <<<"$ranges" | cut -d' ' -f2)
  if [[ -n "$cur_first" && -n "$last_seq" ]] && ((cur_first <= last_seq)); then
    # The copy of the current segment is part of an archived one: it rotated between that copy and the listing of
    # the archived segments. Take the copy again.
    gap="the current segment's copy begins at entry $cur_first, inside the archived segments (up to $last_seq)"
    log "the journal rotated during the copy (attempt $attempt): again"
    continue
  fi
  break
done
[[ -z "$gap" ]] || die "the journal kept changing under the copy (3 attempts): $gap"

# Each file begins where the one before ended; new files are checked by the trader, consecutive ones in one run.
first_seq='' last_seq='' segments=0 run=() run_first=''
flush_run() {
  ((${#run[@]} == 0)) || verify_run "$run_first" "$1" "${run[@]}"
  run=() run_first=''
}
while read -r first last how; do
  [[ -n "$first" ]] || continue
  [[ -z "$last_seq" || $first -eq $((last_seq + 1)) ]] ||
    die "the archived segments do not follow each other: $first-$last after entry $last_seq"
  seg=$(printf '%s.%012d-%012d' "$name" "$first" "$last")
  if [[ "$how" == new ]]; then
    run_first=${run_first:-$first}
    run+=("$work/$seg")
  else
    flush_run "$last_seq"
  fi
  first_seq=${first_seq:-$first} last_seq=$last segments=$((segments + 1))
done <<<"$ranges"
if [[ -n "$cur_first" ]]; then
  [[ -z "$last_seq" || $cur_first -eq $((last_seq + 1)) ]] ||
    die "the segments do not follow each other: the current segment begins at entry $cur_first after $last_seq"
  run_first=${run_first:-$cur_first}
  first_seq=${first_seq:-$cur_first}
elif [[ -s "$work/$name" ]]; then
  die "the current segment $journal does not begin with an entry: $(head -c 200 -- "$work/$name")"
fi
run+=("$work/$name")
flush_run ''
if [[ -n "$cur_first" ]]; then last_seq=$(tail -n 1 -- "$work/$name" | sed -nE 's/^\{"seq":([0-9]+),.*/\1/p'); fi
first_seq=${first_seq:-0} last_seq=${last_seq:-0}
entries=$((last_seq == 0 ? 0 : last_seq - first_seq + 1))

bytes=0
for f in "$work"/*; do
  if [[ "$f" == *.gz ]]; then
    bytes=$((bytes + $(gzip -l -- "$f" | awk 'NR == 2 { print $2 }')))
  else
    bytes=$((bytes + $(stat -c %s -- "$f")))
    [[ "$gzip" == false ]] || gzip -- "$f"
  fi
done

fsync_paths "$work"/* "$work"
mv -- "$work" "$final"
fsync_paths "$dest"
log "copied $journal: entries $first_seq..$last_seq in $segments archived segment(s) and the current one ($bytes bytes) to $final"

if [[ -n "$keep" ]]; then
  # Older copies: directories, and the single files (journal-<stamp>.jsonl[.gz]) of earlier versions of this script.
  # Deleting a copy only drops its links to segments a newer copy still holds.
  find "$dest" -mindepth 1 -maxdepth 1 -name 'journal-*' -printf '%f\n' | sort | head -n "-$keep" |
    while IFS= read -r old; do log "deleting $dest/$old"; rm -rf -- "${dest:?}/$old"; done
fi
printf '%s\nentries=%s first_seq=%s last_seq=%s segments=%s bytes=%s\n' "$final" "$entries" "$first_seq" "$last_seq" \
  "$segments" "$bytes"
