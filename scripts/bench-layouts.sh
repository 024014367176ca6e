#!/usr/bin/env bash
# bench-layouts.sh — one generated dataset in every layout it can take on
# disk, measured side by side in one run (the machine is shared and noisy,
# so the figures that matter are the ratios): bytes per row, the seal's
# cost, and DuckDB query times.
#
# Layouts:
#   live            hours of generated messages (stream/streamgen) archived as
#                   `run` publishes them at its default flags, by one
#                   collector: 1,000-row batches, a file every --rotate-age
#                   and at the end of the hour. Written by the seal
#                   package's generator (go test ./seal -run TestWriteLiveLayout),
#                   archive.Dataset on a simulated clock.
#   sealed[-N]      a hard-linked copy of live sealed by `certstream-arrow seal`,
#                   once per --seal flag set.
#   export-parquet  `certstream-arrow export SEALED --format parquet` of the
#                   first sealed layout, when the binary has an export command.
#   duckdb-parquet  DuckDB's own Parquet of the same rows in the same order:
#                   per hour, COPY (SELECT * EXCLUDE (hour) FROM read_arrow(...
#                   the first sealed layout's hour ...)) TO ... (FORMAT parquet,
#                   COMPRESSION zstd).
# Queries (each layout must give the same answers, or the script fails): a
# count, a domain search over unnest(domains) with LIKE, a GROUP BY issuer_o,
# and a point lookup by sha256 of a row of the middle hour.
#
# Usage: scripts/bench-layouts.sh [options]   (each also an environment variable)
#   --stream lite|full    BENCH_STREAM         lite
#   --hours N             BENCH_HOURS          720 (a month)
#   --rows-per-hour N     BENCH_ROWS_PER_HOUR  10000
#   --flush DURATION      BENCH_FLUSH          5m: run's --flush-interval for the
#                         live files. run's default, 10s, fills 1,000-row batches
#                         at the live rate (hundreds of rows a second); at a
#                         reduced rate it would cut smaller ones, so the default
#                         here keeps the batches of the live rate.
#   --rotate-age DURATION BENCH_ROTATE_AGE     30s: run's --rotate-age
#   --runs N              BENCH_RUNS           5 query runs after one warm-up;
#                         times are medians, ratios the median of each run's
#   --seal 'FLAGS'        BENCH_SEALS          '--batch-rows 65536'; repeatable (the
#                         variable: flag sets separated by ';'), one sealed layout each
#   --live DIR            BENCH_LIVE           a live layout generated before, only
#                         read (hard-linked); --hours etc. are then not used
#   --bin PATH            BENCH_BIN            default: built from this checkout
#   --duckdb PATH         DUCKDB               default: ../shared/tools/duckdb
#   --export auto|on|off  BENCH_EXPORT         auto: when `BIN export --help` works
#   --work DIR            BENCH_WORK           default: a new temporary directory;
#                         removed at exit unless given
# Example: scripts/bench-layouts.sh --hours 2 --rows-per-hour 2000 --runs 1
set -euo pipefail
export LC_ALL=C TZ=UTC

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
stream=${BENCH_STREAM:-lite} hours=${BENCH_HOURS:-720} rows_per_hour=${BENCH_ROWS_PER_HOUR:-10000}
flush=${BENCH_FLUSH:-5m} rotate_age=${BENCH_ROTATE_AGE:-30s} runs=${BENCH_RUNS:-5} live_in=${BENCH_LIVE:-} bin=${BENCH_BIN:-}
duckdb=${DUCKDB:-$repo/../shared/tools/duckdb} export_mode=${BENCH_EXPORT:-auto} work=${BENCH_WORK:-}
seals=()
IFS=';' read -r -a seals <<<"${BENCH_SEALS:---batch-rows 65536}"

