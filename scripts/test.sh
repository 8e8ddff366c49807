#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh), runs every test with ctest, then the sanitizer
# configurations (scripts/sanitize.sh): every test under ASan+UBSan (build-asan/), the
# concurrent parts (http, orchestration, daemon) under TSan (build-tsan/). Arguments go to every ctest
# run. CASCADE_SANITIZERS=asan|tsan|all|none picks the sanitizer runs (default all).
# Exit 1 when any run failed; every run still happens.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh"
status=0
start=$SECONDS
(cd "$here/build" && ctest --output-on-failure --timeout 1200 "$@") || status=1
echo "test: ctest: $((SECONDS - start)) s (load average now: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
sanitizers=${CASCADE_SANITIZERS:-all}
if [ "$sanitizers" != none ]; then
  "$here/scripts/sanitize.sh" "$sanitizers" -- "$@" || status=1
fi
exit $status
