#!/usr/bin/env bash
# Benchmark of `cascade graph -p fleet.yaml --format json` on a synthetic fleet, against
# the plain-git baseline (bench/grep_all.sh: `git grep -i '^from'` over every repository).
#
# Usage: bench/graph_bench.sh [--cascade PATH] [--repos N] [--dockerfiles M] [--seed S]
#                             [--runs R] [--work DIR]
# Defaults: build/cascade, 100 repos, 10000 Dockerfiles, seed 1, 5 runs, bench/.work.
#
# Generates the fleet once (bench/gen_fleet.py skips it when present with the same
# parameters), runs cascade once to check it works and to read the graph's size, then times
# both commands with hyperfine (1 warm-up, R runs) and measures cascade's peak RSS with GNU
# time (R runs). Nothing is dropped from caches: these are warm-cache numbers.
# Prints a table with PASS/FAIL per goal; exits 0 whatever the goals say, nonzero when a
# command failed (cascade, git, the generator, a missing tool).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
cascade="$root/build/cascade"
repos=100
dockerfiles=10000
seed=1
runs=5
work="$here/.work"

usage() {
  sed -n '5,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
while [[ $# -gt 0 ]]; do
  case $1 in
    --cascade) cascade=$2; shift 2 ;;
    --repos) repos=$2; shift 2 ;;
    --dockerfiles) dockerfiles=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    -h | --help) usage ;;
    *) echo "graph_bench: unknown argument: $1" >&2; usage ;;
  esac
done

fail() {
  echo "graph_bench: $*" >&2
  exit 1
}

# --- tools
/usr/bin/time -f '%e %M' true >/dev/null 2>&1 || fail "GNU time missing at /usr/bin/time: run bench/setup.sh"
command -v hyperfine >/dev/null 2>&1 || fail "hyperfine missing: run bench/setup.sh"
command -v python3 >/dev/null 2>&1 || fail "python3 missing: run bench/setup.sh"
command -v git >/dev/null 2>&1 || fail "git missing: run bench/setup.sh"
[[ $cascade == /* ]] || cascade="$PWD/$cascade"
[[ -x $cascade ]] || fail "no cascade binary at $cascade: build it (cmake -S . -B build -G Ninja && ninja -C build cascade) or pass --cascade PATH"

# --- fleet
mkdir -p "$work"
work=$(cd "$work" && pwd)
fleet="$work/fleet"
python3 "$here/gen_fleet.py" --out "$fleet" --repos "$repos" --dockerfiles "$dockerfiles" --seed "$seed"
cd "$fleet"

# --- one checked run: does it work, and what does the graph hold?
graph_json="$work/graph.json"
graph_err="$work/graph.stderr"
status=0
"$cascade" graph -p fleet.yaml --format json >"$graph_json" 2>"$graph_err" || status=$?
if [[ $status -ne 0 ]]; then
  echo "graph_bench: cascade graph failed (exit $status); command, from $fleet:" >&2
  echo "  $cascade graph -p fleet.yaml --format json" >&2
  echo "--- stderr (first 40 lines; all of it in $graph_err):" >&2
  head -n 40 "$graph_err" >&2
  exit 1
fi

echo "graph_bench: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) before timing" >&2

# --- peak RSS (and wall time) with GNU time, R runs of each
rss_cascade="$work/time-cascade.txt"
rss_baseline="$work/time-baseline.txt"
: >"$rss_cascade"
: >"$rss_baseline"
for ((i = 0; i < runs; i++)); do
  /usr/bin/time -a -o "$rss_cascade" -f '%e %M' "$cascade" graph -p fleet.yaml --format json >/dev/null
  /usr/bin/time -a -o "$rss_baseline" -f '%e %M' "$here/grep_all.sh" "$fleet" >/dev/null
done

# --- wall time with hyperfine (commands quoted for bash, so any path works)
printf -v cascade_cmd '%q ' "$cascade" graph -p fleet.yaml --format json
printf -v baseline_cmd '%q ' "$here/grep_all.sh" "$fleet"
hyperfine_json="$work/hyperfine.json"
hyperfine --shell=bash --warmup 1 --runs "$runs" --style basic --export-json "$hyperfine_json" \
  -n cascade "$cascade_cmd" -n "git grep baseline" "$baseline_cmd" >&2

# --- report
python3 "$here/graph_report.py" --hyperfine "$hyperfine_json" --time-cascade "$rss_cascade" \
  --time-baseline "$rss_baseline" --graph "$graph_json" --manifest "$fleet/manifest.json" \
  --out "$work/results.md"
