#!/usr/bin/env bash
# Builds and runs the tests under the sanitizers, each configuration in its own build folder:
#   asan  build-asan/  -DCASCADE_SANITIZE=address,undefined  every test but the no_asan ones (ASan, LSan, UBSan)
#   tsan  build-tsan/  -DCASCADE_SANITIZE=thread             the concurrent parts: the http
#         server and client (http), the executor's threads stepped in-process with scripted
#         builders (orchestration), the daemon and `cascade serve` running real patches (daemon).
#         (The app suite's real patches run the same executor threads, mostly waiting on buildah:
#         left to ASan, which keeps CI's whole run well inside its 90 minutes.)
# Usage: scripts/sanitize.sh [asan|tsan|all] [-- extra ctest arguments]   (default: all)
# Expects what scripts/setup.sh installs. Exit 1 when a build or a test fails; a sanitizer
# report fails its test (UBSan does not recover; ASan, LSan and TSan exit non-zero).
# Runtime options and suppressions (third-party issues only, each with its reason) are in
# tests/sanitizers/; they reach the `cascade` children the tests start because the process
# module passes *SAN_OPTIONS through.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
which=${1:-all}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
case $which in asan|tsan|all) ;; *)
  echo "sanitize.sh: unknown configuration '$which': use asan, tsan or all" >&2; exit 2 ;;
esac
supp=$here/tests/sanitizers
jobs=$(nproc)

# -O1 -g1: a third of -O2's compile time, line numbers in every report; asserts stay on.
# Unity builds: each library's files as one unit, half the compile time of the libraries.
configure() {  # folder sanitizers
  cmake -S "$here" -B "$here/$1" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" \
    -DCASCADE_SANITIZE="$2" -DCMAKE_UNITY_BUILD=ON >/dev/null
}

timed() {  # label command...: runs the command, prints its wall time and the load average
  local label=$1 start=$SECONDS rc=0
  shift
  "$@" || rc=$?
  echo "sanitize: $label: $((SECONDS - start)) s, exit $rc (load average now: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  return $rc
}

status=0
if [ "$which" = asan ] || [ "$which" = all ]; then
  configure build-asan address,undefined
  timed "asan build" cmake --build "$here/build-asan" --parallel "$jobs" || exit 1
  (
    cd "$here/build-asan"
    export ASAN_OPTIONS="detect_leaks=1:check_initialization_order=1:strict_init_order=1:halt_on_error=1"
    export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$supp/ubsan.supp"
    timed "asan tests" ctest --output-on-failure --timeout 2400 -LE no_asan "$@"
  ) || status=1
fi
if [ "$which" = tsan ] || [ "$which" = all ]; then
  configure build-tsan thread
  timed "tsan build" cmake --build "$here/build-tsan" --parallel "$jobs" --target cascade test_http test_daemon test_orchestration || exit 1
  (
    cd "$here/build-tsan"
    export TSAN_OPTIONS="halt_on_error=0:exitcode=66:second_deadlock_stack=1:history_size=4:suppressions=$supp/tsan.supp"
    timed "tsan tests" ctest --output-on-failure --timeout 2400 -L tsan "$@"
  ) || status=1
fi
exit $status