die() { echo "bench-layouts.sh: $*" >&2; exit 2; }
while (($#)); do
  (($# >= 2)) || die "$1 needs a value"
  case $1 in
    --stream) stream=$2 ;; --hours) hours=$2 ;; --rows-per-hour) rows_per_hour=$2 ;;
    --flush) flush=$2 ;; --rotate-age) rotate_age=$2 ;; --runs) runs=$2 ;; --live) live_in=$2 ;; --bin) bin=$2 ;;
    --duckdb) duckdb=$2 ;; --export) export_mode=$2 ;; --work) work=$2 ;;
    --seal) [ -n "${seal_given:-}" ] || seals=(); seal_given=1; seals+=("$2") ;;
    *) die "unknown option $1 (see the comment at the top of the script)" ;;
  esac
  shift 2
done
[[ $stream =~ ^(lite|full)$ ]] || die "--stream: lite or full"
for v in "$hours" "$rows_per_hour" "$runs"; do [[ $v =~ ^[1-9][0-9]*$ ]] || die "want a positive integer, got '$v'"; done
[[ $export_mode =~ ^(auto|on|off)$ ]] || die "--export: auto, on or off"
((${#seals[@]} > 0)) || die "--seal: at least one"
[ -x "$duckdb" ] || die "no DuckDB CLI at $duckdb"

if [ -z "$work" ]; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/bench-layouts.XXXXXX")
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
work=$(cd "$work" && pwd)
log() { echo "# $*" >&2; }

if [ -z "$bin" ]; then
  bin=$work/certstream-arrow
  (cd "$repo" && go build -o "$bin" ./cmd/certstream-arrow)
fi

# --- the live layout
if [ -n "$live_in" ]; then
  live=$(cd "$live_in" && pwd)
else
  live=$work/live
  log "generating $hours h x $rows_per_hour $stream rows, a file every $rotate_age"
  (cd "$repo" && go test -c -o "$work/seal.test" ./seal)
  (cd "$work" && LIVE_LAYOUT_DIR=$live LIVE_STREAM=$stream LIVE_HOURS=$hours LIVE_ROWS_PER_HOUR=$rows_per_hour \
    LIVE_FLUSH=$flush LIVE_ROTATE_AGE=$rotate_age ./seal.test -test.run '^TestWriteLiveLayout$' -test.count 1 -test.timeout 0 >"$work/generate.log")
fi
hour_dirs=()
mapfile -t hour_dirs < <(cd "$live" && ls -d hour=*/ | tr -d /)
((${#hour_dirs[@]} > 0)) || die "no hour directories in $live"
mid_hour=${hour_dirs[${#hour_dirs[@]} / 2]}

# duck SQL...: run SQL in DuckDB with nanoarrow loaded.
duck() { "$duckdb" -batch -csv -noheader -c "LOAD nanoarrow; $*"; }

# --- sealed layouts: a hard-linked copy of live each, sealed; the seal's
# wall, CPU and peak RSS from /usr/bin/time (GNU time forks, so its maxrss
# is the seal's own).
layouts=(live) names=() seal_costs=()
for i in "${!seals[@]}"; do
  name=sealed
  ((${#seals[@]} == 1)) || name=sealed-$((i + 1))
  dir=$work/$name
  rm -rf "$dir"
  cp -al "$live" "$dir"
  log "sealing $name: seal ${seals[i]}"
  # shellcheck disable=SC2086 # the flag set is split on purpose
  /usr/bin/time -f '%e %U %S %M' -o "$work/$name.time" \
    "$bin" seal "$dir" ${seals[i]} --log-level warn --log-format json >"$work/$name.out"
  layouts+=("$name") names+=("$name = seal ${seals[i]}")
  seal_costs+=("$name $(cat "$work/$name.time")")
done
sealed=$work/${layouts[1]}

# --- our Parquet export, if the binary has one
if [ "$export_mode" = on ] || { [ "$export_mode" = auto ] && "$bin" export --help >/dev/null 2>&1; }; then
  log "exporting ${layouts[1]} to Parquet"
  rm -rf "$work/export-parquet"
  /usr/bin/time -f '%e %U %S %M' -o "$work/export.time" \
    "$bin" export "$sealed" --format parquet --out "$work/export-parquet" --log-level warn >"$work/export.out"
  layouts+=(export-parquet)
  seal_costs+=("export $(cat "$work/export.time")")
fi

# --- DuckDB's own Parquet of the first sealed layout, hour by hour
log "writing DuckDB's own Parquet"
rm -rf "$work/duckdb-parquet"
{
  echo "LOAD nanoarrow;"
  for h in "${hour_dirs[@]}"; do
    mkdir -p "$work/duckdb-parquet/$h"
    echo "COPY (SELECT * EXCLUDE (hour) FROM read_arrow('$sealed/$h/*.feather')) TO '$work/duckdb-parquet/$h/data.parquet' (FORMAT parquet, COMPRESSION zstd);"
  done
} >"$work/duckdb-copy.sql"
/usr/bin/time -f '%e %U %S %M' -o "$work/duckdb-copy.time" "$duckdb" -batch <"$work/duckdb-copy.sql" >/dev/null
layouts+=(duckdb-parquet)
seal_costs+=("duckdb-copy $(cat "$work/duckdb-copy.time")")

# source LAYOUT: the DuckDB table function reading it.
source_of() {
  case $1 in
    *parquet) echo "read_parquet('$work/$1/*/*.parquet', hive_partitioning = true)" ;;
    live) echo "read_arrow('$live/*/*.feather')" ;;
    *) echo "read_arrow('$work/$1/*/*.feather')" ;;
  esac
}
files_of() { find "$( [ "$1" = live ] && echo "$live" || echo "$work/$1")" -path '*/hour=*/*' \( -name '*.feather' -o -name '*.parquet' \) ! -name '.*' "${@:2}"; }

rows=$(duck "SELECT count(*) FROM $(source_of live);")
if [ -n "$live_in" ]; then # the stream it was generated from: full has DER
  stream=$(duck "SELECT CASE WHEN count(as_der) > 0 THEN 'full' ELSE 'lite' END FROM read_arrow('$live/$mid_hour/*.feather');")
fi
digest=$(duck "SELECT hex(sha256) FROM read_arrow('$live/$mid_hour/*.feather') WHERE sha256 IS NOT NULL LIMIT 1 OFFSET $((rows / ${#hour_dirs[@]} / 2));")
[ ${#digest} = 64 ] || die "no sha256 to look up in $mid_hour"

queries=(count domain group lookup)
query_sql() {
  case $1 in
    count) echo "SELECT count(*) FROM src;" ;;
    domain) echo "SELECT count(*) FROM (SELECT unnest(domains) AS d FROM src) WHERE d LIKE '%secure-bank%';" ;;
    group) echo "SELECT issuer_o, count(*) AS n FROM src GROUP BY issuer_o ORDER BY n DESC, issuer_o;" ;;
    lookup) echo "SELECT source_url, cert_index FROM src WHERE sha256 = from_hex('$digest');" ;;
  esac
}

# run_queries LAYOUT RUN: each query once in one DuckDB process, timed by
# DuckDB itself (.timer); appends "layout query run seconds" lines to
# times.txt and keeps the answers in LAYOUT.answers.
run_queries() {
  local l=$1 r=$2 out q
  out=$({
    echo "LOAD nanoarrow; CREATE VIEW src AS SELECT * FROM $(source_of "$l");"
    echo ".timer on"
    for q in "${queries[@]}"; do query_sql "$q"; done
  } | "$duckdb" -batch -csv -noheader 2>&1) || { echo "$out" >&2; die "queries on $l failed"; }
  grep -v '^Run Time' <<<"$out" >"$work/$l.answers"
  grep '^Run Time' <<<"$out" | awk -v l="$l" -v r="$r" -v qs="${queries[*]}" \
    'BEGIN { split(qs, q, " ") } { print l, q[NR], r, $5 }' >>"$work/times.txt"
}

log "querying: ${#layouts[@]} layouts x ${#queries[@]} queries x $runs runs (+1 warm-up)"
: >"$work/times.txt"
for ((r = 0; r <= runs; r++)); do
  n=${#layouts[@]}
  for ((k = 0; k < n; k++)); do # each run starts with another layout
    run_queries "${layouts[(k + r) % n]}" "$r"
  done
done
for l in "${layouts[@]}"; do
  cmp -s "$work/live.answers" "$work/$l.answers" ||
    { diff "$work/live.answers" "$work/$l.answers" >&2 || true; die "$l answers differently from live"; }
done

# --- tables
echo "stream=$stream hours=${#hour_dirs[@]} rows=$rows ($((rows / ${#hour_dirs[@]})) per hour) runs=$runs duckdb=$("$duckdb" --version | cut -d' ' -f1)"
for n in "${names[@]}"; do echo "  $n"; done
echo
declare -A bpr
{
  echo "layout files bytes B/row x_live x_duckdb-parquet"
  for l in "${layouts[@]}"; do
    bytes=$(files_of "$l" -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
    bpr[$l]=$(awk -v b="$bytes" -v r="$rows" 'BEGIN { printf "%.1f", b / r }')
    echo "$l $(files_of "$l" | wc -l) $bytes ${bpr[$l]}"
  done
} | awk -v live="${bpr[live]:-}" 'NR == 1 { print; next } { rows[NR] = $0; b[NR] = $4; if ($1 == "live") lv = $4; if ($1 == "duckdb-parquet") dp = $4 }
  END { for (i = 2; i <= NR; i++) printf "%s %.2f %.2f\n", rows[i], b[i] / lv, b[i] / dp }' | column -t
echo
{
  echo "step wall_s cpu_s cpu_s/1M_rows peak_rss_MB"
  for c in "${seal_costs[@]}"; do
    read -r name wall user sys rss <<<"$c"
    awk -v n="$name" -v w="$wall" -v c="$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" -v m="$rss" -v r="$rows" \
      'BEGIN { printf "%s %.1f %.1f %.1f %.0f\n", n, w, c, c * 1e6 / r, m / 1024 }'
  done
} | column -t
echo
# Medians per layout and query, then one row per query: seconds, and each
# layout's time over duckdb-parquet's, the median of the runs' ratios (each
# run measures every layout within seconds of the others, so a ratio is
# steadier than the ratio of medians on a noisy machine; half a timer tick
# is added to both, as DuckDB reports 0.000 for the fastest).
awk -v layouts="${layouts[*]}" -v queries="${queries[*]}" '
  $3 > 0 { t[$1 " " $2] = t[$1 " " $2] " " $4; v[$1 " " $2 " " $3] = $4; if ($3 > nr) nr = $3 }
  function median(s,   a, n, i, j, x) {
    n = split(s, a, " ")
    for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  function ratio(l, q,   r, s, d) {
    s = ""
    for (r = 1; r <= nr; r++) { d = v[L[nl] " " q " " r]; s = s " " (v[l " " q " " r] + 0.0005) / (d + 0.0005) }
    return median(s)
  }
  END {
    nl = split(layouts, L, " "); nq = split(queries, Q, " ")
    printf "query"; for (i = 1; i <= nl; i++) printf " %s_s", L[i]
    for (i = 1; i <= nl; i++) if (L[i] != "duckdb-parquet") printf " %s/duckdb", L[i]; print ""
    for (j = 1; j <= nq; j++) {
      printf "%s", Q[j]; for (i = 1; i <= nl; i++) printf " %.3f", median(t[L[i] " " Q[j]])
      for (i = 1; i <= nl; i++) if (L[i] != "duckdb-parquet") printf " %.2f", ratio(L[i], Q[j])
      print ""
    }
  }' "$work/times.txt" | column -t
