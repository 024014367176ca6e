#!/usr/bin/env bash
# prune.sh — delete old hour partitions of a certstream-arrow dataset.
#
# Usage:
#   prune.sh [--dry-run] (--keep Nd | --keep Nh | --before YYYY-MM-DDTHH) [--] DIR
#   Options and DIR may come in any order; everything after -- is DIR, so a
#   directory whose name starts with - is given as `-- -name`.
#
# Whole hour=YYYY-MM-DDTHH directories older than the cutoff are deleted,
# judged by the directory NAME (never by mtime). The current UTC hour and
# later ones are never touched, whatever the cutoff. Symlinks are never
# followed or deleted. DIR must look like a certstream-arrow dataset: a real
# directory whose visible entries are all hour=... directories.
#
# Input is refused, with nothing deleted, unless it is exactly what is meant:
#   --keep   a plain ASCII decimal number and a unit, d or h: 1h..876000h or
#            1d..36500d (100 years). No sign, space, other digits or leading
#            zero: `010d` is refused, not read as 10 (or as octal 8). The
#            number's length is checked before any arithmetic, so nothing
#            can overflow. Keeping 1h keeps only the current hour.
#   --before a real UTC hour YYYY-MM-DDTHH; it must survive a round trip
#            through `date` unchanged (2021-02-29T00 and T24 are refused).
#   --keep and --before: exactly one of them, once.
#   DIR      must not be /, end in .., or be a symlink, however it is spelled
#            (link, link/, link/., or . inside a symlinked directory).
# An hour=... directory whose name is not a real hour (hour=2020-99-99T99)
# was not written by certstream-arrow: the whole dataset is refused (exit 3,
# naming the entry) rather than skipped, so that a stranger in the dataset
# is noticed the same way as any other unexpected entry.
#
# Exit codes: 0 done (also when nothing was old enough), 1 a removal failed,
# 2 bad usage (one line saying why, then the usage line), 3 DIR is not a
# certstream-arrow dataset (one line saying why). Refusals delete nothing.
set -euo pipefail
export LC_ALL=C TZ=UTC
unset CDPATH

max_hours=876000 max_days=36500
usage_line="usage: prune.sh [--dry-run] (--keep 1h..${max_hours}h|1d..${max_days}d | --before YYYY-MM-DDTHH) [--] DIR"
# oneline MESSAGE: the message on one line, control characters (a newline in
# an argument or a file name) shown as ?.
oneline() { local m="$*"; printf 'prune.sh: %s\n' "${m//[[:cntrl:]]/?}" >&2; }
# usage_error MESSAGE: exit 2 with the reason and the usage line.
usage_error() { oneline "$@"; echo "$usage_line" >&2; exit 2; }
# not_dataset MESSAGE: exit 3.
not_dataset() { oneline "$@"; exit 3; }

