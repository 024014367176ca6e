#!/usr/bin/env bash
# prune.sh — delete old hour partitions of a certstream-arrow dataset.
#
# Usage:
#   prune.sh DIR --keep DURATION [--dry-run]     keep the last DURATION: 30d, 720h
#   prune.sh DIR --before YYYY-MM-DDTHH [--dry-run]
#
# Whole hour=YYYY-MM-DDTHH directories older than the cutoff are deleted,
# judged by the directory NAME (never by mtime). The current UTC hour and
# later ones are never touched, whatever the cutoff. Symlinks are never
# followed or deleted. DIR must look like a certstream-arrow dataset: a real
# directory whose visible entries are all hour=... directories.
#
# Exit codes: 0 done (also when nothing was old enough), 1 a removal failed,
# 2 bad usage, 3 DIR is not a certstream-arrow dataset.
set -euo pipefail
export LC_ALL=C

usage() { echo "usage: prune.sh DIR (--keep 30d|720h | --before YYYY-MM-DDTHH) [--dry-run]" >&2; exit 2; }
fail() { echo "prune.sh: $*" >&2; exit "${code:-2}"; }

dir="" keep="" before="" dry=0
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) [ $# -ge 2 ] || usage; keep=$2; shift 2 ;;
    --before) [ $# -ge 2 ] || usage; before=$2; shift 2 ;;
    --dry-run) dry=1; shift ;;
    -h|--help) usage ;;
    -*) fail "unknown option $1" ;;
    *) [ -z "$dir" ] || usage; dir=$1; shift ;;
  esac
done
[ -n "$dir" ] || usage
if { [ -n "$keep" ] && [ -n "$before" ]; } || { [ -z "$keep" ] && [ -z "$before" ]; }; then
  fail "give exactly one of --keep and --before"
fi

now_hour=$(date -u +%Y-%m-%dT%H)
if [ -n "$keep" ]; then
  case "$keep" in
    *[!0-9dh]*|[dh]*|*[0-9]) fail "--keep $keep: want a number of days or hours, like 30d or 720h" ;;
    *d) hours=$(( ${keep%d} * 24 )) ;;
    *h) hours=${keep%h} ;;
    *) fail "--keep $keep: want 30d or 720h" ;;
  esac
  [ "$hours" -ge 1 ] || fail "--keep must be at least 1h"
  cutoff=$(date -u -d "@$(( $(date -u +%s) / 3600 * 3600 - (hours - 1) * 3600 ))" +%Y-%m-%dT%H)
else
  [[ "$before" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}$ ]] || fail "--before $before: want YYYY-MM-DDTHH (UTC)"
  date -u -d "${before%T*} ${before#*T}:00" >/dev/null 2>&1 || fail "--before $before: not a valid hour"
  cutoff=$before
fi
# Never the current hour or later, whatever the cutoff.
[[ "$cutoff" < "$now_hour" ]] || cutoff=$now_hour

code=3
[ -d "$dir" ] && [ ! -L "$dir" ] || fail "$dir is not a directory"
cd -- "$dir"
hours_found=0
for entry in * .[!.]* ..?*; do
  [ -e "$entry" ] || [ -L "$entry" ] || continue
  case "$entry" in
    .*) continue ;;  # lock files, temporary files
    hour=[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9])
      [ -d "$entry" ] && [ ! -L "$entry" ] || fail "$dir/$entry is not a plain directory; refusing to prune this dataset"
      hours_found=$((hours_found + 1)) ;;
    *) fail "$dir does not look like a certstream-arrow dataset: unexpected entry '$entry'" ;;
  esac
done
[ "$hours_found" -gt 0 ] || fail "$dir does not look like a certstream-arrow dataset: no hour=YYYY-MM-DDTHH directories"
code=1

removed=0 freed=0
for entry in hour=*; do
  h=${entry#hour=}
  [[ "$h" < "$cutoff" ]] || continue
  bytes=$(du -sb -- "$entry" | cut -f1)
  if [ "$dry" -eq 1 ]; then
    echo "would remove $entry ($bytes bytes)"
  else
    rm -rf -- "./$entry" || fail "removing $entry failed"
    echo "removed $entry ($bytes bytes)"
  fi
  removed=$((removed + 1)) freed=$((freed + bytes))
done
verb=removed; [ "$dry" -eq 0 ] || verb="would remove"
echo "$verb $removed hour directories older than $cutoff, $freed bytes"
