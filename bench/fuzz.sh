#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang, ASan+UBSan) in build-fuzz/ and runs each for
# SECONDS seconds, one after the other, from its seed corpus (fuzz/corpus/<target>/, read
# only: new inputs go to bench/.work/fuzz/corpus/<target>/). Crash, leak, timeout and
# out-of-memory inputs go to bench/.work/fuzz/artifacts/<target>/. Prints a table
# (target, execs, execs/s, new crashes) and exits 1 when any target found one.
#
#   bench/fuzz.sh [SECONDS] [TARGET...]     # default: 30 seconds, every target
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-30}
shift || true
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds < 1)); then
  echo "usage: bench/fuzz.sh [SECONDS] [TARGET...]" >&2
  exit 2
fi
build=${CASCADE_FUZZ_BUILD:-$root/build-fuzz}
work=$root/bench/.work/fuzz

# target -> -max_len (bytes): text inputs stay small enough to be fast, layers and sqlite
# databases need room for a real file.
declare -A max_len=(
  [reference]=512 [dockerfile]=8192 [pipeline]=8192 [webhook]=8192 [cron]=128
  [http_request]=8192 [registry_challenge]=1024 [registry_manifest]=16384 [dpkg_status]=8192 [apk_installed]=8192
  [rpm_header]=8192 [rpmdb_sqlite]=131072 [os_release]=2048 [version]=256
  [advisory_osv]=16384 [advisory_constraint]=256 [scan_layer]=262144
)
all=(reference dockerfile pipeline webhook cron http_request registry_challenge registry_manifest dpkg_status apk_installed
     rpm_header rpmdb_sqlite os_release version advisory_osv advisory_constraint scan_layer)
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ -n ${max_len[$t]:-} ]] || { echo "unknown target: $t (known: ${all[*]})" >&2; exit 2; }
done

if [[ ! -f $build/build.ninja ]]; then
  CC=${CC:-clang} CXX=${CXX:-clang++} cmake -S "$root" -B "$build" -G Ninja -DCASCADE_FUZZ=ON \
    -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
ninja_targets=()
for t in "${targets[@]}"; do ninja_targets+=("fuzz_$t"); done
# CASCADE_FUZZ_NO_BUILD=1: run what is built (another build in the same directory is running).
[[ -n ${CASCADE_FUZZ_NO_BUILD:-} ]] || ninja -C "$build" "${ninja_targets[@]}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$work"
rows=()
failed=0
for t in "${targets[@]}"; do
  corpus=$work/corpus/$t
  artifacts=$work/artifacts/$t
  mkdir -p "$corpus" "$artifacts"
  before=$(find "$artifacts" -type f | wc -l)
  log=$work/$t.log
  args=(-max_total_time="$seconds" -max_len="${max_len[$t]}" -timeout=25 -rss_limit_mb=2560
        -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "$root/fuzz/corpus/$t")
  echo "== $t: ${seconds}s, -max_len=${max_len[$t]}" >&2
  status=0
  "$build/fuzz/fuzz_$t" "${args[@]}" >"$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  execs=${execs:-0}
  after=$(find "$artifacts" -type f | wc -l)
  new=$((after - before))
  if ((status != 0 && new == 0)); then
    echo "   $t exited $status without an artifact; see $log" >&2
    new=1
  fi
  ((new == 0)) || failed=1
  rows+=("$t $execs $((execs / seconds)) $new")
done

printf '\n| %-20s | %12s | %9s | %11s |\n' target execs execs/s "new crashes"
printf '| %-20s | %12s | %9s | %11s |\n' -------------------- ------------ --------- -----------
for row in "${rows[@]}"; do
  read -r t execs rate new <<<"$row"
  printf '| %-20s | %12s | %9s | %11s |\n' "$t" "$execs" "$rate" "$new"
done
echo
echo "logs: $work/<target>.log; crashes: $work/artifacts/<target>/" >&2
exit "$failed"