# valid_hour YYYY-MM-DDTHH: true if the string is a real hour of the calendar.
valid_hour() {
  [[ $1 =~ ^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2})$ ]] || return 1
  local y=$((10#${BASH_REMATCH[1]})) m=$((10#${BASH_REMATCH[2]}))
  local d=$((10#${BASH_REMATCH[3]})) h=$((10#${BASH_REMATCH[4]}))
  local mdays=(0 31 28 31 30 31 30 31 31 30 31 30 31)
  if (( y % 4 == 0 && y % 100 != 0 || y % 400 == 0 )); then mdays[2]=29; fi
  (( m >= 1 && m <= 12 && d >= 1 && h <= 23 )) && (( d <= mdays[m] ))
}

# keep_hours VALUE: print the number of hours --keep VALUE asks for.
keep_hours() {
  local v=$1 n unit max
  [[ $v =~ ^([0-9]+)([dh])$ ]] || usage_error "--keep '$v': want a number of days or hours, like 30d or 720h"
  n=${BASH_REMATCH[1]} unit=${BASH_REMATCH[2]}
  [[ $n != 0* ]] || usage_error "--keep '$v': want a number from 1, without leading zeros"
  max=$max_hours; [ "$unit" = h ] || max=$max_days
  # Compare lengths first: a number longer than the maximum is too big and
  # must not reach $(( )), where it would overflow.
  if [ "${#n}" -gt "${#max}" ] || (( 10#$n > max )); then
    usage_error "--keep '$v': at most ${max}${unit} (100 years)"
  fi
  if [ "$unit" = d ]; then echo $((10#$n * 24)); else echo $((10#$n)); fi
}

# before_hour VALUE: check that --before VALUE is a real UTC hour.
before_hour() {
  local v=$1 back
  valid_hour "$v" || usage_error "--before '$v': want a real UTC hour YYYY-MM-DDTHH"
  back=$(date -u -d "${v%T*} ${v#*T}:00" +%Y-%m-%dT%H 2>/dev/null) || back=""
  [ "$back" = "$v" ] || usage_error "--before '$v': not a valid hour"
}

# root_path DIR: print DIR spelled so that its last component is the directory
# itself (no trailing / or /.), so that -L tests the directory actually pruned.
root_path() {
  local p=$1 prev=""
  [ -n "$p" ] || usage_error "DIR is empty"
  while [ "$p" != "$prev" ]; do
    prev=$p
    while [[ $p == */ ]]; do p=${p%/}; done
    if [[ $p == */. ]]; then p=${p%.}; fi
  done
  # `./` and `.` name the working directory; its logical name says whether
  # it was entered through a symlink.
  if [ "$p" = . ]; then
    if [[ $PWD != /* ]] || ! [ "$PWD" -ef . ]; then usage_error "cannot tell which directory . is; name DIR"; fi
    p=$PWD
    while [[ $p == */ ]]; do p=${p%/}; done
  fi
  [ -n "$p" ] || usage_error "DIR is /; refusing to prune the root directory"
  case "/$p" in */..) usage_error "DIR $1 ends in ..; name the dataset directory itself" ;; esac
  case "$p" in /*) ;; *) p=./$p ;; esac  # never an option to cd, never CDPATH
  echo "$p"
}

dir="" dir_set=0 keep="" keep_set=0 before="" before_set=0 dry=0
set_dir() { [ "$dir_set" -eq 0 ] || usage_error "more than one DIR: '$dir' and '$1'"; dir=$1 dir_set=1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --keep|--before)
      [ $# -ge 2 ] || usage_error "$1 needs a value"
      if [ "$1" = --keep ]; then
        [ "$keep_set" -eq 0 ] || usage_error "--keep given twice"
        keep=$2 keep_set=1
      else
        [ "$before_set" -eq 0 ] || usage_error "--before given twice"
        before=$2 before_set=1
      fi
      shift 2 ;;
    --dry-run) dry=1; shift ;;
    -h|--help) echo "$usage_line" >&2; exit 2 ;;
    --) shift; while [ $# -gt 0 ]; do set_dir "$1"; shift; done ;;
    -*) usage_error "unknown option '$1'" ;;
    *) set_dir "$1"; shift ;;
  esac
done
[ "$dir_set" -eq 1 ] || usage_error "no DIR given"
[ $((keep_set + before_set)) -eq 1 ] || usage_error "give exactly one of --keep and --before"

# One clock reading for both the current hour and the cutoff.
now=$(date -u +%s)
[[ $now =~ ^[0-9]+$ ]] || usage_error "the clock reads '$now'"
now_hour=$(date -u -d "@$now" +%Y-%m-%dT%H)
if [ "$keep_set" -eq 1 ]; then
  hours=$(keep_hours "$keep") || exit 2
  cutoff=$(date -u -d "@$(( now / 3600 * 3600 - (hours - 1) * 3600 ))" +%Y-%m-%dT%H)
else
  before_hour "$before"
  cutoff=$before
fi
if ! valid_hour "$cutoff" || ! valid_hour "$now_hour"; then
  usage_error "cannot compute a cutoff ($cutoff) before $now_hour"
fi
# Never the current hour or later, whatever the cutoff.
[[ "$cutoff" < "$now_hour" ]] || cutoff=$now_hour

root=$(root_path "$dir") || exit 2
if [ "$root" -ef / ]; then usage_error "DIR $dir is /; refusing to prune the root directory"; fi
if [ -L "$root" ]; then not_dataset "$dir is a symlink ($root); refusing to prune through it"; fi
if [ ! -d "$root" ]; then not_dataset "$dir is not a directory"; fi
cd -P -- "$root"
hour_dirs=()
for entry in * .[!.]* ..?*; do
  [ -e "$entry" ] || [ -L "$entry" ] || continue
  case "$entry" in
    .*) continue ;;  # lock files, temporary files
    hour=[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9])
      if [ ! -d "$entry" ] || [ -L "$entry" ]; then
        not_dataset "$dir/$entry is not a plain directory; refusing to prune this dataset"
      fi
      valid_hour "${entry#hour=}" || not_dataset "$dir/$entry is not a real hour; refusing to prune this dataset"
      hour_dirs+=("$entry") ;;
    *) not_dataset "$dir does not look like a certstream-arrow dataset: unexpected entry '$entry'" ;;
  esac
done
[ "${#hour_dirs[@]}" -gt 0 ] || not_dataset "$dir does not look like a certstream-arrow dataset: no hour=YYYY-MM-DDTHH directories"

# Only the directories checked above, never a name that appeared since.
removed=0 freed=0
for entry in "${hour_dirs[@]}"; do
  [[ "${entry#hour=}" < "$cutoff" ]] || continue
  bytes=$(du -sb -- "./$entry" | cut -f1)
  if [ "$dry" -eq 1 ]; then
    echo "would remove $entry ($bytes bytes)"
  else
    rm -rf -- "./$entry" || { echo "prune.sh: removing $entry failed" >&2; exit 1; }
    echo "removed $entry ($bytes bytes)"
  fi
  removed=$((removed + 1)) freed=$((freed + bytes))
done
verb=removed; [ "$dry" -eq 0 ] || verb="would remove"
echo "$verb $removed hour directories older than $cutoff, $freed bytes"
