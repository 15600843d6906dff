#!/usr/bin/env bash
# The whole suite in two pytest sessions side by side (`make test` calls this; so does CI).
#
# One session runs sequentially in ~35 min on 2 cores, most of it spent waiting: on three JVMs
# (the fault cluster), on consumers that are killed and started again, on group rebalances. Two
# sessions fill the second core. Each has its own broker, PostgreSQL and OIDC provider (free
# ports, own temp dirs), so they share nothing but the jar cache.
#   lane a: the fault suite, the unit tests and the views' integration tests (kill -9, scale-out)
#   lane b: everything else; a new test directory lands here unless it is named below
# Lane b streams to the terminal; lane a writes build/test/lane-a.log, printed when both end.
# Every lane fails the run if it fails, or if it collected nothing (pytest's exit 5).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTEST=${PYTEST:-.venv/bin/pytest}
LOGS=build/test
mkdir -p "$LOGS"
export EMINING_REQUIRE_KAFKA=1 EMINING_REQUIRE_POSTGRES=1 EMINING_REQUIRE_OIDC=1 \
  EMINING_REQUIRE_BROWSER=1

LANE_A=(tests/faults tests/unit tests/integration/views)
LANE_B=(tests)
for path in "${LANE_A[@]}"; do LANE_B+=("--ignore=$path"); done

started=$(date +%s)
"$PYTEST" --durations=15 "${LANE_A[@]}" "$@" > "$LOGS/lane-a.log" 2>&1 &
lane_a=$!
# Ctrl-C or a CI timeout must not leave lane a (and its brokers) running.
trap 'kill -INT "$lane_a" 2>/dev/null; wait "$lane_a"; exit 130' INT TERM

status_b=0
"$PYTEST" --durations=15 "${LANE_B[@]}" "$@" 2>&1 | tee "$LOGS/lane-b.log" || status_b=${PIPESTATUS[0]}
ended_b=$(date +%s)
status_a=0
wait "$lane_a" || status_a=$?
ended_a=$(stat -c %Y "$LOGS/lane-a.log")  # its last line, pytest's summary, was written then
trap - INT TERM

echo
echo "=========================== lane a ($LOGS/lane-a.log) ==========================="
cat "$LOGS/lane-a.log"
echo
status=0
for lane in a b; do
  rc_var="status_$lane"; end_var="ended_$lane"
  rc=${!rc_var}
  echo "lane $lane: exit $rc after $(( ${!end_var} - started )) s"
  if [ "$rc" -eq 5 ]; then echo "error: lane $lane collected no tests" >&2; fi
  if [ "$rc" -ne 0 ] && [ "$status" -eq 0 ]; then status=$rc; fi
done
exit "$status"
